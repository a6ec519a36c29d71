"""The document lane in a worker process: a second core, and a wall around the PDF engine.

The verifying process hands the archive's open file descriptor to ``python -m
manifests.verify.worker`` as soon as it has read the zip directory, with the list of the PDF
members (*early* items): the worker reads, hashes and opens them while the verifier reads the
tag files. Once the manifest and ``offboard.json`` are read, the verifier sends the *work*: for
each document, the early item it is and the SHA-256 and page count expected, or a whole new
item. The worker then reports problems while the verifier checks the CSV tables. Reading the
descriptor it was given, the worker reads the very bytes the verifier opened.

Protocol (the worker reads hostile files, so its output is parsed, never unpickled):

* in: JSON lines. First ``{"fd": N, "careful": bool}``, with ``"early": [...]`` for the first
  worker; then the work, :data:`WORK_LINE` items a line: ``{"work": [["early", k, sha256,
  pages, facturx] | ["item", ...], ...], "more": bool}``, ``more`` false on the last. A line's
  items are checked before the next line is read, so that a worker holds a line's items at a
  time, not the whole part's (a part of 12,000 invoices: their work, once parsed, was 17 MB);
  the lines are written from a thread of their own, while the worker's answers are read;
* out: tab-separated lines: ``S 0`` (started), ``R 0`` (work received), ``P <i> <json
  problems>`` for a work item with problems, ``C <i>`` (every work item before ``i`` is done)
  now and then, or after every item when ``careful``, and ``D <n>`` at the end.

If the worker dies or falls silent for :data:`SILENCE` seconds, the supervisor starts a new one
in careful mode from the last item confirmed; in careful mode the item in progress is the one at
fault: it is reported ("the PDF engine crashed / did not finish on this file") and the rest
goes on. After :data:`MAX_FAULTS` faults the remaining documents are reported unchecked. The
worker runs under an address-space limit (:data:`MEMORY_LIMIT`, 1 GiB), set before it reads
anything.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from manifests import problems as P
from manifests.verify.docs import DocItem, Prepared, check_item, prepare, problem_from_wire
from manifests.zipfmt.reader import MemberData

#: seconds without a word from the worker before it is taken for hung
SILENCE = 120.0
#: faults (crashes, hangs) after which the remaining documents are not checked
MAX_FAULTS = 20
#: the worker's address-space limit (``RLIMIT_AS``): a PDF that needs more fails the worker,
#: which is then a fault of that document
MEMORY_LIMIT = 1 << 30
#: how often a worker that is not in careful mode confirms its progress
_CHECKPOINT_SECONDS = 0.5
_CHECKPOINT_BYTES = 1 << 16
_MAX_LINE = 1 << 20
#: work items sent in one line
WORK_LINE = 256
#: seconds a worker that has reported the end of its work is given to exit on its own
_EXIT_GRACE = 2.0


def worker_command() -> list[str]:
    """The command that starts a worker (tests replace it to inject faults)."""
    return [sys.executable, "-m", "manifests.verify.worker"]


class WorkerUnavailable(RuntimeError):
    """No worker process could be started: the caller checks the documents itself."""


class DocWorker:
    """Checks documents in worker processes, on a thread of its own.

    Made with the early items (read at once); :meth:`submit` gives the work, :meth:`result`
    waits for its problems; :meth:`cancel` stops a worker whose work never comes.
    """

    def __init__(self, fd: int, early: list[DocItem]) -> None:
        self._fd = fd
        self._early = early
        self._work: list[list[Any]] = []
        self._items: list[DocItem] = []
        self._results: dict[int, list[P.Problem]] = {}
        self._error: BaseException | None = None
        self._submitted = threading.Event()
        self._cancelled = False
        #: the first item not yet checked when a worker could not start
        self.unchecked_from = 0
        self._first: subprocess.Popen[bytes] | None = self._spawn()
        self._thread = threading.Thread(target=self._run, name="offboard-doc-worker", daemon=True)
        self._thread.start()

    def submit(self, items: list[DocItem]) -> None:
        """Check ``items`` (early ones are recognised by their member's offset)."""
        by_offset = {e.entry.header_offset: k for k, e in enumerate(self._early)}
        for item in items:
            k = by_offset.get(item.entry.header_offset)
            if k is not None and self._early[k].entry == item.entry:
                self._work.append(["early", k, item.sha256, item.pages, item.facturx])
            else:
                self._work.append(["item", *item.to_wire()])
        self._items = items
        self._submitted.set()

    def cancel(self) -> None:
        if not self._submitted.is_set():
            self._cancelled = True
            self._submitted.set()
        self._thread.join()

    @property
    def partial(self) -> dict[int, list[P.Problem]]:
        """The problems found so far (after :meth:`result` raised)."""
        return self._results

    def result(self) -> dict[int, list[P.Problem]]:
        """Problems by item index (items without problems are absent).

        Raises :class:`WorkerUnavailable` if no worker could start; the items from
        :attr:`unchecked_from` on are then still to be checked.
        """
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._results

    # -- supervision -------------------------------------------------------------------------
    def _run(self) -> None:
        first = self._first
        assert first is not None and first.stdin is not None
        try:
            try:
                first.stdin.write(self._request({"early": [e.to_wire() for e in self._early]}))
                first.stdin.flush()
            except BrokenPipeError:
                pass
            self._submitted.wait()
            if self._cancelled:
                _stop(first)
                return
            self._supervise()
        except BaseException as exc:  # handed to the caller by result()
            _stop(first)
            self._error = exc

    def _request(self, body: dict[str, Any], careful: bool = False) -> bytes:
        head = {"fd": self._fd, "careful": careful}
        return json.dumps({**head, **body}, separators=(",", ":")).encode() + b"\n"

    def _supervise(self) -> None:
        start, careful, faults = 0, False, 0
        while start < len(self._items):
            self.unchecked_from = start
            done, confirmed, why = self._one_worker(start, careful)
            if done:
                return
            if not careful:
                careful, start = True, confirmed
                continue
            item = self._items[confirmed]
            self._results[confirmed] = [P.DocumentMismatch(item.rel, why)]
            faults += 1
            start = confirmed + 1
            if faults >= MAX_FAULTS:
                for i in range(start, len(self._items)):
                    self._results[i] = [
                        P.DocumentMismatch(
                            self._items[i].rel,
                            f"not checked: the PDF engine failed on {faults} files already",
                        )
                    ]
                return

    def _spawn(self) -> subprocess.Popen[bytes]:
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        return subprocess.Popen(
            worker_command(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            pass_fds=(self._fd,),
            env=env,
        )

    def _one_worker(self, start: int, careful: bool) -> tuple[bool, int, str]:
        """Run one worker from item ``start``: (finished, first unconfirmed item, fault)."""
        if self._first is not None:
            proc, self._first = self._first, None
            rows = self._work
            head: bytes | None = None
        else:
            proc = self._spawn()
            rows = [["item", *it.to_wire()] for it in self._items[start:]]
            head = self._request({}, careful)
        assert proc.stdin is not None and proc.stdout is not None
        writer = threading.Thread(
            target=_send, args=(proc.stdin, head, rows), name="offboard-doc-work", daemon=True
        )
        writer.start()
        confirmed, started, finished = start, False, False
        try:
            out = proc.stdout.fileno()
            pending = b""
            while True:
                ready, _, _ = select.select([out], [], [], SILENCE)
                if not ready:
                    return False, confirmed, f"the PDF engine did not finish within {SILENCE:.0f} s"
                chunk = os.read(out, 1 << 16)
                if not chunk:
                    break
                pending += chunk
                *lines, pending = pending.split(b"\n")
                if len(pending) > _MAX_LINE:
                    return False, confirmed, "the PDF engine's worker sent garbage"
                for line in lines:
                    state = self._line(line, start)
                    if state is None:
                        return False, confirmed, "the PDF engine's worker sent garbage"
                    kind, value = state
                    if kind == "S":
                        started = True
                    elif kind == "C":
                        confirmed = value
                    elif kind == "D":
                        finished = True
                        return True, len(self._items), ""
            code = proc.wait()
            if not started:
                raise WorkerUnavailable(f"the document worker did not start (exit status {code})")
            return False, confirmed, f"the PDF engine crashed on this file (exit status {code})"
        finally:
            _stop(proc, grace=_EXIT_GRACE if finished else 0.0)
            writer.join()

    def _line(self, line: bytes, start: int) -> tuple[str, int] | None:
        """Apply one protocol line; None if it is not one."""
        try:
            kind, index, *rest = line.decode("ascii").split("\t", 2)
            n = start + int(index)
            if kind == "P" and rest and start <= n < len(self._items):
                problems = json.loads(rest[0])
                if not isinstance(problems, list):
                    return None
                self._results[n] = [problem_from_wire(p) for p in problems]
                return kind, n
            if kind in ("S", "R", "C", "D") and not rest and start <= n <= len(self._items):
                return kind, n
        except (UnicodeDecodeError, ValueError):
            return None
        return None


def _send(stream: Any, head: bytes | None, rows: list[list[Any]]) -> None:
    """Write ``head`` (if any), then ``rows`` in lines of :data:`WORK_LINE`; close ``stream``.

    A worker that stops reading (it crashed, or was stopped) ends the writing quietly: the
    supervisor reports what became of it."""
    try:
        if head is not None:
            stream.write(head)
        for at in range(0, max(len(rows), 1), WORK_LINE):
            line = {"work": rows[at : at + WORK_LINE], "more": at + WORK_LINE < len(rows)}
            stream.write(json.dumps(line, separators=(",", ":")).encode() + b"\n")
            stream.flush()
        stream.close()
    except (OSError, ValueError):  # a broken pipe, or the stream closed by _stop
        pass


def _stop(proc: subprocess.Popen[bytes], grace: float = 0.0) -> None:
    """End ``proc``: at once, or, given ``grace`` seconds (a worker that said it is done),
    letting it exit on its own first."""
    if grace and proc.poll() is None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    for stream in (proc.stdin, proc.stdout):
        if stream is not None and not stream.closed:
            with contextlib.suppress(BrokenPipeError):
                stream.close()


# -- the worker ------------------------------------------------------------------------------
Check = Callable[[MemberData, DocItem, "Prepared | None"], list[P.Problem]]


def serve(check: Check = check_item) -> int:
    """The worker's main loop: read the request(s), check every item, report (see above)."""
    stdin, out = sys.stdin.buffer, sys.stdout.buffer
    first: Any = json.loads(stdin.readline())
    reader = MemberData(int(first["fd"]))
    careful = bool(first["careful"])
    out.write(b"S\t0\n")
    out.flush()
    early = [DocItem.from_wire(row) for row in first.get("early", [])]
    del first
    pre = [prepare(reader, e.entry, open_pdf=True) for e in early]
    i, written, last = 0, 0, time.monotonic()
    more = True
    while more:
        line = stdin.readline()
        if not line:
            return 1  # the verifier went away
        body: Any = json.loads(line)
        del line
        more = bool(body.get("more"))
        if i == 0:
            out.write(b"R\t0\n")
            out.flush()
        for row in body["work"]:
            item, prepared = _work_item(row, early, pre)
            problems = check(reader, item, prepared)
            if problems:
                text = json.dumps([p.to_dict() for p in problems], separators=(",", ":"))
                report = f"P\t{i}\t{text}\n".encode()
                out.write(report)
                written += len(report)
            i += 1
            now = time.monotonic()
            if careful or written > _CHECKPOINT_BYTES or now - last > _CHECKPOINT_SECONDS:
                out.write(f"C\t{i}\n".encode())
                out.flush()
                written, last = 0, now
        del body
    out.write(f"D\t{i}\n".encode())
    out.flush()
    return 0


def _work_item(
    row: list[Any], early: list[DocItem], pre: list[Prepared]
) -> tuple[DocItem, Prepared | None]:
    """The item a work row names: an early one (with what reading it found) or a new one."""
    if row[0] == "early":
        e = early[row[1]]
        facturx = row[4] if len(row) > 4 and isinstance(row[4], dict) else None
        return DocItem(e.rel, e.entry, row[2], row[3], facturx), pre[row[1]]
    return DocItem.from_wire(row[1:]), None


if __name__ == "__main__":
    from offboard.documents.worker import limit_memory
    from offboard.memory import hold_mmap_threshold

    limit_memory(MEMORY_LIMIT)
    hold_mmap_threshold()
    sys.exit(serve())
