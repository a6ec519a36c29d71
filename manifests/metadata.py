"""``offboard.json``: what the archive holds, in figures a verifier can recompute.

The file is a tag file: the tag manifest covers it and the signature covers the tag manifest.
Each part of a split archive has its own, written before the payload, so that a verifier reading
a part front to back knows the tables, money columns and documents before it meets them: the
sections about the whole archive (:data:`SHARED`: account, tables, totals, problems) are the
same in every part; ``documents``, ``bundles``, ``files`` (an exporter's own files, such as a
FEC, with their figures) and ``parts.files`` list that part's files only,
so that no part's ``offboard.json`` grows with the size of the whole archive. Its layout is
documented in ``docs/archive-format.md``; :data:`FORMAT_VERSION` changes whenever a reader of
the previous version would misread it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from manifests.jsonform import encode
from offboard import __version__

if TYPE_CHECKING:
    from exporters.base import Exporter
    from offboard.csvio.dialects import Dialect
    from offboard.retention import Policy, Retention
    from offboard.summary import ExportSummary

__all__ = [
    "DATA",
    "FORMAT",
    "FORMAT_VERSION",
    "MAX_PART_FILES",
    "READABLE_VERSIONS",
    "SHARED",
    "SHARED_PARTS",
    "Encoded",
    "LazyMetadata",
    "PartPlan",
    "archive_id",
    "as_utc",
    "build_metadata",
    "encode",
    "iso",
    "part_contents",
    "part_metadata",
    "retention_of",
    "shared_digest",
]

FORMAT = "offboard-archive"
FORMAT_VERSION = 3
#: the versions this release reads (1: one whole-archive ``offboard.json`` in every part; 2:
#: each part's own, without ``index.html``; 3: with the archive browser, ``index.html``)
READABLE_VERSIONS = (1, 2, 3)
#: the payload folder inside the bag
DATA = "data"
#: most payload files one part holds (format version 2): what bounds a verifier's memory
#: (docs/archive-format.md, section 6)
MAX_PART_FILES = 25_000


def as_utc(when: datetime) -> datetime:
    """``when`` in UTC; a naive time is taken as UTC (never as the machine's local time)."""
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def iso(when: datetime) -> str:
    """``2026-03-29T01:30:00Z``: ``when`` in UTC (a naive time is taken as UTC)."""
    return as_utc(when).strftime("%Y-%m-%dT%H:%M:%SZ")


def archive_id(summary: ExportSummary, created_at: datetime, files: dict[str, int]) -> str:
    """A 128-bit id derived from the archive's content, so that the same export made at the same
    ``created_at`` gets the same id (archives are reproducible), and any other export another id.
    """
    h = hashlib.sha256()
    h.update(f"{FORMAT}/{FORMAT_VERSION}\0{summary.source}\0{summary.account}\0".encode())
    h.update(f"{iso(created_at)}\0{summary.dialect}\0".encode())
    for k in summary.kinds:
        for t in k.tables:
            h.update(json.dumps(t.to_dict()["totals"], sort_keys=True).encode())
            h.update(f"\0{t.table}\0{t.rows}\0{t.bytes}\0".encode())
        if k.documents is not None:
            for d in k.documents.documents:
                h.update(f"{d.path}\0{d.sha256}\0".encode())
        if k.files is not None:
            for f in k.files.files:
                h.update(f"{f.path}\0{f.sha256}\0".encode())
    for path in sorted(files):
        h.update(f"{path}\0{files[path]}\0".encode())
    raw = bytearray(h.digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x80  # RFC 9562 version 8: a name-based id of our own
    raw[8] = (raw[8] & 0x3F) | 0x80
    hexed = raw.hex()
    return f"{hexed[:8]}-{hexed[8:12]}-{hexed[12:16]}-{hexed[16:20]}-{hexed[20:]}"


@dataclass(frozen=True)
class Encoded:
    """The archive id, ``offboard.json`` as written, its SHA-256 (hex) and the records'
    period (``{"from", "to"}`` or None)."""

    identifier: str
    metadata: bytes
    sha256: str
    period: dict[str, str] | None
    #: the archive's retain-until date (ISO), or None
    retain_until: str | None = None
    #: what ``metadata`` encodes, as the verifier parses it again (JSON types only: lists,
    #: never tuples), for the part's index.html
    content: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


class LazyMetadata:
    """The archive id and each part's ``offboard.json`` of an export, made when first asked for.

    The archive builder asks while the first part's large files are already being read and
    compressed in another thread, so that making them costs little time.
    """

    def __init__(
        self,
        summary: ExportSummary,
        exporters: list[Exporter],
        dialect: Dialect,
        created_at: datetime,
        files: dict[str, int],
        plan: PartPlan,
        retention: Policy | None = None,
    ) -> None:
        self._args = (summary, exporters, dialect, created_at, files, plan)
        self._policy = retention
        self._identifier: str | None = None
        self._whole: dict[str, Any] | None = None
        self._made: dict[int, Encoded] = {}

    @property
    def identifier(self) -> str:
        if self._identifier is None:
            summary, _, _, created_at, files, _ = self._args
            self._identifier = archive_id(summary, created_at, files)
        return self._identifier

    def get(self, number: int) -> Encoded:
        """Part ``number``'s ``offboard.json`` (made once; the previous part's is let go)."""
        made = self._made.get(number)
        if made is None:
            summary, exporters, dialect, created_at, _, plan = self._args
            if self._whole is None:
                self._whole = build_metadata(
                    summary, exporters, dialect, created_at, self.identifier, plan, self._policy
                )
            meta = part_metadata(self._whole, plan, number)
            data = encode(meta)
            made = Encoded(
                self.identifier,
                data,
                hashlib.sha256(data).hexdigest(),
                meta["period"],
                meta["retention"]["retain_until"],
                meta,
            )
            self._made = {number: made}
        return made


@dataclass(frozen=True)
class PartPlan:
    """Which payload file goes in which part (1-based), and how many parts there are."""

    files: dict[str, int]
    sizes: dict[str, int]
    count: int


def retention_of(summary: ExportSummary, policy: Policy | None) -> Retention:
    """The archive's retention (what ``offboard.json`` records), from the summary alone."""
    from offboard.retention import Policy, retain_until

    tables = [
        {
            "kind": k.kind,
            "records": r.rows,
            "period": list(r.period) if r.period else None,
            "last_change": r.last_change,
        }
        for k in summary.kinds
        for r in k.tables
    ]
    return retain_until(policy or Policy.default_policy(), tables)


def build_metadata(
    summary: ExportSummary,
    exporters: list[Exporter],
    dialect: Dialect,
    created_at: datetime,
    identifier: str,
    plan: PartPlan,
    retention: Policy | None = None,
) -> dict[str, Any]:
    """The whole ``offboard.json`` document for an export laid out as ``plan`` (its
    retain-until date by the policy ``retention``, default French law's)."""
    from offboard.retention import Policy, retain_until

    tables_by_name = {t.name: t for e in exporters for t in e.tables}
    tables = []
    periods = []
    for k in summary.kinds:
        for r in k.tables:
            spec = tables_by_name[r.table]
            money = spec.money_columns
            if r.period:
                periods.append(r.period)
            tables.append(
                {
                    "kind": k.kind,
                    "table": r.table,
                    "path": f"{DATA}/{r.path}",
                    "columns": [
                        {"name": f.name, "type": str(f.type), "nullable": f.nullable}
                        for f in spec.schema
                    ],
                    "primary_key": list(spec.primary_key),
                    "records": r.rows,
                    "bytes": r.bytes,
                    "money_columns": money,
                    "currency_column": "currency" if "currency" in spec.schema.names else None,
                    "totals": r.to_dict()["totals"],
                    "numbering": r.numbering,
                    "period": list(r.period) if r.period else None,
                    "last_change": r.last_change,
                }
            )
    documents = []
    bundles = []
    for k in summary.kinds:
        d = k.documents
        if d is None:
            continue
        for doc in d.documents:
            documents.append(
                {
                    "path": f"{DATA}/{doc.path}",
                    "kind": doc.kind,
                    "record_id": doc.record_id,
                    "number": doc.number,
                    "date": doc.date,
                    "party": doc.party,
                    "pages": doc.pages,
                    "bytes": doc.bytes,
                    "sha256": doc.sha256,
                    **_facturx(doc.facturx),
                }
            )
        for path, pages in zip(d.bundles, d.bundle_part_pages, strict=True):
            bundles.append({"path": f"{DATA}/{path}", "kind": d.kind, "pages": pages})
    files = [
        {
            "path": f"{DATA}/{f.path}",
            "kind": f.kind,
            "exporter": k.kind,
            "records": f.records,
            "bytes": f.bytes,
            "sha256": f.sha256,
            "facts": f.facts,
        }
        for k in summary.kinds
        if k.files is not None
        for f in k.files.files
    ]
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "archive_id": identifier,
        "created_at": iso(created_at),
        "tool": {"name": "offboard", "version": __version__},
        "source": summary.source,
        "account": {"id": summary.account, "name": summary.account_name},
        "csv": {
            "dialect": dialect.name,
            "encoding": "utf-8",
            "bom": dialect.bom,
            "delimiter": dialect.delimiter,
            "line_end": dialect.eol,
            "decimal_point": "," if dialect.decimal_comma else ".",
        },
        "period": {"from": min(p[0] for p in periods), "to": max(p[1] for p in periods)}
        if periods
        else None,
        "tables": tables,
        "documents": documents,
        "bundles": bundles,
        "files": files,
        "problems": [p.to_dict() for p in summary.problems],
        "retention": retain_until(retention or Policy.default_policy(), tables).to_dict(),
        "parts": {"count": plan.count, "contents": part_contents(plan, documents)},
    }


def part_contents(plan: PartPlan, documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What each part holds, for every part (format version 3): its number, payload files,
    bytes and documents, and its first and last path (parts are cut in path order, so these
    say which part holds a file); the same list in every part."""
    files = [0] * plan.count
    sizes = [0] * plan.count
    docs = [0] * plan.count
    first: list[str | None] = [None] * plan.count
    last: list[str | None] = [None] * plan.count
    for path in sorted(plan.files, key=lambda p: p.encode("utf-8")):
        i = plan.files[path] - 1
        files[i] += 1
        sizes[i] += plan.sizes[path]
        if first[i] is None:
            first[i] = path
        last[i] = path
    for d in documents:
        number = plan.files.get(d["path"])
        if number is not None:
            docs[number - 1] += 1
    return [
        {
            "number": i + 1,
            "files": files[i],
            "bytes": sizes[i],
            "documents": docs[i],
            "first": first[i],
            "last": last[i],
        }
        for i in range(plan.count)
    ]


def _facturx(entry: dict[str, Any] | None) -> dict[str, Any]:
    """A document's ``facturx`` member (its XML's path inside the bag), if it has one."""
    if entry is None:
        return {}
    out = dict(entry)
    if out.get("xml"):
        out["xml"] = f"{DATA}/{out['xml']}"
    return {"facturx": out}


#: the sections of ``offboard.json`` about the whole archive, the same in every part
#: (and ``parts`` less its ``number`` and ``files``: :data:`SHARED_PARTS`)
SHARED = (
    "format",
    "format_version",
    "archive_id",
    "created_at",
    "tool",
    "source",
    "account",
    "csv",
    "period",
    "tables",
    "problems",
    "retention",
)


def part_metadata(whole: dict[str, Any], plan: PartPlan, number: int) -> dict[str, Any]:
    """Part ``number``'s ``offboard.json``: the shared sections, and its own files only."""
    here = plan.files

    def in_part(item: dict[str, Any]) -> bool:
        return here.get(item["path"]) == number

    meta = {key: whole[key] for key in SHARED}
    meta["documents"] = [d for d in whole["documents"] if in_part(d)]
    meta["bundles"] = [b for b in whole["bundles"] if in_part(b)]
    meta["files"] = [f for f in whole["files"] if in_part(f)]
    meta["parts"] = {
        "count": plan.count,
        "contents": whole["parts"]["contents"],
        "number": number,
        "files": sorted((p for p, n in here.items() if n == number), key=lambda p: p.encode()),
    }
    return meta


#: the members of ``parts`` the same in every part (``contents`` from format version 3)
SHARED_PARTS = ("count", "contents")


def shared_digest(meta: dict[str, Any]) -> str:
    """SHA-256 of the sections every part of one archive has in common (format versions 2
    and 3)."""
    shared = {key: meta.get(key) for key in SHARED}
    shared["parts"] = {k: meta["parts"][k] for k in SHARED_PARTS if k in meta["parts"]}
    return hashlib.sha256(encode(shared)).hexdigest()
