"""Rendering the documents in worker processes while the database is being generated."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from pathlib import Path

from .db import mp_context
from .pdf import DocSpec, render_batch

Progress = Callable[[str, int, int], None]

#: documents per task sent to a worker
BATCH = 150


def _lower_priority() -> None:
    """Workers yield the CPU to the data generator and the database writer (the critical path):
    they render in the gaps, then at full speed once the data is written."""
    if hasattr(os, "nice"):
        with contextlib.suppress(OSError):
            os.nice(10)


class DocQueue:
    """Collects document specs and renders them in batches, in a pool of ``jobs`` processes.

    With ``jobs`` = 1, or when there are too few documents to be worth a pool, the documents
    are rendered in this process by :meth:`finish`.
    """

    def __init__(self, root: Path, jobs: int, progress: Progress | None = None) -> None:
        self.root = root
        self.jobs = max(1, jobs)
        self.progress = progress
        self.pending: list[DocSpec] = []
        self.futures: list[Future[int]] = []
        self.executor: ProcessPoolExecutor | None = None
        self.submitted = 0

    def add(self, spec: DocSpec) -> None:
        self.pending.append(spec)
        if len(self.pending) >= BATCH and self.jobs > 1:
            self._submit()

    def _submit(self) -> None:
        if not self.pending:
            return
        if self.executor is None:
            self.executor = ProcessPoolExecutor(
                max_workers=self.jobs, mp_context=mp_context(), initializer=_lower_priority
            )
        batch, self.pending = self.pending, []
        self.futures.append(self.executor.submit(render_batch, str(self.root), batch))
        self.submitted += len(batch)

    def finish(self) -> int:
        """Render what is left, wait for the workers; return the number of documents."""
        total = self.submitted + len(self.pending)
        done = 0
        if self.executor is None:
            batch, self.pending = self.pending, []
            for i in range(0, len(batch), BATCH):
                done += render_batch(str(self.root), batch[i : i + BATCH])
                if self.progress:
                    self.progress("documents", done, total)
            return done
        self._submit()
        for fut in as_completed(self.futures):
            done += fut.result()
            if self.progress:
                self.progress("documents", done, total)
        self.close()
        return done

    def close(self) -> None:
        """Stop the workers (after an error: cancel what has not started)."""
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
            self.executor = None
        self.futures = []
