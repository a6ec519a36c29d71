"""The document worker: the process in which an export opens, checks and bundles PDFs.

Every PDF an export bundles is parsed here, never in the exporting process: qpdf and the XML
checks run on files from anyone, so they run behind a wall, with an address-space limit
(``RLIMIT_AS``, 1 GiB by default) set before the first document is read, and under the time
limit its supervisor (:mod:`offboard.documents.sandbox`) keeps. A document that crashes the
engine, exhausts its memory or does not finish in time kills this process, not the export: the
supervisor reports the document and starts another worker.

The worker holds one bundle part (:class:`offboard.documents.part.PartBuilder`) at a time and
does only what it is told, one request at a time, over the socket it is given: JSON lines in,
JSON lines out (its output is parsed by the supervisor, never unpickled).

* ``{"op": "spool"}``, with a descriptor (SCM_RIGHTS): documents may be read from that file;
  reply ``{"ok": 1}``;
* ``{"op": "add", "src": ..., "shown", "size", "title", "facturx", "max_pages"}``, where
  ``src`` is ``["path", P]`` or ``["spool", offset, size, "memory" | "window"]``: reply
  ``{"pages": n, "facturx": {...} | null}``, or ``{"fault": reason}`` (the part unchanged);
* ``{"op": "save", "path": P}``: the part is written to P and a new one begun; reply
  ``{"saved": pages}``, or ``{"error": reason, "errno": n}``;
* ``{"op": "drop"}``: the part is dropped; reply ``{"ok": 1}``;
* ``{"op": "quit"}``: no reply, the worker exits.

Exit status :data:`MEMORY_EXIT` means a document exhausted the memory limit (the reply, if it
could be written, was ``{"memory": 1}``).
"""

from __future__ import annotations

import io
import json
import os
import socket
import sys
from pathlib import Path
from typing import Any, BinaryIO, cast

#: the worker's exit status when a document exhausted its memory limit
MEMORY_EXIT = 86
#: a request line is at most this long
_MAX_REQUEST = 1 << 20


def limit_memory(limit: int) -> None:
    """Cap this process's address space at ``limit`` bytes (0: no cap)."""
    if limit <= 0:
        return
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


class _Worker:
    def __init__(self, sock: socket.socket) -> None:
        from offboard.documents.bundle import max_open_files
        from offboard.documents.part import PartBuilder

        self.sock = sock
        self.lines = LineReader(sock)
        self.spool_fd: int | None = None
        self.max_open = max_open_files()
        self.part = PartBuilder(self.max_open)
        self._builder = PartBuilder

    def reply(self, message: dict[str, Any]) -> None:
        data = json.dumps(message, ensure_ascii=True, separators=(",", ":")).encode() + b"\n"
        self.sock.sendall(data)

    def serve(self) -> None:
        while True:
            line, fds = self.lines.read()
            if not line:
                return
            request = json.loads(line)
            op = request.get("op")
            if op == "quit":
                return
            try:
                self.handle(op, request, fds)
            except MemoryError:
                self._out_of_memory()

    def handle(self, op: str, request: dict[str, Any], fds: list[int]) -> None:
        from offboard.documents.copying import DocumentFault

        if op == "spool":
            if len(fds) != 1:
                raise SystemExit("document worker: the spool request came without a descriptor")
            self.spool_fd = fds[0]
            self.reply({"ok": 1})
        elif op == "add":
            try:
                self.reply(self.add(request))
            except DocumentFault as fault:
                self.reply({"fault": fault.reason})
        elif op == "save":
            self.save(Path(request["path"]))
        elif op == "drop":
            self.part.close()
            self.part = self._builder(self.max_open)
            self.reply({"ok": 1})
        else:
            raise SystemExit(f"document worker: unknown request {op!r}")

    def add(self, request: dict[str, Any]) -> dict[str, Any]:
        from offboard.facturx import REQUIRED
        from offboard.facturx.checks import Finding
        from offboard.facturx.checks import inspect as inspect_facturx

        given = self._input(request["src"], request["shown"])
        found: list[Finding] = []
        look = None
        policy = request.get("facturx")
        if policy is not None:
            required = policy == REQUIRED

            def look(pdf: Any) -> None:
                found.append(inspect_facturx(pdf, required=required))

        pages = self.part.add(
            given,
            request["shown"],
            int(request["size"]),
            request["title"],
            max_pages=int(request["max_pages"]),
            inspect=look,
        )
        from offboard.documents.wire import finding_to_wire

        return {"pages": pages, "facturx": finding_to_wire(found[0]) if found else None}

    def _input(self, src: list[Any], shown: str) -> Any:
        from offboard.documents.copying import PdfInput
        from offboard.documents.spool import IN_MEMORY, named_bytes
        from offboard.fsutil import PreadWindow

        if src[0] == "path":
            path = Path(src[1])
            if self.part.by_path:
                return PdfInput(path, str(path), True)
            return PdfInput(io.BytesIO(path.read_bytes()), str(path), False)
        if src[0] == "spool" and self.spool_fd is not None:
            offset, size = int(src[1]), int(src[2])
            name = f"stream {shown}"
            if src[3] == "memory" and size <= 4 * IN_MEMORY:
                data = os.pread(self.spool_fd, size, offset)
                return PdfInput(named_bytes(data, shown), name, False)
            window = PreadWindow(self.spool_fd, offset, size, name=shown)
            return PdfInput(cast("BinaryIO", window), name, False)
        raise SystemExit(f"document worker: unknown source {src!r}")

    def save(self, final: Path) -> None:
        from offboard.errors import OutputError

        pages = self.part.pages
        try:
            self.part.save(final)
        except OutputError as exc:
            cause = exc.__cause__
            errno = cause.errno if isinstance(cause, OSError) else None
            self.reply({"error": exc.message, "errno": errno})
            return
        self.part.close()
        self.part = self._builder(self.max_open)
        self.reply({"saved": pages})

    def _out_of_memory(self) -> None:
        try:
            self.reply({"memory": 1})
        finally:
            os._exit(MEMORY_EXIT)


class LineReader:
    """Lines from a socket, with the descriptors that came with them (SCM_RIGHTS)."""

    def __init__(self, sock: socket.socket, limit: int = _MAX_REQUEST) -> None:
        self.sock = sock
        self.limit = limit
        self.buffer = b""
        self.fds: list[int] = []

    def read(self) -> tuple[bytes, list[int]]:
        """The next line (b"" at the end of the stream) and the descriptors received so far."""
        while b"\n" not in self.buffer:
            if len(self.buffer) > self.limit:
                raise ValueError(f"a line longer than {self.limit:,} bytes")
            data, fds, _flags, _addr = socket.recv_fds(self.sock, 1 << 16, 4)
            self.fds += fds
            if not data:
                return b"", self._take_fds()
            self.buffer += data
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line + b"\n", self._take_fds()

    def _take_fds(self) -> list[int]:
        fds, self.fds = self.fds, []
        return fds


def main(argv: list[str]) -> int:
    """``python -m offboard.documents.worker FD MEMORY_LIMIT``."""
    fd, memory = int(argv[0]), int(argv[1])
    limit_memory(memory)
    sock = socket.socket(fileno=fd)
    try:
        _Worker(sock).serve()
    except MemoryError:
        os._exit(MEMORY_EXIT)
    except (BrokenPipeError, ConnectionResetError):
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
