"""Accounting: fiscal years, journals, the chart of accounts and the entries; and the FEC.

The four tables are exported as CSV like every kind's. The exporter also writes, for each
closed fiscal year, its FEC (Fichier des Écritures Comptables, LPF art. A47 A-1) as
``accounting/<SIREN>FEC<AAAAMMJJ>.txt``, made from the same tables read through the same
source (so a mapping or an HTTP source gives it too): see docs/fec.md and
:mod:`offboard.accounting.fec`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from .base import (
    Exporter,
    ProducedFile,
    Table,
    date,
    integer,
    key,
    money,
    text,
    timestamp,
)

if TYPE_CHECKING:
    from offboard.sources.base import Source

#: the ``--fec-encoding`` values
ENCODINGS = ("utf-8", "iso-8859-15")


class FecExporter(Exporter):
    name = "fec"
    title = "Accounting entries and FEC"
    writes_files = True
    tables = (
        Table(
            name="accounting_fiscal_years",
            description="One row per fiscal year: the current one open, earlier ones closed.",
            primary_key=("id",),
            columns=(
                key("id"),
                key("siren", "the SIREN the year's FEC is filed under (9 digits, Luhn key)"),
                date("start_date"),
                date("end_date", "the closing date"),
                key("status", "open | closed"),
                timestamp("closed_at", nullable=True),
                timestamp("created_at"),
                timestamp("updated_at", "its closing, or its latest entry's validation"),
            ),
            query="""
                SELECT id, siren, start_date, end_date, status, closed_at, created_at, updated_at
                FROM fiscal_years
                WHERE account_id = ?
                ORDER BY start_date, id
            """,
        ),
        Table(
            name="accounting_journals",
            description="One row per journal (JournalCode, JournalLib).",
            primary_key=("code",),
            columns=(
                key("code", "AN | VT | HA | BQ | BQ2 ..."),
                text("label", nullable=False),
                key("kind", "opening | sales | purchases | bank"),
                text("bank_account_id"),
            ),
            query="""
                SELECT code, label, kind, bank_account_id
                FROM journals
                WHERE account_id = ?
                ORDER BY code
            """,
        ),
        Table(
            name="accounting_accounts",
            description="The chart of accounts: general accounts and auxiliary accounts.",
            primary_key=("number",),
            columns=(
                key("number", "706000 (general) | 41100042 (auxiliary)"),
                text("label", nullable=False),
                key("kind", "general | customer | supplier"),
                text("collective_number", "auxiliary accounts: their general account"),
                text("company_id"),
            ),
            query="""
                SELECT number, label, kind, collective_number, company_id
                FROM ledger_accounts
                WHERE account_id = ?
                ORDER BY number
            """,
        ),
        Table(
            name="accounting_entries",
            description="One row per entry line, in validation order (the FEC's order).",
            primary_key=("id",),
            columns=(
                key("id"),
                key("fiscal_year_id"),
                key("journal_code"),
                key("entry_number", "EcritureNum"),
                date("entry_date"),
                key("piece_ref"),
                date("piece_date"),
                integer("position", "the line in its entry"),
                key("account_number", "general account"),
                text("auxiliary_number"),
                text("label", nullable=False),
                money("debit"),
                money("credit"),
                text("lettering"),
                date("lettered_on", nullable=True),
                date("validated_on"),
                key("currency"),
                money("foreign_amount", nullable=True),
                text("foreign_currency"),
                text("invoice_id"),
                text("purchase_id"),
                text("bank_transaction_id"),
            ),
            query="""
                SELECT id, fiscal_year_id, journal_code, entry_number, entry_date, piece_ref,
                       piece_date, position, account_number, auxiliary_number, label, debit,
                       credit, lettering, lettered_on, validated_on, currency, foreign_amount,
                       foreign_currency, invoice_id, purchase_id, bank_transaction_id
                FROM accounting_entries
                WHERE account_id = ?
                ORDER BY validated_on, journal_code, entry_number, position
            """,
        ),
    )

    def files(
        self,
        source: Source,
        account: str,
        folder: Path,
        options: Mapping[str, str],
        progress: Callable[[int], None] | None = None,
    ) -> list[ProducedFile]:
        from offboard.accounting.fec import FOLDER, FiscalYear, write_fec
        from offboard.errors import ConfigError

        encoding = options.get("encoding", "utf-8")
        if encoding not in ENCODINGS:
            raise ConfigError(f"--fec-encoding {encoding!r}: one of {', '.join(ENCODINGS)}")
        years = [
            FiscalYear(r["id"], r["siren"], r["start_date"], r["end_date"], r["status"] == "closed")
            for r in self._rows(source, account, "accounting_fiscal_years")
        ]
        journals = {
            r["code"]: r["label"] for r in self._rows(source, account, "accounting_journals")
        }
        accounts = {
            r["number"]: r["label"] for r in self._rows(source, account, "accounting_accounts")
        }
        written = write_fec(
            years,
            journals,
            accounts,
            self.get_batches(source, account, self.table("accounting_entries")),
            folder / FOLDER,
            encoding,
            progress,
        )
        return [ProducedFile("fec", w.path, w.bytes, w.sha256, w.facts(), w.lines) for w in written]

    def _rows(self, source: Source, account: str, table: str) -> Iterator[dict[str, str]]:
        """The rows of a small table, every value as text (dates ISO)."""
        for batch in self.get_batches(source, account, self.table(table)):
            columns = [c.cast(pa.string()) for c in batch.columns]
            names = batch.schema.names
            for row in zip(*(c.to_pylist() for c in columns), strict=True):
                yield dict(zip(names, row, strict=True))
