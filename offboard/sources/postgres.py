"""PostgreSQL source: the reference schema in a PostgreSQL database, streamed as Arrow batches.

``postgresql://user@host:port/dbname?documents=/path/to/documents`` (``postgres://`` too). The
password is never part of the URL (a command line is visible to every user of the machine):
libpq reads it from ``PGPASSWORD``, ``~/.pgpass`` or ``PGPASSFILE``. Other libpq parameters
(``sslmode``, ``connect_timeout``...) pass through; ``documents`` names the folder that
document locators are relative to (without it, no document can be read).

Streaming. Each query runs as ``COPY (query) TO STDOUT (FORMAT binary)`` through ADBC's
PostgreSQL driver: the server sends rows as it produces them and the driver turns them into
Arrow record batches as they arrive, so a table of any size is read in constant memory, in
one pass and one round trip. (A server-side cursor streams too, one round trip per batch;
COPY cannot take bound parameters, so the account id is written into the query as a string
literal, quoted by the rules of ``standard_conforming_strings``, which the session turns on.)
The session is read-only and in UTC.

Types. Every column is converted in SQL to the text Arrow reads exactly, then cast by Arrow to
the exporter's type, as for SQLite: ``numeric`` by its digits (a value with more decimals than
the column allows is an error naming the record, never rounded), ``date`` as ``YYYY-MM-DD``
(whatever the server's DateStyle), ``timestamptz`` as the UTC instant
``YYYY-MM-DDTHH:MM:SSZ`` (a timestamp without time zone is taken as UTC; fractions of a second
make it an error, since exports keep whole seconds). So for the same data the CSV output is
byte for byte the SQLite source's.
"""

from __future__ import annotations

import hashlib
import re
import urllib.parse
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa

from offboard.errors import SchemaError, SourceError, SourceUnavailable

from .base import DocumentRef
from .mapping import canonical_query
from .records import DOCUMENT_COLUMNS, Materialized, document_refs, to_schema
from .sql import SqlSource

if TYPE_CHECKING:
    from exporters.base import DocumentSet, Table
    from offboard.backup.fingerprint import TableFingerprint

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: bytes of COPY data per Arrow batch. The driver's default, 16 MB, made the large account's
#: export peak at 314 MB; 1 MiB: 184 MB, as fast (BENCHMARKS.md)
BATCH_BYTES = 1 << 20
#: the session every connection starts with
SESSION = (
    "SET standard_conforming_strings = on",
    "SET TIME ZONE 'UTC'",
    "SET DateStyle = 'ISO, YMD'",
    "SET default_transaction_read_only = on",
)
_TIMESTAMP = (
    "CASE WHEN {x} IS NULL THEN NULL "
    "WHEN date_trunc('second', {x}) = {x} "
    "THEN to_char({x} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
    "ELSE to_char({x} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') END"
)


def parse_url(url: str) -> tuple[str, Path | None, str]:
    """(the libpq URI, the documents root, a description) of a ``postgresql:`` SOURCE."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise SourceError(f"source {url!r}: not a postgresql:// URL")
    if parts.password is not None:
        raise SourceError(
            "source URL: remove the password; give it in PGPASSWORD or ~/.pgpass "
            "(a command line is visible to other users)"
        )
    database = parts.path.lstrip("/")
    if not database:
        raise SourceError(f"source {url!r}: no database name (postgresql://host/DBNAME)")
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    root: Path | None = None
    kept = []
    for key, value in query:
        if key == "documents":
            root = Path(value) if value else None
        else:
            kept.append((key, value))
    libpq = urllib.parse.urlunsplit(
        ("postgresql", parts.netloc, parts.path, urllib.parse.urlencode(kept), "")
    )
    host = parts.hostname or "localhost"
    port = parts.port or 5432
    return libpq, root, f"PostgreSQL database {database} on {host}:{port}"


def literal(value: str) -> str:
    """``value`` as an SQL string literal (``standard_conforming_strings`` on)."""
    if "\x00" in value:
        raise SourceError("a value sent to PostgreSQL cannot hold a NUL character")
    return "'" + value.replace("'", "''") + "'"


def bind_account(query: str, account: str) -> str:
    """The exporter's ``query`` with its one ``?`` parameter replaced by the account literal."""
    if query.count("?") != 1:
        raise SchemaError("a table query takes the account as its only parameter, written ?")
    return query.replace("?", literal(account))


def _converted(name: str, t: pa.DataType) -> str:
    if not _IDENT.match(name):
        raise SchemaError(f"column name {name!r} is not a plain identifier")
    x = f'q."{name}"'
    if pa.types.is_integer(t):
        return f"CAST({x} AS BIGINT)"
    if pa.types.is_boolean(t):
        return f"CAST({x} AS BOOLEAN)"
    if pa.types.is_date(t):
        return f"to_char(CAST({x} AS DATE), 'YYYY-MM-DD')"
    if pa.types.is_timestamp(t):
        return _TIMESTAMP.format(x=f"CAST({x} AS TIMESTAMPTZ)")
    return f"CAST({x} AS TEXT)"


def typed_query(query: str, names: list[str], types: list[pa.DataType]) -> str:
    """Wrap ``query`` so that every column arrives as the text (or integer, boolean) Arrow
    casts exactly to its type."""
    columns = ", ".join(f'{_converted(n, t)} AS "{n}"' for n, t in zip(names, types, strict=True))
    return f"SELECT {columns} FROM ({query}) AS q"


class PostgresSource(SqlSource):
    schemes: ClassVar[tuple[str, ...]] = ("postgresql", "postgres")
    accounts_sql: ClassVar[str] = 'SELECT id, name FROM accounts ORDER BY id COLLATE "C"'
    length_function: ClassVar[str] = "octet_length"

    def __init__(self, url: str) -> None:
        self.url = url
        self._libpq, self.documents_root, self._description = parse_url(url)
        self._db: Any = None
        self._conn: Any = None
        self._materialized = Materialized()

    @classmethod
    def from_url(cls, url: str) -> PostgresSource:
        return cls(url)

    def describe(self) -> str:
        return self._description

    # -- connection ---------------------------------------------------------------------------
    def _connection(self) -> Any:
        if self._conn is None:
            import adbc_driver_manager
            import adbc_driver_postgresql

            try:
                self._db = adbc_driver_postgresql.connect(self._libpq)
                self._conn = adbc_driver_manager.AdbcConnection(self._db)
                for sql in SESSION:
                    self._execute(sql)
            except SourceError:
                raise
            except Exception as exc:
                self.close()
                raise SourceUnavailable(
                    f"{self._description}: cannot connect: {_first_line(exc)}"
                ) from exc
        return self._conn

    def _execute(self, sql: str) -> None:
        import adbc_driver_manager

        statement = adbc_driver_manager.AdbcStatement(self._conn)
        try:
            statement.set_sql_query(sql)
            statement.execute_update()
        finally:
            statement.close()

    def close(self) -> None:
        self._materialized.close()
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._db is not None:
            self._db.close()
            self._db = None

    def _query(self, sql: str, what: str) -> Iterator[pa.RecordBatch]:
        import adbc_driver_manager

        statement = adbc_driver_manager.AdbcStatement(self._connection())
        try:
            statement.set_options(**{"adbc.postgresql.batch_size_hint_bytes": str(BATCH_BYTES)})
            statement.set_sql_query(sql)
            stream, _ = statement.execute_query()
            reader = pa.RecordBatchReader._import_from_c(stream.address)
        except Exception as exc:
            statement.close()
            message = _first_line(exc)
            if _unavailable(message):
                raise SourceUnavailable(f"{what}: {message}") from exc
            raise SchemaError(f"{self.describe()}: {what}: the query failed: {message}") from exc
        try:
            yield from reader
        except (OSError, pa.ArrowException) as exc:
            raise SourceUnavailable(f"{what}: reading failed: {_first_line(exc)}") from exc
        finally:
            reader.close()
            statement.close()

    def _run(self, sql: str, parameter: str | None, what: str) -> list[dict[str, Any]]:
        return self._rows(sql if parameter is None else bind_account(sql, parameter), what)

    def _rows(self, sql: str, what: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for batch in self._query(sql, what):
            rows.extend(batch.to_pylist())
        return rows

    # -- tables -------------------------------------------------------------------------------
    def read_table(
        self, table: Table, account: str, *, batch_rows: int = 65536
    ) -> Iterator[pa.RecordBatch]:
        schema = table.schema
        sql = typed_query(self.table_query(table, account), schema.names, schema.types)
        offset = 0
        for raw in self._query(sql, f"table {table.name!r}"):
            if raw.num_rows == 0:
                continue
            yield to_schema(raw, schema, table, offset)
            offset += raw.num_rows

    def table_fingerprint(self, table: Table, account: str) -> TableFingerprint:
        """The table's fingerprint, computed by the server: one row per currency comes back.

        The digest is the sum of the first 64 bits of the MD5 of each record's text (the
        converted values, as :meth:`read_table` reads them): no record leaves the server.
        """
        from offboard.backup.fingerprint import TableFingerprint, money_text
        from offboard.csvio.writer import CHANGE_COLUMNS

        schema = table.schema
        sql = typed_query(self.table_query(table, account), schema.names, schema.types)
        stamps = {f.name for f in schema if pa.types.is_timestamp(f.type)}
        change = next((c for c in CHANGE_COLUMNS if c in stamps), None)
        money = table.money_columns
        row_hash = "CAST(CAST('x' || substr(md5(CAST(t AS TEXT)), 1, 16) AS BIT(64)) AS BIGINT)"
        columns = [
            't."currency"' if "currency" in schema.names else "CAST(NULL AS TEXT)",
            "count(*)",
            f'max(t."{change}")' if change else "CAST(NULL AS TEXT)",
            f"CAST(sum({row_hash}) AS TEXT)",
            *(f'CAST(sum(CAST(t."{m}" AS NUMERIC)) AS TEXT)' for m in money),
        ]
        names = ["g", "n", "c", "h", *(f"m{i}" for i in range(len(money)))]
        listed = ", ".join(f'{c} AS "{n}"' for c, n in zip(columns, names, strict=True))
        rows = self._rows(f"SELECT {listed} FROM ({sql}) AS t GROUP BY 1", f"table {table.name!r}")
        totals: dict[str, dict[str, Decimal]] = {m: {} for m in money}
        changes = [str(r["c"]) for r in rows if r["c"] is not None]
        for row in rows:
            for i, m in enumerate(money):
                if row[f"m{i}"] is not None:
                    code = "" if row["g"] is None else str(row["g"])
                    totals[m][code] = totals[m].get(code, Decimal(0)) + Decimal(row[f"m{i}"])
        digest = hashlib.sha256(repr(schema.names).encode("utf-8"))
        digest.update(str(sum(int(r["h"]) for r in rows) % 2**64).encode("ascii"))
        return TableFingerprint(
            records=sum(int(r["n"]) for r in rows),
            totals={m: {k: money_text(v) for k, v in sorted(t.items())} for m, t in totals.items()},
            last_change=max(changes) if changes else None,
            digest=digest.hexdigest(),
            method="pg-md5-sum",
        )

    # -- documents ----------------------------------------------------------------------------
    def table_query(self, table: Table, account: str) -> str:
        """``table``'s query with the account bound: the mapping's, wrapped to its canonical
        columns, or its own."""
        mapped = self.mapping.table(table)
        if mapped is None:
            return bind_account(table.query, account)
        probe = f"SELECT * FROM ({bind_account(mapped[0], account)}) AS m LIMIT 0"
        returned = self._schema(probe, f"table {table.name!r}").names
        return bind_account(canonical_query(self.mapping, table, returned, cents_sql), account)

    def _schema(self, sql: str, what: str) -> pa.Schema:
        import adbc_driver_manager

        statement = adbc_driver_manager.AdbcStatement(self._connection())
        try:
            statement.set_sql_query(sql)
            stream, _ = statement.execute_query()
            reader = pa.RecordBatchReader._import_from_c(stream.address)
            schema: pa.Schema = reader.schema
            reader.close()
        except Exception as exc:
            raise SchemaError(f"{what}: the mapped query failed: {_first_line(exc)}") from exc
        finally:
            statement.close()
        return schema

    def read_documents(self, documents: DocumentSet, account: str) -> Iterator[DocumentRef]:
        names = list(DOCUMENT_COLUMNS)
        query = bind_account(self.mapping.document_query(documents), account)
        sql = typed_query(query, names, [pa.string()] * len(names))
        for batch in self._query(sql, f"documents {documents.kind!r}"):
            yield from document_refs(documents.kind, batch)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _unavailable(message: str) -> bool:
    lowered = message.lower()
    return any(
        word in lowered
        for word in ("connection", "could not connect", "timeout", "terminat", "server closed")
    )


def cents_sql(expr: str) -> str:
    """PostgreSQL: the exact decimal text of the whole cents ``expr`` (text Arrow then
    refuses, naming the record, when the value is not a whole number)."""
    n = f"CAST({expr} AS NUMERIC)"
    return (
        f"CASE WHEN {expr} IS NULL THEN NULL WHEN {n} <> trunc({n}) "
        f"THEN 'not whole cents: ' || CAST({expr} AS TEXT) "
        f"ELSE CAST(CAST({n} / 100 AS NUMERIC(38,2)) AS TEXT) END"
    )
