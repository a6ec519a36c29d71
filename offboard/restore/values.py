"""CSV files back into the exact Arrow values they were written from.

The CSV writer (:mod:`offboard.csvio.writer`) turns each value into text one way only: text
cells neutralised against formula injection, decimals with their scale (a decimal comma in
``excel-fr``), ISO dates, UTC timestamps ``YYYY-MM-DDTHH:MM:SSZ``, ``true``/``false``, a NULL
as an empty unquoted field and an empty text as ``""``. :class:`Decoder` reverses that and
proves it did: every decoded column is formatted again with the writer's own function and must
give back the very text read, so a cell that offboard would not have written (``1.5`` for
``1.50``, ``+01:00`` for ``Z``, ``=SUM()`` not neutralised) is an error naming the file, the
record and the column, never a value silently made canonical. The batches it yields are typed
exactly like the ones the source gave the exporter (``Table.schema``).

The file is read in blocks by Arrow's CSV reader, every column as text (quoted empty text
kept apart from NULL): one block of records is in memory at a time.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import TYPE_CHECKING, BinaryIO

import pyarrow as pa
import pyarrow.compute as pc

from offboard.arrowutil import let_go, references
from offboard.errors import RecordError

if TYPE_CHECKING:
    from exporters.base import Table
    from offboard.csvio.dialects import Dialect

#: bytes of CSV parsed per block (a batch of a few thousand records)
BLOCK_BYTES = 1 << 20


def bool_scalar(value: bool) -> pa.BooleanScalar:
    """A boolean scalar built from a buffer (``pa.scalar`` would make pyarrow import pandas)."""
    array = pa.Array.from_buffers(pa.bool_(), 1, [None, pa.py_buffer(bytes([value]))])
    scalar: pa.BooleanScalar = array[0]
    return scalar


FALSE = bool_scalar(False)
TRUE = bool_scalar(True)


def read_csv(
    stream: io.RawIOBase | BinaryIO, spec: Table, dialect: Dialect, path: str
) -> Iterator[pa.RecordBatch]:
    """The records of the CSV file ``stream`` (``path`` in the archive) as text batches, one
    string column per column of ``spec``, NULL for an empty unquoted field."""
    import pyarrow.csv as pacsv

    names = spec.column_names
    held = references(stream)
    try:
        reader = pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(block_size=BLOCK_BYTES, use_threads=False),
            parse_options=pacsv.ParseOptions(
                delimiter=dialect.delimiter,
                quote_char='"',
                double_quote=True,
                escape_char=False,
                newlines_in_values=True,
                ignore_empty_lines=False,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
                null_values=[""],
                check_utf8=True,
            ),
        )
    except pa.ArrowInvalid as exc:
        raise RecordError(f"{path}: not a CSV file offboard wrote: {_first_line(exc)}") from exc
    if reader.schema.names != names:
        raise RecordError(
            f"{path}: the header is {reader.schema.names!r}, not the columns of table "
            f"{spec.name!r} ({names!r})"
        )
    try:
        yield from reader
    except pa.ArrowInvalid as exc:
        raise RecordError(f"{path}: not a CSV file offboard wrote: {_first_line(exc)}") from exc
    del reader
    let_go(stream, held)  # read to its end: Arrow's threads let go of it here, not at exit


class Decoder:
    """Turn the text batches of one table's CSV file back into typed record batches."""

    def __init__(self, spec: Table, dialect: Dialect, path: str) -> None:
        self.spec = spec
        self.schema = spec.schema
        self.dialect = dialect
        self.path = path
        self.records = 0

    def decode(self, raw: pa.RecordBatch) -> pa.RecordBatch:
        """The typed batch whose CSV text is ``raw`` (the next batch of the file)."""
        columns = []
        for i, field in enumerate(self.schema):
            text = raw.column(i)
            try:
                value = parse(text, field.type, self.dialect)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                row = _first_unparsable(text, field.type, self.dialect)
                raise self._error(raw, row, field, _first_line(exc)) from exc
            same = same_cells(format_cells(value, self.dialect), text)
            if not pc.all(same, min_count=0).as_py():
                row = pc.index(same, FALSE).as_py()
                raise self._error(raw, row, field, "offboard writes it otherwise")
            if not field.nullable and value.null_count:
                row = pc.index(pc.is_null(value), TRUE).as_py()
                raise self._error(raw, row, field, "empty value in a required column")
            columns.append(value)
        self.records += raw.num_rows
        return pa.RecordBatch.from_arrays(columns, schema=self.schema)

    def _error(self, raw: pa.RecordBatch, row: int, field: pa.Field, why: str) -> RecordError:
        keys = ", ".join(
            f"{k}={raw.column(self.schema.get_field_index(k))[row].as_py()!r}"
            for k in self.spec.primary_key
        )
        value = raw.column(self.schema.get_field_index(field.name))[row].as_py()
        return RecordError(
            f"{self.path}: table {self.spec.name!r}, record {keys} (record "
            f"{self.records + row + 1}): column {field.name!r} value {value!r} is not a "
            f"{field.type} as offboard writes it: {why}"
        )


def same_cells(a: pa.Array, b: pa.Array) -> pa.Array:
    """Per row, whether ``a`` and ``b`` hold the same value (two NULLs are the same)."""
    return pc.fill_null(pc.equal(a, b), pc.and_(pc.is_null(a), pc.is_null(b)))


def parse(text: pa.Array, type_: pa.DataType, dialect: Dialect) -> pa.Array:
    """The values of ``type_`` whose CSV cells are ``text`` (Arrow raises if one is not)."""
    if pa.types.is_string(type_):
        return restore_cells(text)
    if pa.types.is_decimal(type_) and dialect.decimal_comma:
        text = pc.replace_substring(text, ",", ".")
    return text.cast(type_)


def restore_cells(text: pa.Array) -> pa.Array:
    """Text cells with one leading apostrophe removed, as :func:`offboard.csvio.restore_cell`."""
    escaped = pc.starts_with(text, "'")
    if not pc.any(escaped).as_py():
        return text
    return pc.if_else(escaped, pc.utf8_slice_codeunits(text, 1), text)


def format_cells(values: pa.Array, dialect: Dialect) -> pa.Array:
    """The CSV text the export writes for ``values``: the CSV writer's own formatting."""
    # the writer's private formatter is used on purpose: a restore is exact only if it
    # inverts the very function the export writes with
    from offboard.csvio.writer import _format_column

    formatted = _format_column(values, dialect)
    if not pa.types.is_string(formatted.type):
        formatted = formatted.cast(pa.string())
    return formatted


def _first_unparsable(text: pa.Array, type_: pa.DataType, dialect: Dialect) -> int:
    for row in range(len(text)):
        try:
            parse(text.slice(row, 1), type_, dialect)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return row
    return 0


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
