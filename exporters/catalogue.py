"""Catalogue: products and services with unit prices and VAT rates."""

from __future__ import annotations

from .base import Exporter, Table, boolean, key, money, rate, text, timestamp


class CatalogueExporter(Exporter):
    name = "catalogue"
    title = "Catalogue (products and services)"
    tables = (
        Table(
            name="catalogue",
            description="One row per product or service.",
            primary_key=("id",),
            columns=(
                key("id"),
                key("sku"),
                text("name", nullable=False),
                text("description"),
                key("kind", "product | service"),
                text("unit", nullable=False),
                money("unit_price_ht"),
                rate("vat_rate"),
                boolean("active"),
                timestamp("created_at"),
                timestamp("updated_at"),
            ),
            query="""
                SELECT id, sku, name, description, kind, unit, unit_price_ht, vat_rate, active,
                       created_at, updated_at
                FROM products
                WHERE account_id = ?
                ORDER BY sku
            """,
        ),
    )
