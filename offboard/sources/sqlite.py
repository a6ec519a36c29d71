"""SQLite source: the embedded default, read through ADBC as Arrow record batches.

``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db`` or a bare path to a ``.db``
file. The database is opened read-only. Documents are files under the folder beside the
database named ``<stem>-documents/``; a locator that escapes that folder is refused.

Typing. SQLite values carry no declared type, and the ADBC driver infers each column's Arrow type
from the first rows it sees, failing if a later row disagrees (a column NULL for the first rows
and text later, say). So every column is cast in SQL to the storage class its Arrow type needs
(``CAST(x AS TEXT)`` for text, decimals, dates and timestamps; ``CAST(x AS INTEGER)`` for
integers and booleans), and one typed sentinel row is put first to fix the inferred type; it is
dropped before the batch leaves this module. The text is then cast by Arrow to the exact type:
a REAL such as ``11473.2135`` in a money column is an error naming the record, never a silently
rounded amount.
"""

from __future__ import annotations

import re
import urllib.parse
import weakref
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa

from offboard.arrowutil import strings
from offboard.errors import SchemaError, SourceError, SourceUnavailable
from offboard.sources import scheme_of

from .base import DocumentRef
from .mapping import canonical_query
from .records import DOCUMENT_COLUMNS, Materialized, document_refs, to_schema
from .sql import SqlSource

if TYPE_CHECKING:
    from exporters.base import DocumentSet, Table

_MAGIC = b"SQLite format 3\x00"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: rows per batch: 4,096 is as fast as larger batches and keeps memory low (see BENCHMARKS.md)
BATCH_ROWS = 4096


def parse_url(url: str) -> Path:
    """The database path named by a ``sqlite:`` URL or a bare path."""
    if url.startswith("sqlite:"):
        rest = url[len("sqlite:") :]
        if not rest.startswith("///"):
            raise SourceError(
                f"source {url!r}: write sqlite:///relative/path.db or sqlite:////absolute/path.db"
            )
        rest = urllib.parse.unquote(rest[3:])
        if not rest:
            raise SourceError(f"source {url!r}: no database path")
        return Path(rest)
    return Path(url)


def check_database(path: Path, url: str) -> None:
    """Raise SourceError unless ``path`` is an existing file that starts like an SQLite database."""
    if not path.is_file():
        raise SourceError(f"source {url!r}: no such database file {str(path)!r}")
    with path.open("rb") as fh:
        if fh.read(16) != _MAGIC:
            raise SourceError(f"source {url!r}: {str(path)!r} is not an SQLite database")


def database_path(url: str) -> Path:
    """The existing SQLite database file named by a SOURCE (a ``sqlite:`` URL or a bare path
    ending in ``.db``, ``.sqlite`` or ``.sqlite3``), for readers that open it themselves."""
    if scheme_of(url) != "sqlite":
        raise SourceError(
            f"source {url!r}: not an SQLite database (write sqlite:///path.db, "
            "sqlite:////absolute/path.db or a path ending in .db, .sqlite or .sqlite3)"
        )
    path = parse_url(url)
    check_database(path, url)
    return path


def _storage_class(t: pa.DataType) -> str:
    if pa.types.is_integer(t) or pa.types.is_boolean(t):
        return "INTEGER"
    if pa.types.is_floating(t):
        return "REAL"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return "BLOB"
    return "TEXT"


_SENTINEL = {"INTEGER": "0", "REAL": "0.0", "BLOB": "X''", "TEXT": "''"}


def typed_query(query: str, names: list[str], types: list[pa.DataType]) -> str:
    """Wrap ``query`` so that every column has one storage class and a typed first row."""
    for name in names:
        if not _IDENT.match(name):
            raise SchemaError(f"column name {name!r} is not a plain identifier")
    classes = [_storage_class(t) for t in types]
    casts = ", ".join(f'CAST(q."{n}" AS {c}) AS "{n}"' for n, c in zip(names, classes, strict=True))
    sentinel = ", ".join(f'{_SENTINEL[c]} AS "{n}"' for n, c in zip(names, classes, strict=True))
    return f"SELECT {sentinel} UNION ALL SELECT {casts} FROM ({query}) AS q"


class SQLiteSource(SqlSource):
    schemes: ClassVar[tuple[str, ...]] = ("sqlite",)

    def __init__(self, path: Path, url: str) -> None:
        self.url = url
        self.path = path
        self.documents_root = path.parent / f"{path.stem}-documents"
        check_database(path, url)
        self._conn: Any = None
        self._db: Any = None
        self._materialized = Materialized()
        #: the query streams not yet finished (a reader stopped by an error holds one open)
        self._streams: weakref.WeakSet[Generator[pa.RecordBatch, None, None]] = weakref.WeakSet()

    @classmethod
    def from_url(cls, url: str) -> SQLiteSource:
        return cls(parse_url(url), url)

    def describe(self) -> str:
        return f"SQLite database {self.path.name}"

    # -- connection ---------------------------------------------------------------------------
    # ADBC's low-level API: its DB-API layer imports pyarrow.dataset and, through it, pandas.
    def _connection(self) -> Any:
        if self._conn is None:
            import adbc_driver_manager
            import adbc_driver_sqlite

            uri = "file:" + urllib.parse.quote(str(self.path.resolve())) + "?mode=ro"
            try:
                self._db = adbc_driver_sqlite.connect(uri)
                self._conn = adbc_driver_manager.AdbcConnection(self._db)
            except Exception as exc:
                raise SourceUnavailable(f"source {self.url!r}: cannot open: {exc}") from exc
        return self._conn

    def close(self) -> None:
        self._materialized.close()
        # a stream left suspended (its reader stopped by an error, the traceback keeping it
        # alive) holds an open statement, which ADBC refuses to outlive its connection: the
        # error that stopped it would give way to "cannot close AdbcConnection"
        for stream in list(self._streams):
            stream.close()
        if self._conn is not None:
            self._conn.close()
            self._db.close()
            self._conn = None

    def _query(self, sql: str, params: list[str], what: str) -> Iterator[pa.RecordBatch]:
        """Run ``sql`` with string ``params``; yield its record batches (closed with the
        source if not finished before)."""
        stream = self._stream(sql, params, what)
        self._streams.add(stream)
        return stream

    def _stream(
        self, sql: str, params: list[str], what: str
    ) -> Generator[pa.RecordBatch, None, None]:
        import adbc_driver_manager

        statement = adbc_driver_manager.AdbcStatement(self._connection())
        try:
            statement.set_options(**{"adbc.sqlite.query.batch_rows": str(BATCH_ROWS)})
            statement.set_sql_query(sql)
            if params:
                names = [str(i) for i in range(len(params))]
                bound = pa.RecordBatch.from_arrays([strings([p]) for p in params], names=names)
                statement.bind(bound)
            stream, _ = statement.execute_query()
            reader = pa.RecordBatchReader._import_from_c(stream.address)
        except Exception as exc:
            statement.close()
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if "locked" in message or "busy" in message:
                raise SourceUnavailable(f"{what}: {message}") from exc
            raise SchemaError(f"{self.describe()}: {what}: the query failed: {message}") from exc
        try:
            yield from reader
        except OSError as exc:
            raise SourceUnavailable(f"{what}: reading failed: {exc}") from exc
        finally:
            reader.close()
            statement.close()

    def _run(self, sql: str, parameter: str | None, what: str) -> list[dict[str, Any]]:
        return self._rows(sql, [] if parameter is None else [parameter], what)

    def _rows(self, sql: str, params: list[str], what: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for batch in self._query(sql, params, what):
            rows.extend(batch.to_pylist())
        return rows

    # -- tables -------------------------------------------------------------------------------
    def read_table(
        self, table: Table, account: str, *, batch_rows: int = 65536
    ) -> Iterator[pa.RecordBatch]:
        schema = table.schema
        sql = typed_query(self.table_query(table, account), schema.names, schema.types)
        first = True
        offset = 0
        for raw in self._query(sql, [account], f"table {table.name!r}"):
            if first:
                raw = raw.slice(1)
                first = False
            if raw.num_rows == 0:
                continue
            yield to_schema(raw, schema, table, offset)
            offset += raw.num_rows

    def table_query(self, table: Table, account: str) -> str:
        """``table``'s query: the mapping's, wrapped to its canonical columns, or its own."""
        mapped = self.mapping.table(table)
        if mapped is None:
            return table.query
        returned = self._columns(mapped[0], account, f"table {table.name!r}")
        return canonical_query(self.mapping, table, returned, cents_sql)

    def _columns(self, query: str, account: str, what: str) -> list[str]:
        """The names of the columns ``query`` returns."""
        import adbc_driver_manager

        statement = adbc_driver_manager.AdbcStatement(self._connection())
        try:
            statement.set_sql_query(f"SELECT * FROM ({query}) AS m LIMIT 0")
            bound = pa.RecordBatch.from_arrays([strings([account])], names=["0"])
            statement.bind(bound)
            stream, _ = statement.execute_query()
            reader = pa.RecordBatchReader._import_from_c(stream.address)
            names: list[str] = reader.schema.names
            reader.close()
        except Exception as exc:
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise SchemaError(f"{what}: the mapped query failed: {message}") from exc
        finally:
            statement.close()
        return names

    # -- documents ----------------------------------------------------------------------------
    def read_documents(self, documents: DocumentSet, account: str) -> Iterator[DocumentRef]:
        names = list(DOCUMENT_COLUMNS)
        query = self.mapping.document_query(documents)
        sql = typed_query(query, names, [pa.string()] * len(names))
        first = True
        for batch in self._query(sql, [account], f"documents {documents.kind!r}"):
            if first:
                batch = batch.slice(1)
                first = False
            yield from document_refs(documents.kind, batch)


def cents_sql(expr: str) -> str:
    """SQLite: the exact decimal text of the whole cents ``expr`` (text Arrow then refuses,
    naming the record, when the value is not an integer)."""
    return (
        f"CASE WHEN {expr} IS NULL THEN NULL "
        f"WHEN typeof({expr}) <> 'integer' THEN 'not whole cents: ' || {expr} "
        f"ELSE (CASE WHEN {expr} < 0 THEN '-' ELSE '' END) || (abs({expr}) / 100) || '.' "
        f"|| substr('0' || (abs({expr}) % 100), -2, 2) END"
    )
