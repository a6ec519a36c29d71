"""Purchases: supplier invoices received, their lines and expense categories, with PDFs."""

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


class PurchasesExporter(Exporter):
    name = "purchases"
    title = "Purchases (supplier invoices)"
    tables = (
        Table(
            name="purchases",
            description="One row per supplier invoice.",
            number_column="number",
            primary_key=("id",),
            columns=(
                key("id"),
                key("number", "internal reference, e.g. ACH-2025-00012"),
                key("supplier_id"),
                text("supplier_name", nullable=False),
                text("supplier_siren"),
                text("supplier_ref", "the supplier's own invoice number", nullable=False),
                date("issue_date"),
                date("due_date"),
                text("category", nullable=False),
                key("status", "paid | partly_paid | unpaid"),
                money("total_ht"),
                money("total_vat"),
                money("total_ttc"),
                money("amount_paid"),
                key("currency"),
                timestamp("created_at"),
                timestamp("updated_at"),
            ),
            query="""
                SELECT p.id, p.number, p.supplier_id, c.name AS supplier_name,
                       c.siren AS supplier_siren,
                       p.supplier_ref,
                       p.issue_date, p.due_date, p.category, p.status, p.total_ht, p.total_vat,
                       p.total_ttc, p.amount_paid, p.currency, p.created_at, p.updated_at
                FROM purchases p JOIN companies c ON c.id = p.supplier_id
                WHERE p.account_id = ?
                ORDER BY p.issue_date, p.number
            """,
        ),
        Table(
            name="purchase_lines",
            description="One row per supplier invoice line.",
            primary_key=("id",),
            columns=(
                key("id"),
                key("purchase_id"),
                integer("position"),
                text("description", nullable=False),
                text("category", nullable=False),
                quantity("quantity"),
                money("unit_price_ht"),
                rate("vat_rate"),
                money("total_ht"),
            ),
            query="""
                SELECT id, purchase_id, position, description, category, quantity,
                       unit_price_ht, vat_rate, total_ht
                FROM purchase_lines
                WHERE account_id = ?
                ORDER BY purchase_id, position
            """,
        ),
    )
    documents = DocumentSet(
        kind="purchases",
        title="Purchases",
        query="""
            SELECT p.id AS record_id, p.number, p.issue_date AS date, c.name AS party,
                   p.pdf_path AS locator
            FROM purchases p JOIN companies c ON c.id = p.supplier_id
            WHERE p.account_id = ?
            ORDER BY p.issue_date, p.number
        """,
    )
