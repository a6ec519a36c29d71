"""The document lane: every payload file that is not a CSV table, hashed and, if a PDF, opened.

One :class:`DocItem` per member; :func:`check_item` reads it, compares its SHA-256 with the
manifest's and, for documents and bundles recorded in ``offboard.json``, opens it and compares
its page count. The same function runs in the verifying process (:func:`check_items`) or in a
worker process (:mod:`manifests.verify.worker`), which keeps a crash or a hang of the PDF
engine on a hostile file from stopping the verification.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from manifests import problems as P
from manifests.verify.pdfpages import IN_MEMORY, PdfError, pdfium_pages, qpdf_pages
from manifests.zipfmt.reader import CorruptDataError, MemberData
from manifests.zipfmt.records import STORED, ZipEntry

_BY_CODE: dict[str, type[P.Problem]] = {k.code: k for k in P.ALL_PROBLEMS}
#: longest text a worker may send back in one field of a problem
_MAX_FIELD = 2000


class DocItem(NamedTuple):
    """One member of the document lane (a tuple: one per document, made by the thousand)."""

    #: the path inside the bag (``data/documents/...``)
    rel: str
    entry: ZipEntry
    #: the SHA-256 the manifest lists
    sha256: str
    #: the page count ``offboard.json`` records, or None for a file that is only hashed
    pages: int | None
    #: the document's ``facturx`` entry in ``offboard.json``, for a Factur-X invoice
    facturx: dict[str, Any] | None = None

    def to_wire(self) -> list[Any]:
        e = self.entry
        return [
            self.rel,
            e.name,
            e.method,
            e.crc32,
            e.compressed_size,
            e.size,
            e.header_offset,
            e.data_offset,
            self.sha256,
            self.pages,
            self.facturx,
        ]

    @classmethod
    def from_wire(cls, row: list[Any]) -> DocItem:
        rel, name, method, crc, csize, size, header, data, sha, pages, *rest = row
        facturx = rest[0] if rest and isinstance(rest[0], dict) else None
        entry = ZipEntry(name, method, crc, csize, size, header, data)
        return cls(rel, entry, sha, pages, facturx)


@dataclass(frozen=True)
class Prepared:
    """What reading one member gave, before its expected values are known."""

    digest: str | None = None
    #: PDFium's page count, None if it was not asked or could not open the file
    fast_pages: int | None = None
    #: the member's data is corrupt (then nothing else is known)
    problem: P.Problem | None = None


def prepare(reader: MemberData, entry: ZipEntry, *, open_pdf: bool) -> Prepared:
    """Read ``entry`` once: its SHA-256 and, if ``open_pdf``, PDFium's page count."""
    try:
        if open_pdf and entry.size <= IN_MEMORY:
            data = reader.read_whole(entry)
            return Prepared(hashlib.sha256(data).hexdigest(), pdfium_pages(data))
        return Prepared(_sha256(reader, entry))
    except CorruptDataError as exc:
        return Prepared(problem=exc.problem)


def check_item(reader: MemberData, item: DocItem, pre: Prepared | None = None) -> list[P.Problem]:
    """Every problem of one member (its data, its checksum, its pages).

    ``pre`` is what :func:`prepare` found for it, when it was read before.
    """
    if pre is None:
        pre = prepare(reader, item.entry, open_pdf=item.pages is not None)
    if pre.problem is not None:
        return [pre.problem]
    out: list[P.Problem] = []
    entry, rel = item.entry, item.rel
    try:
        if item.pages is None:
            pass
        elif entry.size > IN_MEMORY:
            if entry.method != STORED:
                out.append(P.NonCanonical(rel, "a PDF must be stored, not compressed"))
            else:
                with reader.window(entry) as window:
                    _compare_pages(out, item, lambda: qpdf_pages(None, window))
        elif pre.fast_pages != item.pages:  # PDFium disagrees or cannot open it: ask qpdf
            data = reader.read_whole(entry)
            _compare_pages(out, item, lambda: qpdf_pages(data))
        if item.facturx is not None and not out:
            out.extend(_facturx(reader, item))
    except CorruptDataError as exc:
        return [*out, exc.problem]
    if pre.digest != item.sha256:
        out.append(P.ChecksumMismatch(rel, "file changed", expected=item.sha256, found=pre.digest))
    return out


def check_items(reader: MemberData, items: Iterable[DocItem]) -> Iterator[list[P.Problem]]:
    """:func:`check_item` for each item in turn, in this process."""
    for item in items:
        yield check_item(reader, item)


def problem_from_wire(data: Any) -> P.Problem:
    """A problem sent back by a worker, checked field by field (a worker reads hostile files)."""
    if not isinstance(data, dict) or data.get("code") not in _BY_CODE:
        raise ValueError("not a problem record")
    fields: dict[str, str | None] = {}
    for key in ("path", "detail", "expected", "found"):
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"problem field {key} is not text")
        fields[key] = None if value is None else value[:_MAX_FIELD]
    return _BY_CODE[data["code"]](
        path=fields["path"] or "",
        detail=fields["detail"] or "",
        expected=fields["expected"],
        found=fields["found"],
    )


def _facturx(reader: MemberData, item: DocItem) -> list[P.Problem]:
    """The Factur-X problems of the PDF ``item`` (:mod:`manifests.verify.facturx`)."""
    import io

    import pikepdf

    from manifests.verify.facturx import check_pdf, entry_problem

    entry = item.entry
    if item.facturx is None or entry_problem(item.facturx) is not None:
        return []  # a malformed entry is reported with offboard.json's other problems
    if entry.size <= IN_MEMORY:
        source: Any = io.BytesIO(reader.read_whole(entry))
    elif entry.method == STORED:
        source = reader.window(entry)
    else:
        return []  # reported as non-canonical
    try:
        with source, pikepdf.open(source) as pdf:
            return check_pdf(item.rel, pdf, item.facturx)
    except CorruptDataError:
        raise
    except Exception as exc:  # qpdf on hostile bytes
        return [P.FacturxInvalid(item.rel, f"factur-x: the PDF does not open: {str(exc)[:160]}")]


def _sha256(reader: MemberData, entry: ZipEntry) -> str:
    h = hashlib.sha256()
    for chunk in reader.iter_data(entry):
        h.update(chunk)
    return h.hexdigest()


def _compare_pages(out: list[P.Problem], item: DocItem, count: Any) -> None:
    try:
        pages = int(count())
    except PdfError as exc:
        out.append(P.DocumentMismatch(item.rel, f"does not open as a PDF: {exc}"))
        return
    if pages != item.pages:
        out.append(
            P.DocumentMismatch(
                item.rel,
                "page count differs from offboard.json",
                expected=str(item.pages),
                found=str(pages),
            )
        )
