"""The payload of one part: listed = present, hashes, sizes, CSV figures and PDF pages."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from manifests import problems as P
from manifests.metadata import DATA
from manifests.verify.docs import DocItem, check_items
from manifests.verify.files import file_problems, file_specs, is_fec
from manifests.verify.tables import TableLane

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
    files: dict[str, dict[str, Any]] = {}
    if meta is not None:
        _placement(v, meta, listed)
        tables = {t["path"]: t for t in meta["tables"]}
        pdfs = {d["path"]: d for d in (*meta["documents"], *meta["bundles"])}
        files = _files(v, meta, listed)
        # a FEC is checked on the table lane, as the CSV files are
        tables.update({rel: f for rel, f in files.items() if is_fec(f)})
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
        size_of = tables.get(rel, pdfs.get(rel, files.get(rel, {}))).get("bytes")
        if size_of is not None and size_of != entry.size:
            found.setdefault(entry.data_offset, []).append(
                _size_problem(rel, pdfs, files)(
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
            facturx = pdfs[rel].get("facturx") if rel in pdfs else None
            if not isinstance(facturx, dict):
                facturx = None
            docs_work.append(DocItem(rel, entry, listed[rel], pages, facturx))
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
    lane = v.tables
    if tables_work and (lane is None or {rel for rel, _ in tables_work} - set(lane.rels)):
        assert meta is not None
        lane = TableLane(reader, [(rel, e, tables[rel]) for rel, e in tables_work], meta["csv"])
    results = lane.result() if lane is not None else {}
    for rel, entry in tables_work:
        digest, problems = results[rel]
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
    files = meta["parts"]["files"]
    if meta["format_version"] == 1:  # one map of every file of the archive to its part
        placed: dict[str, int] = files
        here = {p for p, n in placed.items() if n == number}
    else:
        placed = {}
        here = set(files)
        if meta["parts"]["number"] != number:
            v.problem(
                P.PartMismatch,
                "offboard.json",
                "parts.number disagrees with Bag-Count",
                expected=str(number),
                found=str(meta["parts"]["number"]),
            )
    for rel in sorted(set(listed) - here):
        where = placed.get(rel)
        if meta["format_version"] == 1:
            detail = (
                "not in offboard.json"
                if where is None
                else f"offboard.json puts it in part {where}"
            )
            expected: str | None = str(where)
        else:
            detail, expected = "not among this part's files in offboard.json", None
        v.problem(P.PartMismatch, rel, detail, expected=expected, found=str(number))
    for rel in sorted(here - set(listed)):
        v.problem(P.MissingFile, rel, f"offboard.json puts it in this part ({number})")


def _files(v: PartVerifier, meta: dict[str, Any], listed: dict[str, str]) -> dict[str, Any]:
    """``offboard.json``'s ``files`` (an exporter's own: a FEC...), their shape and hashes
    checked against the manifest."""
    for detail in file_problems(meta):
        v.problem(P.TagFileSyntax, "offboard.json", detail)
    files = file_specs(meta)
    for rel, f in files.items():
        if rel in listed and listed[rel] != f["sha256"]:
            v.problem(
                P.FecInvalid if is_fec(f) else P.MetadataMismatch,
                rel,
                "offboard.json and the manifest disagree",
                expected=f["sha256"],
                found=listed[rel],
            )
    return files


def _size_problem(
    rel: str, pdfs: dict[str, Any], files: dict[str, dict[str, Any]]
) -> type[P.Problem]:
    if rel in pdfs:
        return P.DocumentMismatch
    if rel in files:
        return P.FecInvalid if is_fec(files[rel]) else P.MetadataMismatch
    return P.RecordMismatch
