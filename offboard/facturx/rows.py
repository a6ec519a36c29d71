"""The CSV rows Factur-X documents are compared with, read back from the CSV file itself.

The export and ``offboard verify`` both compare each invoice's XML with its row of the CSV file
as written (``csv/sales_invoices.csv``), not with the source: what is checked is what the
archive holds. The file is streamed through Arrow, its cells read as text (amounts stay exact
decimals, in the file's decimal point), only the rows of the documents asked about kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from offboard.facturx.checks import KIND_COLUMN, ROW_COLUMNS

#: the table Factur-X documents of the sales invoices are compared with, and its key
TABLE, KEY = "sales_invoices", "id"
#: CSV bytes parsed at a time
BLOCK = 4 << 20
#: most bytes one read hands the CSV reader, whatever the size of the chunks: the reader keeps
#: some thirty reads at a time (its read-ahead, one block per thread), so small reads bound
#: its memory (chunks inflated whole from 1 MiB of deflate stream are 5 to 10 MiB: read whole,
#: 1 GB of CSV took the export 120 MB more)
PIECE = 1 << 20


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
        while self._pos >= len(self._buffer):
            try:
                self._buffer, self._pos = next(self._chunks), 0
            except StopIteration:
                self._buffer, self._pos = b"", 0
                return b""
            if self._skip_bom:
                self._skip_bom = False
                if self._buffer.startswith(b"\xef\xbb\xbf"):
                    self._pos = 3
        want = PIECE if size < 0 else min(size, PIECE)
        start = self._pos
        self._pos = min(len(self._buffer), start + want)
        if start == 0 and self._pos == len(self._buffer):
            return self._buffer
        return self._buffer[start : self._pos]

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self.closed = True


def read_rows(
    chunks: Iterable[bytes], csv: dict[str, Any], ids: set[str]
) -> dict[str, dict[str, str | None]]:
    """The rows of ``ids`` (by the key column) in the CSV file streamed as ``chunks``.

    ``csv`` is the dialect as ``offboard.json`` records it (``delimiter``, ``decimal_point``,
    ``bom``). Raises ``ValueError`` when the file is not a CSV file with the columns needed.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    from offboard.arrowutil import strings
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
    found: dict[str, dict[str, str | None]] = {}
    if not ids:
        return found
    keys = strings(sorted(ids))  # pa.array would import pandas (see offboard.arrowutil)
    stream = _Chunks(iter(chunks), bool(csv.get("bom")))
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
                found[str(row[KEY])] = row
    except (pa.ArrowException, UnicodeDecodeError) as exc:
        raise ValueError(str(exc).splitlines()[0][:300]) from None
    return found
