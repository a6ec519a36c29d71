"""Copying one document into the export: streamed, hashed, checked, never half-written.

A document is copied to a hidden temporary name beside its final name while its SHA-256 and size
are computed from the same bytes; once qpdf has read it, it is renamed to its final name
(:func:`publish`) or set aside under ``_problems/`` (:func:`set_aside`). An interrupted copy
leaves no file behind under any name.

What the rest of the documents stage needs of a copy is :class:`Held`: a copied file
(:class:`Copied`) is one, a document appended to an archive's spool
(:class:`offboard.documents.spool.SpooledCopy`) another.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, NamedTuple, Protocol

from offboard.errors import OutputError
from offboard.fsutil import temp_name

CHUNK = 1024 * 1024
#: a PDF must start with ``%PDF-`` within this many bytes (readers tolerate leading junk)
HEADER_WINDOW = 1024
#: a whole PDF ends with ``%%EOF`` within this many bytes; a file without it was cut short (qpdf
#: would still "repair" it, silently dropping the pages and content past the cut)
TRAILER_WINDOW = 1024
_MAX_REASON = 160


class DocumentFault(Exception):
    """The document cannot be exported as a readable PDF; ``reason`` is the problem's reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _ReadFailed(Exception):
    """Reading the source failed (kept apart from write failures, which are OSError)."""


class _HashingReader:
    """A binary reader that hashes and counts what it hands out."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.digest = hashlib.sha256()
        self.size = 0
        self.tail = b""

    def read(self, n: int = -1) -> bytes:
        try:
            data = self._raw.read(n)
        except OSError as exc:
            raise _ReadFailed(os_reason(exc)) from exc
        self.digest.update(data)
        self.size += len(data)
        if len(data) >= TRAILER_WINDOW:
            self.tail = data[-TRAILER_WINDOW:]
        elif data:
            self.tail = (self.tail + data)[-TRAILER_WINDOW:]
        return data

    def read_head(self, n: int) -> bytes:
        """Up to ``n`` bytes: fewer only at the end of the file."""
        parts: list[bytes] = []
        got = 0
        while got < n:
            data = self.read(n - got)
            if not data:
                break
            parts.append(data)
            got += len(data)
        return b"".join(parts)


class PdfInput(NamedTuple):
    """What qpdf reads a held document from."""

    #: a path, or a binary stream
    source: Path | BinaryIO
    #: how qpdf names the document in its messages (replaced by its file name in reasons)
    name: str
    #: whether reading it keeps a file descriptor open until its bundle part is written
    holds_fd: bool


class Pending(Protocol):
    """A document's bytes waiting for their bundle part to be written."""

    @property
    def size(self) -> int: ...

    @property
    def shown(self) -> str:
        """The document's file name, as reasons name it."""
        ...

    def pdf_input(self, by_path: bool) -> PdfInput:
        """What qpdf should open; ``by_path``: a file descriptor may be held for it."""
        ...

    def publish(self) -> None:
        """Give the document its final name (its part is written)."""
        ...

    def discard(self) -> None:
        """Drop the document's bytes (the export failed)."""
        ...


class Held(Pending, Protocol):
    """A document's bytes held by the export, hashed and glanced at, not yet checked."""

    @property
    def sha256(self) -> str: ...

    @property
    def has_pdf_header(self) -> bool: ...

    @property
    def has_eof_marker(self) -> bool: ...

    def set_aside(self, kept: Path) -> None:
        """Keep the bytes of a problem document under ``kept`` instead of their final name."""
        ...


@dataclass(frozen=True)
class StagedFile:
    """A file at ``temp`` to be renamed ``final`` once qpdf has read it (see :class:`Pending`)."""

    temp: Path
    final: Path
    size: int

    @property
    def shown(self) -> str:
        return self.final.name

    def pdf_input(self, by_path: bool) -> PdfInput:
        if by_path:
            return PdfInput(self.temp, str(self.temp), True)
        return PdfInput(io.BytesIO(self.temp.read_bytes()), str(self.temp), False)

    def publish(self) -> None:
        publish(self.temp, self.final)

    def discard(self) -> None:
        remove_quietly(self.temp)


@dataclass(frozen=True)
class Copied(StagedFile):
    """A document copied to ``temp``, not yet checked (see :class:`Held`)."""

    sha256: str
    #: ``%PDF-`` appears within the first :data:`HEADER_WINDOW` bytes
    has_pdf_header: bool
    #: ``%%EOF`` appears within the last :data:`TRAILER_WINDOW` bytes
    has_eof_marker: bool

    def set_aside(self, kept: Path) -> None:
        set_aside(self.temp, kept)


def open_document(source: Path) -> tuple[int, int]:
    """Open the regular file ``source`` for reading: (descriptor, size as listed).

    Raises :class:`DocumentFault` (``missing``, ``unreadable: ...``) when it cannot be read.
    """
    try:
        info = os.stat(source)
    except FileNotFoundError:
        raise DocumentFault("missing") from None
    except OSError as exc:
        raise DocumentFault(f"unreadable: {os_reason(exc)}") from None
    if not stat.S_ISREG(info.st_mode):
        raise DocumentFault("unreadable: not a regular file")
    try:
        return os.open(source, os.O_RDONLY), info.st_size
    except FileNotFoundError:
        raise DocumentFault("missing") from None
    except OSError as exc:
        raise DocumentFault(f"unreadable: {os_reason(exc)}") from None


def copy_to_temp(source: Path, final: Path) -> Copied:
    """Copy ``source`` to a temporary name beside ``final``, hashing it on the way.

    Raises :class:`DocumentFault` when the source cannot be read (``missing``, or
    ``unreadable: ...``) and :class:`OutputError` when the copy cannot be written. Whatever
    happens, including an interrupt, no partial file is left behind.
    """
    fd, _ = open_document(source)
    raw = os.fdopen(fd, "rb")
    temp = temp_name(final)
    with raw:
        try:
            out = open(temp, "xb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise OutputError(f"cannot write {final}: {os_reason(exc)}") from exc
        try:
            with out:
                reader = _HashingReader(raw)
                head = reader.read_head(HEADER_WINDOW)
                out.write(head)
                shutil.copyfileobj(reader, out, CHUNK)
        except _ReadFailed as exc:
            remove_quietly(temp)
            raise DocumentFault(f"unreadable: {exc}") from None
        except OSError as exc:
            remove_quietly(temp)
            raise OutputError(f"cannot write {final}: {os_reason(exc)}") from exc
        except BaseException:
            remove_quietly(temp)
            raise
    return Copied(
        temp=temp,
        final=final,
        size=reader.size,
        sha256=reader.digest.hexdigest(),
        has_pdf_header=b"%PDF-" in head,
        has_eof_marker=b"%%EOF" in reader.tail,
    )


def publish(temp: Path, final: Path) -> None:
    """Give a checked copy its final name (atomically)."""
    try:
        os.replace(temp, final)
    except OSError as exc:
        remove_quietly(temp)
        raise OutputError(f"cannot write {final}: {os_reason(exc)}") from exc


def set_aside(temp: Path, kept: Path) -> None:
    """Keep the bytes of a problem document under ``kept`` (its folder is created)."""
    try:
        kept.parent.mkdir(exist_ok=True)
        os.replace(temp, kept)
    except OSError as exc:
        remove_quietly(temp)
        raise OutputError(f"cannot write {kept}: {os_reason(exc)}") from exc


def remove_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def os_reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def short_reason(exc: BaseException, path: Path | str, shown_as: str) -> str:
    """One short line from an exception, with the temporary path (or name) replaced by
    ``shown_as``."""
    text = str(exc).replace(str(path), shown_as)
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    if line.startswith(f"{shown_as}: "):
        line = line[len(shown_as) + 2 :]
    line = line or type(exc).__name__
    return line if len(line) <= _MAX_REASON else line[: _MAX_REASON - 3] + "..."
