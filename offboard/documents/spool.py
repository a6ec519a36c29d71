"""The documents spool: an archive's documents in one file, each read once from the source.

An export to a folder copies every document to a file of its own. An export to an archive does
not need those files: each document's bytes are appended to one spool file instead, while their
size, SHA-256 and CRC-32 are computed from the same bytes; qpdf checks and bundles the document
from those bytes (kept in memory when small, read back from the spool by offset otherwise), and
the zip writer later copies them from the spool, by offset, into the archive
(:class:`manifests.zipfmt.filedata.SpooledMember`). Thousands of small documents thus cost
neither thousands of file creations nor a second read.

The spool is created beside the archive under a hidden name and unlinked at once: only its open
file descriptor keeps it, so it is gone when the export ends, however it ends (an error, an
interrupt, the process killed). It is used by one documents lane at a time.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, NamedTuple, cast

from isal import isal_zlib

from offboard.documents.copying import (
    CHUNK,
    HEADER_WINDOW,
    TRAILER_WINDOW,
    DocumentFault,
    PdfInput,
    open_document,
    os_reason,
)
from offboard.errors import OutputError
from offboard.fsutil import PreadWindow

if TYPE_CHECKING:
    pass

#: a document of at most this many bytes is kept in memory until its bundle part is written
#: (qpdf then reads it from there); a larger one is read back from the spool. A part holds at
#: most 250 documents, so at most ~16 MB of them is held
IN_MEMORY = 64 * 1024


class SpoolEntry(NamedTuple):
    """Where a document's bytes are in the spool, and what they are."""

    offset: int
    size: int
    crc32: int
    sha256: str


class DocumentSpool:
    """One spool file, open for reading and writing, already unlinked (see the module doc).

    :meth:`append` adds a document's bytes; :meth:`add_member` names an appended document as a
    file of the export (``documents/<kind>/<name>.pdf``, or under ``_problems/``); ``members``
    lists them for the archive writer, which reads them through ``fd``.
    """

    def __init__(self, fd: int, path: Path) -> None:
        self._fd = fd
        #: where the spool was created (its name no longer exists)
        self.path = path
        #: export-relative POSIX path -> entry, for every document named so far
        self.members: dict[str, SpoolEntry] = {}
        self._end = 0
        self._closed = False

    @classmethod
    def create(cls, path: Path) -> DocumentSpool:
        """A new, empty spool created at ``path`` (which must not exist) and unlinked."""
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise OutputError(
                f"cannot create the documents spool {path}: {os_reason(exc)}"
            ) from exc
        try:
            os.unlink(path)
        except OSError as exc:
            os.close(fd)
            raise OutputError(
                f"cannot unlink the documents spool {path}: {os_reason(exc)}"
            ) from exc
        return cls(fd, path)

    @property
    def fd(self) -> int:
        if self._closed:
            raise ValueError("the documents spool is closed")
        return self._fd

    @property
    def size(self) -> int:
        """Bytes appended so far."""
        return self._end

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            os.close(self._fd)

    def __enter__(self) -> DocumentSpool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add_member(self, rel: str, entry: SpoolEntry) -> None:
        """Name the appended document ``entry`` as the export's file ``rel``."""
        if rel in self.members:
            raise ValueError(f"document {rel!r} is in the spool twice")
        self.members[rel] = entry

    def append(self, source: Path, final: Path, root: Path) -> SpooledCopy:
        """Append the document at ``source``, to be the export's file ``final`` (below ``root``).

        The source is read to its end once; the bytes are hashed and written to the spool as
        they come. Raises :class:`DocumentFault` when the source cannot be read (``missing``,
        ``unreadable: ...``, as :func:`offboard.documents.copying.copy_to_temp` does), and
        :class:`OutputError` when the spool cannot be written. Bytes appended before a failure
        are overwritten by the next document.
        """
        rel = _relative(final, root)
        fd, size = open_document(source)
        try:
            return self._copy(fd, size, rel, final, root)
        finally:
            os.close(fd)

    def _copy(self, fd: int, expected: int, rel: str, final: Path, root: Path) -> SpooledCopy:
        offset = self._end
        digest = hashlib.sha256()
        crc = size = 0
        head = tail = b""
        kept: list[bytes] | None = []
        while True:
            # the size the listing gave, plus one byte to see the end: one read for most files
            left = expected - size
            want = left + 1 if 0 <= left < CHUNK else CHUNK
            try:
                data = os.read(fd, want)
            except OSError as exc:
                raise DocumentFault(f"unreadable: {os_reason(exc)}") from None
            if not data:
                break
            digest.update(data)
            crc = isal_zlib.crc32(data, crc)
            if len(head) < HEADER_WINDOW:
                head += data[: HEADER_WINDOW - len(head)]
            if len(data) >= TRAILER_WINDOW:
                tail = data[-TRAILER_WINDOW:]
            else:
                tail = (tail + data)[-TRAILER_WINDOW:]
            self._write(offset + size, data, rel)
            size += len(data)
            if kept is not None and size <= IN_MEMORY:
                kept.append(data)
            else:
                kept = None
        self._end = offset + size
        return SpooledCopy(
            spool=self,
            entry=SpoolEntry(offset, size, crc, digest.hexdigest()),
            final=final,
            rel=rel,
            root=root,
            data=None if kept is None else b"".join(kept),
            has_pdf_header=b"%PDF-" in head,
            has_eof_marker=b"%%EOF" in tail,
        )

    def _write(self, at: int, data: bytes, rel: str) -> None:
        with memoryview(data) as view:
            done = 0
            while done < len(view):
                try:
                    done += os.pwrite(self.fd, view[done:], at + done)
                except OSError as exc:
                    raise OutputError(
                        f"cannot write {rel} to the documents spool in {self.path.parent}: "
                        f"{os_reason(exc)}"
                    ) from exc


@dataclass(frozen=True)
class SpooledCopy:
    """A document appended to the spool, not yet checked
    (an :class:`offboard.documents.copying.Held`)."""

    spool: DocumentSpool
    entry: SpoolEntry
    final: Path
    #: ``final`` relative to ``root``, with ``/``
    rel: str
    root: Path
    #: the bytes, when small enough to keep in memory until the bundle part is written
    data: bytes | None
    has_pdf_header: bool
    has_eof_marker: bool

    @property
    def size(self) -> int:
        return self.entry.size

    @property
    def sha256(self) -> str:
        return self.entry.sha256

    @property
    def shown(self) -> str:
        return self.final.name

    def pdf_input(self, by_path: bool) -> PdfInput:
        # pikepdf names a stream "stream <str(stream)>" in qpdf's messages
        if self.data is not None:
            return PdfInput(_Named(self.data, self.shown), f"stream {self.shown}", False)
        window = PreadWindow(self.spool.fd, self.entry.offset, self.entry.size, name=self.shown)
        return PdfInput(cast("BinaryIO", window), f"stream {self.shown}", False)

    def publish(self) -> None:
        self.spool.add_member(self.rel, self.entry)

    def set_aside(self, kept: Path) -> None:
        self.spool.add_member(_relative(kept, self.root), self.entry)

    def discard(self) -> None:
        """Nothing to remove: the spool goes as a whole."""


def _relative(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` (which it must be below), with ``/``."""
    text, base = os.fspath(path), os.path.join(os.fspath(root), "")
    if not text.startswith(base):
        raise ValueError(f"{path} is not below {root}")
    return text[len(base) :].replace(os.sep, "/")


class _Named(io.BytesIO):
    """A document's bytes in memory, named as the document in qpdf's messages."""

    def __init__(self, data: bytes, name: str) -> None:
        super().__init__(data)
        self._name = name

    def __str__(self) -> str:
        return self._name


def named_bytes(data: bytes, name: str) -> io.BytesIO:
    """``data`` as a stream that qpdf's messages name ``name``."""
    return _Named(data, name)
