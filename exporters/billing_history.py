"""The subscription and the vendor's own invoices to the account (billing history), with PDFs."""

from __future__ import annotations

from .base import DocumentSet, Exporter, Table, date, integer, key, money, text, timestamp


class BillingHistoryExporter(Exporter):
    name = "billing_history"
    title = "Subscription and billing history"
    tables = (
        Table(
            name="subscription",
            description="The account's subscription to the service.",
            primary_key=("id",),
            columns=(
                key("id"),
                key("plan"),
                integer("seats"),
                key("status"),
                money("monthly_price_ht"),
                key("currency"),
                date("started_on"),
                date("current_period_start"),
                date("current_period_end"),
                timestamp("created_at"),
                timestamp("updated_at"),
            ),
            query="""
                SELECT id, plan, seats, status, monthly_price_ht, currency, started_on,
                       current_period_start, current_period_end, created_at, updated_at
                FROM subscriptions
                WHERE account_id = ?
                ORDER BY id
            """,
        ),
        Table(
            name="billing_invoices",
            description="The vendor's invoices to the account for the subscription.",
            number_column="number",
            primary_key=("id",),
            columns=(
                key("id"),
                key("number"),
                key("subscription_id"),
                date("issue_date"),
                date("period_start"),
                date("period_end"),
                text("description", nullable=False),
                money("total_ht"),
                money("total_vat"),
                money("total_ttc"),
                key("currency"),
                key("status", "paid | unpaid"),
                date("paid_on", nullable=True),
                timestamp("created_at"),
            ),
            query="""
                SELECT id, number, subscription_id, issue_date, period_start, period_end,
                       description, total_ht, total_vat, total_ttc, currency, status, paid_on,
                       created_at
                FROM billing_invoices
                WHERE account_id = ?
                ORDER BY issue_date, number
            """,
        ),
    )
    documents = DocumentSet(
        kind="billing_history",
        title="Billing history",
        query="""
            SELECT b.id AS record_id, b.number, b.issue_date AS date,
                   'offboard demo SaaS' AS party, b.pdf_path AS locator
            FROM billing_invoices b
            WHERE b.account_id = ?
            ORDER BY b.issue_date, b.number
        """,
    )
