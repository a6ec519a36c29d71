"""Read a zip file written in the canonical layout, checking every byte of it.

Opening a :class:`ZipReader` parses the whole structure (:mod:`manifests.zipfmt.directory`) and
records what is wrong in :attr:`ZipReader.problems`; it raises only :class:`OSError` when the
file cannot be opened. Member data is then read with :meth:`ZipReader.iter_data`, which checks
the deflate stream, the size and the CRC-32 and raises :class:`CorruptDataError` on the first
fault. All reads use ``os.pread`` on one file descriptor, so several threads may read
different members at once.
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, BinaryIO, cast

from isal import isal_zlib

from manifests import problems as P
from manifests.zipfmt import records as R
from manifests.zipfmt.directory import Limits, parse
from manifests.zipfmt.records import ZipEntry
from offboard.fsutil import PreadWindow

if TYPE_CHECKING:
    pass


#: what ISA-L raises for an invalid deflate stream (its type stub declares an instance)
_INFLATE_ERROR: type[Exception] = cast("type[Exception]", isal_zlib.error)


class CorruptDataError(Exception):
    """A member's data is not what its headers declare; ``problem`` says how."""

    def __init__(self, problem: P.CorruptData) -> None:
        super().__init__(str(problem))
        self.problem = problem


class MemberData:
    """Reads and checks member data from a file descriptor it does not own (``os.pread`` only,
    so several threads may read different members at once).

    :class:`ZipReader` is one; a worker process that was handed the descriptor and the members
    found sound by a :class:`ZipReader` uses one directly.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._closed = False

    def fileno(self) -> int:
        """The file descriptor the data is read from (to hand to a worker process)."""
        self._check_open()
        return self._fd

    # -- data ----------------------------------------------------------------------------------
    def iter_data(self, entry: ZipEntry, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """Yield the uncompressed data of ``entry`` in chunks of at most ``chunk_size`` bytes.

        Raises :class:`CorruptDataError` as soon as the data is shown to differ from what the
        headers declare: an invalid deflate stream, one that ends before or after exactly
        ``compressed_size`` bytes, more or fewer than ``size`` bytes out, another CRC-32.
        Output beyond ``size`` is never produced (a lying size cannot make a bomb).
        """
        if chunk_size < 1:
            raise ValueError("chunk_size must be positive")
        crc = 0
        produced = 0
        chunks = (
            self._stored(entry, chunk_size)
            if entry.method == R.STORED
            else self._inflate(entry, chunk_size)
        )
        for chunk in chunks:
            produced += len(chunk)
            if produced > entry.size:
                raise _corrupt(entry, "more data than its declared size", entry.size, "more")
            crc = isal_zlib.crc32(chunk, crc)
            yield chunk
        if produced != entry.size:
            raise _corrupt(entry, "less data than its declared size", entry.size, produced)
        if crc != entry.crc32:
            raise _corrupt(entry, "CRC-32 differs", f"{entry.crc32:08x}", f"{crc:08x}")

    def read(self, entry: ZipEntry, max_size: int) -> bytes:
        """The whole data of ``entry``; :class:`ValueError` if it is larger than ``max_size``."""
        if entry.size > max_size:
            raise ValueError(f"{entry.name}: {entry.size} bytes, more than {max_size}")
        return b"".join(self.iter_data(entry))

    def window(self, entry: ZipEntry) -> BinaryIO:
        """A seekable read-only file over the bytes of the STORED member ``entry``.

        It reads through its own duplicate of the file descriptor with ``os.pread``, so it is
        independent of other readers and threads, and outlives :meth:`close`. The data is not
        checked: read it with :meth:`iter_data` first.
        """
        if entry.method != R.STORED:
            raise ValueError(f"{entry.name}: only a stored member can be read in place")
        self._check_open()
        raw = PreadWindow(os.dup(self._fd), entry.data_offset, entry.size, owns_fd=True)
        return io.BufferedReader(raw)

    def read_whole(self, entry: ZipEntry) -> bytes:
        """The whole data of ``entry`` in memory, checked like :meth:`iter_data` does.

        A stored member is read with one ``pread``; use it for members known to be small.
        """
        if entry.method != R.STORED or entry.compressed_size != entry.size:
            return b"".join(self.iter_data(entry, chunk_size=max(1, min(entry.size, 1 << 20))))
        data = self._pread(entry, entry.size, entry.data_offset) if entry.size else b""
        crc = isal_zlib.crc32(data)
        if crc != entry.crc32:
            raise _corrupt(entry, "CRC-32 differs", f"{entry.crc32:08x}", f"{crc:08x}")
        return data

    # -- helpers -------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("the zip reader is closed")

    def _pread(self, entry: ZipEntry, n: int, at: int) -> bytes:
        self._check_open()
        data = os.pread(self._fd, n, at)
        if len(data) < n:
            raise _corrupt(entry, "the file ends inside the member's data", n, len(data))
        return data

    def _stored(self, entry: ZipEntry, chunk_size: int) -> Iterator[bytes]:
        if entry.compressed_size != entry.size:
            raise _corrupt(
                entry,
                "stored member whose compressed size is not its size",
                entry.size,
                entry.compressed_size,
            )
        pos, end = entry.data_offset, entry.data_offset + entry.compressed_size
        while pos < end:
            n = min(chunk_size, end - pos)
            yield self._pread(entry, n, pos)
            pos += n

    def _inflate(self, entry: ZipEntry, chunk_size: int) -> Iterator[bytes]:
        if entry.method != R.DEFLATED:
            raise _corrupt(entry, "compression method not allowed", "0 or 8", entry.method)
        inflater = isal_zlib.decompressobj(-15)
        pos, end = entry.data_offset, entry.data_offset + entry.compressed_size
        produced = 0
        while True:
            if inflater.unconsumed_tail:
                data = inflater.unconsumed_tail
            elif pos < end:
                n = min(chunk_size, end - pos)
                data = self._pread(entry, n, pos)
                pos += n
            elif inflater.eof:
                break
            else:
                data = b""
            # one byte more than the declared size may come out: enough to tell it is too much
            room = min(chunk_size, entry.size - produced + 1)
            try:
                out = inflater.decompress(data, room)
            except _INFLATE_ERROR as exc:
                raise _corrupt(entry, f"invalid deflate data: {exc}", None, None) from None
            if inflater.eof and (inflater.unused_data or pos < end):
                left = len(inflater.unused_data) + (end - pos)
                raise _corrupt(
                    entry,
                    "the deflate stream ends before the member's data does",
                    entry.compressed_size,
                    entry.compressed_size - left,
                )
            if not out and not data:
                raise _corrupt(
                    entry,
                    "the deflate stream is cut short",
                    "its final block",
                    "the end of the member's data",
                )
            produced += len(out)
            if out:
                yield out


class ZipReader(MemberData):
    """A zip file open for strict reading (a context manager; :meth:`close` when done).

    :attr:`entries` lists, in file order, every member whose data can be located with
    certainty: members with problems of name, attributes or header fields are listed too (the
    problems say what is wrong), members that overlap another, exceed the limits or whose local
    header is misplaced are not.
    """

    def __init__(
        self,
        path: Path,
        *,
        limits: Limits = Limits(),  # noqa: B008
        fd: int | None = None,
    ) -> None:
        """Open ``path``, or read the file already open as ``fd`` (``path`` then only names it:
        the reader works on a duplicate of ``fd``, the caller keeps and closes its own)."""
        self.path = path
        self.limits = limits
        fd = os.open(path, os.O_RDONLY) if fd is None else os.dup(fd)
        super().__init__(fd)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise IsADirectoryError(f"{path}: not a regular file")
            self.file_size = st.st_size
            parsed = parse(fd, self.file_size, limits)
        except BaseException:
            os.close(fd)
            raise
        #: structural problems found while parsing (``path`` is the member name, or "")
        self.problems: list[P.Problem] = parsed.problems
        #: the members whose data can be located, in file order
        self.entries: list[ZipEntry] = parsed.entries
        #: the MS-DOS (time, date) of the first member: the archive's time
        self.dos_time: tuple[int, int] | None = parsed.dos_time

    # -- life cycle ----------------------------------------------------------------------------
    def close(self) -> None:
        """Close the file (windows opened with :meth:`window` stay usable)."""
        if not self._closed:
            self._closed = True
            os.close(self._fd)

    def __enter__(self) -> ZipReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def when(self) -> datetime | None:
        """The archive's time as a naive datetime (UTC), or None if there is none or invalid."""
        return None if self.dos_time is None else R.datetime_from_dos(*self.dos_time)


def _corrupt(entry: ZipEntry, detail: str, expected: object, found: object) -> CorruptDataError:
    return CorruptDataError(
        P.CorruptData(
            path=entry.name,
            detail=detail,
            expected=None if expected is None else str(expected),
            found=None if found is None else str(found),
        )
    )
