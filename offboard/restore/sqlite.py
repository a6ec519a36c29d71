"""Restoring into SQLite: a new database under a temporary name, or one transaction.

A new database (the file does not exist) is created with the reference schema
(``offboard/demo/schema.sql``) under a hidden temporary name beside the final one, filled,
committed and synced, and only then linked to its final name (a link, not a rename, so that a
file that appeared meanwhile is never overwritten): the final name holds a whole restore or
nothing. Into an existing database the restore is one transaction, which SQLite makes atomic.

Values are stored the way the reference schema stores them: money and other decimals, dates
and timestamps as their exact text (``'45714.00'``, ``'2025-03-31'``,
``'2025-03-31T10:00:00Z'``), booleans as ``0``/``1``. Foreign keys are enforced, checked at
the commit (so a credit note may come before the invoice it credits).
"""

from __future__ import annotations

import contextlib
import errno
import os
import urllib.parse
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import pyarrow as pa

from offboard.arrowutil import strings
from offboard.csvio.dialects import STANDARD
from offboard.errors import (
    OffboardError,
    OutputError,
    OutputExists,
    RecordError,
    SchemaError,
    SourceError,
)
from offboard.fsutil import fsync_dir
from offboard.restore.plan import SCHEMA_TABLES
from offboard.restore.target import Target, ingest
from offboard.restore.values import format_cells


class SQLiteTarget(Target):
    def __init__(self, path: Path, url: str) -> None:
        self.url = url
        self.path = path
        self.description = f"SQLite database {path.name}"
        self.documents_root = path.parent / f"{path.stem}-documents"
        self._temp: Path | None = None
        self._db: Any = None
        self._conn: Any = None
        self._in_transaction = False

    @classmethod
    def from_url(cls, url: str) -> SQLiteTarget:
        from offboard.sources.sqlite import parse_url

        try:
            return cls(parse_url(url), url)
        except SourceError as exc:
            raise OutputError(f"--into {url!r}: {exc}") from None

    # -- life cycle -------------------------------------------------------------------------
    def begin(self, account: str) -> None:
        if self.path.exists() or self.path.is_symlink():
            self._existing(account)
        else:
            self._new()

    def _existing(self, account: str) -> None:
        from offboard.sources.sqlite import check_database

        try:
            check_database(self.path, self.url)
        except SourceError:
            raise OutputError(
                f"--into {self.url!r}: {str(self.path)!r} exists and is not an SQLite database"
            ) from None
        self._connect(self.path)
        names = {r["name"] for r in self._rows("SELECT name FROM sqlite_master", [])}
        missing = [t for t in SCHEMA_TABLES if t not in names]
        if missing:
            raise SchemaError(
                f"{self.description} is not in the reference schema: it has no table "
                f"{', '.join(missing)}"
            )
        self._transaction()
        if self._rows("SELECT 1 FROM accounts WHERE id = ?", [account]):
            raise OutputExists(
                f"account {account!r} already exists in {self.description} ({self.path}): "
                "restore into another database, or remove the account first"
            )

    def _new(self) -> None:
        import sqlite3

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create {str(self.path.parent)!r}: {exc.strerror}") from exc
        self._temp = self.path.with_name(f".{self.path.name}.restore-{os.getpid()}")
        self._unlink_temp()
        schema = (files("offboard.demo") / "schema.sql").read_text(encoding="utf-8")
        try:
            conn = sqlite3.connect(self._temp)
            try:
                conn.executescript(schema)
            finally:
                conn.close()
        except (OSError, sqlite3.Error) as exc:
            raise OutputError(f"cannot create {str(self._temp)!r}: {exc}") from exc
        self._connect(self._temp)
        # a temporary file, synced before it gets its name: no journal needed on the way
        self._rows("PRAGMA journal_mode = MEMORY", [])
        self._execute("PRAGMA synchronous = OFF")
        self._transaction()

    def _connect(self, path: Path) -> None:
        import adbc_driver_manager
        import adbc_driver_sqlite

        uri = "file:" + urllib.parse.quote(str(path.resolve()))
        try:
            self._db = adbc_driver_sqlite.connect(uri)
            self._conn = adbc_driver_manager.AdbcConnection(self._db)
        except Exception as exc:
            raise OutputError(f"cannot open {str(path)!r}: {_first_line(exc)}") from exc
        self._execute("PRAGMA foreign_keys = ON")

    def _transaction(self) -> None:
        self._conn.set_options(**{"adbc.connection.autocommit": "false"})
        self._in_transaction = True
        # checked at the commit: rows may refer to rows of the same table that come later
        self._execute("PRAGMA defer_foreign_keys = ON")

    def insert(self, table: str, schema: pa.Schema, batches: Iterator[pa.RecordBatch]) -> int:
        stored = pa.schema([pa.field(f.name, _storage_type(f.type)) for f in schema])
        converted = (_stored(batch, stored) for batch in batches)
        return ingest(self._conn, table, stored, converted, _write_error)

    def prepare(self) -> None:
        if self._temp is None:
            return
        self._commit_transaction()
        self._close()
        try:
            fd = os.open(self._temp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise OutputError(f"cannot sync {str(self._temp)!r}: {exc.strerror}") from exc

    def commit(self) -> None:
        if self._temp is None:
            self._commit_transaction()
            self._close()
            return
        appeared = OutputExists(
            f"{str(self.path)!r} appeared while the restore was running; it was left as is"
        )
        try:
            os.link(self._temp, self.path)  # never replaces a file, unlike a rename
        except FileExistsError:
            raise appeared from None
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK):
                raise OutputError(f"cannot name the database {str(self.path)!r}: {exc}") from exc
            if self.path.exists():  # a file system without hard links
                raise appeared from None
            os.rename(self._temp, self.path)
        self._unlink_temp()
        fsync_dir(self.path.parent)

    def abort(self) -> None:
        if self._conn is not None and self._in_transaction:
            with contextlib.suppress(Exception):
                self._conn.rollback()
        self._close()
        if self._temp is not None:
            self._unlink_temp()

    # -- helpers ----------------------------------------------------------------------------
    def _commit_transaction(self) -> None:
        try:
            self._conn.commit()
        except Exception as exc:
            if "FOREIGN KEY" in str(exc):
                raise self._dangling() from exc
            raise OutputError(f"{self.description}: the commit failed: {_first_line(exc)}") from exc
        self._in_transaction = False

    def _dangling(self) -> RecordError:
        """The first record whose reference points nowhere (the commit refused it)."""
        found = self._rows("PRAGMA foreign_key_check", [])
        if not found:
            return RecordError(f"{self.description}: a record refers to a missing record")
        table, rowid, parent, fk = (found[0][k] for k in ("table", "rowid", "parent", "fkid"))
        keys = self._rows(f'PRAGMA foreign_key_list("{table}")', [])
        column = next((k["from"] for k in keys if k["id"] == fk), "?")
        row = self._rows(f'SELECT * FROM "{table}" WHERE rowid = ?', [str(rowid)])
        ident = row[0].get("id", rowid) if row else rowid
        value = row[0].get(column) if row else None
        return RecordError(
            f"table {table!r}, record id={ident!r}: column {column!r} refers to {parent} "
            f"{value!r}, which the archive does not hold ({len(found)} such reference(s))"
        )

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._db.close()
            self._conn = self._db = None
            self._in_transaction = False

    def _unlink_temp(self) -> None:
        assert self._temp is not None
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{self._temp}{suffix}").unlink(missing_ok=True)

    def _execute(self, sql: str) -> None:
        import adbc_driver_manager

        statement = adbc_driver_manager.AdbcStatement(self._conn)
        try:
            statement.set_sql_query(sql)
            statement.execute_update()
        finally:
            statement.close()

    def _rows(self, sql: str, params: list[str]) -> list[dict[str, Any]]:
        import adbc_driver_manager

        statement = adbc_driver_manager.AdbcStatement(self._conn)
        try:
            statement.set_sql_query(sql)
            if params:
                names = [str(i) for i in range(len(params))]
                bound = pa.RecordBatch.from_arrays([strings([p]) for p in params], names=names)
                statement.bind(bound)
            stream, _ = statement.execute_query()
            reader = pa.RecordBatchReader._import_from_c(stream.address)
            rows: list[dict[str, Any]] = reader.read_all().to_pylist()
            reader.close()
        except Exception as exc:
            raise OutputError(f"{self.description}: {_first_line(exc)}") from exc
        finally:
            statement.close()
        return rows


def _storage_type(t: pa.DataType) -> pa.DataType:
    """How the reference schema stores a value of the export's Arrow type ``t``."""
    if pa.types.is_boolean(t) or pa.types.is_integer(t):
        return pa.int64()
    return pa.string()


def _stored(batch: pa.RecordBatch, stored: pa.Schema) -> pa.RecordBatch:
    columns = []
    for column in batch.columns:
        t = column.type
        if pa.types.is_decimal(t) or pa.types.is_date(t) or pa.types.is_timestamp(t):
            column = format_cells(column, STANDARD)
        elif pa.types.is_boolean(t):
            column = column.cast(pa.int64())
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, schema=stored)


def _write_error(table: str, exc: BaseException) -> OffboardError:
    message = _first_line(exc).split("failed to execute: ", 1)[-1]
    if "constraint" in message.lower():
        return RecordError(f"table {table!r}: a record was refused: {message}")
    return OutputError(f"table {table!r}: writing failed: {message}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
