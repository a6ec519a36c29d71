"""CSV cells back into exact values: what the writer writes reads back the same, in both
dialects; anything the writer would have written otherwise is an error naming the record."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exporters.base import (
    Table,
    boolean,
    integer,
    key,
    money,
    quantity,
    rate,
    text,
    timestamp,
)
from exporters.base import date as date_column
from offboard.csvio import EXCEL_FR, STANDARD, Dialect
from offboard.csvio.writer import CsvTableWriter
from offboard.errors import RecordError
from offboard.restore.values import Decoder, read_csv

SPEC = Table(
    name="things",
    primary_key=("id",),
    query="",
    columns=(
        key("id"),
        text("note"),
        text("label", nullable=False),
        money("amount"),
        money("maybe", nullable=True),
        rate("vat_rate"),
        quantity("quantity"),
        date_column("day"),
        date_column("paid_on", nullable=True),
        timestamp("at"),
        integer("position"),
        boolean("flag"),
    ),
)


def write(batch: pa.RecordBatch, dialect: Dialect, path: Path) -> bytes:
    with CsvTableWriter(path, SPEC, dialect) as writer:
        writer.write_batch(batch)
    return path.read_bytes()


def decode(data: bytes, dialect: Dialect) -> pa.Table:
    decoder = Decoder(SPEC, dialect, "data/csv/things.csv")
    raw = io.BytesIO(data)
    batches = [decoder.decode(b) for b in read_csv(raw, SPEC, dialect, "data/csv/things.csv")]
    return pa.Table.from_batches(batches, schema=SPEC.schema)


def batch_of(rows: list[dict[str, object]]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist(rows, schema=SPEC.schema)


def row(**values: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": "t-1",
        "note": None,
        "label": "x",
        "amount": Decimal("1.00"),
        "maybe": None,
        "vat_rate": Decimal("20.00"),
        "quantity": Decimal("1.000"),
        "day": date(2025, 3, 31),
        "paid_on": None,
        "at": datetime(2025, 3, 31, 10, 0, tzinfo=UTC),
        "position": 1,
        "flag": True,
    }
    base.update(values)
    return base


HOSTILE = [
    "",
    "'",
    "''",
    "'=already",
    '=HYPERLINK("http://x")',
    "+33 6 12 34 56 78",
    "-12",
    "@SUM",
    "\tcell",
    "\r\nline",
    'a;b,c"d"',
    "line 1\nline 2\r\nline 3",
    "  spaces  ",
    "émoji 🧾",
]


@pytest.mark.parametrize("dialect", [STANDARD, EXCEL_FR], ids=lambda d: d.name)
def test_hostile_texts_nulls_and_every_type_read_back_exactly(
    dialect: Dialect, tmp_path: Path
) -> None:
    rows = [
        row(id=f"t-{i}", note=value, label=value, amount=Decimal("-12.50"), maybe=Decimal("0.00"))
        for i, value in enumerate(HOSTILE)
    ]
    rows.append(row(id="null", note=None, paid_on=date(2024, 2, 29), flag=False, position=-7))
    batch = batch_of(rows)
    assert decode(write(batch, dialect, tmp_path / "t.csv"), dialect).to_batches()[0] == batch


def test_a_column_null_in_a_whole_batch_reads_back(tmp_path: Path) -> None:
    batch = batch_of([row(id=f"t-{i}") for i in range(3)])  # note, maybe, paid_on: all NULL
    assert decode(write(batch, STANDARD, tmp_path / "t.csv"), STANDARD).to_batches()[0] == batch


@settings(max_examples=60, deadline=None)
@given(
    texts=st.lists(st.one_of(st.none(), st.text(max_size=12)), min_size=1, max_size=8),
    cents=st.integers(-(10**15), 10**15),
    excel=st.booleans(),
)
def test_any_text_and_amount_round_trip(
    texts: list[str | None], cents: int, excel: bool, tmp_path_factory: pytest.TempPathFactory
) -> None:
    dialect = EXCEL_FR if excel else STANDARD
    rows = [
        row(id=f"t-{i}", note=t, label=t or "", amount=Decimal(cents).scaleb(-2))
        for i, t in enumerate(texts)
    ]
    batch = batch_of(rows)
    path = tmp_path_factory.mktemp("h") / "t.csv"
    assert decode(write(batch, dialect, path), dialect).to_batches()[0] == batch


HEADER = ",".join(f'"{name}"' for name in SPEC.column_names) + "\n"
GOOD = '"t-1",,"x",1.00,,20.00,1.000,2025-03-31,,2025-03-31T10:00:00Z,1,true\n'


@pytest.mark.parametrize(
    ("line", "column"),
    [
        (GOOD.replace(",1.00,", ",1.5,"), "amount"),  # not two places
        (GOOD.replace(",1.00,", ",01.00,"), "amount"),
        (GOOD.replace("10:00:00Z", "11:00:00+01:00"), "at"),  # the same instant, not UTC
        (GOOD.replace(",true\n", ",1\n"), "flag"),
        (GOOD.replace(",1,true", ",+1,true"), "position"),
        (GOOD.replace('"x"', '"=1+1"'), "label"),  # a formula offboard would have escaped
        (GOOD.replace('"x"', '"\'plain"'), "label"),  # an escape offboard would not write
        (GOOD.replace('"x"', ""), "label"),  # NULL in a required column
        (GOOD.replace("2025-03-31,", "2025-02-30,"), "day"),
    ],
)
def test_a_cell_offboard_would_write_otherwise_names_its_record(line: str, column: str) -> None:
    with pytest.raises(RecordError) as caught:
        decode((HEADER + GOOD.replace("t-1", "t-0") + line).encode(), STANDARD)
    message = str(caught.value)
    assert message.startswith("data/csv/things.csv: table 'things', record id='t-1' (record 2)")
    assert f"column {column!r}" in message


def test_a_decimal_point_in_an_excel_fr_file_is_refused() -> None:
    data = "\ufeff" + HEADER.replace(",", ";") + GOOD.replace(",", ";")
    with pytest.raises(RecordError, match=r"column 'amount' value '1\.00'"):
        decode(data.replace("\n", "\r\n").encode(), EXCEL_FR)


def test_another_header_or_a_broken_file_is_refused() -> None:
    with pytest.raises(RecordError, match="the header is"):
        decode((HEADER.replace('"note"', '"notes"') + GOOD).encode(), STANDARD)
    with pytest.raises(RecordError, match="not a CSV file offboard wrote"):
        decode((HEADER + GOOD.replace(",1.00,", ',"1.00,')).encode(), STANDARD)
