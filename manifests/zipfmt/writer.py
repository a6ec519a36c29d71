"""Write a zip file in the canonical layout of :mod:`manifests.zipfmt.records`.

A file of at most ``chunk_size`` bytes (1 MiB by default) is read whole: its CRC-32 and
compressed form are computed first, then its local header and data are written together, with
no seek. A larger file streams: it is read in chunks, each chunk handed to the caller (who
hashes it), added to the CRC-32 and compressed; the local header is written first with a zero
CRC-32 and compressed size (the zip64 decision, taken from the file's size, fixes its length)
and patched once the data is written. Both ways give the same bytes (the deflate stream is fed
the same pieces, :func:`manifests.zipfmt.filedata.deflate`), and neither holds more than a
chunk of a file in memory.

:meth:`ZipWriter.add_files` adds many files, in order, with the bytes :meth:`ZipWriter.add_file`
would write one after the other, but on several threads: the large files are read, hashed and
compressed ahead while the calling thread prepares the small ones and a third thread writes
(:mod:`manifests.zipfmt.ahead`), in at most :data:`AHEAD` bytes of work held ahead.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Generator, Iterable
from datetime import datetime
from typing import BinaryIO

from isal import isal_zlib

from manifests.zipfmt import records as R
from manifests.zipfmt.ahead import Handoff, Item, Large, ReadAhead, Run, switch_interval
from manifests.zipfmt.filedata import (
    FileChangedError,
    FileMember,
    OnData,
    SpoolBlocks,
    SpooledMember,
    StrPath,
    deflate,
    member_pieces,
    member_size,
    open_regular,
    read_exactly,
    spooled_chunks,
)
from manifests.zipfmt.records import ZipEntry

__all__ = ["AHEAD", "CHUNK_SIZE", "LEVELS", "FileChangedError", "FileMember", "ZipWriter"]

#: the compression levels allowed (ISA-L's level 0 expands incompressible data too much)
LEVELS = range(1, 4)
#: files of at most this many bytes are read whole; larger ones are read in chunks this size
CHUNK_SIZE = 1 << 20
#: the most bytes :meth:`ZipWriter.add_files` holds ahead of the writing: four fifths for the
#: small files prepared, one fifth for the large files' compressed pieces (measured on the large
#: demo account's archive: 40 MiB peaked 24 MB higher than 16, in the same time; 8 no lower)
AHEAD = 16 << 20
#: while :meth:`ZipWriter.add_files` runs, a thread waiting for the GIL gets it after at most
#: this many seconds (Python's default, 5 ms, would stall the reading thread after each of its
#: C calls whenever the calling thread runs pure Python code, as when it makes ``lead``)
SWITCH_INTERVAL = 0.0001
#: small members are handed to the writing thread in batches of about this many bytes
_BATCH = 1 << 20

#: members to write before the files: (name, data, compress)
Lead = Callable[[], Iterable[tuple[str, bytes, bool]]]


class ZipWriter:
    """Write members one after the other to ``fileobj``, then the central directory.

    ``fileobj`` must be opened for writing in binary mode, positioned at 0 and seekable; the
    writer never closes it. If it has ``hold(offset, length)`` and ``release()``, the writer
    calls them around each local header it rewrites (:mod:`offboard.storage.sink`). ``when``
    is the archive's time (naive: UTC); every member gets it.
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
    def add_bytes(self, name: str, data: bytes, *, compress: bool) -> ZipEntry:
        """Add ``data`` as member ``name`` (deflated like a file of the same bytes)."""
        raw, key = self._check_name(name)
        method = R.DEFLATED if compress else R.STORED
        header, body, crc = self._encode(name, raw, method, data)
        self._begin()
        entry = self._write_one(name, method, crc, len(data), header, body)
        self._keys.add(key)
        self._broken = False
        return entry

    def add_file(
        self,
        name: str,
        path: StrPath,
        *,
        compress: bool,
        on_data: OnData | None = None,
        chunk_size: int = CHUNK_SIZE,
        size: int | None = None,
    ) -> ZipEntry:
        """Add the regular file at ``path`` as member ``name``.

        ``on_data`` receives the uncompressed data: the whole file if it has at most
        ``chunk_size`` bytes, else each chunk. Raises :class:`FileChangedError` (an
        :class:`OSError`) if the file is not ``size`` bytes when given, or its size changes
        while it is read; :class:`ValueError` for a refused name. The zip file is unusable
        after an error met while the file is read or written.
        """
        raw, key = self._check_name(name)
        method = R.DEFLATED if compress else R.STORED
        fd, found = open_regular(path, size)
        try:
            self._begin()
            if found <= chunk_size:
                data = read_exactly(fd, found, path)
                if on_data is not None:
                    on_data(data)
                header, body, crc = self._encode(name, raw, method, data)
                entry = self._write_one(name, method, crc, found, header, body)
            else:
                level = self._level if compress else None
                pieces = member_pieces(
                    fd, found, path, level=level, on_data=on_data, chunk_size=chunk_size
                )
                entry = self._write_large(name, raw, method, found, pieces)
        finally:
            os.close(fd)
        self._keys.add(key)
        self._broken = False
        return entry

    def add_files(
        self,
        members: Iterable[FileMember | SpooledMember],
        *,
        lead: Lead | None = None,
        chunk_size: int = CHUNK_SIZE,
        ahead: int = AHEAD,
    ) -> list[ZipEntry]:
        """Add the members ``lead()`` returns, then every member of ``members``, in order, with
        the bytes :meth:`add_bytes` and :meth:`add_file` would write (a :class:`SpooledMember`
        as a stored file of its bytes would be).

        The files larger than ``chunk_size`` are read, hashed and compressed from the start in
        threads of their own, while ``lead`` is called and the small files are read,
        checksummed and compressed in this one; another thread writes (and copies the large
        spooled members). At most about ``ahead`` bytes of this work wait to be written.
        ``on_data`` may be called from any of these threads (one per file). The first error in
        member order is raised once every thread has stopped; the zip file is unusable after
        any error.
        """
        if self._closed:
            raise ValueError("the zip writer is closed")
        files = list(members)
        sizes = [member_size(m) for m in files]
        large = [
            m
            for m, size in zip(files, sizes, strict=True)
            if size > chunk_size and isinstance(m, FileMember)
        ]
        self._begin()
        reading = ReadAhead(large, level=self._level, chunk_size=chunk_size, limit=ahead // 5)
        handoff = Handoff(ahead - ahead // 5)
        failure: list[BaseException] = []
        writing = threading.Thread(
            target=self._drain, args=(handoff, reading, failure), name="zip-writer", daemon=True
        )
        entries = len(self._entries)
        with switch_interval(SWITCH_INTERVAL):
            if large:
                reading.start()
            writing.start()
            try:
                self._prepare_all(files, sizes, lead, handoff, chunk_size)
            except BaseException:
                handoff.stop()
                reading.stop()
                raise
            finally:
                handoff.finish()
                writing.join()
                if failure:
                    reading.stop()
                reading.join()
        if failure:
            raise failure[0]
        if reading.hash_failure is not None:
            raise reading.hash_failure
        self._broken = False
        return self._entries[entries:]

    # -- the end -------------------------------------------------------------------------------
    def close(self) -> int:
        """Write the central directory and end records; return the zip file's size in bytes.

        Does not close the file object; a second call only returns the size again.
        """
        if self._closed:
            return self._offset
        self._begin()
        cd_offset = self._offset
        directory = R.central_directory(self._entries, self._dos)
        tail = R.end_records(len(self._entries), cd_offset, len(directory))
        self._fh.write(directory)
        self._fh.write(tail)
        self._offset = cd_offset + len(directory) + len(tail)
        self._closed = True
        return self._offset

    # -- add_files: the calling thread ---------------------------------------------------------
    def _prepare_all(
        self,
        files: list[FileMember | SpooledMember],
        sizes: list[int],
        lead: Lead | None,
        handoff: Handoff,
        chunk_size: int,
    ) -> None:
        batch: list[Item] = []
        run = Run()
        spooled = [m for m in files if isinstance(m, SpooledMember) and m.size <= chunk_size]
        blocks = SpoolBlocks(spooled, _BATCH)
        dos = self._dos
        try:
            if lead is not None:
                for name, data, compress in lead():
                    raw, key = self._check_name(name)
                    self._keys.add(key)
                    method = R.DEFLATED if compress else R.STORED
                    header, body, crc = self._encode(name, raw, method, data)
                    run.add(name, method, crc, len(data), header, body)
            for m, size in zip(files, sizes, strict=True):
                raw, key = self._check_name(m.name)
                self._keys.add(key)  # a later twin in the same call is refused
                if size <= chunk_size:
                    if isinstance(m, SpooledMember):
                        R.check_bound(m.name, size, m.data_size, m.method)
                        header = R.local_header(raw, m.method, m.crc32, m.data_size, size, dos)
                        run.add(m.name, m.method, m.crc32, size, header, blocks.read(m))
                    else:
                        self._read_small(m, size, raw, run)
                    if len(run.data) < _BATCH:
                        continue
                    batch.append(run)
                else:  # handed over at once: the writing thread may be waiting for it
                    if run.entries:
                        batch.append(run)
                    if isinstance(m, SpooledMember):
                        batch.append(m)  # copied by the writing thread
                    else:
                        batch.append(Large(m.name, raw, R.DEFLATED if m.compress else R.STORED))
                held = sum(len(i.data) for i in batch if isinstance(i, Run))
                if not handoff.put(batch, held):
                    return
                batch, run = [], Run()
        except Exception as exc:
            if run.entries:
                batch.append(run)
            batch.append(exc)  # raised by the writing thread in its turn
        else:
            if run.entries:
                batch.append(run)
        if batch:
            handoff.put(batch, sum(len(i.data) for i in batch if isinstance(i, Run)))

    def _read_small(self, m: FileMember, size: int, raw: bytes, run: Run) -> None:
        """Read, checksum and compress the small file of ``m`` (``size`` bytes) into ``run``; a
        stored one is hashed by the writing thread (its ``on_data`` goes with it)."""
        fd, _ = open_regular(m.path, size)
        try:
            data = read_exactly(fd, size, m.path)
        finally:
            os.close(fd)
        crc = isal_zlib.crc32(data)
        if m.compress:
            if m.on_data is not None:
                m.on_data(data)
            body = deflate(data, self._level)
            R.check_bound(m.name, size, len(body), R.DEFLATED)
            header = R.local_header(raw, R.DEFLATED, crc, len(body), size, self._dos)
            run.add(m.name, R.DEFLATED, crc, size, header, body)
        else:
            header = R.local_header(raw, R.STORED, crc, size, size, self._dos)
            run.add(m.name, R.STORED, crc, size, header, data, m.on_data)

    # -- add_files: the writing thread ---------------------------------------------------------
    def _drain(self, handoff: Handoff, reading: ReadAhead, failure: list[BaseException]) -> None:
        try:
            while (batch := handoff.get()) is not None:
                for item in batch:
                    if isinstance(item, Run):
                        self._write_run(item)
                    elif isinstance(item, Large):
                        size = reading.opened()
                        self._write_large(item.name, item.raw, item.method, size, reading.pieces())
                    elif isinstance(item, SpooledMember):
                        pieces = spooled_chunks(item, CHUNK_SIZE)
                        self._write_large(
                            item.name, item.name.encode(), item.method, item.size, pieces
                        )
                    else:
                        raise item
        except BaseException as exc:
            failure.append(exc)
            handoff.stop()
            reading.stop()

    # -- writing -------------------------------------------------------------------------------
    def _encode(self, name: str, raw: bytes, method: int, data: bytes) -> tuple[bytes, bytes, int]:
        """The local header, the data as written and the CRC-32 of a member made of ``data``."""
        body = deflate(data, self._level) if method == R.DEFLATED else data
        size = len(data)
        R.check_bound(name, size, len(body), method)
        crc = isal_zlib.crc32(data)
        return R.local_header(raw, method, crc, len(body), size, self._dos), body, crc

    def _write_one(
        self, name: str, method: int, crc: int, size: int, header: bytes, body: bytes
    ) -> ZipEntry:
        offset = self._offset
        self._fh.write(header)
        self._fh.write(body)
        return self._finish(name, method, crc, len(body), size, offset, len(header))

    def _write_run(self, run: Run) -> None:
        base = self._offset
        self._fh.write(run.data)
        with memoryview(run.data) as view:
            for _, _, _, _, size, at, head, on_data in run.entries:
                if on_data is not None:
                    on_data(view[at + head : at + head + size])
        self._entries.extend(
            [
                ZipEntry(name, method, crc, compressed, size, base + at, base + at + head)
                for name, method, crc, compressed, size, at, head, _ in run.entries
            ]
        )
        self._offset = base + len(run.data)

    def _write_large(
        self, name: str, raw: bytes, method: int, size: int, pieces: Generator[bytes, None, int]
    ) -> ZipEntry:
        offset = self._offset
        # CRC-32 and compressed size 0 until the data is written; the size fixes the length
        placeholder = R.local_header(raw, method, 0, 0, size, self._dos)
        head = len(placeholder)
        hold = getattr(self._fh, "hold", None)
        if hold is not None:
            hold(offset, head)  # a sink that uploads as it goes keeps what is patched below
        self._fh.write(placeholder)
        written = 0
        while True:
            try:
                piece = next(pieces)
            except StopIteration as end:
                crc: int = end.value
                break
            self._fh.write(piece)
            written += len(piece)
        R.check_bound(name, size, written, method)
        self._fh.seek(offset)
        self._fh.write(R.local_header(raw, method, crc, written, size, self._dos))
        self._fh.seek(offset + head + written)
        if hold is not None:
            self._fh.release()  # type: ignore[attr-defined]
        return self._finish(name, method, crc, written, size, offset, head)

    # -- helpers -------------------------------------------------------------------------------
    def _check_name(self, name: str) -> tuple[bytes, str]:
        """The UTF-8 form of an allowed new member name, and its twin key."""
        if self._closed:
            raise ValueError("the zip writer is closed")
        why = R.name_problem(name)
        if why is not None:
            raise ValueError(f"member name {name!r} refused: {why}")
        key = R.twin_key(name)
        if key in self._keys:
            raise ValueError(f"member name {name!r} refused: the archive has it, or a twin of it")
        return name.encode("utf-8"), key

    def _begin(self) -> None:
        if self._broken:
            raise ValueError("the zip writer failed earlier; its output is unusable")
        self._broken = True  # until the operation completes

    def _finish(
        self, name: str, method: int, crc: int, compressed: int, size: int, offset: int, head: int
    ) -> ZipEntry:
        entry = ZipEntry(name, method, crc, compressed, size, offset, offset + head)
        self._entries.append(entry)
        self._offset = offset + head + compressed
        return entry
