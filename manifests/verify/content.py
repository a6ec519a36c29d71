"""Content checks of the CSV tables: record counts and money totals.

The verifier recomputes, from the bytes in the archive, what ``offboard.json`` states: each
table's number of records and its money totals per currency (PDF page counts are checked by
:mod:`manifests.verify.docs`). CSV data
is parsed as it streams out of the zip (the same chunks are hashed), so no file is ever held
whole in memory.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

#: CSV bytes Arrow parses at a time
CSV_BLOCK = 4 << 20


class HashingStream(io.RawIOBase):
    """A read-only stream over chunks, hashing every byte it hands out."""

    def __init__(self, chunks: Iterator[bytes], skip_bom: bool = False) -> None:
        self._chunks = chunks
        self._buffer = b""
        self._pos = 0
        self.sha256 = hashlib.sha256()
        self.size = 0
        self._skip_bom = skip_bom
        self.bom_found: bool | None = None
        #: the error the chunk source raised (corrupt data), if any
        self.error: Exception | None = None
        #: the first line (without its line end), up to 64 KiB: the CSV header
        self.first_line: bytes | None = None
        self._head = b""

    def readable(self) -> bool:
        return True

    def _fill(self) -> bool:
        while self._pos >= len(self._buffer):
            try:
                chunk = next(self._chunks)
            except StopIteration:
                return False
            except Exception as exc:  # the zip reader's CorruptDataError, kept for the caller
                self.error = exc
                raise
            self.sha256.update(chunk)
            self.size += len(chunk)
            self._buffer, self._pos = chunk, 0
            if self._skip_bom and self.bom_found is None:
                self.bom_found = chunk.startswith(b"\xef\xbb\xbf")
                if self.bom_found:
                    self._pos = 3
            if self.first_line is None:
                self._head += chunk[self._pos : self._pos + 65536]
                end = self._head.find(b"\n")
                if end >= 0 or len(self._head) >= 65536:
                    self.first_line = self._head[:end].rstrip(b"\r") if end >= 0 else self._head
        return True

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all that is left for -1), in one piece of the current chunk."""
        if not self._fill():
            return b""
        start = self._pos
        end = len(self._buffer) if size < 0 else min(len(self._buffer), start + size)
        self._pos = end
        if start == 0 and end == len(self._buffer):
            return self._buffer
        return self._buffer[start:end]

    def readinto(self, b: Any) -> int:
        if not self._fill():
            return 0
        n = min(len(b), len(self._buffer) - self._pos)
        b[:n] = self._buffer[self._pos : self._pos + n]
        self._pos += n
        return n

    def drain(self) -> None:
        """Read (and hash) whatever the parser left."""
        while self._fill():
            self._pos = len(self._buffer)


def parse_amount(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except (InvalidOperation, TypeError):
        return None


def count_csv(stream: HashingStream, table: dict[str, Any], csv: dict[str, Any]) -> dict[str, Any]:
    """Records, header and money totals of one CSV file, as parsed from ``stream``.

    Returns ``{"records": n, "header": [...], "totals": {column: {currency: Decimal}}}``;
    raises ``ValueError`` with the parser's message when the file is not valid CSV.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    from offboard.arrowutil import lean_memory_pool, let_go, references, string_scalar
    from offboard.csvio.cells import restore_cell

    lean_memory_pool()
    money: list[str] = list(table.get("money_columns") or [])
    currency = table.get("currency_column")
    types = {c["name"]: c["type"] for c in table.get("columns", [])}
    column_types: dict[str, pa.DataType] = {}
    for name in money:
        column_types[name] = _decimal_type(types.get(name, ""))
    wanted = [*money, *([currency] if currency else [])]
    if currency:
        column_types[currency] = pa.string()
    read = pacsv.ReadOptions(block_size=CSV_BLOCK, use_threads=True)
    parse = pacsv.ParseOptions(delimiter=csv["delimiter"], newlines_in_values=True)
    convert = pacsv.ConvertOptions(
        column_types=column_types,
        include_columns=wanted or None,
        decimal_point=csv["decimal_point"],
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    totals: dict[str, dict[str, Decimal]] = {c: {} for c in money}
    records = 0
    held = references(stream)
    try:
        reader = pacsv.open_csv(
            pa.PythonFile(stream, mode="r"),
            read_options=read,
            parse_options=parse,
            convert_options=convert,
        )
        _check_columns(reader, wanted)
        for batch in reader:
            records += batch.num_rows
            if not money:
                continue
            groups: list[tuple[str, Any]]
            if currency:
                codes = batch.column(currency)
                groups = [
                    (restore_cell(code), batch.filter(pc.equal(codes, string_scalar(code))))
                    for code in pc.unique(codes).to_pylist()
                ]
            else:
                groups = [("", batch)]
            for code, rows in groups:
                for name in money:
                    value = pc.sum(rows.column(name)).cast(pa.string()).as_py()
                    if value is not None:
                        bucket = totals[name]
                        bucket[code] = bucket.get(code, Decimal(0)) + Decimal(value)
    except (pa.ArrowException, UnicodeDecodeError) as exc:
        if stream.error is not None:
            raise stream.error from None
        raise ValueError(str(exc).splitlines()[0][:300]) from None
    del reader
    let_go(stream, held)  # read to its end: Arrow's threads let go of it here, not at exit
    header = stream.first_line if stream.first_line is not None else stream._head
    # Arrow's writer quotes every header name
    names = (f'"{c["name"]}"' for c in table.get("columns", []))
    expected = csv["delimiter"].join(names).encode()
    if header != expected:
        raise ValueError(f"header is {header[:200]!r}, expected {expected[:200]!r}")
    return {"records": records, "totals": totals}


def _check_columns(reader: Any, wanted: list[str]) -> None:
    names: list[str] = reader.schema.names
    missing = [w for w in wanted if w not in names]
    if missing:
        raise ValueError(f"columns {missing} missing from the header")


def _decimal_type(text: str) -> Any:
    import pyarrow as pa

    if text.startswith("decimal128(") and text.endswith(")"):
        _precision, _, scale = text[len("decimal128(") : -1].partition(",")
        try:
            return pa.decimal128(38, int(scale))
        except ValueError:
            pass
    return pa.decimal128(38, 2)
