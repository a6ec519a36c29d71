"""Fuzzing the CSV writer: hostile text round-trips exactly and is never read as a formula.

The cells are written by the real :class:`~offboard.csvio.writer.CsvTableWriter`, in both
dialects, in one to three batches, into every text column of a table (its first column, its
last, its currency column). They are read back four ways, each the way the project says a
reader should:

* Python's ``csv`` module (``newline=""``, the dialect's delimiter and encoding) and pandas
  (``dtype=str``, no NA conversion), then one leading apostrophe removed
  (:func:`offboard.csvio.restore_cell`, README "CSV injection");
* the restore's own reader (:mod:`offboard.restore.values`), which keeps NULL apart from an
  empty text and refuses a cell offboard would have written otherwise;
* the verifier's recount (:func:`manifests.verify.content.count_csv`), whose record count and
  money totals per (escaped) currency must be the writer's.

A cell read by ``csv`` or pandas never starts with ``=``, ``+``, ``-``, ``@``, a tab, a carriage
return or a line feed: a text that does is escaped, so its cell starts with an apostrophe.
``tests/offboard/csvio/test_writer.py`` has the plain-``st.text()`` round trip through
``csv``; this adds the hostile alphabet, pandas, NULL against empty text, the restore and the
verifier readers, and several batches and columns.
"""

from __future__ import annotations

import csv
import io
import itertools
import os
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from exporters.base import Table, key, money, text
from manifests.verify.content import HashingStream, count_csv
from offboard.csvio import EXCEL_FR, STANDARD, Dialect, restore_cell
from offboard.csvio.writer import CsvTableWriter
from offboard.restore.values import Decoder, read_csv

#: what makes a spreadsheet run a cell as a formula (OWASP "CSV injection")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")

TABLE = Table(
    name="fuzz",
    primary_key=("id",),
    query="SELECT 1 WHERE ? ORDER BY 1",
    columns=(
        key("id"),
        text("label"),
        money("amount"),
        key("currency"),
        text("note"),
    ),
)

#: pieces that break naive CSV writers and readers, or start a formula
HOSTILE = (
    "\x00",
    "\r",
    "\n",
    "\r\n",
    '"',
    '""',
    ",",
    ";",
    "\t",
    "\ufeff",
    "\xef\xbb\xbf",
    "=",
    "+",
    "-",
    "@",
    "'",
    " ",
    "\u2028",
    "\u2029",
    "\x85",
    "\x0b",
    "\x0c",
    "\x1a",
    '=HYPERLINK("http://x.test","x")',
    "=cmd|' /C calc'!A0",
    "NULL",
    "NA",
    "nan",
    "#N/A",
    "1,5",
    "-12.50",
    "é",
    "🎉",
    "\U0010ffff",
)
PIECES = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=4))
#: any text (Hypothesis' text has no lone surrogates: it must be encodable as UTF-8)
CELL_TEXT = st.one_of(
    st.text(max_size=40),
    st.lists(PIECES, max_size=8).map("".join),
    st.tuples(st.sampled_from((*FORMULA_STARTS, "'", "\ufeff")), st.text(max_size=10)).map("".join),
)
NULLABLE = st.one_of(st.none(), CELL_TEXT)
AMOUNT = st.decimals(
    min_value=Decimal("-9999999999999.99"),
    max_value=Decimal("9999999999999.99"),
    places=2,
    allow_nan=False,
    allow_infinity=False,
)
ROW = st.tuples(CELL_TEXT, NULLABLE, AMOUNT, CELL_TEXT, NULLABLE)


def batch_of(rows: list[tuple[str, str | None, Decimal, str, str | None]]) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays(
        [pa.array([r[i] for r in rows], f.type) for i, f in enumerate(TABLE.schema)],
        schema=TABLE.schema,
    )


def write(path: Path, batches: list[pa.RecordBatch], dialect: Dialect) -> CsvTableWriter:
    with CsvTableWriter(path, TABLE, dialect) as writer:
        for b in batches:
            writer.write_batch(b)
    return writer


def read_with_csv(data: bytes, dialect: Dialect) -> list[list[str]]:
    fh = io.TextIOWrapper(io.BytesIO(data), encoding=dialect.encoding, newline="")
    return list(csv.reader(fh, delimiter=dialect.delimiter))


def read_with_pandas(path: Path, dialect: Dialect) -> pd.DataFrame:
    return pd.read_csv(
        path,
        sep=dialect.delimiter,
        encoding=dialect.encoding,
        dtype=str,
        keep_default_na=False,
        na_filter=False,
    )


def read_with_restore(data: bytes, dialect: Dialect) -> pa.Table:
    decoder = Decoder(TABLE, dialect, "csv/fuzz.csv")
    batches = [decoder.decode(raw) for raw in read_csv(io.BytesIO(data), TABLE, dialect, "x")]
    return pa.Table.from_batches(batches, schema=TABLE.schema)


def recount(data: bytes, dialect: Dialect) -> dict[str, object]:
    table = {
        "money_columns": TABLE.money_columns,
        "currency_column": "currency",
        "columns": [{"name": f.name, "type": str(f.type)} for f in TABLE.schema],
    }
    described = {
        "delimiter": dialect.delimiter,
        "decimal_point": "," if dialect.decimal_comma else ".",
        "bom": dialect.bom,
    }
    stream = HashingStream(iter([data]), skip_bom=dialect.bom)
    return count_csv(stream, table, described)


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    """Where the files are written: in memory (``/dev/shm``) when the machine has it, since
    the writer's rename and ``fsync`` of 2,000 files on a disk would cost most of the time."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    with tempfile.TemporaryDirectory(dir=shm, prefix="offboard-fuzz-") as name:
        yield Path(name)


@settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=st.lists(ROW, min_size=1, max_size=8), cuts=st.lists(st.integers(0, 8), max_size=2))
@example(
    rows=[
        ("=1+1", None, Decimal("0.01"), "EUR", ""),
        ("'", "", Decimal("-0.01"), "'EUR", "\r"),
        ("\ufeff=x", "\x00", Decimal("0.00"), "=EUR", "a\r\nb"),
        ("", "'=", Decimal("12.50"), "", "\t@"),
    ],
    cuts=[1, 3],
)
def test_hostile_text_round_trips_and_is_never_a_formula(
    folder: Path,
    rows: list[tuple[str, str | None, Decimal, str, str | None]],
    cuts: list[int],
) -> None:
    bounds = sorted({0, len(rows), *(c for c in cuts if c < len(rows))})
    batches = [batch_of(rows[a:b]) for a, b in itertools.pairwise(bounds)]
    names = TABLE.column_names
    text_at = [i for i, f in enumerate(TABLE.schema) if pa.types.is_string(f.type)]
    for dialect in (STANDARD, EXCEL_FR):
        path = folder / f"fuzz-{dialect.name}.csv"
        writer = write(path, batches, dialect)
        data = path.read_bytes()
        assert writer.rows == len(rows)
        assert data.startswith(b"\xef\xbb\xbf") == dialect.bom
        assert data.endswith(dialect.eol.encode())

        # Python's csv module: the header, then every text cell, once unescaped
        parsed = read_with_csv(data, dialect)
        assert parsed[0] == names
        assert len(parsed) == len(rows) + 1
        for got, want in zip(parsed[1:], rows, strict=True):
            for i in text_at:
                cell = got[i]
                assert not cell.startswith(FORMULA_STARTS), (dialect.name, cell)
                assert restore_cell(cell) == (want[i] or "")

        # pandas
        frame = read_with_pandas(path, dialect)
        assert list(frame.columns) == names
        assert len(frame) == len(rows)
        for i in text_at:
            column = frame[names[i]].tolist()
            for cell in column:
                assert not cell.startswith(FORMULA_STARTS), (dialect.name, cell)
            assert [restore_cell(c) for c in column] == [r[i] or "" for r in rows]

        # the restore's reader: exact values, NULL kept apart from the empty text
        restored = read_with_restore(data, dialect)
        assert restored.to_pylist() == [dict(zip(names, r, strict=True)) for r in rows]

        # the verifier's recount: records, and totals per currency, as the writer summed them
        figures = recount(data, dialect)
        assert figures["records"] == len(rows)
        expected: dict[str, Decimal] = {}
        for r in rows:
            expected[r[3]] = expected.get(r[3], Decimal(0)) + r[2]
        assert writer.totals == {"amount": expected}
        assert figures["totals"] == {"amount": expected}
