"""The export's side of the document worker: limits, faults, and the bundle parts it asks for.

:class:`DocumentEngine` runs one worker process (:mod:`offboard.documents.worker`) for an
export's documents, under :class:`DocumentLimits`: an address-space limit set in the worker
(``--document-memory``, 1 GiB), a time limit per document (``--document-timeout``, 60 s), a page
limit (``--max-document-pages``, 10,000). :class:`SandboxBundler` is what the documents stage
bundles with: it decides where parts end, sends each document to the worker, publishes the
documents of a part once the worker has written it.

When the worker dies on a document (a crash of the PDF engine, the memory limit) or takes longer
than the time limit (it is then killed), the document is reported as a problem with that reason
and its bytes are kept under ``_problems/``; the next document starts a new worker, which first
rebuilds the part in progress from the documents already accepted into it, so the bundles are
the same as if the faulty document had never been there. After ``max_faults`` faults in one
export, the remaining documents are not opened at all (reported ``not opened``): a source full
of hostile files cannot keep an export running for hours. A worker that dies while writing a
part fails the export (:class:`~offboard.errors.OutputError`, naming the part).

The worker's replies are parsed as JSON and checked field by field, never unpickled.
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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from offboard.documents.bundle import MAX_DOCUMENT_PAGES, MAX_PART_PAGES, full, part_path
from offboard.documents.copying import DocumentFault, Held, StagedFile
from offboard.documents.wire import count as _count
from offboard.documents.wire import finding_from_wire
from offboard.documents.wire import text as _text
from offboard.errors import OutputError
from offboard.facturx.checks import Finding

#: seconds a worker is given to start and to take the spool
_START_SECONDS = 30.0
#: bytes per second a part is written at, at least, when its time limit is worked out
_SAVE_RATE = 2_000_000
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
                    channel.request({"op": "spool"}, _START_SECONDS, fds)
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


@dataclass
class _Added:
    doc: Held
    request: dict[str, Any]
    pages: int


@dataclass
class _InFlight:
    added: _Added
    facturx: str | None
    done: Callable[[int, Finding | None], None]
    failed: Callable[[str], None]


@dataclass
class SandboxBundler:
    """Bundle parts of one kind, built by the document worker of ``engine``.

    The same parts as :class:`offboard.documents.bundle.BundleWriter` gives for the same
    documents: the same caps, the same order, the same bytes.
    """

    engine: DocumentEngine
    folder: Path
    kind: str
    cap_bytes: int
    max_pages: int = MAX_PART_PAGES
    parts: list[Path] = field(default_factory=list)
    pages: int = 0
    part_pages: list[int] = field(default_factory=list)
    _pending: list[_Added] = field(default_factory=list)
    _part_pages: int = 0
    _part_bytes: int = 0
    _generation: int = 0
    _inflight: _InFlight | None = None

    def add_pending(self, doc: Held, title: str, facturx: str | None) -> tuple[int, Finding | None]:
        """Bundle ``doc``; its page count and Factur-X finding (None when not looked for).

        Raises :class:`DocumentFault` when the document cannot be bundled, for whatever
        reason: the worker's, or a fault of the worker on this document.
        """
        got: list[tuple[int, Finding | None]] = []
        failures: list[str] = []
        self.submit(doc, title, facturx, lambda p, f: got.append((p, f)), failures.append)
        self.settle()
        if failures:
            raise DocumentFault(failures[0])
        return got[0]

    def submit(
        self,
        doc: Held,
        title: str,
        facturx: str | None,
        done: Callable[[int, Finding | None], None],
        failed: Callable[[str], None],
    ) -> None:
        """Send ``doc`` to the worker without waiting for its answer: ``done(pages, finding)``
        or ``failed(reason)`` is called when it comes, at the next :meth:`submit`,
        :meth:`settle` or :meth:`close`, in the order the documents were sent. So the
        exporting process copies the next document while the worker opens this one."""
        self.settle()
        limits = self.engine.limits
        if full(self._part_pages, self._part_bytes, doc.size, self):
            self._flush()
        if self.engine.faults >= limits.max_faults:
            failed(
                f"not opened: the PDF engine already failed on {self.engine.faults} documents "
                "of this export"
            )
            return
        request = {
            "op": "add",
            "src": _source(doc),
            "shown": doc.shown,
            "size": doc.size,
            "title": title,
            "facturx": facturx,
            "max_pages": limits.max_pages,
        }
        self._rebuild()
        try:
            self.engine.send(request)
        except WorkerDied as died:
            failed(f"unreadable: {died.reason}")
            return
        self._inflight = _InFlight(_Added(doc, request, 0), facturx, done, failed)

    def settle(self) -> None:
        """Wait for the answer about the document sent last, if any, and pass it on."""
        flight, self._inflight = self._inflight, None
        if flight is None:
            return
        try:
            reply = self.engine.receive(self.engine.limits.seconds)
        except WorkerDied as died:
            flight.failed(f"unreadable: {died.reason}")
            return
        if "fault" in reply:
            flight.failed(_text(reply["fault"], "unreadable: (no reason given)"))
            return
        pages = _count(reply.get("pages"))
        wire = reply.get("facturx")
        finding = finding_from_wire(wire) if flight.facturx is not None else None
        flight.added.pages = pages
        self._pending.append(flight.added)
        self._part_pages += pages
        self._part_bytes += flight.added.doc.size
        flight.done(pages, finding)

    def close(self) -> None:
        """Write the last part and give its documents their final names."""
        self.settle()
        if self._pending:
            self._flush()

    def abort(self) -> None:
        """Drop the part being built and its documents' bytes (and the one in flight)."""
        pending, self._pending = self._pending, []
        flight, self._inflight = self._inflight, None
        if flight is not None:  # its answer is not waited for: the worker goes with the part
            pending.append(flight.added)
            self.engine.reset()
        self._part_pages = self._part_bytes = 0
        if pending and self.engine.generation == self._generation:
            with contextlib.suppress(WorkerDied, OutputError, OSError):
                self.engine.call({"op": "drop"}, _START_SECONDS)
        for added in pending:
            added.doc.discard()

    def _rebuild(self) -> None:
        """After a new worker was started, add the part's documents to it again."""
        if self.engine.ensure() == self._generation:
            return
        self._generation = self.engine.generation
        for added in self._pending:
            try:
                reply = self.engine.call(added.request, self.engine.limits.seconds)
            except WorkerDied as died:
                raise OutputError(
                    f"{self.kind}: the document worker failed on {added.doc.shown}, which it "
                    f"had read before: {died.reason}"
                ) from None
            if reply.get("pages") != added.pages:
                raise OutputError(
                    f"{self.kind}: the document worker read {added.doc.shown} differently "
                    "the second time"
                )

    def _flush(self) -> None:
        final = part_path(self.folder, self.kind, len(self.parts) + 1)
        seconds = self.engine.limits.seconds + self._part_bytes / _SAVE_RATE
        self._rebuild()
        try:
            reply = self.engine.call({"op": "save", "path": str(final)}, seconds)
        except WorkerDied as died:
            raise OutputError(f"cannot write {final}: {died.reason}") from None
        if "error" in reply:
            code = reply.get("errno")
            reason = _text(reply["error"], f"cannot write {final}")
            if isinstance(code, int) and code > 0:
                raise OutputError(reason) from OSError(code, os.strerror(code), str(final))
            raise OutputError(reason)
        if reply.get("saved") != self._part_pages:
            raise OutputError(f"cannot write {final}: the document worker wrote another part")
        self.parts.append(final)
        self.pages += self._part_pages
        self.part_pages.append(self._part_pages)
        pending, self._pending = self._pending, []
        self._part_pages = self._part_bytes = 0
        for added in pending:
            added.doc.publish()


def _source(doc: Held) -> list[Any]:
    from offboard.documents.spool import SpooledCopy

    if isinstance(doc, SpooledCopy):  # a small one is read whole, a large one as a window
        how = "memory" if doc.data is not None else "window"
        return ["spool", doc.entry.offset, doc.entry.size, how]
    if isinstance(doc, StagedFile):
        return ["path", str(doc.temp)]
    raise TypeError(f"cannot send {type(doc).__name__} to the document worker")


__all__ = ["DocumentEngine", "DocumentLimits", "SandboxBundler", "WorkerDied"]
