"""Write a zip file in the canonical layout of :mod:`manifests.zipfmt.records`.

The writer streams: a file is read in chunks, each chunk handed to the caller (who hashes it),
added to the CRC-32 and compressed; the local header is written first with a zero CRC-32 and
compressed size (the zip64 decision, taken from the size ``os.fstat`` reports, fixes its
length) and patched once the data is written. Nothing but the current chunk is held in memory.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from isal import isal_zlib

from manifests.zipfmt import records as R
from manifests.zipfmt.records import ZipEntry

#: the compression levels allowed (ISA-L's level 0 expands incompressible data too much)
LEVELS = range(1, 4)


class FileChangedError(OSError):
    """A file's size changed while it was being added to the archive."""

    def __init__(self, path: Path, expected: int, found: int) -> None:
        more = "or more " if found > expected else ""
        super().__init__(
            f"{path}: changed while being archived (size {expected} bytes, read {more}{found})"
        )
        self.filename = str(path)


class _Deflater:
    """A raw deflate stream fed in pieces of exactly :data:`records.DEFLATE_FEED` bytes."""

    def __init__(self, level: int) -> None:
        self._c = isal_zlib.compressobj(level, isal_zlib.DEFLATED, -15)
        self._pending = bytearray()

    def feed(self, data: bytes) -> bytes:
        feed = R.DEFLATE_FEED
        if not self._pending and len(data) == feed:
            return self._c.compress(data)
        self._pending += data
        if len(self._pending) < feed:
            return b""
        out = []
        view = memoryview(self._pending)
        whole = len(self._pending) // feed * feed
        for start in range(0, whole, feed):
            out.append(self._c.compress(view[start : start + feed]))
        view.release()
        del self._pending[:whole]
        return b"".join(out)

    def finish(self) -> bytes:
        out = self._c.compress(bytes(self._pending)) if self._pending else b""
        self._pending.clear()
        return out + self._c.flush()


class ZipWriter:
    """Write members one after the other to ``fileobj``, then the central directory.

    ``fileobj`` must be opened for writing in binary mode, positioned at 0 and seekable; the
    writer never closes it. ``when`` is the archive's time (naive: UTC); every member gets it.
    """

    def __init__(self, fileobj: BinaryIO, *, when: datetime, level: int = 2) -> None:
        if level not in LEVELS:
            raise ValueError(f"compression level must be 1 to 3, not {level}")
        if fileobj.tell() != 0:
            raise ValueError("the zip file must be written from offset 0")
        self._fh = fileobj
        self._dos = R.dos_time(when)
        self._level = level
        self._offset = 0
        self._entries: list[ZipEntry] = []
        self._keys: set[str] = set()
        self._closed = False
        self._broken = False

    @property
    def entries(self) -> list[ZipEntry]:
        """The members written so far, in file order."""
        return list(self._entries)

    # -- members -------------------------------------------------------------------------------
    def add_file(
        self,
        name: str,
        path: Path,
        *,
        compress: bool,
        on_data: Callable[[bytes], None] | None = None,
        chunk_size: int = 1 << 20,
    ) -> ZipEntry:
        """Add the regular file at ``path`` as member ``name``, streaming it in chunks.

        ``on_data`` receives each uncompressed chunk. Raises :class:`FileChangedError` (an
        :class:`OSError`) if the file's size changes while it is read, :class:`ValueError`
        for a refused name; the zip file is unusable after any error.
        """
        raw = self._check_name(name)
        method = R.DEFLATED if compress else R.STORED
        with open(path, "rb") as src:
            st = os.fstat(src.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise OSError(errno.EINVAL, "not a regular file", str(path))
            size = st.st_size
            self._begin()
            offset = self._offset
            # CRC-32 and compressed size 0 until the data is written; the size fixes the length
            placeholder = R.local_header(raw, method, 0, 0, size, self._dos)
            head = len(placeholder)
            self._fh.write(placeholder)
            deflater = _Deflater(self._level) if compress else None
            crc = 0
            read = 0
            written = 0
            while chunk := src.read(chunk_size):
                read += len(chunk)
                if read > size:
                    raise FileChangedError(path, size, read)
                if on_data is not None:
                    on_data(chunk)
                crc = isal_zlib.crc32(chunk, crc)
                out = chunk if deflater is None else deflater.feed(chunk)
                self._fh.write(out)
                written += len(out)
            if read != size:
                raise FileChangedError(path, size, read)
            if deflater is not None:
                out = deflater.finish()
                self._fh.write(out)
                written += len(out)
            self._check_bound(name, size, written, method)
            self._fh.seek(offset)
            self._fh.write(R.local_header(raw, method, crc, written, size, self._dos))
            self._fh.seek(offset + head + written)
        return self._finish(name, method, crc, written, size, offset, head)

    def add_bytes(self, name: str, data: bytes, *, compress: bool) -> ZipEntry:
        """Add ``data`` as member ``name`` (deflated like a file of the same bytes)."""
        raw = self._check_name(name)
        method = R.DEFLATED if compress else R.STORED
        size = len(data)
        if compress:
            deflater = _Deflater(self._level)
            feed = R.DEFLATE_FEED
            body = b"".join(deflater.feed(data[i : i + feed]) for i in range(0, size, feed))
            body += deflater.finish()
        else:
            body = data
        self._check_bound(name, size, len(body), method)
        crc = isal_zlib.crc32(data)
        self._begin()
        offset = self._offset
        header = R.local_header(raw, method, crc, len(body), size, self._dos)
        self._fh.write(header)
        self._fh.write(body)
        return self._finish(name, method, crc, len(body), size, offset, len(header))

    # -- the end -------------------------------------------------------------------------------
    def close(self) -> int:
        """Write the central directory and end records; return the zip file's size in bytes.

        Does not close the file object; a second call only returns the size again.
        """
        if self._closed:
            return self._offset
        self._begin()
        cd_offset = self._offset
        cd_size = 0
        for e in self._entries:
            raw = e.name.encode("utf-8")
            header = R.central_header(
                raw, e.method, e.crc32, e.compressed_size, e.size, e.header_offset, self._dos
            )
            self._fh.write(header)
            cd_size += len(header)
        tail = R.end_records(len(self._entries), cd_offset, cd_size)
        self._fh.write(tail)
        self._offset = cd_offset + cd_size + len(tail)
        self._closed = True
        return self._offset

    # -- helpers -------------------------------------------------------------------------------
    def _check_name(self, name: str) -> bytes:
        if self._closed:
            raise ValueError("the zip writer is closed")
        why = R.name_problem(name)
        if why is not None:
            raise ValueError(f"member name {name!r} refused: {why}")
        key = R.twin_key(name)
        if key in self._keys:
            raise ValueError(f"member name {name!r} refused: the archive has it, or a twin of it")
        return name.encode("utf-8")

    def _begin(self) -> None:
        if self._broken:
            raise ValueError("the zip writer failed earlier; its output is unusable")
        self._broken = True  # until the operation completes

    def _check_bound(self, name: str, size: int, compressed: int, method: int) -> None:
        if compressed > R.max_compressed_size(size, method):
            raise ValueError(
                f"{name}: compressed to {compressed} bytes, more than the layout allows for "
                f"{size} bytes"
            )

    def _finish(
        self, name: str, method: int, crc: int, compressed: int, size: int, offset: int, head: int
    ) -> ZipEntry:
        entry = ZipEntry(name, method, crc, compressed, size, offset, offset + head)
        self._entries.append(entry)
        self._keys.add(R.twin_key(name))
        self._offset = offset + head + compressed
        self._broken = False
        return entry
