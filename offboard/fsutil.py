"""File-system helpers: temporary names, durable renames."""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

_counter = itertools.count()
_lock = threading.Lock()


def temp_name(final: Path) -> Path:
    """A hidden temporary name beside ``final``, unique in this process and across processes."""
    with _lock:
        n = next(_counter)
    return final.with_name(f".{final.name}.tmp-{os.getpid()}-{n}")


def fsync_dir(path: Path) -> None:
    """Make a rename inside ``path`` durable."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def is_within(path: Path, root: Path) -> bool:
    """True when ``path`` (resolved) is ``root`` or lies below it."""
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def write_atomic(final: Path, data: bytes) -> None:
    """Write ``data`` to ``final`` durably: a temporary name, fsync, rename, fsync the folder.

    ``final`` holds either its previous content or ``data``, never a part of it.
    """
    temp = temp_name(final)
    try:
        with open(temp, "xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    fsync_dir(final.parent)


class PreadWindow(io.RawIOBase):
    """The ``size`` bytes at ``start`` of the open file ``fd``, as a seekable read-only stream.

    Reads use ``os.pread`` (the file's own position is never used), so windows over one file
    may be read from several threads. ``owns_fd``: close ``fd`` with the window. ``name`` is
    what ``str()`` gives (a document's name in a PDF library's messages).
    """

    def __init__(
        self, fd: int, start: int, size: int, *, owns_fd: bool = False, name: str | None = None
    ) -> None:
        super().__init__()
        self._fd = fd
        self._start = start
        self._size = size
        self._pos = 0
        self._owns_fd = owns_fd
        self._name = name

    def __str__(self) -> str:
        return self._name if self._name is not None else super().__str__()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError(f"negative seek position {base + offset}")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer: WriteableBuffer) -> int:
        with memoryview(buffer) as view, view.cast("B") as into:
            want = min(len(into), self._size - self._pos)
            if want <= 0:
                return 0
            data = os.pread(self._fd, want, self._start + self._pos)
            into[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def close(self) -> None:
        if not self.closed and self._owns_fd:
            os.close(self._fd)
        super().close()
