"""Restoring into PostgreSQL: one transaction, rows streamed in with ``COPY``.

``postgresql://user@host:port/dbname?documents=/path/to/documents``, as for the PostgreSQL
source (no password in the URL: libpq reads ``PGPASSWORD`` or ``~/.pgpass``). The database
must exist; if it holds none of the reference schema's tables, the restore creates them (the
DDL of :func:`offboard.demo.postgres.postgres_schema`) in its transaction. Every table is
appended through ADBC's bulk ingestion, one ``COPY ... FROM STDIN (FORMAT binary)`` per table
fed batch by batch, with the columns' own types (``numeric``, ``date``, ``timestamptz``,
``boolean``). Nothing is visible to other sessions before the one ``COMMIT``; any failure
rolls everything back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from offboard.errors import (
    OffboardError,
    OutputError,
    OutputExists,
    RecordError,
    SchemaError,
    SourceError,
    SourceUnavailable,
)
from offboard.restore.plan import SCHEMA_TABLES
from offboard.restore.target import Target, ingest

#: the session a restore runs in
SESSION = ("SET standard_conforming_strings = on", "SET TIME ZONE 'UTC'")


class PostgresTarget(Target):
    def __init__(self, url: str) -> None:
        from offboard.sources.postgres import parse_url

        self.url = url
        try:
            self._libpq, self.documents_root, self.description = parse_url(url)
        except SourceError as exc:
            raise OutputError(f"--into: {exc}") from None
        self._db: Any = None
        self._conn: Any = None

    def begin(self, account: str) -> None:
        import adbc_driver_manager
        import adbc_driver_postgresql

        from offboard.sources.postgres import literal

        try:
            self._db = adbc_driver_postgresql.connect(self._libpq)
            self._conn = adbc_driver_manager.AdbcConnection(self._db)
            for sql in SESSION:
                self._execute(sql)
            self._conn.set_options(**{"adbc.connection.autocommit": "false"})
        except Exception as exc:
            self.abort()
            raise SourceUnavailable(f"{self.description}: cannot connect: {_first(exc)}") from exc
        tables = ", ".join(literal(t) for t in SCHEMA_TABLES)
        present = {
            r["table_name"]
            for r in self._rows(
                "SELECT table_name FROM information_schema.tables "
                f"WHERE table_schema = current_schema() AND table_name IN ({tables})"
            )
        }
        if not present:
            from offboard.demo.postgres import postgres_schema

            for statement in postgres_schema().split(";"):
                if statement.strip():
                    self._execute(statement)
        elif len(present) < len(SCHEMA_TABLES):
            missing = [t for t in SCHEMA_TABLES if t not in present]
            raise SchemaError(
                f"{self.description} is not in the reference schema: it has no table "
                f"{', '.join(missing)}"
            )
        elif self._rows(f"SELECT 1 FROM accounts WHERE id = {literal(account)}"):
            raise OutputExists(
                f"account {account!r} already exists in {self.description}: restore into "
                "another database, or remove the account first"
            )

    def insert(self, table: str, schema: pa.Schema, batches: Iterator[pa.RecordBatch]) -> int:
        return ingest(self._conn, table, schema, batches, _write_error)

    def commit(self) -> None:
        try:
            self._conn.commit()
        except Exception as exc:
            raise OutputError(f"{self.description}: the commit failed: {_first(exc)}") from exc
        self._close()

    def abort(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.rollback()
        self._close()

    # -- helpers ----------------------------------------------------------------------------
    def _close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
        if self._db is not None:
            with contextlib.suppress(Exception):
                self._db.close()
            self._db = None

    def _execute(self, sql: str) -> None:
        import adbc_driver_manager

        statement = adbc_driver_manager.AdbcStatement(self._conn)
        try:
            statement.set_sql_query(sql)
            statement.execute_update()
        except Exception as exc:
            raise OutputError(f"{self.description}: {_first(exc)}") from exc
        finally:
            statement.close()

    def _rows(self, sql: str) -> list[dict[str, Any]]:
        import adbc_driver_manager

        statement = adbc_driver_manager.AdbcStatement(self._conn)
        try:
            statement.set_sql_query(sql)
            stream, _ = statement.execute_query()
            reader = pa.RecordBatchReader._import_from_c(stream.address)
            rows: list[dict[str, Any]] = reader.read_all().to_pylist()
            reader.close()
        except Exception as exc:
            raise OutputError(f"{self.description}: {_first(exc)}") from exc
        finally:
            statement.close()
        return rows


def _write_error(table: str, exc: BaseException) -> OffboardError:
    text = str(exc).strip()
    message = _first(exc)
    detail = next((line.strip() for line in text.splitlines() if "DETAIL" in line), "")
    if "violates" in text or "constraint" in text.lower():
        return RecordError(f"table {table!r}: a record was refused: {message} {detail}".rstrip())
    return OutputError(f"table {table!r}: writing failed: {message}")


def _first(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
