"""The payload of one part: listed = present, hashes, sizes, CSV figures and PDF pages."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from manifests import problems as P
from manifests.metadata import DATA
from manifests.verify import content
from manifests.verify.docs import DocItem, check_items

if TYPE_CHECKING:
    from manifests.verify.part import PartVerifier
    from manifests.zipfmt import ZipEntry, ZipReader


def check_payload(
    v: PartVerifier,
    reader: ZipReader,
    members: dict[str, ZipEntry],
    listed: dict[str, str],
    meta: dict[str, Any] | None,
) -> None:
    present = {rel: e for rel, e in members.items() if rel.startswith(f"{DATA}/")}
    for rel in sorted(set(listed) - set(present)):
        v.problem(P.MissingFile, rel, "listed in the manifest, absent from the archive")
    for rel in sorted(set(present) - set(listed)):
        v.problem(P.UnlistedFile, rel, "in the archive, not listed in the manifest")
    tables: dict[str, dict[str, Any]] = {}
    pdfs: dict[str, dict[str, Any]] = {}
    if meta is not None:
        _placement(v, meta, listed)
        tables = {t["path"]: t for t in meta["tables"]}
        pdfs = {d["path"]: d for d in (*meta["documents"], *meta["bundles"])}
        for rel, doc in pdfs.items():
            want = doc.get("sha256")
            if want is not None and rel in listed and listed[rel] != want:
                v.problem(
                    P.DocumentMismatch,
                    rel,
                    "offboard.json and the manifest disagree",
                    expected=want,
                    found=listed[rel],
                )
    found: dict[int, list[P.Problem]] = {}
    tables_work: list[tuple[str, ZipEntry]] = []
    docs_work: list[DocItem] = []
    for rel, entry in sorted(present.items(), key=lambda item: item[1].data_offset):
        if rel not in listed:
            continue
        size_of = tables.get(rel, pdfs.get(rel, {})).get("bytes")
        if size_of is not None and size_of != entry.size:
            found.setdefault(entry.data_offset, []).append(
                (P.DocumentMismatch if rel in pdfs else P.RecordMismatch)(
                    path=rel,
                    detail="size differs from offboard.json",
                    expected=str(size_of),
                    found=str(entry.size),
                )
            )
        if v.fast:
            continue
        if rel in tables and meta is not None:
            tables_work.append((rel, entry))
        else:
            pages = pdfs[rel]["pages"] if rel in pdfs else None
            docs_work.append(DocItem(rel, entry, listed[rel], pages))
    if not v.fast:
        _content(v, reader, tables_work, docs_work, tables, listed, meta, found)
    from manifests.verify.part import _in_part

    for offset in sorted(found):
        for problem in found[offset]:
            v.result.problems.append(_in_part(problem, v.path.name))


def _content(
    v: PartVerifier,
    reader: ZipReader,
    tables_work: list[tuple[str, ZipEntry]],
    docs_work: list[DocItem],
    tables: dict[str, dict[str, Any]],
    listed: dict[str, str],
    meta: dict[str, Any] | None,
    found: dict[int, list[P.Problem]],
) -> None:
    """Tables here, documents in a worker process (when there are many) at the same time."""
    from manifests.verify.worker import WorkerUnavailable

    worker = v.worker
    if worker is not None:
        if docs_work:
            worker.submit(docs_work)
        else:
            worker.cancel()
            worker = None
    for rel, entry in tables_work:
        assert meta is not None
        problems: list[P.Problem] = []
        digest = _check_csv(problems, reader, entry, rel, tables[rel], meta["csv"])
        if digest is not None and digest != listed[rel]:
            problems.append(
                P.ChecksumMismatch(rel, "file changed", expected=listed[rel], found=digest)
            )
        if problems:
            found.setdefault(entry.data_offset, []).extend(problems)
    start = 0
    if worker is not None:
        try:
            for i, problems in worker.result().items():
                found.setdefault(docs_work[i].entry.data_offset, []).extend(problems)
            start = len(docs_work)
        except WorkerUnavailable:
            start = worker.unchecked_from
            for i, problems in worker.partial.items():
                found.setdefault(docs_work[i].entry.data_offset, []).extend(problems)
    for item, problems in zip(
        docs_work[start:], check_items(reader, docs_work[start:]), strict=True
    ):
        if problems:
            found.setdefault(item.entry.data_offset, []).extend(problems)


def _placement(v: PartVerifier, meta: dict[str, Any], listed: dict[str, str]) -> None:
    """The manifest of part N lists exactly the files offboard.json places in part N."""
    number = v.result.number
    if number is None:
        return
    placed: dict[str, Any] = meta["parts"]["files"]
    here = {p for p, n in placed.items() if n == number}
    for rel in sorted(set(listed) - here):
        where = placed.get(rel)
        detail = (
            "not in offboard.json" if where is None else f"offboard.json puts it in part {where}"
        )
        v.problem(P.PartMismatch, rel, detail, expected=str(where), found=str(number))
    for rel in sorted(here - set(listed)):
        v.problem(P.MissingFile, rel, f"offboard.json puts it in this part ({number})")


def _check_csv(
    out: list[P.Problem],
    reader: ZipReader,
    entry: ZipEntry,
    rel: str,
    table: dict[str, Any],
    csv: dict[str, Any],
) -> str | None:
    from manifests.zipfmt import CorruptDataError

    stream = content.HashingStream(reader.iter_data(entry), skip_bom=bool(csv.get("bom")))
    try:
        figures = content.count_csv(stream, table, csv)
        stream.drain()
    except CorruptDataError as exc:
        out.append(exc.problem)
        return None
    except ValueError as exc:
        out.append(P.RecordMismatch(rel, f"cannot be read as CSV: {exc}"))
        try:
            stream.drain()
        except CorruptDataError as exc2:
            out.append(exc2.problem)
            return None
        return stream.sha256.hexdigest()
    if csv.get("bom") and stream.size and not stream.bom_found:
        out.append(P.RecordMismatch(rel, "byte-order mark missing", expected="BOM", found="none"))
    if figures["records"] != table["records"]:
        out.append(
            P.RecordMismatch(
                rel,
                "record count differs from offboard.json",
                expected=str(table["records"]),
                found=str(figures["records"]),
            )
        )
    recorded: dict[str, dict[str, str]] = table["totals"]
    found: dict[str, dict[str, Decimal]] = figures["totals"]
    for column in sorted(set(recorded) | set(found)):
        want = {c: Decimal(a) for c, a in (recorded.get(column) or {}).items()}
        got = {c: a for c, a in (found.get(column) or {}).items()}
        if want != got:
            out.append(
                P.RecordMismatch(
                    rel,
                    f"money total of {column} differs",
                    expected=_money(want),
                    found=_money(got),
                )
            )
    return stream.sha256.hexdigest()


def _money(totals: dict[str, Decimal]) -> str:
    return ", ".join(f"{a:.2f} {c}".strip() for c, a in sorted(totals.items())) or "none"
