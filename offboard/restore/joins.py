"""The columns an export joins in from ``companies``, checked instead of stored.

``sales_invoices.customer_name`` (and ``customer_siren``, ``customer_vat_number``),
``quotes.customer_name`` and ``purchases.supplier_name`` (and ``supplier_siren``) are not
columns of their schema tables: the export queries read them from the company the record
refers to. A restore stores each company once (from ``contacts_companies``), so it checks that
every such cell is the one the company gives: otherwise exporting the restored database would
not give the archive's files again, and the restore stops naming the record.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from offboard.arrowutil import strings
from offboard.errors import RecordError
from offboard.restore.values import FALSE, same_cells

#: CSV table: (its column naming the company, {joined column: companies column})
JOINS: dict[str, tuple[str, dict[str, str]]] = {
    "quotes": ("customer_id", {"customer_name": "name"}),
    "sales_invoices": (
        "customer_id",
        {"customer_name": "name", "customer_siren": "siren", "customer_vat_number": "vat_number"},
    ),
    "purchases": ("supplier_id", {"supplier_name": "name", "supplier_siren": "siren"}),
}
COMPANIES = "contacts_companies"
_KEPT = ("id", "name", "siren", "vat_number")


@dataclass
class _Companies:
    ids: pa.Array
    columns: dict[str, pa.Array]


class JoinChecker:
    """Collect the companies as they are restored; check the joined cells of later tables."""

    def __init__(self) -> None:
        self._batches: list[pa.RecordBatch] = []
        self._companies: _Companies | None = None

    def add(self, table: str, batch: pa.RecordBatch) -> None:
        """Note a restored batch of ``table`` (only the companies' are kept: four columns)."""
        if table == COMPANIES:
            self._batches.append(batch.select(list(_KEPT)))
            self._companies = None

    def check(self, table: str, batch: pa.RecordBatch, path: str, offset: int) -> None:
        """Raise RecordError unless every joined cell of ``batch`` is its company's."""
        join = JOINS.get(table)
        if join is None:
            return
        key, columns = join
        companies = self._combined()
        index = pc.index_in(batch.column(key), value_set=companies.ids)
        for column, source in columns.items():
            got = batch.column(column)
            expected = pc.take(companies.columns[source], index)
            ok = same_cells(got, expected)
            if pc.all(ok, min_count=0).as_py():
                continue
            row = pc.index(ok, FALSE).as_py()
            company = batch.column(key)[row].as_py()
            record = batch.column("id")[row].as_py()
            if not index[row].is_valid:
                why = f"company {company!r} is not in {COMPANIES}.csv"
            else:
                why = (
                    f"company {company!r} has {source} {expected[row].as_py()!r} in "
                    f"{COMPANIES}.csv: the reference schema keeps one {source} per company"
                )
            raise RecordError(
                f"{path}: table {table!r}, record id={record!r} (record {offset + row + 1}): "
                f"column {column!r} is {got[row].as_py()!r} but {why}, so the restored "
                "database would not export this archive again"
            )

    def _combined(self) -> _Companies:
        if self._companies is None:
            if self._batches:
                table = pa.Table.from_batches(self._batches).combine_chunks()
            else:
                table = pa.table({n: strings([]) for n in _KEPT})
            self._batches = table.to_batches()  # one copy of them, not two
            columns = {n: table.column(n).combine_chunks() for n in _KEPT}
            self._companies = _Companies(columns["id"], columns)
        return self._companies
