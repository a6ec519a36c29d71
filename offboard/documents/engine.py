"""The document worker process as its supervisor sees it: started, limited, asked, killed.

:class:`DocumentEngine` runs one worker process (:mod:`offboard.documents.worker`) for an
export's documents under :class:`DocumentLimits` (an address-space limit the worker sets on
itself, a time limit per request kept here, a page limit), starts another after a fault, and
counts the faults. Requests and replies are JSON lines over a socket; a reply is parsed, never
unpickled. What the documents are for, and what a fault costs, is
:mod:`offboard.documents.sandbox`'s business.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from offboard.documents.bundle import MAX_DOCUMENT_PAGES
from offboard.errors import OutputError

#: seconds a worker is given to start and to take the spool
START_SECONDS = 30.0
#: a reply line is at most this long (a Factur-X XML of 4 MiB in base64, and the rest)
_MAX_REPLY = 8 << 20


@dataclass(frozen=True)
class DocumentLimits:
    """What one document may cost the worker that opens it."""

    #: the worker's address-space limit in bytes (``RLIMIT_AS``; 0: none)
    memory: int = 1 << 30
    #: seconds one document may take to be opened, checked and added to its part
    seconds: float = 60.0
    #: pages one document may have
    max_pages: int = MAX_DOCUMENT_PAGES
    #: faults (crashes, memory, time) after which the remaining documents are not opened
    max_faults: int = 20

    def describe_memory(self) -> str:
        return f"{self.memory / (1 << 30):g} GiB" if self.memory else "no limit"


class WorkerDied(Exception):
    """The worker died or was killed during a request; ``reason`` says how."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def worker_command() -> list[str]:
    """The command that starts a worker; it is given the socket's descriptor and the memory
    limit as arguments (tests replace it to inject faults)."""
    return [sys.executable, "-m", "offboard.documents.worker"]


class _Channel:
    """One worker process and the socket to it."""

    def __init__(self, limits: DocumentLimits) -> None:
        self.limits = limits
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        debug = bool(os.environ.get("OFFBOARD_DEBUG"))
        try:
            self.proc = subprocess.Popen(
                [*worker_command(), str(theirs.fileno()), str(limits.memory)],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=None if debug else subprocess.DEVNULL,
            )
        except OSError as exc:
            ours.close()
            raise OutputError(f"cannot start the document worker: {exc}") from exc
        finally:
            theirs.close()
        self.sock = ours
        self.buffer = b""
        self.sent = time.monotonic()

    def request(
        self, message: dict[str, Any], seconds: float, fds: tuple[int, ...] = ()
    ) -> dict[str, Any]:
        self.send(message, fds)
        return self.receive(seconds)

    def send(self, message: dict[str, Any], fds: tuple[int, ...] = ()) -> None:
        """Send a request; its time limit runs from now (see :meth:`receive`)."""
        data = json.dumps(message, ensure_ascii=True, separators=(",", ":")).encode() + b"\n"
        self.sent = time.monotonic()
        try:
            if fds:
                socket.send_fds(self.sock, [data], list(fds))
            else:
                self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            raise WorkerDied(self._death()) from None

    def receive(self, seconds: float) -> dict[str, Any]:
        """The reply to the request sent last, within ``seconds`` of its sending."""
        try:
            return self._reply(self.sent + seconds, seconds)
        except (BrokenPipeError, ConnectionResetError):
            raise WorkerDied(self._death()) from None

    def _reply(self, deadline: float, seconds: float) -> dict[str, Any]:
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise WorkerDied(
                    f"not finished after {seconds:g} s (the time limit, --document-timeout)"
                )
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(1 << 20)
            except TimeoutError:
                continue
            if not data:
                raise WorkerDied(self._death())
            self.buffer += data
            if len(self.buffer) > _MAX_REPLY:
                self.kill()
                raise WorkerDied("the document worker sent a reply past its bounds")
        line, _, self.buffer = self.buffer.partition(b"\n")
        try:
            reply = json.loads(line)
        except ValueError:
            reply = None
        if not isinstance(reply, dict):
            self.kill()
            raise WorkerDied("the document worker sent a reply that is not understood")
        if reply.get("memory") == 1:
            self._death()
            raise WorkerDied(self._memory_reason())
        return reply

    def _memory_reason(self) -> str:
        return (
            f"needs more than {self.limits.describe_memory()} of memory "
            "(the limit, --document-memory)"
        )

    def _death(self) -> str:
        """How the worker ended (it has closed its end or is about to)."""
        from offboard.documents.worker import MEMORY_EXIT

        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.proc.returncode
        if code == MEMORY_EXIT:
            return self._memory_reason()
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            if -code == signal.SIGKILL:
                return f"the PDF engine was killed ({name}; out of memory?)"
            return f"the PDF engine crashed on it ({name})"
        return f"the document worker ended unexpectedly (exit status {code})"

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        self.sock.close()

    def close(self) -> None:
        """Ask the worker to quit; kill it if it does not."""
        with contextlib.suppress(OSError):
            self.sock.sendall(b'{"op":"quit"}\n')
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        self.kill()


class DocumentEngine:
    """The document worker of one export, started when first needed, restarted after faults."""

    def __init__(self, limits: DocumentLimits | None = None, spool_fd: int | None = None) -> None:
        self.limits = limits or DocumentLimits()
        self.spool_fd = spool_fd
        #: how many workers were started (a part begun in one is rebuilt in the next)
        self.generation = 0
        #: faults so far (documents that killed a worker or ran out of time)
        self.faults = 0
        self._channel: _Channel | None = None

    def ensure(self) -> int:
        """Start a worker if none is running; return the current generation."""
        if self._channel is None:
            channel = _Channel(self.limits)
            if self.spool_fd is not None:
                fds = (self.spool_fd,)
                try:
                    channel.request({"op": "spool"}, START_SECONDS, fds)
                except WorkerDied as died:
                    raise OutputError(f"the document worker did not start: {died.reason}") from None
            self._channel = channel
            self.generation += 1
        return self.generation

    def call(self, message: dict[str, Any], seconds: float) -> dict[str, Any]:
        self.send(message)
        return self.receive(seconds)

    def send(self, message: dict[str, Any]) -> None:
        """Send a request to the worker (started if none runs); see :meth:`receive`."""
        self.ensure()
        assert self._channel is not None
        try:
            self._channel.send(message)
        except WorkerDied:
            self._lost()
            raise

    def receive(self, seconds: float) -> dict[str, Any]:
        """The reply to the request sent last, ``seconds`` after it was sent at the latest."""
        assert self._channel is not None
        try:
            return self._channel.receive(seconds)
        except WorkerDied:
            self._lost()
            raise

    def reset(self) -> None:
        """Stop the worker (a new one starts when needed); no fault is counted."""
        if self._channel is not None:
            self._channel.kill()
            self._channel = None

    def _lost(self) -> None:
        assert self._channel is not None
        self._channel.kill()
        self._channel = None
        self.faults += 1

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None

    def __enter__(self) -> DocumentEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
