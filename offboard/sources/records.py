"""What every SQL source does alike: Arrow batches cast to an exporter's exact types (a value
that does not fit names its record), document references, and document paths kept inside the
documents root."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from offboard.errors import RecordError
from offboard.fsutil import is_within

from .base import DocumentRef, DocumentUnavailable

if TYPE_CHECKING:
    from exporters.base import Table

#: the columns of a document query, in order
DOCUMENT_COLUMNS = ("record_id", "number", "date", "party", "locator")


def document_refs(kind: str, batch: pa.RecordBatch) -> Iterator[DocumentRef]:
    """The documents of one batch of a document query (its columns: :data:`DOCUMENT_COLUMNS`)."""
    for row in batch.to_pylist():
        yield DocumentRef(
            kind=kind,
            record_id=str(row["record_id"] or ""),
            number=str(row["number"] or ""),
            date=str(row["date"] or ""),
            party=str(row["party"] or ""),
            locator=row["locator"],
        )


class Materialized:
    """Documents a source holds as bytes (a BLOB, an API's answer), each written to a file of a
    private folder, so that the export reads them like any other; :meth:`close` removes them."""

    def __init__(self) -> None:
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._count = 0

    def write(self, data: bytes) -> Path:
        if self._folder is None:
            self._folder = tempfile.TemporaryDirectory(prefix="offboard-documents-")
        self._count += 1
        path = Path(self._folder.name) / f"{self._count:08d}.pdf"
        path.write_bytes(data)
        return path

    def close(self) -> None:
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None


def stored_document(
    ref: DocumentRef,
    size: Callable[[], Any],
    content: Callable[[], Any],
    limit: int,
    into: Materialized,
) -> Path:
    """A document kept as bytes in the database, written to a file of ``into``: ``size()``
    is its byte count (None: not there), asked first; ``content()`` its bytes, read only when
    ``size()`` is within ``limit``."""
    if not ref.locator:
        raise DocumentUnavailable("no document")
    n = size()
    if n is None:
        raise DocumentUnavailable("missing")
    if int(n) > limit:
        raise DocumentUnavailable(f"larger than {limit:,} bytes")
    data = content()
    if not isinstance(data, bytes):
        raise DocumentUnavailable("missing" if data is None else "not stored as bytes")
    return into.write(data)


def document_under(root: Path, ref: DocumentRef) -> Path:
    """The file of ``ref`` under ``root``; DocumentUnavailable if none, or if it escapes."""
    if not ref.locator:
        raise DocumentUnavailable("no document")
    locator = ref.locator
    if "\x00" in locator or Path(locator).is_absolute() or locator.startswith(("/", "\\")):
        raise DocumentUnavailable("unsafe locator")
    path = root / locator
    if not is_within(path, root):
        raise DocumentUnavailable("unsafe locator")
    if not path.is_file():
        raise DocumentUnavailable("missing")
    return path


def to_schema(
    batch: pa.RecordBatch, schema: pa.Schema, table: Table, offset: int
) -> pa.RecordBatch:
    """Cast a raw batch to ``schema``; a value that does not fit names its record."""
    arrays = []
    for i, field in enumerate(schema):
        column = batch.column(i)
        if column.type != field.type:
            try:
                column = column.cast(field.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise _bad_value(batch, schema, table, offset, i, str(exc)) from exc
        if not field.nullable and column.null_count:
            raise _bad_value(batch, schema, table, offset, i, "empty value in a required column")
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _first_bad_row(column: pa.Array, field: pa.Field) -> int:
    """The index of the first value of ``column`` that does not fit ``field``."""
    for row, value in enumerate(column.to_pylist()):
        if value is None:
            if not field.nullable:
                return row
            continue
        try:
            pa.array([value], type=column.type).cast(field.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return row
    return 0


def _bad_value(
    batch: pa.RecordBatch, schema: pa.Schema, table: Table, offset: int, index: int, why: str
) -> RecordError:
    field = schema.field(index)
    column = batch.column(index)
    row = _first_bad_row(column, field)
    key_values = [
        f"{k}={batch.column(schema.get_field_index(k))[row].as_py()!r}" for k in table.primary_key
    ]
    value = column[row].as_py()
    reason = why.splitlines()[0]
    return RecordError(
        f"table {table.name!r}, record {', '.join(key_values)} (row {offset + row + 1}): "
        f"column {field.name!r} value {value!r} is not a valid {field.type}: {reason}"
    )
