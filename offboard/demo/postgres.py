"""The reference schema in PostgreSQL, and a loader that copies a demo database into it.

The SQLite reference schema (``schema.sql``) stores money, dates and timestamps as text, as
SQLite must. In PostgreSQL the same tables have their proper types: ``numeric(18,2)`` for
money, ``numeric(5,2)`` for VAT rates, ``numeric(15,3)`` for quantities, ``date``,
``timestamptz``, ``boolean`` and ``bigint``; text columns are ``COLLATE "C"``, so that they
sort by their bytes as SQLite's do, and an export reads the rows in the same order from both.
:func:`postgres_schema` derives this DDL from ``schema.sql`` (one list of tables and columns
for both), with each column's type taken from the exporters' Arrow types. The termination
gate's own tables are not part of it (the gate keeps its state in SQLite sources only).

:func:`load_demo` copies every table of a demo database (every account) into an empty
PostgreSQL database, in batches, through the same ADBC driver the PostgreSQL source reads with.
"""

from __future__ import annotations

import re
import sqlite3
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

SCHEMA_SQL = Path(__file__).with_name("schema.sql")
#: rows copied per batch
LOAD_BATCH = 50_000

_ARROW_TO_PG = {
    "decimal128(18, 2)": "NUMERIC(18,2)",
    "decimal128(5, 2)": "NUMERIC(5,2)",
    "decimal128(15, 3)": "NUMERIC(15,3)",
    "date32[day]": "DATE",
    "timestamp[s, tz=UTC]": "TIMESTAMPTZ",
    "bool": "BOOLEAN",
    "int64": "BIGINT",
}
#: columns no exporter reads under their own name (the gate's, the documents' paths)
_EXTRA = {
    "cancellation_requested_at": "TIMESTAMPTZ",
    "cancellation_effective_on": "DATE",
    "terminated_at": "TIMESTAMPTZ",
}
_COLUMN = re.compile(r"^(\s+)([a-z_][a-z0-9_]*)(\s+)(TEXT|INTEGER)\b(.*)$")


def column_types() -> dict[str, str]:
    """PostgreSQL type per column name, from the exporters' Arrow types (text otherwise)."""
    from exporters import select

    found: dict[str, str] = dict(_EXTRA)
    for exporter in select(None):
        for table in exporter.tables:
            for field in table.schema:
                pg = _ARROW_TO_PG.get(str(field.type))
                if pg is not None and found.setdefault(field.name, pg) != pg:
                    raise ValueError(f"column {field.name!r} has two types")
    return found


def postgres_schema() -> str:
    """The reference schema's DDL for PostgreSQL (without the termination gate's tables)."""
    types = column_types()
    out: list[str] = []
    until = ""  # skipping a statement up to the line that ends like this
    for line in SCHEMA_SQL.read_text(encoding="utf-8").splitlines():
        if until:
            until = "" if line.rstrip().endswith(until) else until
            continue
        if line.startswith("PRAGMA") or line.startswith("--"):
            continue
        if line.startswith("CREATE TRIGGER"):  # SQLite's; the gate's tables only
            until = "END;"
            continue
        if re.match(r"CREATE (TABLE|INDEX)\b.*\boffboard_", line):
            until = "" if line.rstrip().endswith(";") else ");"
            continue
        m = _COLUMN.match(line)
        if m:
            indent, name, gap, kind, rest = m.groups()
            pg = types.get(name, "BIGINT" if kind == "INTEGER" else 'TEXT COLLATE "C"')
            rest = re.sub(r"\s*--.*$", "", rest)
            line = f"{indent}{name}{gap}{pg}{rest}"
        else:
            line = re.sub(r"\s*--.*$", "", line)
        if line.strip():
            out.append(line)
    return "\n".join(out) + "\n"


def tables() -> list[str]:
    """The reference schema's tables, in the order they must be filled (references first)."""
    ddl = postgres_schema()
    return re.findall(r"^CREATE TABLE (\w+)", ddl, flags=re.MULTILINE)


def load_demo(db: Path, url: str) -> dict[str, int]:
    """Create the reference schema in the empty PostgreSQL database ``url`` and copy every
    table of the SQLite demo database ``db`` into it; return the rows copied per table."""
    import adbc_driver_manager
    import adbc_driver_postgresql

    ddl = postgres_schema()
    copied: dict[str, int] = {}
    database = adbc_driver_postgresql.connect(url)
    conn = adbc_driver_manager.AdbcConnection(database)
    try:
        # one transaction: a failed load leaves the database as it was
        conn.set_options(**{"adbc.connection.autocommit": "false"})
        _execute(conn, ddl)
        src = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            for table in tables():
                copied[table] = _copy_table(src, conn, table, ddl)
        finally:
            src.close()
        conn.commit()
    finally:
        conn.close()
        database.close()
    return copied


def load_into(db: Path, url: str, documents: Path) -> str:
    """:func:`load_demo` for the command line: errors as offboard errors; the source URL."""
    from offboard.errors import SourceError, SourceUnavailable
    from offboard.sources.postgres import parse_url

    libpq, _, description = parse_url(url)
    try:
        load_demo(db, libpq)
    except Exception as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "connect" in message.lower():
            raise SourceUnavailable(f"{description}: cannot connect: {message}") from exc
        raise SourceError(f"{description}: the demo could not be loaded: {message}") from exc
    query = urllib.parse.urlencode({"documents": str(documents.resolve())})
    return f"{libpq}{'&' if '?' in libpq else '?'}{query}"


def _execute(conn: Any, sql: str) -> None:
    import adbc_driver_manager

    for statement_sql in (s.strip() for s in sql.split(";")):
        if not statement_sql:
            continue
        statement = adbc_driver_manager.AdbcStatement(conn)
        try:
            statement.set_sql_query(statement_sql)
            statement.execute_update()
        finally:
            statement.close()


def _copy_table(src: sqlite3.Connection, conn: Any, table: str, ddl: str) -> int:
    import adbc_driver_manager

    schema = _arrow_schema(table, ddl)
    names = ", ".join(f'"{n}"' for n in schema.names)
    cursor = src.execute(f'SELECT {names} FROM "{table}" ORDER BY rowid')
    batches = _batches(cursor, schema)
    reader = pa.RecordBatchReader.from_batches(schema, batches)
    statement = adbc_driver_manager.AdbcStatement(conn)
    try:
        statement.set_options(
            **{
                "adbc.ingest.target_table": table,
                "adbc.ingest.mode": "adbc.ingest.mode.append",
            }
        )
        statement.bind_stream(reader)
        count = statement.execute_update()
    finally:
        statement.close()
    return int(count) if count is not None and count >= 0 else 0


def _batches(cursor: sqlite3.Cursor, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    while rows := cursor.fetchmany(LOAD_BATCH):
        columns = list(zip(*rows, strict=True))
        arrays = []
        for field, values in zip(schema, columns, strict=True):
            if pa.types.is_boolean(field.type):
                arrays.append(pa.array([None if v is None else bool(v) for v in values]))
            elif pa.types.is_integer(field.type):
                arrays.append(pa.array(values, pa.int64()))
            else:
                arrays.append(pa.array(values, pa.string()).cast(field.type))
        yield pa.RecordBatch.from_arrays(arrays, schema=schema)


_PG_TO_ARROW = {
    "NUMERIC(18,2)": pa.decimal128(18, 2),
    "NUMERIC(5,2)": pa.decimal128(5, 2),
    "NUMERIC(15,3)": pa.decimal128(15, 3),
    "DATE": pa.date32(),
    "TIMESTAMPTZ": pa.timestamp("us", tz="UTC"),
    "BOOLEAN": pa.bool_(),
    "BIGINT": pa.int64(),
}


def _arrow_schema(table: str, ddl: str) -> pa.Schema:
    body = re.search(rf"^CREATE TABLE {table} \((.*?)^\);", ddl, flags=re.MULTILINE | re.DOTALL)
    assert body is not None, table
    fields = []
    for line in body.group(1).splitlines():
        m = re.match(r"\s+([a-z_][a-z0-9_]*)\s+(NUMERIC\(\d+,\d+\)|[A-Z]+)", line)
        if m and m[1] not in ("unique", "primary", "foreign", "check"):
            fields.append(pa.field(m[1], _PG_TO_ARROW.get(m[2], pa.string())))
    return pa.schema(fields)
