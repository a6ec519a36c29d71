"""File-system helpers: temporary names, durable renames."""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import threading
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, BinaryIO, cast

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

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


class DeferredErrors:
    """A binary file object, over ``fh``, for a library that must never see a write fail.

    qpdf (through pikepdf) aborts the whole process when the stream it saves to raises at some
    points of its output (a ``flush`` from a destructor: "terminate called after throwing"), and
    so does its own writing to the file's descriptor on a full disk. Save to this object
    instead (pikepdf then writes through Python): what is written is gathered into pieces of
    ``buffer_size`` bytes, each passed on to ``fh`` (best opened unbuffered, so that closing it
    has nothing left to write), until writing one raises :class:`OSError`. That error is kept,
    with ``name`` as its file name, what follows is dropped, and the error is raised once the
    library returned: by :meth:`check`, or on leaving the ``with`` block (which first passes on
    what is gathered; whatever else was raised in the block is then chained to it)::

        with open(temp, "wb", buffering=0) as fh, DeferredErrors(fh, temp) as out:
            pdf.save(out)
    """

    def __init__(
        self, fh: BinaryIO, name: str | os.PathLike[str], buffer_size: int = 1 << 20
    ) -> None:
        self._fh = fh
        self._name = os.fspath(name)
        self._size = buffer_size
        self._buffer = bytearray()
        self._position = fh.tell()
        #: the first error met writing to ``fh``, raised by :meth:`check`
        self.error: OSError | None = None

    def _failed(self, exc: OSError) -> None:
        if self.error is None:
            self.error = OSError(exc.errno, exc.strerror or str(exc), exc.filename or self._name)
            self.error.__cause__ = exc

    def _drain(self) -> None:
        if self.error is None and self._buffer:
            try:
                with memoryview(self._buffer) as view:
                    done = 0
                    while done < len(view):
                        n = self._fh.write(view[done:])
                        done += len(view) - done if n is None else n
            except OSError as exc:
                self._failed(exc)
        self._buffer = bytearray()  # a new one: a view of the old may live on in a traceback

    def write(self, data: ReadableBuffer) -> int:
        with memoryview(data) as view:
            size = view.nbytes
            if self.error is None:
                self._buffer += view
        self._position += size
        if len(self._buffer) >= self._size:
            self._drain()
        return size

    def flush(self) -> None:
        self._drain()
        if self.error is None:
            try:
                self._fh.flush()
            except OSError as exc:
                self._failed(exc)

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._drain()
        if self.error is None:
            try:
                self._position = self._fh.seek(offset, whence)
            except OSError as exc:
                self._failed(exc)
        return self._position

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def check(self) -> None:
        """Pass on what is gathered; raise the error met writing, if any."""
        self._drain()
        if self.error is not None:
            raise self.error

    def __enter__(self) -> BinaryIO:
        """This object, as the binary stream a library is given."""
        return cast(BinaryIO, self)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.check()


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
