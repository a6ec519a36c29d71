"""Bundling a kind's documents into a few PDFs with one bookmark per document.

The bundle is built with qpdf through pikepdf, one part at a time
(:class:`offboard.documents.part.PartBuilder`): each document's pages are copied into the part
as it arrives (the first one's only once a second comes), and when the next document would push
the part's total source size over the cap, the part is saved under a temporary name, renamed
into place, and every source it held open is closed.

Two pikepdf conveniences are avoided on purpose because they cost time proportional to the pages
already in the part, which makes bundling quadratic: ``Pdf.pages.append``/``extend`` (we append
the copied page objects to the page tree's ``/Kids`` ourselves) and ``OutlineItem(title, index)``
(we write the outline dictionaries directly, pointing at the page objects we already hold).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from offboard.documents.copying import DocumentFault, Pending, StagedFile, os_reason

if TYPE_CHECKING:  # qpdf is loaded where parts are built (the document worker), not here
    import pikepdf

    from offboard.documents.part import PartBuilder

__all__ = [
    "MAX_DOCUMENT_PAGES",
    "MAX_PART_PAGES",
    "BundleWriter",
    "bookmark_title",
    "full",
    "max_open_files",
    "part_path",
]

#: pages one part holds at most, whatever its size: the worker holds the objects of every page
#: copied into a part until it is written, so a byte cap alone would let a part of tiny
#: documents grow without bound. 250 pages of the large demo account's invoices: the worker at
#: 64 MB (its start: 30 MB)
MAX_PART_PAGES = 250
#: pages one document may have (``--max-document-pages``): past it, the document is a problem
#: (a page tree of millions of pages, shared or not, is a way to exhaust memory)
MAX_DOCUMENT_PAGES = 10_000
#: sources one part keeps open by path at most; later ones are read into memory (bounded by
#: the part's size cap), so a part of thousands of small documents needs few file descriptors
DEFAULT_MAX_OPEN_FILES = 256
_MAX_TITLE = 250
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


def bookmark_title(number: str, date: str, party: str) -> str:
    """``"<number> — <date> — <party>"``, leaving out empty parts and control characters."""
    parts = [_CONTROL.sub(" ", p).strip() for p in (number, date, party)]
    title = " — ".join(p for p in parts if p) or "document"
    return title if len(title) <= _MAX_TITLE else title[: _MAX_TITLE - 1] + "…"


def max_open_files() -> int:
    """A share of this process's file-descriptor limit for one part's open sources."""
    try:
        import resource
    except ImportError:  # not POSIX
        return 64
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return DEFAULT_MAX_OPEN_FILES
    return max(8, min(DEFAULT_MAX_OPEN_FILES, soft // 4))


class BundleWriter:
    """Write ``<folder>/<kind>-bundle-001.pdf``, ``-002``... from documents added in order.

    A new part starts when the next document would take the sum of the part's document sizes
    over ``cap_bytes`` or when the part already holds ``max_pages`` pages; a document bigger
    than the cap gets a part of its own.

    Call :meth:`add` per document, then :meth:`close`; on failure call :meth:`abort`. Output is
    deterministic: the same documents in the same order give byte-identical parts. This writer
    opens the documents in its own process; the export opens them in a sandboxed worker
    (:class:`offboard.documents.sandbox.SandboxBundler`), with the same parts as the result.
    """

    def __init__(
        self,
        folder: Path,
        kind: str,
        cap_bytes: int,
        *,
        max_pages: int = MAX_PART_PAGES,
        max_open: int | None = None,
        max_document_pages: int = MAX_DOCUMENT_PAGES,
    ) -> None:
        if cap_bytes < 1:
            raise ValueError(f"bundle cap must be at least 1 byte, not {cap_bytes}")
        self.folder = folder
        self.kind = kind
        self.cap_bytes = cap_bytes
        self.max_pages = max_pages
        self.max_open = max_open_files() if max_open is None else max_open
        self.max_document_pages = max_document_pages
        #: parts written so far, in order
        self.parts: list[Path] = []
        #: pages in the parts written so far
        self.pages = 0
        #: pages of each part written so far, in order
        self.part_pages: list[int] = []
        self._part: PartBuilder | None = None
        self._pending: list[Pending] = []

    def add(self, temp: Path, final: Path, size: int, title: str) -> int:
        """Append the PDF file at ``temp`` (``size`` bytes) with a bookmark; return its page
        count.

        ``temp`` is renamed to ``final`` once its part is written and closed (a file that is
        still open cannot be renamed everywhere), so a document reaches its final name only
        after qpdf has read it whole. Raises :class:`DocumentFault` (``encrypted``,
        ``unreadable: ...``) if qpdf cannot read it; the part is then left as it was.
        """
        return self.add_pending(StagedFile(temp, final, size), title)

    def add_pending(
        self, doc: Pending, title: str, inspect: Callable[[pikepdf.Pdf], None] | None = None
    ) -> int:
        """Append the PDF ``doc`` with a bookmark, as :meth:`add` does; return its page count.

        ``doc.publish()`` is called once its part is written, ``doc.discard()`` if the part is
        dropped. ``inspect(pdf)`` is called with the document opened, once it is known to be
        readable (the Factur-X attachment is read there: the document is opened once).
        """
        part = self._part
        size = doc.size
        if part is not None and part.pages and full(part.pages, part.bytes, size, self):
            self._flush()
            part = None
        if part is None:
            from offboard.documents.part import PartBuilder

            part = self._part = PartBuilder(self.max_open)
        try:
            given = doc.pdf_input(part.by_path)
        except OSError as exc:
            raise DocumentFault(f"unreadable: {os_reason(exc)}") from None
        pages = part.add(
            given, doc.shown, size, title, max_pages=self.max_document_pages, inspect=inspect
        )
        self._pending.append(doc)
        return pages

    def close(self) -> None:
        """Write the last part and give its documents their final names."""
        if self._part is not None:
            if self._part.pages:
                self._flush()
            else:
                self.abort()

    def abort(self) -> None:
        """Drop the part being built: close its sources, drop its documents' bytes."""
        part, self._part = self._part, None
        pending, self._pending = self._pending, []
        if part is not None:
            part.close()
        for doc in pending:
            doc.discard()

    def _flush(self) -> None:
        part = self._part
        assert part is not None
        final = part_path(self.folder, self.kind, len(self.parts) + 1)
        part.save(final)  # on failure the part stays current, for abort()
        self._part = None
        part.close()
        self.parts.append(final)
        self.pages += part.pages
        self.part_pages.append(part.pages)
        pending, self._pending = self._pending, []
        for doc in pending:
            doc.publish()


class _Caps(Protocol):
    cap_bytes: int
    max_pages: int


def full(pages: int, size: int, adding: int, caps: _Caps) -> bool:
    """Whether a part of ``pages`` pages and ``size`` bytes is closed before a document of
    ``adding`` bytes (a part with no pages never is)."""
    return pages > 0 and (size + adding > caps.cap_bytes or pages >= caps.max_pages)


def part_path(folder: Path, kind: str, number: int) -> Path:
    """The bundle part ``number`` (1-based) of ``kind``: ``<folder>/<kind>-bundle-NNN.pdf``."""
    return folder / f"{kind}-bundle-{number:03d}.pdf"
