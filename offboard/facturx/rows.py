"""The CSV rows Factur-X documents are compared with, read back from the CSV file itself.

The export and ``offboard verify`` both compare each invoice's XML with its row of the CSV file
as written (``csv/sales_invoices.csv``), not with the source: what is checked is what the
archive holds. The file is streamed through Arrow, its cells read as text (amounts stay exact
decimals, in the file's decimal point), only the rows of the documents asked about kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from offboard.facturx.checks import (
    KIND_COLUMN,
    ROW_COLUMNS,
    Issue,
    compare_row,
    unpack_values,
)

#: the table Factur-X documents of the sales invoices are compared with, and its key
TABLE, KEY = "sales_invoices", "id"
#: CSV bytes parsed at a time
BLOCK = 4 << 20
#: most bytes one read hands the CSV reader, whatever the size of the chunks: the reader keeps
#: some thirty reads at a time (its read-ahead, one block per thread), so small reads bound
#: its memory (chunks inflated whole from 1 MiB of deflate stream are 5 to 10 MiB: read whole,
#: 1 GB of CSV took the export 120 MB more). Reading 250 MB of invoices: 1 MiB reads +56 MB at
#: once in 0.8 s, 256 KiB +29 MB in 1.4 s, 128 KiB no less memory
PIECE = 256 << 10
BOM = b"\xef\xbb\xbf"


class _Chunks:
    """A read-only file over byte chunks (what pyarrow's CSV reader reads from), handed out
    in pieces of at most :data:`PIECE` bytes."""

    def __init__(self, chunks: Iterator[bytes], skip_bom: bool) -> None:
        self._chunks = chunks
        self._buffer = b""
        self._pos = 0
        self._skip_bom = skip_bom
        self.closed = False

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (at most :data:`PIECE`), short only at the end: a short read
        is not the end for the CSV reader, but a first one without the whole header is
        refused as an empty file (chunks of a few bytes, which any inflater may give)."""
        want = PIECE if size < 0 else min(size, PIECE)
        if self._skip_bom:
            self._skip_bom = False
            self._fill(len(BOM))
            if self._buffer.startswith(BOM, self._pos):
                self._pos += len(BOM)
        pieces: list[bytes] = []
        while want > 0:
            if self._pos >= len(self._buffer):
                chunk = next(self._chunks, None)
                if chunk is None:
                    break
                self._buffer, self._pos = chunk, 0
                continue
            start = self._pos
            self._pos = min(len(self._buffer), start + want)
            whole = start == 0 and self._pos == len(self._buffer)
            pieces.append(self._buffer if whole else self._buffer[start : self._pos])
            want -= self._pos - start
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def _fill(self, size: int) -> None:
        """At least ``size`` bytes in the buffer from the position on, unless the end comes."""
        while len(self._buffer) - self._pos < size:
            more = next(self._chunks, None)
            if more is None:
                return
            self._buffer, self._pos = self._buffer[self._pos :] + more, 0

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self.closed = True


def read_rows(
    chunks: Iterable[bytes], csv: dict[str, Any], ids: set[str]
) -> dict[str, dict[str, str | None]]:
    """The rows of ``ids`` (by the key column) in the CSV file streamed as ``chunks``, the last
    of each id. Raises ``ValueError`` as :func:`iter_rows` does."""
    return dict(iter_rows(chunks, csv, ids))


def row_issues(
    chunks: Iterable[bytes], csv: dict[str, Any], packed: Mapping[str, Any]
) -> dict[str, list[Issue]]:
    """The differences between the XML values of each record id of ``packed`` (as
    :func:`~offboard.facturx.checks.pack_values` packed them) and its row of the CSV file
    streamed as ``chunks`` (its last row; an id without one is compared with None), for the
    ids that have some.

    Each row is compared as it is read, so that only the differences are held, not the rows
    (12,000 invoices' rows were 25 MB at once). Raises ``ValueError`` as :func:`iter_rows`.
    """
    found: dict[str, list[Issue]] = {}
    seen: set[str] = set()
    for record_id, row in iter_rows(chunks, csv, set(packed)):
        seen.add(record_id)
        issues = compare_row(unpack_values(packed[record_id]) or {}, row)
        if issues:
            found[record_id] = issues
        else:
            found.pop(record_id, None)  # an earlier row of the same id no longer counts
    for record_id in packed.keys() - seen:
        issues = compare_row(unpack_values(packed[record_id]) or {}, None)
        if issues:
            found[record_id] = issues
    return found


def iter_rows(
    chunks: Iterable[bytes], csv: dict[str, Any], ids: set[str]
) -> Iterator[tuple[str, dict[str, str | None]]]:
    """Each row of ``ids`` (by the key column) in the CSV file streamed as ``chunks``, with its
    id, in the file's order.

    ``csv`` is the dialect as ``offboard.json`` records it (``delimiter``, ``decimal_point``,
    ``bom``). Raises ``ValueError`` when the file is not a CSV file with the columns needed.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    from offboard.arrowutil import let_go, references, strings
    from offboard.csvio.cells import restore_cell

    wanted = [KEY, KIND_COLUMN, *ROW_COLUMNS]
    read = pacsv.ReadOptions(block_size=BLOCK, use_threads=True)
    parse = pacsv.ParseOptions(delimiter=csv["delimiter"], newlines_in_values=True)
    convert = pacsv.ConvertOptions(
        column_types=dict.fromkeys(wanted, pa.string()),
        include_columns=wanted,
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    text = {KEY, KIND_COLUMN, "number", "currency"}
    if not ids:
        return
    keys = strings(sorted(ids))  # pa.array would import pandas (see offboard.arrowutil)
    stream = _Chunks(iter(chunks), bool(csv.get("bom")))
    held = references(stream)
    try:
        reader = pacsv.open_csv(
            pa.PythonFile(stream, mode="r"),
            read_options=read,
            parse_options=parse,
            convert_options=convert,
        )
        for batch in reader:
            raw_ids = batch.column(KEY)
            # key cells may carry the CSV-injection apostrophe: compare restored values
            if pc.any(pc.starts_with(raw_ids, "'")).as_py():
                raw_ids = strings([restore_cell(v) for v in raw_ids.to_pylist()])
            mask = pc.is_in(raw_ids, value_set=keys)
            if not pc.any(mask).as_py():
                continue
            picked = batch.filter(mask)
            columns = {name: picked.column(name).to_pylist() for name in wanted}
            for i in range(picked.num_rows):
                row: dict[str, str | None] = {}
                for name in wanted:
                    value = columns[name][i]
                    row[name] = restore_cell(value) if name in text and value else value
                yield str(row[KEY]), row
    except (pa.ArrowException, UnicodeDecodeError) as exc:
        raise ValueError(str(exc).splitlines()[0][:300]) from None
    del reader
    let_go(stream, held)  # read to its end: Arrow's threads let go of it here, not at exit
