"""Where a restore writes: a database in the reference schema, and its documents folder.

A :class:`Target` is opened from ``--into`` (:func:`open_target`): ``sqlite:///new.db`` (or a
bare path ending in ``.db``, ``.sqlite``, ``.sqlite3``) or ``postgresql://...``. Its life:

    begin(account)   open; create the reference schema in a new, empty database; refuse
                     (OutputExists) if the account is there already
    insert(...)      the rows of one schema table, streamed as Arrow batches
    prepare()        everything written and durable, still invisible
    commit()         made visible at once (a rename, or a COMMIT)
    abort()          nothing of it is left

:class:`Rows` turns a decoded CSV batch into the rows of its schema table: ``account_id``
added, joined columns left out, ``pdf_path`` from the documents restored.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from offboard.arrowutil import string_scalar, strings
from offboard.errors import ArchiveError, ConfigError, OffboardError

if TYPE_CHECKING:
    from offboard.restore.plan import TablePlan

#: the ``accounts`` columns an archive does not hold (only the id and the name), left empty
ACCOUNT_BLANKS = ("siren", "vat_number", "email", "address_line1", "postal_code", "city", "country")


class Target(ABC):
    """A database (and documents folder) a restore writes into."""

    #: a description without secrets (``SQLite database new.db``)
    description: str
    #: the folder document locators are relative to (None: none was given)
    documents_root: Path | None

    @abstractmethod
    def begin(self, account: str) -> None:
        """Open, create the schema if the database is new, refuse an account already there."""

    @abstractmethod
    def insert(self, table: str, schema: pa.Schema, batches: Iterator[pa.RecordBatch]) -> int:
        """Append the rows of ``batches`` (typed as the export's Arrow types) to ``table``."""

    def prepare(self) -> None:  # noqa: B027 - optional step
        """Make everything durable before :meth:`commit` makes it visible."""

    @abstractmethod
    def commit(self) -> None:
        """Make the restore visible, all at once."""

    @abstractmethod
    def abort(self) -> None:
        """Leave nothing of the restore behind (safe to call at any point, and twice)."""


def open_target(url: str) -> Target:
    """The target named by ``--into``; nothing is opened or written yet."""
    from offboard.errors import SourceError
    from offboard.sources import scheme_of

    try:
        scheme = scheme_of(url)
    except SourceError as exc:
        raise ConfigError(f"--into {url!r}: {exc}") from None
    if scheme == "sqlite":
        from offboard.restore.sqlite import SQLiteTarget

        return SQLiteTarget.from_url(url)
    if scheme in ("postgresql", "postgres"):
        from offboard.restore.postgres import PostgresTarget

        return PostgresTarget(url)
    raise ConfigError(
        f"--into {url!r}: restore writes into sqlite:///path.db or postgresql://... databases"
    )


def account_row(account: str, name: str, created_at: str) -> pa.RecordBatch:
    """The ``accounts`` row: id and name from the archive, the creation time of the archive
    as ``created_at`` and the columns the archive does not hold as empty texts."""
    stamp = strings([created_at]).cast(pa.timestamp("s", tz="UTC"))
    columns = [strings([account]), strings([name])]
    columns += [strings([""]) for _ in ACCOUNT_BLANKS]
    names = ["id", "name", *ACCOUNT_BLANKS, "created_at"]
    return pa.RecordBatch.from_arrays([*columns, stamp], names=names)


class Rows:
    """The rows of one schema table, from the decoded batches of its CSV table."""

    def __init__(self, table: TablePlan, account: str, locators: dict[str, str]) -> None:
        self.table = table
        self.stored = table.stored
        self._account = string_scalar(account)
        self._documents = table.destination.documents is not None
        self._ids = strings(list(locators))
        self._locators = strings(list(locators.values()))
        #: the positions in ``locators`` of the records found so far
        self._found: set[int] = set()
        fields = [pa.field("account_id", pa.string(), False)]
        fields += [table.spec.schema.field(name) for name in self.stored]
        if self._documents:
            fields.append(pa.field("pdf_path", pa.string()))
        self.schema = pa.schema(fields)

    def of(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        columns = [pa.repeat(self._account, batch.num_rows)]
        columns += [batch.column(name) for name in self.stored]
        if self._documents:
            index = pc.index_in(batch.column("id"), value_set=self._ids)
            self._found.update(pc.drop_null(index).to_pylist())
            columns.append(pc.take(self._locators, index))
        return pa.RecordBatch.from_arrays(columns, schema=self.schema)

    def check_all_found(self) -> None:
        """Raise unless every document placed for this table found its record."""
        if len(self._found) == len(self._ids):
            return
        first = next(i for i in range(len(self._ids)) if i not in self._found)
        raise ArchiveError(
            f"a document of kind {self.table.destination.documents!r} names record "
            f"{self._ids[first].as_py()!r}, which {self.table.path} does not hold "
            f"({len(self._ids) - len(self._found)} such document(s))"
        )


def ingest(
    conn: Any,
    table: str,
    schema: pa.Schema,
    batches: Iterator[pa.RecordBatch],
    write_error: Callable[[str, BaseException], OffboardError],
) -> int:
    """Append ``batches`` to ``table`` through the ADBC connection ``conn`` (bulk ingest);
    the rows written. An error raised while making a batch is raised as it is (Arrow would
    keep only its message); one of the database, as ``write_error(table, exc)``."""
    import adbc_driver_manager

    failure: list[BaseException] = []

    def rows() -> Iterator[pa.RecordBatch]:
        try:
            yield from batches
        except (Exception, KeyboardInterrupt) as exc:
            failure.append(exc)
            raise

    statement = adbc_driver_manager.AdbcStatement(conn)
    try:
        statement.set_options(
            **{
                "adbc.ingest.target_table": table,
                "adbc.ingest.mode": "adbc.ingest.mode.append",
            }
        )
        statement.bind_stream(pa.RecordBatchReader.from_batches(schema, rows()))
        count = statement.execute_update()
    except Exception as exc:
        if failure:
            raise failure[0] from None
        raise write_error(table, exc) from exc
    finally:
        statement.close()
    return int(count) if count is not None and count >= 0 else 0
