-- "Acme Factures": a vendor schema that differs from the reference schema, for docs/mappings.md.
-- Tenants instead of accounts; companies and people in one table, `parties`, told apart by
-- `party_type`; invoices are `bills`, with every amount in whole cents (INTEGER); other names
-- differ too; invoice PDFs are kept in the database, in `bill_files`. Quote lines, purchase
-- lines, products, bank and billing tables keep the reference names (a mapping only names
-- what differs).
-- tests/offboard/sources/test_mapping.py fills it from a demo database (ATTACHed as d).

CREATE TABLE tenants (
    tenant_id    TEXT PRIMARY KEY,
    tenant_name  TEXT NOT NULL
);

CREATE TABLE parties (
    party_id       TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants(tenant_id),
    party_type     TEXT NOT NULL CHECK (party_type IN ('company', 'person')),
    display_name   TEXT,            -- companies: the name
    legal_form     TEXT,
    siren          TEXT,
    vat_no         TEXT,
    title          TEXT,            -- people: 'M.' | 'Mme'
    given_name     TEXT,
    family_name    TEXT,
    job            TEXT,
    employer_id    TEXT REFERENCES parties(party_id),
    email          TEXT,
    phone          TEXT,
    mobile         TEXT,
    street         TEXT,
    street2        TEXT,
    zip            TEXT,
    town           TEXT,
    country_code   TEXT,
    customer_flag  INTEGER,
    supplier_flag  INTEGER,
    memo           TEXT,
    created        TEXT NOT NULL,
    modified       TEXT NOT NULL
);

CREATE TABLE bills (
    bill_id          TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants(tenant_id),
    bill_no          TEXT NOT NULL,
    bill_type        TEXT NOT NULL,
    client_id        TEXT NOT NULL REFERENCES parties(party_id),
    quote_ref        TEXT,
    credits_bill_id  TEXT,
    issued           TEXT NOT NULL,
    due              TEXT NOT NULL,
    terms            TEXT NOT NULL,
    state            TEXT NOT NULL,
    ht_cents         INTEGER NOT NULL,
    vat_cents        INTEGER NOT NULL,
    ttc_cents        INTEGER NOT NULL,
    paid_cents       INTEGER NOT NULL,
    currency         TEXT NOT NULL,
    created          TEXT NOT NULL,
    modified         TEXT NOT NULL
);

CREATE TABLE bill_lines (
    line_id           TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL,
    bill_id           TEXT NOT NULL REFERENCES bills(bill_id),
    line_no           INTEGER NOT NULL,
    product_ref       TEXT,
    label             TEXT NOT NULL,
    qty               TEXT NOT NULL,
    unit              TEXT NOT NULL,
    unit_price_cents  INTEGER NOT NULL,
    vat_pct           TEXT NOT NULL,
    line_ht_cents     INTEGER NOT NULL
);

CREATE TABLE bill_vat (
    tenant_id   TEXT NOT NULL,
    bill_id     TEXT NOT NULL REFERENCES bills(bill_id),
    vat_pct     TEXT NOT NULL,
    base_cents  INTEGER NOT NULL,
    vat_cents   INTEGER NOT NULL
);

-- The bills' PDFs, as bytes (a bill without a row has no document).
CREATE TABLE bill_files (
    bill_id  TEXT PRIMARY KEY REFERENCES bills(bill_id),
    pdf      BLOB NOT NULL
);
