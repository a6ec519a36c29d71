"""The threads behind :meth:`ZipWriter.add_files`: work done ahead of writing, in bounded memory.

The *calling* thread reads, checksums and compresses the small files (and makes the members to
write before them) and hands them over in batches (:class:`Handoff`). A *reading* thread
(:class:`ReadAhead`) reads, CRCs and deflates the large files one after the other from the
start, and a *hashing* thread beside it hands their chunks to the caller's ``on_data``. The
*writing* thread writes every member in order, taking the large files' pieces from the reading
thread as they come, and hands the stored small files' data, from the buffer it writes, to
their ``on_data``. ISA-L's deflate and CRC-32, hashlib and the system calls release the GIL,
so the large files' work runs beside the small files' on another core.

Each hand-over holds at most its limit of bytes not yet written (a single batch or piece larger
than that passes alone), whatever the files' sizes; the order of the members and of every
file's data is kept, so the bytes written are those of one thread doing it all in turn.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import deque
from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from manifests.zipfmt.filedata import (
    FileMember,
    OnData,
    SpooledMember,
    member_pieces,
    open_regular,
)

#: chunks of the large files waiting to be hashed, at most
HASH_QUEUE = 4


_switch_lock = threading.Lock()
_switch_users = 0
_switch_saved = 0.0


@contextmanager
def switch_interval(seconds: float) -> Iterator[None]:
    """Python's thread switch interval at most ``seconds`` inside the block (then restored)."""
    global _switch_users, _switch_saved
    with _switch_lock:
        if _switch_users == 0:
            _switch_saved = sys.getswitchinterval()
            sys.setswitchinterval(min(seconds, _switch_saved))
        _switch_users += 1
    try:
        yield
    finally:
        with _switch_lock:
            _switch_users -= 1
            if _switch_users == 0:
                sys.setswitchinterval(_switch_saved)


class Run:
    """Small members back to back, as they are written: local headers and data in one buffer,
    and each member's entry fields with its offset from the start of the run.

    A stored member may keep its ``on_data`` for the writing thread, which hands it the
    member's data from the buffer (the bytes written, with no copy).
    """

    __slots__ = ("data", "entries")

    def __init__(self) -> None:
        self.data = bytearray()
        #: name, method, CRC-32, compressed size, size, offset in the run, header length,
        #: and the on_data still to call
        self.entries: list[tuple[str, int, int, int, int, int, int, OnData | None]] = []

    def add(
        self,
        name: str,
        method: int,
        crc: int,
        size: int,
        header: bytes,
        body: bytes | memoryview,
        on_data: OnData | None = None,
    ) -> None:
        data = self.data
        self.entries.append((name, method, crc, len(body), size, len(data), len(header), on_data))
        data += header
        data += body


@dataclass(slots=True)
class Large:
    """A large member, written from the pieces :class:`ReadAhead` makes of it."""

    name: str
    raw: bytes
    method: int


#: what the calling thread hands the writing thread (an error is raised there, in its turn)
Item = Run | Large | SpooledMember | BaseException


class Stopped(Exception):
    """The work was given up (another thread failed)."""


class Handoff:
    """Batches of items from the calling thread to the writing thread, in order."""

    def __init__(self, limit: int) -> None:
        self._cond = threading.Condition()
        self._batches: deque[tuple[list[Item], int]] = deque()
        self._queued = 0
        self._limit = limit
        self._done = False
        self._stopped = False

    def put(self, batch: list[Item], size: int) -> bool:
        """Queue ``batch`` (``size`` bytes); False, the batch dropped, once stopped."""
        with self._cond:
            while self._queued and self._queued + size > self._limit and not self._stopped:
                self._cond.wait()
            if self._stopped:
                return False
            self._batches.append((batch, size))
            self._queued += size
            self._cond.notify_all()
            return True

    def get(self) -> list[Item] | None:
        """The next batch, or None when there will be no more."""
        with self._cond:
            while not self._batches and not self._done and not self._stopped:
                self._cond.wait()
            if self._stopped or not self._batches:
                return None
            batch, size = self._batches.popleft()
            self._queued -= size
            self._cond.notify_all()
            return batch

    def finish(self) -> None:
        with self._cond:
            self._done = True
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._batches.clear()
            self._queued = 0
            self._cond.notify_all()


class _Hasher:
    """Hands the large files' chunks to their ``on_data`` in a thread of its own, in order, so
    that hashing them runs beside their compression; at most ``limit`` chunks wait."""

    def __init__(self, limit: int) -> None:
        self._cond = threading.Condition()
        self._chunks: deque[tuple[OnData, bytes | memoryview] | None] = deque()
        self._limit = limit
        self._stopped = False
        self.failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="zip-hash", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def later(self, on_data: OnData) -> OnData:
        """An ``on_data`` that queues each chunk for ``on_data``, called in this thread."""

        def queue(chunk: bytes | memoryview) -> None:
            with self._cond:
                while len(self._chunks) >= self._limit and not self._stopped and not self.failure:
                    self._cond.wait()
                if self.failure is not None:
                    raise Stopped("the hashing failed") from self.failure
                if self._stopped:
                    raise Stopped("the hashing was stopped")
                self._chunks.append((on_data, chunk))
                self._cond.notify_all()

        return queue

    def finish(self) -> None:
        """No more chunks: the thread ends once it has handed over those queued."""
        with self._cond:
            self._chunks.append(None)
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._chunks.clear()
            self._cond.notify_all()

    def join(self) -> None:
        if self._thread.ident is not None:
            self._thread.join()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._chunks and not self._stopped:
                    self._cond.wait()
                if self._stopped:
                    return
                item = self._chunks.popleft()
                self._cond.notify_all()
            if item is None:
                return
            try:
                item[0](item[1])
            except BaseException as exc:
                with self._cond:
                    self.failure = exc
                    self._cond.notify_all()
                return


class _End:
    __slots__ = ("crc",)

    def __init__(self, crc: int) -> None:
        self.crc = crc


_Piece = bytes | int | _End | BaseException


class ReadAhead:
    """Read, checksum and deflate ``members`` (the large files, in archive order) in a thread.

    For each member, in order, :meth:`opened` gives its size, then :meth:`pieces` its member
    data; an error met reading a member is raised there, in its turn, and ends the reading.
    The members' ``on_data`` are called in a second thread (:class:`_Hasher`), which
    :meth:`join` waits for; an error there is :attr:`hash_failure`.
    """

    def __init__(
        self, members: Sequence[FileMember], *, level: int, chunk_size: int, limit: int
    ) -> None:
        self._members = members
        self._level = level
        self._chunk_size = chunk_size
        self._limit = limit
        self._cond = threading.Condition()
        self._pieces: deque[_Piece] = deque()
        self._held = 0
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="zip-read-ahead", daemon=True)
        self._hasher = _Hasher(HASH_QUEUE)

    def start(self) -> None:
        self._hasher.start()
        self._thread.start()

    def stop(self) -> None:
        """Give up: the threads end at their next piece; the queued pieces are dropped."""
        with self._cond:
            self._stopped = True
            self._pieces.clear()
            self._held = 0
            self._cond.notify_all()
        self._hasher.stop()

    def join(self) -> None:
        """Wait for both threads (after the last piece is taken, or :meth:`stop`)."""
        if self._thread.ident is not None:
            self._thread.join()
        self._hasher.join()

    @property
    def hash_failure(self) -> BaseException | None:
        return self._hasher.failure

    # -- the writing thread's side -------------------------------------------------------------
    def opened(self) -> int:
        """The size of the next member's file (blocks until it is open)."""
        piece = self._take()
        if not isinstance(piece, int):
            raise RuntimeError(f"read-ahead out of step: {piece!r}")
        return piece

    def pieces(self) -> Generator[bytes, None, int]:
        """The next member's data, piece by piece; returns its CRC-32."""
        while True:
            piece = self._take()
            if isinstance(piece, bytes):
                yield piece
            elif isinstance(piece, _End):
                return piece.crc
            else:
                raise RuntimeError(f"read-ahead out of step: {piece!r}")

    def _take(self) -> _Piece:
        with self._cond:
            while not self._pieces and not self._stopped:
                self._cond.wait()
            if self._stopped:
                raise Stopped("the read-ahead was stopped")
            piece = self._pieces.popleft()
            if isinstance(piece, bytes):
                self._held -= len(piece)
                self._cond.notify_all()
        if isinstance(piece, BaseException):
            raise piece
        return piece

    # -- the reading thread --------------------------------------------------------------------
    def _put(self, piece: _Piece) -> bool:
        with self._cond:
            if isinstance(piece, bytes):
                while self._held and self._held + len(piece) > self._limit and not self._stopped:
                    self._cond.wait()
                self._held += len(piece)
            if self._stopped:
                return False
            self._pieces.append(piece)
            self._cond.notify_all()
            return True

    def _run(self) -> None:
        try:
            for m in self._members:
                if not self._read(m):
                    return
        except BaseException as exc:
            self._put(exc)  # raised in the writing thread when this member's turn comes
        finally:
            self._hasher.finish()

    def _read(self, m: FileMember) -> bool:
        fd, size = open_regular(m.path, m.size)
        try:
            if not self._put(size):
                return False
            level = self._level if m.compress else None
            on_data = None if m.on_data is None else self._hasher.later(m.on_data)
            gen = member_pieces(
                fd, size, m.path, level=level, on_data=on_data, chunk_size=self._chunk_size
            )
            while True:
                try:
                    piece = next(gen)
                except StopIteration as end:
                    return self._put(_End(end.value))
                if not self._put(piece):
                    return False
        finally:
            os.close(fd)
