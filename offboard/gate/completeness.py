"""Is the archive still complete? The live source, exported again now, against the archive.

Each table of the archive's kinds is exported again from the live source, with the archive's
CSV dialect, into a temporary folder. The export is deterministic, so the new CSV file has the
archive's SHA-256 exactly when no record of it was created, changed or deleted; the record
counts, money totals, last document numbers and last change time (the latest ``updated_at``)
say what changed when it does not. Each document the
source lists is hashed and compared with the archive's copy. Nothing is written to the source.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from offboard.sources.base import Source
    from offboard.summary import TableResult

#: changes listed one by one before the rest is counted
MAX_LISTED = 20


@dataclass
class LiveCheck:
    """What the live source looks like now, and how it differs from the archive."""

    changes: list[str] = field(default_factory=list)
    #: per table: records, money totals, last document numbers, SHA-256 of its CSV now
    tables: list[dict[str, Any]] = field(default_factory=list)
    documents: int = 0

    @property
    def complete(self) -> bool:
        return not self.changes


def check_live(
    source: Source,
    account: str,
    metadata: dict[str, Any],
    manifest: dict[str, str],
    documents: list[dict[str, Any]],
    *,
    jobs: int = 2,
) -> LiveCheck:
    """Compare the live ``source`` with the archive's ``offboard.json`` (the shared sections
    of any part), its manifests and the documents every part records."""
    from offboard.csvio import get_dialect
    from offboard.pipeline import ExportOptions, export_account

    kinds = sorted({t["kind"] for t in metadata["tables"]})
    result = LiveCheck()
    with tempfile.TemporaryDirectory(prefix="offboard-live-") as tmp:
        out = Path(tmp) / "live"
        summary = export_account(
            source,
            account,
            out,
            ExportOptions(
                kinds=kinds,
                dialect=get_dialect(metadata["csv"]["dialect"]),
                documents=False,
                jobs=jobs,
            ),
        )
        live = {t.table: t for k in summary.kinds for t in k.tables}
        archived = {t["table"]: t for t in metadata["tables"]}
        for name in sorted(set(live) | set(archived)):
            _table(result, name, archived.get(name), live.get(name), out, manifest)
    _documents(result, source, account, kinds, documents, metadata["problems"])
    if len(result.changes) > MAX_LISTED:
        more = len(result.changes) - MAX_LISTED
        result.changes = [*result.changes[:MAX_LISTED], f"... and {more} more changes"]
    return result


def _table(
    result: LiveCheck,
    name: str,
    archived: dict[str, Any] | None,
    live: TableResult | None,
    out: Path,
    manifest: dict[str, str],
) -> None:
    if live is None:
        result.changes.append(f"table {name}: in the archive, no longer exported by this source")
        return
    digest = _sha256(out / live.path)
    now = live.to_dict()
    result.tables.append(
        {
            "table": name,
            "records": live.rows,
            "totals": now["totals"],
            "last_numbers": _last_numbers(live.numbering),
            "last_change": live.last_change,
            "sha256": digest,
        }
    )
    if archived is None:
        result.changes.append(f"table {name}: exported now, absent from the archive")
        return
    before = len(result.changes)
    if archived["records"] != live.rows:
        diff = live.rows - archived["records"]
        more = f"{diff} more" if diff > 0 else f"{-diff} fewer"
        result.changes.append(
            f"table {name}: {more} records (archive {archived['records']}, now {live.rows})"
        )
    for column in sorted(set(archived["totals"]) | set(now["totals"])):
        was, is_ = archived["totals"].get(column, {}), now["totals"].get(column, {})
        if was != is_:
            result.changes.append(
                f"table {name}: total of {column} was {_money(was)}, now {_money(is_)}"
            )
    if archived.get("last_change") != live.last_change:
        result.changes.append(
            f"table {name}: last change was {archived.get('last_change') or 'none'}, "
            f"now {live.last_change or 'none'}"
        )
    was_last, now_last = _last_numbers(archived.get("numbering")), _last_numbers(live.numbering)
    if was_last != now_last:
        result.changes.append(
            f"table {name}: last numbers were {', '.join(was_last) or 'none'}, "
            f"now {', '.join(now_last) or 'none'}"
        )
    if len(result.changes) == before and manifest.get(f"data/{live.path}") != digest:
        result.changes.append(
            f"table {name}: records changed since the export (same count, totals and numbers)"
        )


def _documents(
    result: LiveCheck,
    source: Source,
    account: str,
    kinds: list[str],
    documents: list[dict[str, Any]],
    problems: list[dict[str, Any]],
) -> None:
    from exporters import select
    from offboard.sources.base import DocumentUnavailable

    archived = {(d["kind"], d["record_id"]): d for d in documents}
    set_aside = {(p["kind"], p["record_id"]): p for p in problems}
    seen: set[tuple[str, str]] = set()
    conn = source.clone()
    try:
        for exporter in select(kinds):
            for ref in exporter().get_documents(conn, account):
                if ref.locator is None:  # the record has no document (the export skips it too)
                    continue
                key = (ref.kind, ref.record_id)
                seen.add(key)
                result.documents += 1
                try:
                    digest: str | None = _sha256(conn.document_path(ref))
                except DocumentUnavailable:
                    digest = None
                was = archived.get(key)
                if was is None and key not in set_aside:
                    result.changes.append(f"document {ref.kind} {ref.number}: new since the export")
                elif was is not None and digest != was["sha256"]:
                    what = "missing now" if digest is None else "changed since the export"
                    result.changes.append(f"document {ref.kind} {ref.number}: {what}")
                elif was is None and digest is not None and set_aside[key]["reason"] == "missing":
                    result.changes.append(
                        f"document {ref.kind} {ref.number}: missing at the export, present now"
                    )
    finally:
        conn.close()
    for key in sorted(set(archived) - seen):
        result.changes.append(
            f"document {key[0]} {archived[key]['number']}: deleted from the source"
        )


def _last_numbers(numbering: dict[str, Any] | None) -> list[str]:
    if not numbering:
        return []
    return sorted(str(s["last"]) for s in numbering.get("series", []))


def _money(totals: dict[str, str]) -> str:
    return ", ".join(f"{amount} {cur}".strip() for cur, amount in sorted(totals.items())) or "none"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()
