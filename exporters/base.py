"""The exporter contract: a record kind, its tables and its documents.

An exporter is a class with a ``name``, one or more :class:`Table` (each an Arrow schema with a
primary key) and, optionally, a :class:`DocumentSet`. The pipeline asks the exporter for record
batches of each table with :meth:`Exporter.get_batches` and for the references of its documents
with :meth:`Exporter.get_documents`; both are generators so nothing is held whole in memory.

Column types are Arrow types; the CSV writer formats them the same way for every exporter:

* ``money`` columns are ``decimal128(18, 2)`` (exact, two places, summed into the totals);
* ``date`` columns are ``date32`` (calendar dates: no time zone can shift them);
* ``timestamp`` columns are UTC ``timestamp('s', tz='UTC')``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa

if TYPE_CHECKING:
    from offboard.sources.base import DocumentRef, Source

MONEY = pa.decimal128(18, 2)
RATE = pa.decimal128(5, 2)
QUANTITY = pa.decimal128(15, 3)
DATE = pa.date32()
TIMESTAMP = pa.timestamp("s", tz="UTC")
TEXT = pa.string()
INTEGER = pa.int64()
BOOLEAN = pa.bool_()


@dataclass(frozen=True)
class Column:
    """One column of a table: its CSV name, Arrow type and meaning."""

    name: str
    type: pa.DataType
    nullable: bool = True
    description: str = ""

    @property
    def is_money(self) -> bool:
        return bool(self.type == MONEY)


def text(name: str, description: str = "", *, nullable: bool = True) -> Column:
    return Column(name, TEXT, nullable, description)


def key(name: str, description: str = "") -> Column:
    return Column(name, TEXT, False, description)


def money(name: str, description: str = "", *, nullable: bool = False) -> Column:
    return Column(name, MONEY, nullable, description)


def rate(name: str, description: str = "VAT rate in percent") -> Column:
    return Column(name, RATE, False, description)


def quantity(name: str, description: str = "") -> Column:
    return Column(name, QUANTITY, False, description)


def date(name: str, description: str = "", *, nullable: bool = False) -> Column:
    return Column(name, DATE, nullable, description)


def timestamp(name: str, description: str = "", *, nullable: bool = False) -> Column:
    return Column(name, TIMESTAMP, nullable, description)


def integer(name: str, description: str = "", *, nullable: bool = False) -> Column:
    return Column(name, INTEGER, nullable, description)


def boolean(name: str, description: str = "", *, nullable: bool = False) -> Column:
    return Column(name, BOOLEAN, nullable, description)


@dataclass(frozen=True)
class Table:
    """One CSV file of an export.

    ``query`` reads the table from the reference schema: a SELECT that takes the account id as
    its only bound parameter (``?``) and returns exactly ``columns``, in order, sorted by a
    stable key so that two exports of the same data are identical.
    """

    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    query: str
    description: str = ""
    #: the column holding the business number (invoice number...), for numbering checks
    number_column: str | None = None

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.type, c.nullable) for c in self.columns])

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def money_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.is_money]


@dataclass(frozen=True)
class DocumentSet:
    """Where an exporter's documents are and how to describe them.

    ``query`` takes the account id as its only bound parameter and returns, in a stable order,
    the columns ``record_id, number, date, party, locator`` where ``locator`` says where the
    source keeps the file (for the reference schema: a path relative to the documents folder;
    NULL when the record has no document).
    """

    kind: str
    query: str
    title: str = ""
    #: whether the documents are Factur-X invoices whose XML the export extracts and checks
    #: against the rows of the exporter's table ``sales_invoices``: ``"required"`` (a PDF
    #: without one is a problem), ``"optional"`` (checked when there is one), or None (not
    #: looked for); ``--factur-x`` overrides it (docs/facturx.md)
    facturx: str | None = None


@dataclass(frozen=True)
class ProducedFile:
    """A file an exporter wrote of its own (:meth:`Exporter.files`), besides its tables and
    documents: a FEC..."""

    #: what it is (``fec``), for the summary, ``offboard.json`` and the checks of ``verify``
    kind: str
    #: its path in the export folder (POSIX, relative: ``accounting/123456782FEC20251231.txt``)
    path: str
    bytes: int
    sha256: str
    #: its own figures, as JSON values (recorded in ``offboard.json``)
    facts: dict[str, Any] = field(default_factory=dict)
    #: records it was made from (for the summary's count)
    records: int = 0


class Exporter:
    """Base class of every exporter, built-in or plugin."""

    #: the record kind: the name users pass to ``--kinds`` and the entry-point name
    name: ClassVar[str]
    #: a short human title
    title: ClassVar[str]
    tables: ClassVar[tuple[Table, ...]]
    documents: ClassVar[DocumentSet | None] = None
    #: whether :meth:`files` writes files of its own, besides the tables and documents
    writes_files: ClassVar[bool] = False

    def get_batches(self, source: Source, account: str, table: Table) -> Iterator[pa.RecordBatch]:
        """Yield the record batches of ``table`` for ``account``, typed as ``table.schema``."""
        yield from source.read_table(table, account)

    def get_documents(self, source: Source, account: str) -> Iterator[DocumentRef]:
        """Yield a reference to each of the account's documents of this kind."""
        if self.documents is None:
            return
        yield from source.read_documents(self.documents, account)

    def files(
        self,
        source: Source,
        account: str,
        folder: Path,
        options: Mapping[str, str],
        progress: Callable[[int], None] | None = None,
    ) -> list[ProducedFile]:
        """Write the exporter's own files for ``account`` under ``folder`` (the export folder:
        each file's path is relative to it) and describe them; only called when
        :attr:`writes_files` is set. ``options`` are the export's options for this kind
        (``--fec-encoding`` gives ``{"encoding": ...}`` to ``fec``); ``progress(n)`` is told of
        the records read. Files are written under temporary names and renamed when complete;
        on an error none is left under its final name."""
        return []

    @classmethod
    def table(cls, name: str) -> Table:
        for t in cls.tables:
            if t.name == name:
                return t
        raise KeyError(name)
