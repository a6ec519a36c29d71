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
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from offboard.documents.bundle import MAX_PART_PAGES, full, part_path
from offboard.documents.copying import DocumentFault, Held, StagedFile
from offboard.documents.engine import START_SECONDS, DocumentEngine, DocumentLimits, WorkerDied
from offboard.documents.wire import count as _count
from offboard.documents.wire import finding_from_wire
from offboard.documents.wire import text as _text
from offboard.errors import OutputError
from offboard.facturx.checks import Finding

#: bytes per second a part is written at, at least, when its time limit is worked out
_SAVE_RATE = 2_000_000


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
                self.engine.call({"op": "drop"}, START_SECONDS)
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
