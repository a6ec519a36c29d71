"""Files made into zip member data ahead of the archive: hashed, checksummed, deflated.

An export to an archive writes each CSV file while the documents lane is still running, often
long before the archive is made. Instead of leaving every CSV file to the archive stage, which
would read, hash and deflate them all at once, each file is packed as soon as it is written, in
the table's own task: read once, its SHA-256 and CRC-32 computed and its deflate stream
(:class:`~manifests.zipfmt.filedata.Deflater`, fed exactly as the zip writer feeds it, so the
bytes are the same) appended to one pack file beside the archive. The file itself is then
removed; the archive stage copies its member data from the pack by offset
(:class:`~manifests.zipfmt.filedata.SpooledMember`).

Like the documents spool, the pack file is unlinked as soon as it is created: only its open
file descriptor keeps it, so it is gone when the export ends, however it ends. Tables are packed
one at a time (a lock), so that each file's stream is contiguous.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path
from typing import NamedTuple

from isal import isal_zlib

from manifests.zipfmt.filedata import Deflater, open_regular, read_chunks
from manifests.zipfmt.writer import CHUNK_SIZE
from offboard.errors import OutputError


class Packed(NamedTuple):
    """A packed file: its bytes' size, CRC-32 and SHA-256, and where its deflate stream is."""

    offset: int
    size: int
    crc32: int
    sha256: str
    #: bytes of the deflate stream in the pack, and their CRC-32
    stored_size: int
    stored_crc: int


class Pack:
    """One pack file, open for reading and writing, already unlinked (see the module doc)."""

    def __init__(self, fd: int, path: Path, level: int) -> None:
        self._fd = fd
        self.path = path
        self.level = level
        #: export-relative POSIX path -> what was packed
        self.members: dict[str, Packed] = {}
        #: time spent packing, all files together
        self.seconds = 0.0
        self._end = 0
        self._lock = threading.Lock()
        self._closed = False

    @classmethod
    def create(cls, path: Path, level: int) -> Pack:
        """A new, empty pack created at ``path`` (which must not exist) and unlinked."""
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise OutputError(f"cannot create the tables pack {path}: {_reason(exc)}") from exc
        try:
            os.unlink(path)
        except OSError as exc:
            os.close(fd)
            raise OutputError(f"cannot unlink the tables pack {path}: {_reason(exc)}") from exc
        return cls(fd, path, level)

    @property
    def fd(self) -> int:
        if self._closed:
            raise ValueError("the tables pack is closed")
        return self._fd

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            os.close(self._fd)

    def add(self, path: Path, rel: str) -> Packed:
        """Pack the file at ``path`` as the export's file ``rel``, then remove the file.

        Raises :class:`OutputError` naming the file when it cannot be read or the pack cannot
        be written.
        """
        with self._lock:
            started = time.perf_counter()
            try:
                packed = self._pack(path)
                os.unlink(path)
            except OSError as exc:
                raise OutputError(f"cannot pack {rel} for the archive: {_reason(exc)}") from exc
            if rel in self.members:
                raise ValueError(f"{rel!r} is packed twice")
            self.members[rel] = packed
            self.seconds += time.perf_counter() - started
            return packed

    def _pack(self, path: Path) -> Packed:
        offset = self._end
        fd, size = open_regular(path)
        try:
            digest = hashlib.sha256()
            deflater = Deflater(self.level)
            crc = stored_crc = 0
            at = offset
            for chunk in read_chunks(fd, size, path, CHUNK_SIZE):
                digest.update(chunk)
                crc = isal_zlib.crc32(chunk, crc)
                out = deflater.feed(chunk)
                stored_crc = isal_zlib.crc32(out, stored_crc)
                at = self._write(at, out)
            out = deflater.finish()
            stored_crc = isal_zlib.crc32(out, stored_crc)
            at = self._write(at, out)
        finally:
            os.close(fd)
        self._end = at
        return Packed(offset, size, crc, digest.hexdigest(), at - offset, stored_crc)

    def _write(self, at: int, data: bytes) -> int:
        with memoryview(data) as view:
            done = 0
            while done < len(view):
                done += os.pwrite(self.fd, view[done:], at + done)
        return at + len(data)


def _reason(exc: OSError) -> str:
    if exc.strerror and exc.filename:
        return f"{exc.filename}: {exc.strerror}"
    return exc.strerror or str(exc)
