from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporters.base import Table, boolean, date, integer, key, money, text, timestamp
from offboard.csvio import EXCEL_FR, STANDARD, get_dialect, restore_cell
from offboard.csvio.writer import CsvTableWriter
from offboard.errors import ConfigError

TABLE = Table(
    name="t",
    primary_key=("id",),
    query="SELECT 1 WHERE ? ORDER BY 1",
    columns=(
        key("id"),
        text("label"),
        money("amount"),
        date("day"),
        timestamp("at"),
        integer("n"),
        boolean("flag"),
        key("currency"),
    ),
)


def batch(labels: list[str | None]) -> pa.RecordBatch:
    n = len(labels)
    amounts = [Decimal("-12.50"), Decimal("45714.00"), Decimal("0.01"), Decimal("11473.21")]
    return pa.RecordBatch.from_pydict(
        {
            "id": [f"r{i}" for i in range(n)],
            "label": labels,
            "amount": [amounts[i % 4] for i in range(n)],
            "day": pa.array(["2025-03-31"] * n).cast(pa.date32()),
            "at": pa.array(["2025-03-31T23:30:00Z"] * n).cast(pa.timestamp("s", "UTC")),
            "n": list(range(n)),
            "flag": [i % 2 == 0 for i in range(n)],
            "currency": ["EUR" if i % 3 else "USD" for i in range(n)],
        },
        schema=TABLE.schema,
    )


def write(tmp_path: Path, b: pa.RecordBatch, dialect=STANDARD) -> Path:  # type: ignore[no-untyped-def]
    path = tmp_path / "t.csv"
    with CsvTableWriter(path, TABLE, dialect) as w:
        w.write_batch(b)
    return path


def test_standard_values(tmp_path: Path) -> None:
    path = write(tmp_path, batch(["a", "=1+1", None, ""]))
    raw = path.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    lines = raw.decode().split("\n")
    assert lines[0] == '"id","label","amount","day","at","n","flag","currency"'
    assert lines[1] == '"r0","a",-12.50,2025-03-31,"2025-03-31T23:30:00Z",0,true,"USD"'
    assert lines[2].split(",")[1] == '"\'=1+1"'
    assert lines[3].split(",")[1] == "", "NULL is an empty unquoted field"
    assert lines[4].split(",")[1] == '""', "an empty string is quoted"
    assert lines[2].split(",")[2] == "45714.00"


def test_totals_per_currency(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    with CsvTableWriter(path, TABLE, STANDARD) as w:
        w.write_batch(batch(["x"] * 4))
        w.write_batch(batch(["y"] * 4))
    # rows 0,3 are USD (-12.50, 11473.21); rows 1,2 EUR (45714.00, 0.01); twice
    assert w.totals["amount"] == {"USD": Decimal("22921.42"), "EUR": Decimal("91428.02")}
    assert w.rows == 8


def test_excel_fr_reads_back_with_pandas(tmp_path: Path) -> None:
    labels = ["Hélène", "-remise", "a;b", 'quote " and\nnew line']
    b = batch(labels)
    path = write(tmp_path, b, EXCEL_FR)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in raw
    df = pd.read_csv(path, sep=";", decimal=",", encoding="utf-8-sig", keep_default_na=False)
    assert [Decimal(str(v)).quantize(Decimal("0.01")) for v in df["amount"]] == b.column(
        "amount"
    ).to_pylist()
    assert [restore_cell(v) for v in df["label"]] == labels
    assert list(df["day"]) == ["2025-03-31"] * 4
    assert list(df["n"]) == [0, 1, 2, 3]


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.none(), st.text()), min_size=1, max_size=20))
def test_any_text_round_trips_in_both_dialects(tmp_path: Path, labels: list[str | None]) -> None:
    for dialect in (STANDARD, EXCEL_FR):
        path = write(tmp_path, batch(labels), dialect)
        with path.open(encoding=dialect.encoding, newline="") as fh:
            rows = list(csv.reader(fh, delimiter=dialect.delimiter))
        got = [r[1] for r in rows[1:]]
        # csv.reader cannot tell NULL from "": compare on the raw quoting instead
        expected = ["" if v is None else v for v in labels]
        assert [restore_cell(g) for g in got] == expected
        for g in got:
            assert not g.startswith(("=", "+", "-", "@", "\t", "\r", "\n"))


def test_abort_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    with pytest.raises(RuntimeError), CsvTableWriter(path, TABLE, STANDARD) as w:
        w.write_batch(batch(["a"]))
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_unknown_dialect_names_the_option() -> None:
    with pytest.raises(ConfigError, match="excel-de"):
        get_dialect("excel-de")


STAMPED = Table(
    name="s",
    primary_key=("id",),
    query="SELECT 1 WHERE ? ORDER BY 1",
    columns=(key("id"), timestamp("created_at"), timestamp("updated_at", nullable=True)),
)


def test_last_change_is_the_latest_updated_at(tmp_path: Path) -> None:
    def rows(created: list[str], updated: list[str | None]) -> pa.RecordBatch:
        return pa.RecordBatch.from_pydict(
            {
                "id": [f"r{i}" for i in range(len(created))],
                "created_at": pa.array(created).cast(pa.timestamp("s", "UTC")),
                "updated_at": pa.array(updated, pa.string()).cast(pa.timestamp("s", "UTC")),
            },
            schema=STAMPED.schema,
        )

    with CsvTableWriter(tmp_path / "s.csv", STAMPED, STANDARD) as w:
        w.write_batch(rows(["2026-01-01T00:00:00Z"], ["2026-03-02T10:00:00Z"]))
        w.write_batch(rows(["2027-01-01T00:00:00Z"], [None]))  # created later, never updated
        w.write_batch(rows(["2025-01-01T00:00:00Z"], ["2026-02-01T00:00:00Z"]))
    assert w.last_change == "2026-03-02T10:00:00Z"  # updated_at wins over created_at
    with CsvTableWriter(tmp_path / "t.csv", TABLE, STANDARD) as other:
        other.write_batch(batch(["a"]))
    assert other.last_change is None  # no updated_at / created_at column
