"""The payload of one part: listed = present, hashes, sizes, CSV figures and PDF pages."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from manifests import problems as P
from manifests.metadata import DATA
from manifests.verify import content

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
    for rel, entry in sorted(present.items(), key=lambda item: item[1].data_offset):
        if rel not in listed:
            continue
        size_of = tables.get(rel, pdfs.get(rel, {})).get("bytes")
        if size_of is not None and size_of != entry.size:
            v.problem(
                P.DocumentMismatch if rel in pdfs else P.RecordMismatch,
                rel,
                "size differs from offboard.json",
                expected=str(size_of),
                found=str(entry.size),
            )
        if v.fast:
            continue
        if rel in tables and meta is not None:
            digest = _check_csv(v, reader, entry, rel, tables[rel], meta["csv"])
        elif rel in pdfs:
            digest = _check_pdf(v, reader, entry, rel, pdfs[rel])
        else:
            digest = _hash(v, reader, entry, rel)
        if digest is not None and digest != listed[rel]:
            v.problem(P.ChecksumMismatch, rel, "file changed", expected=listed[rel], found=digest)


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


def _corrupt(v: PartVerifier, exc: Exception) -> None:
    from manifests.verify.part import _in_part

    problem = getattr(exc, "problem", None)
    if isinstance(problem, P.Problem):
        v.result.problems.append(_in_part(problem, v.path.name))
    else:
        v.problem(P.CorruptData, "", str(exc))


def _hash(v: PartVerifier, reader: ZipReader, entry: ZipEntry, rel: str) -> str | None:
    from manifests.zipfmt import CorruptDataError

    h = hashlib.sha256()
    try:
        for chunk in reader.iter_data(entry):
            h.update(chunk)
    except CorruptDataError as exc:
        _corrupt(v, exc)
        return None
    return h.hexdigest()


def _check_csv(
    v: PartVerifier,
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
        _corrupt(v, exc)
        return None
    except ValueError as exc:
        v.problem(P.RecordMismatch, rel, f"cannot be read as CSV: {exc}")
        try:
            stream.drain()
        except CorruptDataError as exc2:
            _corrupt(v, exc2)
            return None
        return stream.sha256.hexdigest()
    if csv.get("bom") and stream.size and not stream.bom_found:
        v.problem(P.RecordMismatch, rel, "byte-order mark missing", expected="BOM", found="none")
    if figures["records"] != table["records"]:
        v.problem(
            P.RecordMismatch,
            rel,
            "record count differs from offboard.json",
            expected=str(table["records"]),
            found=str(figures["records"]),
        )
    recorded: dict[str, dict[str, str]] = table["totals"]
    found: dict[str, dict[str, Decimal]] = figures["totals"]
    for column in sorted(set(recorded) | set(found)):
        want = {c: Decimal(a) for c, a in (recorded.get(column) or {}).items()}
        got = {c: a for c, a in (found.get(column) or {}).items()}
        if want != got:
            v.problem(
                P.RecordMismatch,
                rel,
                f"money total of {column} differs",
                expected=_money(want),
                found=_money(got),
            )
    return stream.sha256.hexdigest()


def _money(totals: dict[str, Decimal]) -> str:
    return ", ".join(f"{a:.2f} {c}".strip() for c, a in sorted(totals.items())) or "none"


def _check_pdf(
    v: PartVerifier, reader: ZipReader, entry: ZipEntry, rel: str, doc: dict[str, Any]
) -> str | None:
    from manifests.zipfmt import CorruptDataError

    try:
        if entry.size <= content.SMALL_PDF:
            data = b"".join(reader.iter_data(entry))
            digest = hashlib.sha256(data).hexdigest()
            pages = _pages(v, rel, lambda: content.pdf_pages(data))
        else:
            digest_or_none = _hash(v, reader, entry, rel)
            if digest_or_none is None:
                return None
            digest = digest_or_none
            if entry.method != 0:
                v.problem(P.NonCanonical, rel, "a PDF must be stored, not compressed")
                return digest
            with reader.window(entry) as window:
                pages = _pages(v, rel, lambda: content.pdf_pages(None, window))
    except CorruptDataError as exc:
        _corrupt(v, exc)
        return None
    if pages is not None and pages != doc["pages"]:
        v.problem(
            P.DocumentMismatch,
            rel,
            "page count differs from offboard.json",
            expected=str(doc["pages"]),
            found=str(pages),
        )
    return digest


def _pages(v: PartVerifier, rel: str, count: Any) -> int | None:
    try:
        return int(count())
    except Exception as exc:  # any failure of the PDF library on hostile bytes is a finding
        v.problem(P.DocumentMismatch, rel, f"does not open as a PDF: {str(exc)[:200]}")
        return None
