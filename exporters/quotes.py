"""Quotes (devis) and their lines, with PDFs."""

from __future__ import annotations

from .base import (
    DocumentSet,
    Exporter,
    Table,
    date,
    integer,
    key,
    money,
    quantity,
    rate,
    text,
    timestamp,
)


class QuotesExporter(Exporter):
    name = "quotes"
    title = "Quotes"
    tables = (
        Table(
            name="quotes",
            description="One row per quote.",
            number_column="number",
            primary_key=("id",),
            columns=(
                key("id"),
                key("number", "e.g. DE-2025-00012"),
                key("customer_id"),
                text("customer_name", nullable=False),
                date("issue_date"),
                date("valid_until"),
                key("status", "draft | sent | accepted | refused | expired"),
                text("subject"),
                money("total_ht"),
                money("total_vat"),
                money("total_ttc"),
                key("currency"),
                timestamp("created_at"),
                timestamp("updated_at"),
            ),
            query="""
                SELECT q.id, q.number, q.customer_id, c.name AS customer_name,
                       q.issue_date, q.valid_until,
                       q.status, q.subject, q.total_ht, q.total_vat, q.total_ttc, q.currency,
                       q.created_at, q.updated_at
                FROM quotes q JOIN companies c ON c.id = q.customer_id
                WHERE q.account_id = ?
                ORDER BY q.issue_date, q.number
            """,
        ),
        Table(
            name="quote_lines",
            description="One row per quote line.",
            primary_key=("id",),
            columns=(
                key("id"),
                key("quote_id"),
                integer("position"),
                text("product_id"),
                text("description", nullable=False),
                quantity("quantity"),
                text("unit", nullable=False),
                money("unit_price_ht"),
                rate("vat_rate"),
                money("total_ht"),
            ),
            query="""
                SELECT id, quote_id, position, product_id, description, quantity, unit,
                       unit_price_ht, vat_rate, total_ht
                FROM quote_lines
                WHERE account_id = ?
                ORDER BY quote_id, position
            """,
        ),
    )
    documents = DocumentSet(
        kind="quotes",
        title="Quotes",
        query="""
            SELECT q.id AS record_id, q.number, q.issue_date AS date, c.name AS party,
                   q.pdf_path AS locator
            FROM quotes q JOIN companies c ON c.id = q.customer_id
            WHERE q.account_id = ?
            ORDER BY q.issue_date, q.number
        """,
    )
