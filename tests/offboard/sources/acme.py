"""Fill the "Acme Factures" schema (docs/mappings/acme-schema.sql) from a demo database."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = ROOT / "docs" / "mappings" / "acme-schema.sql"
MAPPING = ROOT / "docs" / "mappings" / "acme.toml"
#: reference tables Acme keeps under their own names
KEPT = (
    "subscriptions",
    "billing_invoices",
    "products",
    "quotes",
    "quote_lines",
    "purchases",
    "purchase_lines",
    "bank_accounts",
    "bank_transactions",
    "fiscal_years",
    "journals",
    "ledger_accounts",
    "accounting_entries",
)


def cents(column: str) -> str:
    """A reference money text ('-12.50') as whole cents (-1250), exactly."""
    return f"CAST(REPLACE({column}, '.', '') AS INTEGER)"


def build_acme(demo: Path, out: Path) -> Path:
    """An Acme database holding the demo's data, with the demo's documents beside it."""
    conn = sqlite3.connect(out)
    try:
        conn.executescript(SCHEMA.read_text(encoding="utf-8"))
        conn.execute("ATTACH DATABASE ? AS d", (f"file:{demo}?mode=ro",))
        conn.executescript(
            f"""
            INSERT INTO tenants SELECT id, name FROM d.accounts;
            INSERT INTO parties (party_id, tenant_id, party_type, display_name, legal_form,
                siren, vat_no, email, phone, street, street2, zip, town, country_code,
                customer_flag, supplier_flag, memo, created, modified)
            SELECT id, account_id, 'company', name, legal_form, siren, vat_number, email,
                phone, address_line1, address_line2, postal_code, city, country, is_customer,
                is_supplier, notes, created_at, updated_at FROM d.companies;
            INSERT INTO parties (party_id, tenant_id, party_type, title, given_name,
                family_name, job, employer_id, email, phone, mobile, street, zip, town,
                country_code, created, modified)
            SELECT id, account_id, 'person', civility, first_name, last_name, job_title,
                company_id, email, phone, mobile, address_line1, postal_code, city, country,
                created_at, updated_at FROM d.people;
            INSERT INTO bills SELECT id, account_id, number, kind, customer_id, quote_id,
                credited_invoice_id, issue_date, due_date, payment_terms, status,
                {cents("total_ht")}, {cents("total_vat")}, {cents("total_ttc")},
                {cents("amount_paid")}, currency, created_at, updated_at
                FROM d.invoices;
            INSERT INTO bill_lines SELECT id, account_id, invoice_id, position, product_id,
                description, quantity, unit, {cents("unit_price_ht")}, vat_rate,
                {cents("total_ht")} FROM d.invoice_lines;
            INSERT INTO bill_vat SELECT account_id, invoice_id, vat_rate, {cents("base_ht")},
                {cents("vat_amount")} FROM d.invoice_vat;
            """
        )
        for table in KEPT:
            conn.execute(f"CREATE TABLE {table} AS SELECT * FROM d.{table}")
        docs = demo.parent / f"{demo.stem}-documents"
        rows = conn.execute("SELECT id, pdf_path FROM d.invoices WHERE pdf_path IS NOT NULL")
        for bill, path in rows.fetchall():
            if (docs / path).is_file():  # the invoices' PDFs move into the database
                conn.execute(
                    "INSERT INTO bill_files VALUES (?, ?)", (bill, (docs / path).read_bytes())
                )
        conn.commit()
    finally:
        conn.close()
    shutil.copytree(
        docs,
        out.parent / f"{out.stem}-documents",
        ignore=lambda folder, names: names if Path(folder).name == "invoices" else [],
    )
    return out
