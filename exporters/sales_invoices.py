"""Sales invoices and credit notes, their lines and their VAT breakdown, with PDFs."""

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


class SalesInvoicesExporter(Exporter):
    name = "sales_invoices"
    title = "Sales invoices and credit notes"
    tables = (
        Table(
            name="sales_invoices",
            description="One row per invoice or credit note (credit notes carry negative amounts).",
            number_column="number",
            primary_key=("id",),
            columns=(
                key("id"),
                key("number", "continuous number per year, e.g. FA-2025-00042"),
                key("kind", "invoice | credit_note"),
                key("customer_id"),
                text("customer_name", nullable=False),
                text("customer_siren"),
                text("customer_vat_number"),
                text("quote_id"),
                text("credited_invoice_id"),
                date("issue_date"),
                date("due_date"),
                text("payment_terms", nullable=False),
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
                SELECT i.id, i.number, i.kind, i.customer_id,
                       c.name AS customer_name, c.siren AS customer_siren,
                       c.vat_number AS customer_vat_number,
                       i.quote_id, i.credited_invoice_id, i.issue_date, i.due_date,
                       i.payment_terms, i.status, i.total_ht, i.total_vat, i.total_ttc,
                       i.amount_paid, i.currency, i.created_at, i.updated_at
                FROM invoices i JOIN companies c ON c.id = i.customer_id
                WHERE i.account_id = ?
                ORDER BY i.issue_date, i.number
            """,
        ),
        Table(
            name="sales_invoice_lines",
            description="One row per invoice line.",
            primary_key=("id",),
            columns=(
                key("id"),
                key("invoice_id"),
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
                SELECT id, invoice_id, position, product_id, description, quantity, unit,
                       unit_price_ht, vat_rate, total_ht
                FROM invoice_lines
                WHERE account_id = ?
                ORDER BY invoice_id, position
            """,
        ),
        Table(
            name="sales_invoice_vat",
            description="VAT breakdown: one row per invoice and VAT rate.",
            primary_key=("invoice_id", "vat_rate"),
            columns=(
                key("invoice_id"),
                rate("vat_rate"),
                money("base_ht"),
                money("vat_amount"),
            ),
            query="""
                SELECT invoice_id, vat_rate, base_ht, vat_amount
                FROM invoice_vat
                WHERE account_id = ?
                ORDER BY invoice_id, CAST(vat_rate AS REAL)
            """,
        ),
    )
    documents = DocumentSet(
        kind="sales_invoices",
        title="Sales invoices",
        query="""
            SELECT i.id AS record_id, i.number, i.issue_date AS date, c.name AS party,
                   i.pdf_path AS locator
            FROM invoices i JOIN companies c ON c.id = i.customer_id
            WHERE i.account_id = ?
            ORDER BY i.issue_date, i.number
        """,
        facturx="required",
    )
