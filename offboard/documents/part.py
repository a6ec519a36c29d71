"""One bundle part being built: :class:`PartBuilder` (used by :mod:`offboard.documents.bundle`
in process and by the sandboxed document worker, :mod:`offboard.documents.worker`).

Memory. pikepdf opens every file with qpdf's "immediate copy" setting: copying a page into
another PDF copies its objects and its streams' bytes at once, so a part holds its pages' bytes
until it is written (a part filled to a 200 MiB cap: about 220 MB; the default cap is 32 MiB,
:data:`offboard.options.BUNDLE_CAP_MIB`), while a source, once
copied, is no longer needed and is closed at once (250 pages of the demo's invoices: 64 MB
instead of 92). A part of *one* document is not copied at all: the document is read through
when it comes (every object its pages reach is resolved and every stream's bytes read, as a
copy would, so that a damaged document is refused then, not when its part is written), and if
no second document joins it, the part is written from the document itself, its pages under a
new page tree and catalogue, qpdf reading each stream from the file as it writes (a 268 MB
document: about 40 MB instead of 300). Only when a second document comes are the first one's
pages copied, first, so that a part of several documents is the same, byte for byte, as when
each was copied as it came.
"""

from __future__ import annotations

import io
import os
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import pikepdf
from pikepdf import Array, Dictionary, Name, String

from offboard.documents.bundle import MAX_DOCUMENT_PAGES
from offboard.documents.copying import (
    DocumentFault,
    PdfInput,
    os_reason,
    remove_quietly,
    short_reason,
)
from offboard.errors import OutputError
from offboard.fsutil import DeferredErrors, temp_name

__all__ = ["SAVE_OPTIONS", "PartBuilder"]

#: how parts are saved: a /ID derived from the content (no timestamp or random part anywhere, so
#: the same documents give the same bytes), stream data copied exactly as the sources hold it,
#: small objects packed into object streams
SAVE_OPTIONS: dict[str, Any] = {
    "deterministic_id": True,
    "stream_decode_level": pikepdf.StreamDecodeLevel.none,
    "object_stream_mode": pikepdf.ObjectStreamMode.generate,
}

# Pages copied without their source's /AcroForm make pikepdf warn at save time; the per-document
# copies keep the forms, the bundle is for reading.
warnings.filterwarnings(
    "ignore", message=r"This document has \d+ form widget", module=re.escape(__name__)
)


#: trailer keys that describe the file's cross-reference data (qpdf writes its own)
_XREF_KEYS = frozenset(
    {"/Size", "/Prev", "/XRefStm", "/W", "/Index", "/Type", "/Filter", "/DecodeParms", "/Length"}
)


@dataclass
class _Part:
    pdf: pikepdf.Pdf
    tree: pikepdf.Object
    kids: pikepdf.Object
    sources: list[pikepdf.Pdf] = field(default_factory=list)
    #: (bookmark title, first page object) per document copied
    marks: list[tuple[str, pikepdf.Object]] = field(default_factory=list)
    #: pages of every document added (the first one's too, before it is copied)
    pages: int = 0
    bytes: int = 0
    open_files: int = 0

    def close(self) -> None:
        for src in self.sources:
            src.close()
        self.sources.clear()
        self.pdf.close()


@dataclass
class _First:
    """The first document of a part: admitted and read through, not copied (yet)."""

    src: pikepdf.Pdf
    title: str
    #: whether it holds a file descriptor (opened by path)
    holds_fd: bool = False


class PartBuilder:
    """One bundle part being built: documents appended one by one, then saved once.

    What both the in-process :class:`~offboard.documents.bundle.BundleWriter` and the sandboxed
    document worker do with a document: open it with qpdf, admit it
    (:func:`offboard.documents.admit.admit`: page count, active content), copy its pages into
    the part with a bookmark (the first document only once a second one comes: see the module
    doc), and close it.
    """

    def __init__(self, max_open: int) -> None:
        self.max_open = max_open
        self._part = _new_part()
        self._first: _First | None = None

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
            count = admit(src, max_pages, raw)
            if part.pages == 0:
                _read_through(src)
                copied = []
            else:
                self._copy_first()  # first: the part's objects are numbered in page order
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
        if part.pages == 0:
            # kept open: the part may be written from it
            self._first = _First(src, title, given.holds_fd)
            part.sources.append(src)
            part.open_files += given.holds_fd
        else:
            _append(part, title, copied)
            src.close()  # its pages' objects and bytes are the part's own now
        part.pages += count
        part.bytes += size
        return count

    def save(self, final: Path) -> None:
        """Write the part to ``final`` (through a temporary name); it stays open until
        :meth:`close`."""
        if self._first is not None:  # one document: the part is written from it
            first, self._first = self._first, None
            sole = _sole_part(first.src, first.title, self._part.pages)
            sole.bytes, sole.open_files = self._part.bytes, self._part.open_files
            self._part.sources.clear()  # its one source is the sole part's own PDF now
            self._part.close()
            self._part = sole
        _save(self._part, final)

    def close(self) -> None:
        self._first = None
        self._part.close()

    def _copy_first(self) -> None:
        """A second document comes: the first one's pages are copied into the part."""
        if self._first is None:
            return
        first = self._first
        copied = [self._part.pdf.copy_foreign(page.obj) for page in first.src.pages]
        self._first = None
        _append(self._part, first.title, copied)
        self._part.sources.remove(first.src)
        self._part.open_files -= first.holds_fd
        first.src.close()


def _append(part: _Part, title: str, copied: list[pikepdf.Object]) -> None:
    for page in copied:
        page.Parent = part.tree
        part.kids.append(page)
    part.marks.append((title, copied[0]))


def _read_through(src: pikepdf.Pdf) -> None:
    """Resolve every object the pages of ``src`` reach and read every stream's bytes (and let
    them go): what copying the pages would do, so that the same damage is found now."""
    seen: set[tuple[int, int]] = set()
    todo: list[Any] = [page.obj for page in src.pages]
    while todo:
        obj = todo.pop()
        if not isinstance(obj, pikepdf.Object):
            continue  # a number or a boolean (resolved already, if it was indirect)
        if obj.is_indirect:
            key = obj.objgen
            if key in seen:
                continue
            seen.add(key)
        if isinstance(obj, pikepdf.Stream):
            obj.read_raw_bytes()
            todo.extend(obj.stream_dict.values())
        elif isinstance(obj, pikepdf.Dictionary):
            todo.extend(obj.values())
        elif isinstance(obj, pikepdf.Array):
            todo.extend(obj)


def _sole_part(src: pikepdf.Pdf, title: str, pages: int) -> _Part:
    """The part of one document, made of the document itself: its pages under a new flat page
    tree and catalogue (the pages carry their inherited attributes: pikepdf pushed them down
    when it opened the file), so that only what the pages reach is written, as in a part of
    copied pages."""
    objects = [page.obj for page in src.pages]
    tree = src.make_indirect(Dictionary(Type=Name.Pages, Kids=Array(objects), Count=pages))
    for page in objects:
        page.Parent = tree
    root = src.make_indirect(Dictionary(Type=Name.Catalog, Pages=tree))
    for key in set(src.trailer.keys()) - _XREF_KEYS:  # /Info, /ID...: not a part's
        del src.trailer[key]
    src.trailer.Root = root
    return _Part(pdf=src, tree=tree, kids=tree.Kids, marks=[(title, objects[0])], pages=pages)


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
