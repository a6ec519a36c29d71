"""Streaming CSV writer for one table: header, record batches, close.

The writer never holds more than one record batch. It writes to a hidden temporary file in the
destination folder and only renames it to its final name in :meth:`CsvTableWriter.close`, after
an ``fsync``: a crash or an error leaves no half-written file under a final name.

Formatting, the same for every exporter:

* text cells are neutralised against spreadsheet formula injection (see :mod:`.cells`);
* money and other decimals keep their exact scale (``45714.00``), with a decimal comma in the
  ``excel-fr`` dialect;
* dates are ISO 8601 calendar dates (``2025-03-31``); timestamps are UTC ISO 8601
  (``2025-03-31T10:00:00Z``);
* a NULL is an empty unquoted field, an empty string is ``""``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from offboard.arrowutil import string_scalar
from offboard.fsutil import fsync_dir, temp_name

from .cells import neutralise
from .dialects import Dialect
from .numbering import NumberTracker

if TYPE_CHECKING:
    from exporters.base import Table

BOM = b"\xef\xbb\xbf"
_Z = string_scalar("Z")
_NOTHING = string_scalar("")


def _format_column(array: pa.Array, dialect: Dialect) -> pa.Array:
    t = array.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return neutralise(array)
    if pa.types.is_timestamp(t):
        # cast to a zone-less timestamp first (the values are UTC already): formatting a
        # zone-aware timestamp goes through the time-zone database and is ten times slower.
        naive = array.cast(pa.timestamp(t.unit)) if t.tz is not None else array
        text = pc.replace_substring(naive.cast(pa.string()), " ", "T", max_replacements=1)
        return pc.binary_join_element_wise(text, _Z if t.tz is not None else _NOTHING, _NOTHING)
    if dialect.decimal_comma and (pa.types.is_decimal(t) or pa.types.is_floating(t)):
        return pc.replace_substring(array.cast(pa.string()), ".", ",")
    return array


def output_schema(schema: pa.Schema, dialect: Dialect) -> pa.Schema:
    """The schema of the batches handed to Arrow's CSV writer."""
    fields = []
    for f in schema:
        t = f.type
        to_text = pa.types.is_timestamp(t) or (
            dialect.decimal_comma and (pa.types.is_decimal(t) or pa.types.is_floating(t))
        )
        fields.append(pa.field(f.name, pa.string(), f.nullable) if to_text else f)
    return pa.schema(fields)


#: the timestamp columns that say when a record last changed, in order of preference
CHANGE_COLUMNS = ("updated_at", "created_at")


class CsvTableWriter:
    """Write one table's record batches to ``path`` in ``dialect``.

    Use as a context manager, or call :meth:`write_header`, :meth:`write_batch` and
    :meth:`close` (or :meth:`abort`) yourself.
    """

    def __init__(self, path: Path, table: Table, dialect: Dialect) -> None:
        self.path = path
        self.table = table
        self.dialect = dialect
        self.schema = table.schema
        self.rows = 0
        self.bytes = 0
        #: money totals: column -> currency ("" when the table has no currency) -> sum
        self.totals: dict[str, dict[str, Decimal]] = {c: {} for c in table.money_columns}
        #: document numbers seen, when the table has a number column
        self.numbers = NumberTracker() if table.number_column else None
        #: earliest and latest value of the table's date columns (ISO dates), or None
        self.period: tuple[str, str] | None = None
        self._date_columns = [f.name for f in self.schema if pa.types.is_date(f.type)]
        #: the latest change of a record (its ``updated_at``, else ``created_at``), ISO UTC
        self.last_change: str | None = None
        stamps = {f.name for f in self.schema if pa.types.is_timestamp(f.type)}
        self._change_column = next((c for c in CHANGE_COLUMNS if c in stamps), None)
        self._tmp = temp_name(path)
        self._out_schema = output_schema(self.schema, dialect)
        self._sink: pa.NativeFile | None = None
        self._writer: pacsv.CSVWriter | None = None
        self._closed = False

    @contextlib.contextmanager
    def _os_errors(self) -> Iterator[None]:
        """Arrow's errors writing the file as plain OSErrors naming it: ``strerror`` is the
        system's reason (``No space left on device``), not Arrow's long message."""
        try:
            yield
        except OSError as exc:
            if not exc.errno or exc.filename:
                raise
            raise OSError(exc.errno, os.strerror(exc.errno), str(self.path)) from exc

    # -- header / data / footer -------------------------------------------------------------
    def write_header(self) -> None:
        with self._os_errors():
            self._sink = pa.OSFile(str(self._tmp), "wb")
            if self.dialect.bom:
                self._sink.write(BOM)
            options = pacsv.WriteOptions(
                include_header=True,
                delimiter=self.dialect.delimiter,
                eol=self.dialect.eol,
                quoting_style="needed",
                batch_size=8192,
            )
            self._writer = pacsv.CSVWriter(self._sink, self._out_schema, write_options=options)

    def write_batch(self, batch: pa.RecordBatch) -> None:
        if self._writer is None:
            self.write_header()
        assert self._writer is not None
        if batch.schema != self.schema:
            batch = batch.cast(self.schema)
        if batch.num_rows == 0:
            return
        self._add_totals(batch)
        self._add_numbers_and_dates(batch)
        columns = [_format_column(col, self.dialect) for col in batch.columns]
        with self._os_errors():
            self._writer.write_batch(pa.RecordBatch.from_arrays(columns, schema=self._out_schema))
        self.rows += batch.num_rows

    def close(self) -> None:
        """Finish the file, make it durable and give it its final name."""
        if self._closed:
            return
        if self._writer is None:
            self.write_header()
        assert self._writer is not None and self._sink is not None
        with self._os_errors():
            self._writer.close()
            self._sink.close()
        fd = os.open(self._tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(self._tmp, self.path)
        fsync_dir(self.path.parent)
        self.bytes = self.path.stat().st_size
        self._closed = True

    def abort(self) -> None:
        """Drop the partial file (whatever closing it raises: on a full disk, it may)."""
        self._closed = True
        try:
            if self._writer is not None:
                self._writer.close()
        except Exception:  # the file is being thrown away; its own error does not matter
            pass
        try:
            if self._sink is not None and not self._sink.closed:
                self._sink.close()
        except OSError:
            pass
        finally:
            self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> CsvTableWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            try:
                self.close()
            except BaseException:
                self.abort()  # a file that could not be finished is not left behind
                raise
        else:
            self.abort()

    # -- totals, numbers, dates -------------------------------------------------------------
    def _add_numbers_and_dates(self, batch: pa.RecordBatch) -> None:
        if self.numbers is not None and self.table.number_column:
            self.numbers.add(batch.column(self.table.number_column))
        if self._change_column is not None:
            latest = pc.max(batch.column(self._change_column))
            if latest.is_valid:
                # formatted by Arrow: a datetime from as_py() would make pyarrow import pandas
                stamp: str = pc.strftime(latest, format="%Y-%m-%dT%H:%M:%SZ").as_py()
                self.last_change = max(self.last_change or stamp, stamp)
        for name in self._date_columns:
            column = batch.column(name)
            low = pc.min(column).cast(pa.string()).as_py()
            high = pc.max(column).cast(pa.string()).as_py()
            if low is None or high is None:
                continue
            if self.period is None:
                self.period = (low, high)
            else:
                self.period = (min(self.period[0], low), max(self.period[1], high))

    def _add_totals(self, batch: pa.RecordBatch) -> None:
        money = self.table.money_columns
        if not money:
            return
        if "currency" not in self.schema.names:
            groups: list[tuple[str, pa.RecordBatch]] = [("", batch)]
        else:
            currency = batch.column("currency")
            groups = []
            for code in pc.unique(currency).to_pylist():
                if code is None:
                    groups.append(("", batch.filter(pc.is_null(currency))))
                else:
                    groups.append((code, batch.filter(pc.equal(currency, string_scalar(code)))))
        for code, rows in groups:
            for c in money:
                value = pc.sum(rows.column(c)).as_py()
                if value is not None:
                    bucket = self.totals[c]
                    bucket[code] = bucket.get(code, Decimal(0)) + value
