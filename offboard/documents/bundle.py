"""Bundling a kind's documents into a few PDFs with one bookmark per document.

The bundle is built with qpdf through pikepdf, one part at a time: each document's pages are
copied into the part as it arrives (qpdf copies stream data only when the part is saved, straight
from the source file), and when the next document would push the part's total source size over
the cap, the part is saved under a temporary name, renamed into place, and every source it held
open is closed.

Two pikepdf conveniences are avoided on purpose because they cost time proportional to the pages
already in the part, which makes bundling quadratic: ``Pdf.pages.append``/``extend`` (we append
the copied page objects to the page tree's ``/Kids`` ourselves) and ``OutlineItem(title, index)``
(we write the outline dictionaries directly, pointing at the page objects we already hold).
"""

from __future__ import annotations

import io
import os
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import pikepdf
from pikepdf import Array, Dictionary, Name, String

from offboard.documents.copying import (
    DocumentFault,
    PdfInput,
    Pending,
    StagedFile,
    os_reason,
    remove_quietly,
    short_reason,
)
from offboard.errors import OutputError
from offboard.fsutil import DeferredErrors, temp_name

#: pages one part holds at most, whatever its size: qpdf keeps a part's page tree and every
#: source's object table in memory (about 30 KB per small document), so a byte cap alone would
#: let a part of tiny documents grow without bound. 250 pages keep the whole large-account
#: export near 170 MB peak RSS (1,000 pages: ~200 MB; see BENCHMARKS.md)
MAX_PART_PAGES = 250
#: pages one document may have (``--max-document-pages``): past it, the document is a problem
#: (a page tree of millions of pages, shared or not, is a way to exhaust memory)
MAX_DOCUMENT_PAGES = 10_000
#: sources one part keeps open by path at most; later ones are read into memory (bounded by
#: the part's size cap), so a part of thousands of small documents needs few file descriptors
DEFAULT_MAX_OPEN_FILES = 256
#: how parts are saved: a /ID derived from the content (no timestamp or random part anywhere, so
#: the same documents give the same bytes), stream data copied exactly as the sources hold it,
#: small objects packed into object streams
SAVE_OPTIONS: dict[str, Any] = {
    "deterministic_id": True,
    "stream_decode_level": pikepdf.StreamDecodeLevel.none,
    "object_stream_mode": pikepdf.ObjectStreamMode.generate,
}
_MAX_TITLE = 250
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")

# Pages copied without their source's /AcroForm make pikepdf warn at save time; the per-document
# copies keep the forms, the bundle is for reading.
warnings.filterwarnings(
    "ignore", message=r"This document has \d+ form widget", module=re.escape(__name__)
)


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


@dataclass
class _Part:
    pdf: pikepdf.Pdf
    tree: pikepdf.Object
    kids: pikepdf.Object
    sources: list[pikepdf.Pdf] = field(default_factory=list)
    #: (bookmark title, first page object) per document
    marks: list[tuple[str, pikepdf.Object]] = field(default_factory=list)
    pages: int = 0
    bytes: int = 0
    open_files: int = 0

    def close(self) -> None:
        for src in self.sources:
            src.close()
        self.sources.clear()
        self.pdf.close()


class PartBuilder:
    """One bundle part being built: documents appended one by one, then saved once.

    What both the in-process :class:`BundleWriter` and the sandboxed document worker
    (:mod:`offboard.documents.worker`) do with a document: open it with qpdf, admit it
    (:func:`offboard.documents.admit.admit`: page count, active content), copy its pages into
    the part with a bookmark, and keep the source open until the part is saved (qpdf copies
    stream data only then, straight from the source).
    """

    def __init__(self, max_open: int) -> None:
        self.max_open = max_open
        self._part = _new_part()

    @property
    def pages(self) -> int:
        return self._part.pages

    @property
    def bytes(self) -> int:
        return self._part.bytes

    @property
    def by_path(self) -> bool:
        """Whether the next document may be opened by path (a file descriptor held for it)."""
        return self._part.open_files < self.max_open

    def add(
        self,
        given: PdfInput,
        shown: str,
        size: int,
        title: str,
        *,
        max_pages: int = MAX_DOCUMENT_PAGES,
        inspect: Callable[[pikepdf.Pdf], None] | None = None,
    ) -> int:
        """Append the document ``given`` (named ``shown`` in reasons); return its page count.

        Raises :class:`DocumentFault` (``encrypted``, ``unreadable: ...``, ``too many pages``,
        ``active content: ...``) when it cannot be bundled; the part is then left as it was.
        ``inspect(pdf)`` is called with the document open once it is admitted.
        """
        from offboard.documents.admit import SMALL_RAW, admit, lost_objects

        part = self._part
        raw = _small_bytes(given.source) if size < SMALL_RAW else None
        try:
            src = pikepdf.open(given.source)
        except pikepdf.PasswordError:
            raise DocumentFault("encrypted") from None
        except MemoryError:
            raise
        except OSError as exc:
            raise DocumentFault(f"unreadable: {os_reason(exc)}") from None
        except Exception as exc:
            raise DocumentFault(f"unreadable: {short_reason(exc, given.name, shown)}") from None
        try:
            admit(src, max_pages, raw)
            # objects copied before a failure are unreachable from the part: never written
            copied = [part.pdf.copy_foreign(page.obj) for page in src.pages]
            lost = lost_objects(src)
            if lost is not None:
                raise DocumentFault(f"unreadable: {lost}")
        except DocumentFault:
            src.close()
            raise
        except MemoryError:
            src.close()
            raise
        except Exception as exc:
            src.close()
            raise DocumentFault(f"unreadable: {short_reason(exc, given.name, shown)}") from None
        if inspect is not None:
            inspect(src)
        part.sources.append(src)  # qpdf reads its streams when the part is saved
        part.open_files += given.holds_fd
        for page in copied:
            page.Parent = part.tree
            part.kids.append(page)
        part.marks.append((title, copied[0]))
        part.pages += len(copied)
        part.bytes += size
        return len(copied)

    def save(self, final: Path) -> None:
        """Write the part to ``final`` (through a temporary name); it stays open until
        :meth:`close`."""
        _save(self._part, final)

    def close(self) -> None:
        self._part.close()


def _small_bytes(source: Path | BinaryIO) -> bytes | None:
    """The bytes of a small document (None if they cannot be read: qpdf will say why)."""
    try:
        if isinstance(source, Path):
            return source.read_bytes()
        if isinstance(source, io.BytesIO):
            return source.getvalue()
        data = source.read()
        source.seek(0)
        return data
    except (OSError, ValueError):
        return None


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


def _save(part: _Part, final: Path) -> None:
    """Write the part to a temporary name, then rename it to ``final``."""
    temp = temp_name(final)
    try:
        part.tree.Count = part.pages
        _write_outline(part.pdf, part.marks)
        # through Python, never to the descriptor: qpdf aborts the process on a write error
        with open(temp, "wb", buffering=0) as fh, DeferredErrors(fh, temp) as out:
            part.pdf.save(out, **SAVE_OPTIONS)
        os.replace(temp, final)
    except OSError as exc:
        remove_quietly(temp)
        raise OutputError(f"cannot write {final}: {os_reason(exc)}") from exc
    except pikepdf.PdfError as exc:
        remove_quietly(temp)
        reason = short_reason(exc, temp, final.name)
        raise OutputError(f"cannot write {final}: {reason}") from exc
    except BaseException:
        remove_quietly(temp)
        raise


def _new_part() -> _Part:
    pdf = pikepdf.new()
    tree = pdf.Root.Pages
    return _Part(pdf=pdf, tree=tree, kids=tree.Kids)


def _write_outline(pdf: pikepdf.Pdf, marks: list[tuple[str, pikepdf.Object]]) -> None:
    """One top-level outline item per document, in order, each opening its first page."""
    if not marks:
        return
    root = pdf.make_indirect(Dictionary(Type=Name.Outlines))
    prev: pikepdf.Object | None = None
    for title, page in marks:
        item = pdf.make_indirect(
            Dictionary(Title=String(title), Parent=root, Dest=Array([page, Name.Fit]))
        )
        if prev is None:
            root.First = item
        else:
            prev.Next = item
            item.Prev = prev
        prev = item
    root.Last = prev
    root.Count = len(marks)
    pdf.Root.Outlines = root
    pdf.Root.PageMode = Name.UseOutlines
