"""Where each table of an archive goes in the reference schema, and in which order.

An archive's CSV tables are the exporters' views of the reference schema (``exporters/*.py``):
most are one schema table with ``account_id`` left out; a few also carry columns the export
joins in from another table (``sales_invoices.customer_name`` is ``companies.name``), which
are not stored again but checked against that table (:mod:`offboard.restore.joins`); the
tables with documents get their ``pdf_path`` from the documents restored
(:mod:`offboard.restore.documents`). :func:`make_plan` checks that the archive's tables are the
ones this version of offboard writes, column for column, and orders them so that every
reference points to a row already written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from offboard.errors import ArchiveError, ExporterError

if TYPE_CHECKING:
    from exporters.base import Table


@dataclass(frozen=True)
class Destination:
    """Where one CSV table goes: the schema table, and what is not stored from the CSV."""

    table: str
    #: CSV columns joined in from another table by the export query (checked, not stored)
    joined: tuple[str, ...] = ()
    #: the document kind whose locators fill the table's ``pdf_path``
    documents: str | None = None


#: every table the built-in exporters write, in the order they are restored (referenced first)
DESTINATIONS: dict[str, Destination] = {
    "contacts_companies": Destination("companies"),
    "contacts_people": Destination("people"),
    "catalogue": Destination("products"),
    "subscription": Destination("subscriptions"),
    "billing_invoices": Destination("billing_invoices", documents="billing_history"),
    "quotes": Destination("quotes", joined=("customer_name",), documents="quotes"),
    "quote_lines": Destination("quote_lines"),
    "sales_invoices": Destination(
        "invoices",
        joined=("customer_name", "customer_siren", "customer_vat_number"),
        documents="sales_invoices",
    ),
    "sales_invoice_lines": Destination("invoice_lines"),
    "sales_invoice_vat": Destination("invoice_vat"),
    "purchases": Destination(
        "purchases", joined=("supplier_name", "supplier_siren"), documents="purchases"
    ),
    "purchase_lines": Destination("purchase_lines"),
    "bank_accounts": Destination("bank_accounts"),
    "bank_transactions": Destination("bank_transactions"),
    "accounting_fiscal_years": Destination("fiscal_years"),
    "accounting_journals": Destination("journals"),
    "accounting_accounts": Destination("ledger_accounts"),
    "accounting_entries": Destination("accounting_entries"),
}

#: the kinds whose records a kind's records refer to (its foreign keys and joins)
REQUIRES: dict[str, tuple[str, ...]] = {
    "quotes": ("contacts", "catalogue"),
    "sales_invoices": ("contacts", "catalogue", "quotes"),
    "purchases": ("contacts",),
    "bank": ("sales_invoices", "purchases"),
    "fec": ("contacts", "sales_invoices", "purchases", "bank"),
}

#: the tables of the reference schema a restore writes (``accounts`` first), for checks
SCHEMA_TABLES = ("accounts", *(d.table for d in DESTINATIONS.values()))


@dataclass(frozen=True)
class TablePlan:
    """One CSV table of the archive and where it goes."""

    kind: str
    spec: Table
    destination: Destination
    #: the member of the archive holding it (``data/csv/<table>.csv``)
    path: str
    #: records the archive says it holds
    records: int

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def stored(self) -> list[str]:
        """The CSV columns written to the schema table, in CSV order."""
        return [c for c in self.spec.column_names if c not in self.destination.joined]


@dataclass(frozen=True)
class RestorePlan:
    account: str
    account_name: str
    created_at: str
    dialect: str
    tables: list[TablePlan]

    @property
    def kinds(self) -> list[str]:
        return sorted({t.kind for t in self.tables})

    def table(self, name: str) -> TablePlan | None:
        return next((t for t in self.tables if t.name == name), None)


def make_plan(metadata: dict[str, Any]) -> RestorePlan:
    """The plan for an archive's ``offboard.json``; raise if any table cannot be restored."""
    from exporters import select

    specs: dict[str, tuple[str, Table]] = {}
    for exporter in select(None):
        for spec in exporter.tables:
            specs[spec.name] = (exporter.name, spec)
    found: dict[str, TablePlan] = {}
    for entry in metadata["tables"]:
        name = str(entry["table"])
        plan = _table_plan(entry, specs.get(name))
        if name in found:
            raise ArchiveError(f"offboard.json lists table {name!r} twice")
        found[name] = plan
    kinds = {t.kind for t in found.values()}
    for kind in sorted(kinds):
        missing = [k for k in REQUIRES.get(kind, ()) if k not in kinds]
        if missing:
            raise ArchiveError(
                f"the archive holds kind {kind!r} without {', '.join(map(repr, missing))}, "
                "whose records it refers to: restore needs an export of those kinds too"
            )
    ordered = [found[name] for name in DESTINATIONS if name in found]
    dialect = _dialect(metadata["csv"])
    return RestorePlan(
        account=str(metadata["account"]["id"]),
        account_name=str(metadata["account"]["name"]),
        created_at=str(metadata["created_at"]),
        dialect=dialect,
        tables=ordered,
    )


def _dialect(csv: dict[str, Any]) -> str:
    """The name of the archive's CSV dialect, checked against what it says the dialect is."""
    from offboard.csvio.dialects import DIALECTS

    name = str(csv.get("dialect"))
    dialect = DIALECTS.get(name)
    if dialect is None:
        raise ArchiveError(f"offboard.json: unknown CSV dialect {name!r} ({', '.join(DIALECTS)})")
    described = {
        "bom": dialect.bom,
        "delimiter": dialect.delimiter,
        "line_end": dialect.eol,
        "decimal_point": "," if dialect.decimal_comma else ".",
        "encoding": "utf-8",
    }
    differs = [k for k, v in described.items() if csv.get(k) != v]
    if differs:
        raise ArchiveError(
            f"offboard.json: the CSV dialect {name!r} does not have the {', '.join(differs)} "
            "the archive describes"
        )
    return name


def _table_plan(entry: dict[str, Any], known: tuple[str, Table] | None) -> TablePlan:
    name = str(entry["table"])
    if known is None or name not in DESTINATIONS:
        raise ExporterError(
            f"table {name!r} (kind {entry.get('kind')!r}) has no place in the reference "
            f"schema: restore knows the tables {', '.join(DESTINATIONS)}"
        )
    kind, spec = known
    if entry["kind"] != kind:
        raise ArchiveError(f"table {name!r} is of kind {kind!r}, not {entry['kind']!r}")
    declared = [(c["name"], c["type"], bool(c["nullable"])) for c in entry["columns"]]
    expected = [(f.name, str(f.type), f.nullable) for f in spec.schema]
    if declared != expected:
        raise ArchiveError(
            f"table {name!r}: the archive's columns are not the ones this version of offboard "
            f"exports ({_difference(declared, expected)})"
        )
    path = f"data/csv/{name}.csv"
    if entry["path"] != path:
        raise ArchiveError(f"table {name!r} is at {entry['path']!r}, not at {path!r}")
    return TablePlan(kind, spec, DESTINATIONS[name], path, int(entry["records"]))


def _difference(
    declared: list[tuple[str, str, bool]], expected: list[tuple[str, str, bool]]
) -> str:
    for got, want in zip(declared, expected, strict=False):
        if got != want:
            return f"found {got[0]} {got[1]}, expected {want[0]} {want[1]}"
    if len(declared) > len(expected):
        return f"extra column {declared[len(expected)][0]!r}"
    return f"missing column {expected[len(declared)][0]!r}"
