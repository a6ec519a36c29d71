"""The data of a zip member made from a file: read whole or in chunks, checked, deflated.

A file's size is taken once, from ``os.fstat`` on the open file (or given by the caller, who
listed the folder); a file that then yields more or fewer bytes raises
:class:`FileChangedError`. The deflate stream is always fed pieces of exactly
:data:`records.DEFLATE_FEED` bytes (the last one shorter), however the file was read, so that
it depends only on the data and the level.

A member may also be a stretch of a file that is already open (:class:`SpooledMember`: a
document the export appended to its spool, whose size and CRC-32 it computed then): it is read
by offset, with no open per member, and its CRC-32 is checked again on the way.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import NamedTuple

from isal import isal_zlib

from manifests.zipfmt import records as R

StrPath = str | os.PathLike[str]
#: receives a file's data (bytes, or a memoryview valid only during the call)
OnData = Callable[[bytes | memoryview], None]


class FileChangedError(OSError):
    """A file's size changed while it was being added to the archive."""

    def __init__(self, path: StrPath, expected: int, found: int, verb: str = "read") -> None:
        more = "or more " if found > expected and verb == "read" else ""
        self.message = (
            f"{os.fspath(path)}: changed while being archived "
            f"(size {expected} bytes, {verb} {more}{found})"
        )
        super().__init__(self.message)
        self.filename = os.fspath(path)

    def __str__(self) -> str:  # OSError's would show only the file name
        return self.message


class FileMember(NamedTuple):
    """A file to add with :meth:`ZipWriter.add_files`.

    ``size``, when given, is the size the file must have (else :class:`FileChangedError`).
    ``on_data`` receives the file's uncompressed data, in order, all from one thread (not
    necessarily the caller's): bytes, or a memoryview valid only during the call.
    """

    name: str
    path: StrPath
    compress: bool
    size: int | None = None
    on_data: OnData | None = None


class SpooledMember(NamedTuple):
    """A member whose data, as the zip holds them, are the ``data_size`` bytes at ``offset`` of
    the open file ``fd``: a stored member's bytes, or a deflated member's stream.

    ``size`` and ``crc32`` are those of the member's uncompressed bytes; ``data_crc`` is the
    CRC-32 of the bytes at ``offset`` as they were written there (``crc32`` when stored), and
    they are checked against it when read back (:class:`SpoolChangedError`). ``label`` names
    the data in errors.
    """

    name: str
    fd: int
    offset: int
    size: int
    crc32: int
    label: str
    method: int
    data_size: int
    data_crc: int

    @classmethod
    def stored(
        cls, name: str, fd: int, offset: int, size: int, crc32: int, label: str
    ) -> SpooledMember:
        """A stored member: its ``size`` bytes at ``offset`` are the file's bytes."""
        return cls(name, fd, offset, size, crc32, label, R.STORED, size, crc32)


def member_size(m: FileMember | SpooledMember) -> int:
    """The size of a member's data: given, or its file's size now."""
    if m.size is not None:
        return m.size
    assert isinstance(m, FileMember)
    return os.stat(m.path).st_size


class SpoolChangedError(OSError):
    """A spooled member's bytes are not those that were spooled (short, or another CRC-32)."""

    def __init__(self, label: str, detail: str) -> None:
        self.message = f"{label}: its spooled copy changed before it was archived ({detail})"
        super().__init__(self.message)
        self.filename = label

    def __str__(self) -> str:
        return self.message


def spooled_chunks(m: SpooledMember, chunk_size: int) -> Generator[bytes, None, int]:
    """The data of ``m`` as the zip holds them, in chunks of at most ``chunk_size`` bytes read
    by offset; returns the member's CRC-32.

    :class:`SpoolChangedError` when the spool ends early or, after the last chunk, when the
    CRC-32 of the data is not ``m.data_crc``.
    """
    crc = 0
    done = 0
    size = m.data_size
    while done < size:
        chunk = os.pread(m.fd, min(chunk_size, size - done), m.offset + done)
        if not chunk:
            raise SpoolChangedError(m.label, f"{size - done} of {size} bytes missing")
        crc = isal_zlib.crc32(chunk, crc)
        done += len(chunk)
        if done == size and crc != m.data_crc:
            raise SpoolChangedError(m.label, f"CRC-32 {crc:08x}, not {m.data_crc:08x}")
        yield chunk
    if crc != m.data_crc:  # no data
        raise SpoolChangedError(m.label, f"CRC-32 {crc:08x}, not {m.data_crc:08x}")
    return m.crc32


class SpoolBlocks:
    """Reads the data of small spooled members asked for in the order given at construction,
    a stretch of the spool at a time: members that lie back to back in it (most documents do)
    come from one ``pread`` of at most ``block`` bytes, not one each."""

    def __init__(self, members: Sequence[SpooledMember], block: int) -> None:
        self._members = members
        self._block = block
        self._next = 0
        self._data = b""
        self._fd = -1
        self._base = 0

    def read(self, m: SpooledMember) -> memoryview:
        """The data of ``m``, the next member in order (checked as by :func:`spooled_chunks`)."""
        i = self._next
        if i >= len(self._members) or self._members[i] is not m:
            raise RuntimeError(f"spooled member {m.label} asked for out of order")
        self._next = i + 1
        size = m.data_size
        at = m.offset - self._base
        if m.fd != self._fd or at < 0 or at + size > len(self._data):
            self._load(i)
            at = 0
        data = memoryview(self._data)[at : at + size]
        if len(data) != size:
            raise SpoolChangedError(m.label, f"{size - len(data)} of {size} bytes missing")
        crc = isal_zlib.crc32(data)
        if crc != m.data_crc:
            raise SpoolChangedError(m.label, f"CRC-32 {crc:08x}, not {m.data_crc:08x}")
        return data

    def _load(self, i: int) -> None:
        members = self._members
        first = members[i]
        end = first.offset + first.data_size
        limit = first.offset + self._block
        j = i + 1
        while j < len(members):
            m = members[j]
            if m.fd != first.fd or m.offset != end or end + m.data_size > limit:
                break
            end += m.data_size
            j += 1
        self._data = os.pread(first.fd, end - first.offset, first.offset)
        self._fd = first.fd
        self._base = first.offset


class Deflater:
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


def deflate(data: bytes, level: int) -> bytes:
    """``data`` deflated with the calls a :class:`Deflater` fed the same bytes would make."""
    feed = R.DEFLATE_FEED
    c = isal_zlib.compressobj(level, isal_zlib.DEFLATED, -15)
    if len(data) <= feed:
        return (c.compress(data) if data else b"") + c.flush()
    with memoryview(data) as view:
        out = [c.compress(view[i : i + feed]) for i in range(0, len(data), feed)]
    out.append(c.flush())
    return b"".join(out)


def open_regular(path: StrPath, expected: int | None = None) -> tuple[int, int]:
    """A file descriptor open on the regular file ``path``, and its size.

    Raises :class:`OSError` (``EINVAL``) for anything but a regular file, and
    :class:`FileChangedError` if ``expected`` is given and the size differs.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", os.fspath(path))
        if expected is not None and st.st_size != expected:
            raise FileChangedError(path, expected, st.st_size, "now")
    except BaseException:
        os.close(fd)
        raise
    return fd, st.st_size


def read_exactly(fd: int, size: int, path: StrPath) -> bytes:
    """The ``size`` bytes of the open file ``fd``, read whole.

    One read asks for one byte more than ``size``: getting it means the file grew, getting
    fewer than ``size`` bytes is followed by more reads, to the end of the file.
    :class:`FileChangedError` unless exactly ``size`` bytes were there.
    """
    data = os.read(fd, size + 1)
    if 0 < len(data) < size:
        parts = [data]
        got = len(data)
        while got <= size and (more := os.read(fd, size + 1 - got)):
            parts.append(more)
            got += len(more)
        data = b"".join(parts)
    if len(data) != size:
        raise FileChangedError(path, size, len(data))
    return data


def read_chunks(fd: int, size: int, path: StrPath, chunk_size: int) -> Iterator[bytes]:
    """The open file ``fd`` in chunks of at most ``chunk_size`` bytes, to its end.

    :class:`FileChangedError` as soon as more than ``size`` bytes were read, or at the end if
    fewer were.
    """
    read = 0
    while chunk := os.read(fd, chunk_size):
        read += len(chunk)
        if read > size:
            raise FileChangedError(path, size, read)
        yield chunk
    if read != size:
        raise FileChangedError(path, size, read)


def member_pieces(
    fd: int,
    size: int,
    path: StrPath,
    *,
    level: int | None,
    on_data: OnData | None,
    chunk_size: int,
) -> Generator[bytes, None, int]:
    """The member data of the open file ``fd`` piece by piece (its chunks, or their deflate
    stream when ``level`` is set); returns the file's CRC-32. ``on_data`` sees every chunk.
    """
    deflater = Deflater(level) if level is not None else None
    crc = 0
    for chunk in read_chunks(fd, size, path, chunk_size):
        if on_data is not None:
            on_data(chunk)
        crc = isal_zlib.crc32(chunk, crc)
        out = chunk if deflater is None else deflater.feed(chunk)
        if out:
            yield out
    if deflater is not None:
        yield deflater.finish()
    return crc
