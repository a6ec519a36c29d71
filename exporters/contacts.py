"""Contacts: companies (customers and suppliers) and people."""

from __future__ import annotations

from .base import Exporter, Table, boolean, key, text, timestamp


class ContactsExporter(Exporter):
    name = "contacts"
    title = "Contacts (companies and people)"
    tables = (
        Table(
            name="contacts_companies",
            description="One row per company, customer and/or supplier.",
            primary_key=("id",),
            columns=(
                key("id"),
                text("name", nullable=False),
                text("legal_form"),
                text("siren"),
                text("vat_number", "intra-EU VAT number"),
                text("email"),
                text("phone"),
                text("address_line1"),
                text("address_line2"),
                text("postal_code"),
                text("city"),
                key("country", "ISO 3166-1 alpha-2"),
                boolean("is_customer"),
                boolean("is_supplier"),
                text("notes"),
                timestamp("created_at"),
                timestamp("updated_at"),
            ),
            query="""
                SELECT id, name, legal_form, siren, vat_number, email, phone, address_line1,
                       address_line2, postal_code, city, country, is_customer, is_supplier,
                       notes, created_at, updated_at
                FROM companies
                WHERE account_id = ?
                ORDER BY id
            """,
        ),
        Table(
            name="contacts_people",
            description="One row per person, linked to a company when they work for one.",
            primary_key=("id",),
            columns=(
                key("id"),
                text("company_id"),
                text("civility"),
                text("first_name", nullable=False),
                text("last_name", nullable=False),
                text("job_title"),
                text("email"),
                text("phone"),
                text("mobile"),
                text("address_line1"),
                text("postal_code"),
                text("city"),
                text("country"),
                timestamp("created_at"),
                timestamp("updated_at"),
            ),
            query="""
                SELECT id, company_id, civility, first_name, last_name, job_title, email, phone,
                       mobile, address_line1, postal_code, city, country, created_at, updated_at
                FROM people
                WHERE account_id = ?
                ORDER BY id
            """,
        ),
    )
