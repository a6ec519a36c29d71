"""Where the accounts of a backup run are backed up: local worker processes, or a Dask cluster.

Both run the same task, :func:`offboard.backup.task.backup_account`, one account per task, and
give back each account's :class:`~offboard.backup.task.AccountResult` as it completes:

* :class:`LocalExecutor` (``--executor local``): ``--workers`` processes of this machine
  (default: one per core), started with ``spawn`` (a fresh interpreter: nothing of the parent,
  its threads or its locks, is inherited) and reused from account to account. Each worker
  does one account at a time; the parent watches every worker's process as well as its pipe,
  so a worker that dies (killed, out of memory) is reported as its account failing, and a new
  worker takes the next account.
* :class:`DaskExecutor` (``--executor dask://HOST:PORT``): a ``distributed.Client`` of the
  scheduler at ``tcp://HOST:PORT``; one task per account (``pure=False``), results taken as
  they complete. A task whose worker died more often than the scheduler's
  ``distributed.scheduler.allowed-failures`` (default 3; each time it is run again on another
  worker) is reported as its account failing.

``dask`` and ``distributed`` are imported only by :class:`DaskExecutor`.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import time
from abc import ABC, abstractmethod
from collections import deque
from typing import TYPE_CHECKING, Any

from offboard.backup.task import AccountResult, AccountTask, backup_account, failed
from offboard.errors import ConfigError, ExitCode

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

__all__ = ["DaskExecutor", "Executor", "LocalExecutor", "open_executor"]

#: seconds given to the Dask scheduler to answer before the run gives up
DASK_CONNECT_TIMEOUT = 20
#: seconds local workers have to stop after being asked (then they are killed)
STOP_TIMEOUT = 10.0


class Executor(ABC):
    """Runs account tasks, a few at a time, and hands back their results as they complete."""

    #: ``local`` or ``dask://HOST:PORT``, for the report
    name: str
    #: how many tasks to keep submitted at once (the run keeps this many accounts locked)
    slots: int
    #: whether a task may carry the key's passphrase (never over a network)
    carries_secrets: bool = False

    @abstractmethod
    def submit(self, key: int, task: AccountTask) -> None:
        """Start ``task`` (or queue it); ``key`` comes back with its result."""

    @abstractmethod
    def next_result(self) -> tuple[int, AccountResult]:
        """Wait for any submitted task to complete; its key and result."""

    @abstractmethod
    def close(self) -> None:
        """Stop the workers (or the client); tasks still running are abandoned."""

    @property
    def workers(self) -> int:
        return self.slots

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_executor(spec: str, workers: int | None) -> Executor:
    """The executor named by ``--executor`` (``local`` or ``dask://HOST:PORT``)."""
    if spec == "local":
        return LocalExecutor(workers or os.cpu_count() or 1)
    if spec.startswith("dask://"):
        address = spec[len("dask://") :].rstrip("/")
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise ConfigError(f"--executor {spec!r}: give dask://HOST:PORT (the scheduler)")
        return DaskExecutor(host, int(port), workers)
    raise ConfigError(f"--executor {spec!r}: give local or dask://HOST:PORT")


def _died(task: AccountTask, exitcode: int | None, started: float) -> AccountResult:
    if exitcode is not None and exitcode < 0:
        try:
            how = f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            how = f"killed by signal {-exitcode}"
    else:
        how = f"exit code {exitcode}"
    return failed(
        task.account,
        f"account {task.account!r}: the worker process died ({how}) while backing it up; "
        "nothing was stored under the archive's name",
        int(ExitCode.INTERRUPTED),
        started,
    )


# -- local processes --------------------------------------------------------------------------
def _worker_main(conn: Connection) -> None:
    """A local worker: back up each account sent, send its result, until told to stop."""
    with contextlib.suppress(KeyboardInterrupt, EOFError, BrokenPipeError):
        while True:
            task = conn.recv()
            if task is None:
                return
            conn.send(backup_account(task))


class _Worker:
    def __init__(self, process: BaseProcess, conn: Connection) -> None:
        self.process = process
        self.conn = conn
        self.job: tuple[int, AccountTask, float] | None = None


class LocalExecutor(Executor):
    """``workers`` local processes (see the module doc)."""

    name = "local"
    carries_secrets = True

    def __init__(self, workers: int) -> None:
        import multiprocessing

        if workers < 1:
            raise ConfigError("--workers: give at least 1")
        self.slots = workers
        self._context = multiprocessing.get_context("spawn")
        self._workers: list[_Worker] = []
        self._queue: deque[tuple[int, AccountTask]] = deque()

    def submit(self, key: int, task: AccountTask) -> None:
        self._queue.append((key, task))
        self._dispatch()

    def _dispatch(self) -> None:
        for worker in [w for w in self._workers if w.job is None and not w.process.is_alive()]:
            self._workers.remove(worker)  # died while idle: no account was lost
            worker.conn.close()
        while self._queue:
            idle = next((w for w in self._workers if w.job is None), None)
            if idle is None:
                if len(self._workers) >= self.slots:
                    return
                idle = self._start()
            key, task = self._queue.popleft()
            idle.job = (key, task, time.perf_counter())
            with contextlib.suppress(OSError):  # if it died already, its sentinel says so
                idle.conn.send(task)

    def _start(self) -> _Worker:
        ours, theirs = self._context.Pipe()
        process = self._context.Process(
            target=_worker_main, args=(theirs,), name="offboard-backup", daemon=True
        )
        process.start()
        theirs.close()
        worker = _Worker(process, ours)
        self._workers.append(worker)
        return worker

    def next_result(self) -> tuple[int, AccountResult]:
        from multiprocessing.connection import wait

        while True:
            busy = [w for w in self._workers if w.job is not None]
            if not busy:
                raise RuntimeError("next_result() with no task submitted")
            handles: list[Any] = [w.conn for w in busy] + [w.process.sentinel for w in busy]
            ready = wait(handles)
            for worker in busy:
                assert worker.job is not None
                key, task, started = worker.job
                if worker.conn in ready or worker.process.sentinel in ready:
                    result = self._receive(worker)
                    if result is None:  # it died: the account failed, a new worker follows
                        worker.process.join()
                        result = _died(task, worker.process.exitcode, started)
                        self._workers.remove(worker)
                        worker.conn.close()
                    worker.job = None
                    self._dispatch()
                    return key, result

    @staticmethod
    def _receive(worker: _Worker) -> AccountResult | None:
        """The worker's result, or None when it died without sending one."""
        try:
            if worker.conn.poll():
                result: AccountResult = worker.conn.recv()
                return result
        except (EOFError, OSError):
            pass
        return None

    def close(self) -> None:
        for worker in self._workers:
            with contextlib.suppress(OSError):
                worker.conn.send(None)
        busy = [w for w in self._workers if w.job is not None]
        if busy:  # interrupted: on a terminal Ctrl-C reached them too; else they are told
            deadline = time.monotonic() + 1.0
            for worker in busy:
                worker.process.join(max(0.0, deadline - time.monotonic()))
                if worker.process.is_alive() and worker.process.pid is not None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(worker.process.pid, signal.SIGINT)  # it cleans up, then stops
        deadline = time.monotonic() + STOP_TIMEOUT
        for worker in self._workers:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.conn.close()
        self._workers.clear()
        self._queue.clear()


# -- Dask -------------------------------------------------------------------------------------
class DaskExecutor(Executor):
    """One task per account on the Dask cluster whose scheduler is ``HOST:PORT``."""

    def __init__(self, host: str, port: int, workers: int | None) -> None:
        try:
            distributed: Any = importlib.import_module("distributed")  # untyped: kept as Any
        except ImportError as exc:
            raise ConfigError(
                "--executor dask://...: install offboard's dask extra (pip install "
                "'offboard[dask]')"
            ) from exc
        self.name = f"dask://{host}:{port}"
        address = f"tcp://{host}:{port}"
        try:
            self._client: Any = distributed.Client(
                address, timeout=DASK_CONNECT_TIMEOUT, set_as_default=False
            )
        except (OSError, TimeoutError) as exc:
            raise ConfigError(
                f"--executor {self.name}: cannot reach the Dask scheduler at {address}: {exc}"
            ) from exc
        threads = sum(self._client.nthreads().values()) or 1
        self._threads = workers or threads
        # one task queued behind each running one, so that no worker waits for the next
        self.slots = 2 * self._threads
        self._completed: Any = distributed.as_completed(loop=self._client.loop)
        self._keys: dict[Any, tuple[int, AccountTask, float]] = {}

    @property
    def workers(self) -> int:
        return self._threads

    def submit(self, key: int, task: AccountTask) -> None:
        future = self._client.submit(backup_account, task, pure=False, retries=0)
        self._keys[future] = (key, task, time.perf_counter())
        self._completed.add(future)

    def next_result(self) -> tuple[int, AccountResult]:
        from distributed import KilledWorker

        future: Any = next(self._completed)
        key, task, started = self._keys.pop(future)
        try:
            result: AccountResult = future.result()
        except KilledWorker as exc:
            result = failed(
                task.account,
                f"account {task.account!r}: the Dask worker running it died ({exc}); "
                "nothing was stored under the archive's name",
                int(ExitCode.INTERRUPTED),
                started,
            )
        except Exception as exc:
            result = failed(
                task.account,
                f"account {task.account!r}: the Dask task failed: {type(exc).__name__}: {exc}",
                int(ExitCode.INTERNAL),
                started,
            )
        finally:
            future.release()
        return key, result

    def close(self) -> None:
        for future in list(self._keys):
            future.cancel()
        self._keys.clear()
        self._client.close()
