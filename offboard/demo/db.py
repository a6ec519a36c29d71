"""Building the demo database: the reference schema, bulk inserts in a writer process.

The generator appends rows to per-table buffers; full buffers are serialised with ``marshal``
(rows hold only text, integers and NULL) and sent, in order, to a writer process that owns the
SQLite connection. Generating rows (Python) and inserting them (SQLite's B-trees) thus run on
two cores, and the database is written in exactly the same order as by a single process, so
its bytes do not change. The writer builds the secondary indexes after the bulk insert, runs
ANALYZE and switches to a normal (DELETE) journal.
"""

from __future__ import annotations

import contextlib
import marshal
import multiprocessing
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterable
from importlib import resources
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, NoReturn

Row = tuple[object, ...]
Progress = Callable[[str, int, int], None]

#: rows buffered per table before they are sent to the writer
FLUSH_ROWS = 50_000
#: messages the writer may hold before the generator waits for it
BACKLOG = 12

_PRAGMAS = (
    "journal_mode = OFF",
    "synchronous = OFF",
    "foreign_keys = OFF",
    "temp_store = MEMORY",
    "cache_size = -262144",
    "locking_mode = EXCLUSIVE",
)


def schema_sql() -> str:
    """The text of the reference schema (offboard/demo/schema.sql)."""
    return resources.files("offboard.demo").joinpath("schema.sql").read_text(encoding="utf-8")


def schema_statements() -> tuple[list[str], list[str], dict[str, list[str]]]:
    """(CREATE TABLE statements, CREATE INDEX and CREATE TRIGGER statements, columns of each
    table), in file order; SQLite's own tables (``sqlite_sequence``) are left to SQLite."""
    scratch = sqlite3.connect(":memory:")
    try:
        scratch.executescript(schema_sql())
        tables: list[str] = []
        indexes: list[str] = []
        columns: dict[str, list[str]] = {}
        for kind, name, sql in scratch.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid"
        ):
            if name.startswith("sqlite_"):
                continue
            if kind == "table":
                tables.append(sql)
                columns[name] = [r[1] for r in scratch.execute(f"PRAGMA table_info({name})")]
            elif kind in ("index", "trigger"):
                indexes.append(sql)
        return tables, indexes, columns
    finally:
        scratch.close()


def mp_context() -> multiprocessing.context.BaseContext:
    """fork when this process runs no other thread (fast, and no re-import of ``__main__``);
    otherwise forkserver (a caller showing a progress bar from a thread), else spawn."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


class WriterFailed(RuntimeError):
    """The writer process stopped with an error (its message is the writer's)."""


class Sink:
    """Buffered inserts into the tables of the schema, written by a separate process."""

    def __init__(self, path: Path) -> None:
        _, _, self.columns = schema_statements()
        self._buffers: dict[str, list[Row]] = {t: [] for t in self.columns}
        self.counts: dict[str, int] = dict.fromkeys(self.columns, 0)
        #: per table, functions shown its rows just before they are sent (see :meth:`observe`)
        self._observers: dict[str, list[Callable[[list[Row]], None]]] = {}
        ctx = mp_context()
        data_recv, self._data = ctx.Pipe(duplex=False)
        self._results, result_send = ctx.Pipe(duplex=False)
        self._proc: Any = ctx.Process(  # type: ignore[attr-defined]
            target=writer_main,
            args=(str(path), data_recv, result_send, self._data, self._results),
            name="demo-db-writer",
        )
        self._proc.start()
        data_recv.close()
        result_send.close()

    def add(self, table: str, row: Row) -> None:
        buf = self._buffers[table]
        buf.append(row)
        if len(buf) >= FLUSH_ROWS:
            self.flush(table)

    def extend(self, table: str, rows: Iterable[Row]) -> None:
        buf = self._buffers[table]
        buf.extend(rows)
        if len(buf) >= FLUSH_ROWS:
            self.flush(table)

    def buffer(self, table: str) -> list[Row]:
        """The table's buffer, for hot loops that append to it directly (then :meth:`flush`)."""
        return self._buffers[table]

    def observe(self, table: str, fn: Callable[[list[Row]], None]) -> None:
        """Show ``fn`` every row of ``table`` written from now on, in order, just before it is
        sent (a batch at a time: ``fn`` must not keep or change the list)."""
        self._observers.setdefault(table, []).append(fn)

    def stop_observing(self) -> None:
        self._observers.clear()

    def flush(self, table: str | None = None) -> None:
        for t in [table] if table else list(self._buffers):
            buf = self._buffers[t]
            if buf:
                for fn in self._observers.get(t, ()):
                    fn(buf)
                self._send((t, buf))
                self.counts[t] += len(buf)
                buf.clear()

    def _send(self, message: tuple[str, list[Row]]) -> None:
        try:
            self._data.send_bytes(marshal.dumps(message))
        except OSError:
            self._raise_failure()

    def _raise_failure(self) -> NoReturn:
        reason = "the writer process stopped"
        try:
            while self._results.poll(5):
                kind, *rest = self._results.recv()
                if kind == "error":
                    reason = str(rest[0])
                    break
        except (EOFError, OSError):
            pass
        raise WriterFailed(f"demo database: {reason}")

    def start_finish(self) -> None:
        """Flush everything and ask the writer to index, analyze and close the database."""
        self.flush()
        self._send(("", []))

    def wait_finished(self, progress: Progress | None = None) -> None:
        """Wait until the database is complete and closed (relaying the writer's progress)."""
        while True:
            try:
                kind, *rest = self._results.recv()
            except (EOFError, OSError):
                self._raise_failure()
            if kind == "progress" and progress:
                progress(str(rest[0]), int(rest[1]), int(rest[2]))
            elif kind == "done":
                self._proc.join()
                return
            elif kind == "error":
                raise WriterFailed(f"demo database: {rest[0]}")

    def close(self) -> None:
        """Stop the writer (after an error: it abandons the database) and wait for it."""
        self._data.close()
        self._proc.join(30)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()
        self._results.close()


class _Writer:
    def __init__(self, path: str) -> None:
        tables, self.indexes, columns = schema_statements()
        self.conn = sqlite3.connect(path, isolation_level=None)
        for pragma in _PRAGMAS:
            self.conn.execute(f"PRAGMA {pragma}")
        self.conn.execute("BEGIN")
        for sql in tables:
            self.conn.execute(sql)
        self.insert = {
            t: f"INSERT INTO {t} VALUES ({', '.join('?' * len(cols))})"
            for t, cols in columns.items()
        }

    def finish(self, progress: Progress) -> None:
        self.conn.execute("COMMIT")
        total = len(self.indexes) + 1
        for i, sql in enumerate(self.indexes):
            progress("indexes", i, total)
            self.conn.execute(sql)
        progress("indexes", len(self.indexes), total)
        self.conn.execute("PRAGMA analysis_limit = 1000")
        self.conn.execute("ANALYZE")
        self.conn.execute("PRAGMA locking_mode = NORMAL")
        self.conn.execute("PRAGMA journal_mode = DELETE")
        progress("indexes", total, total)


def writer_main(path: str, data: Connection, results: Connection, *parent_ends: Connection) -> None:
    """The writer process: insert what arrives on ``data`` until told to finish.

    ``parent_ends`` are the generator's ends of the two pipes, which a forked writer inherits:
    closing them lets the writer see the end of ``data`` when the generator closes its end.
    """
    for end in parent_ends:
        end.close()
    backlog: queue.Queue[bytes | None] = queue.Queue(maxsize=BACKLOG)

    def receive() -> None:  # keeps the pipe drained while the main thread inserts
        try:
            while True:
                backlog.put(data.recv_bytes())
        except (EOFError, OSError):
            backlog.put(None)

    threading.Thread(target=receive, daemon=True).start()
    writer: _Writer | None = None
    try:
        writer = _Writer(path)
        while True:
            message = backlog.get()
            if message is None:
                return  # the generator gave up: leave the temporary file to be removed
            table, rows = marshal.loads(message)
            if table:
                writer.conn.executemany(writer.insert[table], rows)
                continue
            writer.finish(lambda stage, done, total: results.send(("progress", stage, done, total)))
            writer.conn.close()
            writer = None
            results.send(("done",))
            return
    except BaseException as exc:
        with contextlib.suppress(OSError):
            results.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        if writer is not None:
            writer.conn.close()
