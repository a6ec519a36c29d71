"""No cent is lost: 10,000 generated invoices through every place offboard computes or writes
money, checked against exact decimal arithmetic done here.

Hypothesis draws invoices (lines of quantities to the thousandth, unit prices to the cent,
positive or negative, the French VAT rates the project uses, a currency, invoice or credit
note), ten per example, 1,000 examples: 10,000 invoices per run, counted by the test itself.
Each example goes through the project's own code:

* the invoice maths (:func:`offboard.demo.lines.emit_lines`, :func:`~offboard.demo.lines.vat_rows`)
  and its texts (:func:`offboard.demo.common.money`), against ``Decimal`` rounded half away
  from zero;
* the source's cast of those texts to the exporters' types
  (:func:`offboard.sources.records.to_schema`) and the real CSV writer, in the dialect drawn
  (:class:`~offboard.csvio.writer.CsvTableWriter`): its totals per currency, every money cell
  written (a sum of the cells' cents equal to the exact sum), the totals ``offboard.json``
  records (:meth:`offboard.summary.TableResult.to_dict`) and the verifier's recount of them
  (:func:`manifests.verify.tables.check_csv`, which must notice one cent more);
* the Factur-X XML of each invoice (:func:`offboard.demo.facturx.cii_xml`) read back
  (:func:`offboard.facturx.xml.read`) and compared with its CSV row read from the file
  written (:func:`offboard.facturx.rows.read_rows`, :func:`offboard.facturx.checks.compare_row`);
* the FEC of the euro invoices' sales entries (:func:`offboard.accounting.fec.write_fec`, its
  checker's debit and credit, :func:`~offboard.accounting.fec_check.parse_amount` of every
  amount written and the figures ``offboard.json`` records).
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporters.base import Table
from manifests.verify.tables import check_csv
from offboard.accounting.fec import write_fec
from offboard.accounting.fec_format import parse_amount
from offboard.csvio import EXCEL_FR, STANDARD, Dialect
from offboard.csvio.writer import CsvTableWriter
from offboard.demo.facturx import cii_xml
from offboard.facturx.checks import compare_row
from offboard.facturx.rows import read_rows
from offboard.facturx.xml import read as read_facturx
from offboard.sources.records import to_schema
from offboard.summary import TableResult
from tests.offboard.money_invoices import (
    ACCOUNTS,
    CENT,
    ENTRIES,
    INVOICE,
    JOURNALS,
    SALES,
    YEAR,
    Invoice,
    Made,
    Row,
    cents,
    make,
)

INVOICES_PER_EXAMPLE = 10
EXAMPLES = 1000
#: a money cell as offboard writes it: sign, digits, the dialect's decimal point, two decimals
MONEY_CELL = re.compile(r"-?[0-9]+[.,][0-9]{2}")


def batch(table: Table, rows: list[Row]) -> pa.RecordBatch:
    """The rows as a source returns them (texts), cast by the source's own cast."""
    raw = pa.RecordBatch.from_arrays(
        [pa.array([r.get(n) for r in rows], pa.string()) for n in table.column_names],
        names=table.column_names,
    )
    return to_schema(raw, table.schema, table, 0)


def write(folder: Path, table: Table, rows: list[Row], dialect: Dialect) -> TableResult:
    path = folder / f"{table.name}.csv"
    with CsvTableWriter(path, table, dialect) as w:
        w.write_batch(batch(table, rows))
    return TableResult("k", table.name, f"csv/{table.name}.csv", w.rows, w.bytes, 0.0, w.totals)


def described(dialect: Dialect) -> dict[str, Any]:
    """The dialect as ``offboard.json`` records it."""
    point = "," if dialect.decimal_comma else "."
    return {"delimiter": dialect.delimiter, "decimal_point": point, "bom": dialect.bom}


class Member:
    """What :func:`check_csv` reads a zip member through: here, bytes in memory."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def iter_data(self, entry: object) -> Iterator[bytes]:
        return iter([self.data])


def recorded(result: TableResult, table: Table) -> dict[str, Any]:
    """The table's ``offboard.json`` entry, as far as the verifier's recount reads it."""
    return {
        **result.to_dict(),
        "money_columns": table.money_columns,
        "currency_column": "currency" if "currency" in table.column_names else None,
        "columns": [{"name": f.name, "type": str(f.type)} for f in table.schema],
    }


def check_table(
    folder: Path,
    table: Table,
    rows: list[Row],
    dialect: Dialect,
    want: dict[str, dict[str, Decimal]],
    tamper: bool,
) -> bytes:
    """Write ``rows``; the writer's totals, the recorded ones, every cell and the verifier's
    recount agree with the exact ``want``; with ``tamper``, one cent more in the recorded
    totals is noticed by the verifier."""
    want = {c: want.get(c, {}) for c in table.money_columns}
    result = write(folder, table, rows, dialect)
    assert result.totals == want
    entry = recorded(result, table)
    for column, by_currency in entry["totals"].items():
        for code, text in by_currency.items():
            assert re.fullmatch(r"-?[0-9]+\.[0-9]{2}", text), text
            assert Decimal(text) == want[column][code]
    data = (folder / f"{table.name}.csv").read_bytes()
    reader = csv.DictReader(
        io.StringIO(data.decode(dialect.encoding), newline=""), delimiter=dialect.delimiter
    )
    summed: dict[str, dict[str, int]] = {c: {} for c in table.money_columns}
    count = 0
    for row in reader:
        count += 1
        code = row.get("currency", "")
        for column in table.money_columns:
            cell = row[column]
            if cell == "" and column == "foreign_amount":  # nullable, and NULL here
                continue
            assert MONEY_CELL.fullmatch(cell), cell
            assert (cell[-3] == ",") == dialect.decimal_comma, cell
            summed[column][code] = summed[column].get(code, 0) + int(cell.replace(cell[-3], ""))
    assert count == len(rows)
    for column, by_currency in want.items():
        assert summed[column] == {code: cents(v) for code, v in by_currency.items()}, column
    assert recount(data, table, entry, dialect) == []
    if tamper:
        column = table.money_columns[0]
        code = min(entry["totals"][column])
        off = {c: dict(v) for c, v in entry["totals"].items()}
        off[column][code] = f"{Decimal(off[column][code]) + CENT:.2f}"
        problems = recount(data, table, {**entry, "totals": off}, dialect)
        assert [p.code for p in problems] == ["record-mismatch"]
    return data


def recount(data: bytes, table: Table, entry: dict[str, Any], dialect: Dialect) -> list[Any]:
    """The verifier's problems with a CSV file of ``data`` recorded as ``entry``."""
    problems: list[Any] = []
    member: Any = Member(data)
    rel = f"csv/{table.name}.csv"
    assert check_csv(problems, member, None, rel, entry, described(dialect)) is not None  # type: ignore[arg-type]
    return problems


def check_fec(folder: Path, made: Made) -> None:
    """The FEC's amounts, its checker's totals and its recorded figures are exact."""
    if not made.entries:
        return
    batches = iter([batch(ENTRIES, made.entries)])
    [fec] = write_fec([YEAR], JOURNALS, ACCOUNTS, batches, folder / "fec")
    debit, credit = (
        made.want[ENTRIES.name]["debit"]["EUR"],
        made.want[ENTRIES.name]["credit"]["EUR"],
    )
    assert (fec.debit, fec.credit) == (cents(debit), cents(credit))
    facts = fec.facts()
    assert (Decimal(facts["debit"]), Decimal(facts["credit"])) == (debit, credit)
    name = fec.path.split("/", 1)[1]
    lines = (folder / "fec" / name).read_bytes().decode("utf-8").split("\r\n")[1:-1]
    assert len(lines) == len(made.entries)
    for line, entry in zip(lines, made.entries, strict=True):
        fields = line.split("\t")
        assert parse_amount(fields[11]) == cents(Decimal(str(entry["debit"])))
        assert parse_amount(fields[12]) == cents(Decimal(str(entry["credit"])))


def check_facturx(invoices_csv: bytes, made: Made, dialect: Dialect) -> None:
    """Each invoice's XML, read back, states its exact totals and matches its CSV row."""
    rows = read_rows([invoices_csv], described(dialect), set(made.facturx))
    for iid, (invoice, exact_ttc) in made.facturx.items():
        values = read_facturx(cii_xml(invoice)).values
        assert compare_row(values, rows[iid]) == []
        credit = invoice.type_code == "381"
        assert Decimal(str(values["gross"])) == (-exact_ttc if credit else exact_ttc)


def check_batch(folder: Path, invoices: list[Invoice], dialect: Dialect, tampered: int) -> None:
    made = make(invoices)
    tables = (
        (SALES["sales_invoices"], made.heads),
        (SALES["sales_invoice_lines"], made.lines),
        (SALES["sales_invoice_vat"], made.vats),
        (ENTRIES, made.entries),
    )
    written = {
        table.name: check_table(
            folder, table, rows, dialect, made.want[table.name], tamper=i == tampered
        )
        for i, (table, rows) in enumerate(tables)
        if rows
    }
    check_facturx(written["sales_invoices"], made, dialect)
    check_fec(folder, made)


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    """Where the files are written: in memory (``/dev/shm``) when the machine has it, since
    renaming and syncing thousands of files on a disk would cost most of the time."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    with tempfile.TemporaryDirectory(dir=shm, prefix="offboard-money-") as name:
        yield Path(name)


def test_no_cent_is_lost_across_10000_invoices(folder: Path) -> None:
    seen: list[int] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        invoices=st.lists(INVOICE, min_size=INVOICES_PER_EXAMPLE, max_size=INVOICES_PER_EXAMPLE),
        dialect=st.sampled_from([STANDARD, EXCEL_FR]),
        tampered=st.integers(0, 3),  # the table whose recorded total is made one cent off
    )
    def batch_of_invoices(invoices: list[Invoice], dialect: Dialect, tampered: int) -> None:
        check_batch(folder, invoices, dialect, tampered)
        seen.append(len(invoices))

    batch_of_invoices()
    assert sum(seen) >= INVOICES_PER_EXAMPLE * EXAMPLES, f"{sum(seen)} invoices checked"
