"""Bank accounts and bank transactions, with reconciliation links."""

from __future__ import annotations

from .base import Exporter, Table, date, key, money, text, timestamp


class BankExporter(Exporter):
    name = "bank"
    title = "Bank accounts and transactions"
    tables = (
        Table(
            name="bank_accounts",
            description="One row per bank account.",
            primary_key=("id",),
            columns=(
                key("id"),
                text("name", nullable=False),
                text("bank_name", nullable=False),
                key("iban"),
                key("bic"),
                key("currency"),
                date("opening_date"),
                money("opening_balance"),
                timestamp("created_at"),
            ),
            query="""
                SELECT id, name, bank_name, iban, bic, currency, opening_date, opening_balance,
                       created_at
                FROM bank_accounts
                WHERE account_id = ?
                ORDER BY id
            """,
        ),
        Table(
            name="bank_transactions",
            description="One row per transaction; balance is the running balance after it.",
            primary_key=("id",),
            columns=(
                key("id"),
                key("bank_account_id"),
                date("booking_date"),
                date("value_date"),
                text("label", nullable=False),
                money("amount"),
                money("balance"),
                text("matched_invoice_id"),
                text("matched_purchase_id"),
                timestamp("created_at"),
            ),
            query="""
                SELECT id, bank_account_id, booking_date, value_date, label, amount, balance,
                       matched_invoice_id, matched_purchase_id, created_at
                FROM bank_transactions
                WHERE account_id = ?
                ORDER BY bank_account_id, booking_date, id
            """,
        ),
    )
