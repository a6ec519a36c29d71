-- Reference schema of the demo invoicing SaaS (multi-tenant: every row carries account_id).
--
-- Conventions (see docs/reference-schema.md):
--   * money is TEXT holding an exact decimal with exactly two places ('45714.00', '-12.50'):
--     SQLite has no decimal type and REAL would lose cents;
--   * VAT rates are TEXT decimals with two places ('20.00', '5.50');
--   * quantities are TEXT decimals with three places ('1.000', '2.500');
--   * dates are TEXT 'YYYY-MM-DD' (calendar dates, no time zone);
--   * timestamps are TEXT 'YYYY-MM-DDTHH:MM:SSZ' in UTC;
--   * booleans are INTEGER 0/1;
--   * document files are paths relative to the documents folder beside the database.

PRAGMA foreign_keys = ON;

CREATE TABLE accounts (
    id              TEXT PRIMARY KEY,            -- 'acc-0001'
    name            TEXT NOT NULL,               -- tenant company name
    siren           TEXT NOT NULL,
    vat_number      TEXT NOT NULL,
    email           TEXT NOT NULL,
    address_line1   TEXT NOT NULL,
    postal_code     TEXT NOT NULL,
    city            TEXT NOT NULL,
    country         TEXT NOT NULL,
    created_at      TEXT NOT NULL
);

CREATE TABLE subscriptions (
    id                    TEXT PRIMARY KEY,      -- 'sub-0001'
    account_id            TEXT NOT NULL REFERENCES accounts(id),
    plan                  TEXT NOT NULL,         -- 'essentiel' | 'standard' | 'premium'
    seats                 INTEGER NOT NULL,
    status                TEXT NOT NULL,         -- 'active' | 'past_due' | 'cancellation_requested' | 'terminated'
    monthly_price_ht      TEXT NOT NULL,
    currency              TEXT NOT NULL,
    started_on            TEXT NOT NULL,
    current_period_start  TEXT NOT NULL,
    current_period_end    TEXT NOT NULL,
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL,
    -- the termination gate's (offboard.gate): NULL until a cancellation is requested
    cancellation_reason        TEXT,
    cancellation_requested_at  TEXT,
    cancellation_effective_on  TEXT,         -- a date: the end of the paid period, or the request's day
    terminated_at              TEXT
);
CREATE INDEX subscriptions_account ON subscriptions(account_id);

-- The vendor's own monthly invoices to the tenant (the billing history).
CREATE TABLE billing_invoices (
    id               TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL REFERENCES accounts(id),
    subscription_id  TEXT NOT NULL REFERENCES subscriptions(id),
    number           TEXT NOT NULL,              -- 'ABO-2025-000123' (vendor-wide series)
    issue_date       TEXT NOT NULL,
    period_start     TEXT NOT NULL,
    period_end       TEXT NOT NULL,
    description      TEXT NOT NULL,
    total_ht         TEXT NOT NULL,
    total_vat        TEXT NOT NULL,
    total_ttc        TEXT NOT NULL,
    currency         TEXT NOT NULL,
    status           TEXT NOT NULL,              -- 'paid' | 'unpaid'
    paid_on          TEXT,
    pdf_path         TEXT,
    created_at       TEXT NOT NULL,
    UNIQUE (number)
);
CREATE INDEX billing_invoices_account ON billing_invoices(account_id, issue_date);

CREATE TABLE companies (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    name            TEXT NOT NULL,
    legal_form      TEXT,                        -- 'SARL', 'SAS', ...
    siren           TEXT,
    vat_number      TEXT,
    email           TEXT,
    phone           TEXT,
    address_line1   TEXT,
    address_line2   TEXT,
    postal_code     TEXT,
    city            TEXT,
    country         TEXT NOT NULL,
    is_customer     INTEGER NOT NULL,
    is_supplier     INTEGER NOT NULL,
    notes           TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX companies_account ON companies(account_id, id);

CREATE TABLE people (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    company_id      TEXT REFERENCES companies(id),
    civility        TEXT,                        -- 'M.' | 'Mme'
    first_name      TEXT NOT NULL,
    last_name       TEXT NOT NULL,
    job_title       TEXT,
    email           TEXT,
    phone           TEXT,
    mobile          TEXT,
    address_line1   TEXT,
    postal_code     TEXT,
    city            TEXT,
    country         TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX people_account ON people(account_id, id);

CREATE TABLE products (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    sku             TEXT NOT NULL,
    name            TEXT NOT NULL,
    description     TEXT,
    kind            TEXT NOT NULL,               -- 'product' | 'service'
    unit            TEXT NOT NULL,               -- 'pièce', 'heure', 'jour', 'kg', 'forfait', ...
    unit_price_ht   TEXT NOT NULL,
    vat_rate        TEXT NOT NULL,               -- '20.00' | '10.00' | '5.50' | '2.10'
    active          INTEGER NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (account_id, sku)
);

CREATE TABLE quotes (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    number          TEXT NOT NULL,               -- 'DE-2025-00012'
    customer_id     TEXT NOT NULL REFERENCES companies(id),
    issue_date      TEXT NOT NULL,
    valid_until     TEXT NOT NULL,
    status          TEXT NOT NULL,               -- 'draft' | 'sent' | 'accepted' | 'refused' | 'expired'
    subject         TEXT,
    total_ht        TEXT NOT NULL,
    total_vat       TEXT NOT NULL,
    total_ttc       TEXT NOT NULL,
    currency        TEXT NOT NULL,
    pdf_path        TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (account_id, number)
);
CREATE INDEX quotes_account ON quotes(account_id, issue_date, number);

CREATE TABLE quote_lines (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    quote_id        TEXT NOT NULL REFERENCES quotes(id),
    position        INTEGER NOT NULL,
    product_id      TEXT REFERENCES products(id),
    description     TEXT NOT NULL,
    quantity        TEXT NOT NULL,
    unit            TEXT NOT NULL,
    unit_price_ht   TEXT NOT NULL,
    vat_rate        TEXT NOT NULL,
    total_ht        TEXT NOT NULL,
    UNIQUE (quote_id, position)
);
CREATE INDEX quote_lines_account ON quote_lines(account_id, quote_id, position);

-- Sales invoices and credit notes (kind = 'credit_note', negative amounts, own series 'AV-').
CREATE TABLE invoices (
    id                   TEXT PRIMARY KEY,
    account_id           TEXT NOT NULL REFERENCES accounts(id),
    number               TEXT NOT NULL,          -- 'FA-2025-00042' | 'AV-2025-00003'
    kind                 TEXT NOT NULL,          -- 'invoice' | 'credit_note'
    customer_id          TEXT NOT NULL REFERENCES companies(id),
    quote_id             TEXT REFERENCES quotes(id),
    credited_invoice_id  TEXT REFERENCES invoices(id),
    issue_date           TEXT NOT NULL,
    due_date             TEXT NOT NULL,
    payment_terms        TEXT NOT NULL,          -- '30 jours', '45 jours fin de mois', ...
    status               TEXT NOT NULL,          -- 'paid' | 'partly_paid' | 'unpaid'
    total_ht             TEXT NOT NULL,
    total_vat            TEXT NOT NULL,
    total_ttc            TEXT NOT NULL,
    amount_paid          TEXT NOT NULL,
    currency             TEXT NOT NULL,
    pdf_path             TEXT,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL,
    UNIQUE (account_id, number)
);
CREATE INDEX invoices_account ON invoices(account_id, issue_date, number);

CREATE TABLE invoice_lines (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    invoice_id      TEXT NOT NULL REFERENCES invoices(id),
    position        INTEGER NOT NULL,
    product_id      TEXT REFERENCES products(id),
    description     TEXT NOT NULL,
    quantity        TEXT NOT NULL,
    unit            TEXT NOT NULL,
    unit_price_ht   TEXT NOT NULL,
    vat_rate        TEXT NOT NULL,
    total_ht        TEXT NOT NULL,
    UNIQUE (invoice_id, position)
);
CREATE INDEX invoice_lines_account ON invoice_lines(account_id, invoice_id, position);

-- VAT breakdown per invoice and rate: vat_amount = round_half_up(base_ht * vat_rate / 100, 2).
CREATE TABLE invoice_vat (
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    invoice_id      TEXT NOT NULL REFERENCES invoices(id),
    vat_rate        TEXT NOT NULL,
    base_ht         TEXT NOT NULL,
    vat_amount      TEXT NOT NULL,
    PRIMARY KEY (invoice_id, vat_rate)
);
CREATE INDEX invoice_vat_account ON invoice_vat(account_id, invoice_id);

-- Purchases: supplier invoices received by the tenant.
CREATE TABLE purchases (
    id                TEXT PRIMARY KEY,
    account_id        TEXT NOT NULL REFERENCES accounts(id),
    number            TEXT NOT NULL,             -- internal reference 'ACH-2025-00012'
    supplier_id       TEXT NOT NULL REFERENCES companies(id),
    supplier_ref      TEXT NOT NULL,             -- the supplier's own invoice number
    issue_date        TEXT NOT NULL,
    due_date          TEXT NOT NULL,
    category          TEXT NOT NULL,             -- main expense category
    status            TEXT NOT NULL,             -- 'paid' | 'partly_paid' | 'unpaid'
    total_ht          TEXT NOT NULL,
    total_vat         TEXT NOT NULL,
    total_ttc         TEXT NOT NULL,
    amount_paid       TEXT NOT NULL,
    currency          TEXT NOT NULL,
    pdf_path          TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    UNIQUE (account_id, number)
);
CREATE INDEX purchases_account ON purchases(account_id, issue_date, number);

CREATE TABLE purchase_lines (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    purchase_id     TEXT NOT NULL REFERENCES purchases(id),
    position        INTEGER NOT NULL,
    description     TEXT NOT NULL,
    category        TEXT NOT NULL,               -- expense category, e.g. 'Fournitures de bureau'
    quantity        TEXT NOT NULL,
    unit_price_ht   TEXT NOT NULL,
    vat_rate        TEXT NOT NULL,
    total_ht        TEXT NOT NULL,
    UNIQUE (purchase_id, position)
);
CREATE INDEX purchase_lines_account ON purchase_lines(account_id, purchase_id, position);

CREATE TABLE bank_accounts (
    id               TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL REFERENCES accounts(id),
    name             TEXT NOT NULL,
    bank_name        TEXT NOT NULL,
    iban             TEXT NOT NULL,
    bic              TEXT NOT NULL,
    currency         TEXT NOT NULL,
    opening_date     TEXT NOT NULL,
    opening_balance  TEXT NOT NULL,
    created_at       TEXT NOT NULL
);
CREATE INDEX bank_accounts_account ON bank_accounts(account_id, id);

-- balance = opening_balance + running sum of amount, in (booking_date, id) order.
CREATE TABLE bank_transactions (
    id                   TEXT PRIMARY KEY,
    account_id           TEXT NOT NULL REFERENCES accounts(id),
    bank_account_id      TEXT NOT NULL REFERENCES bank_accounts(id),
    booking_date         TEXT NOT NULL,
    value_date           TEXT NOT NULL,
    label                TEXT NOT NULL,
    amount               TEXT NOT NULL,
    balance              TEXT NOT NULL,
    matched_invoice_id   TEXT REFERENCES invoices(id),
    matched_purchase_id  TEXT REFERENCES purchases(id),
    created_at           TEXT NOT NULL
);
CREATE INDEX bank_transactions_account ON bank_transactions(account_id, bank_account_id, booking_date, id);

-- Accounting: the general ledger the SaaS keeps from the documents (docs/fec.md). Fiscal years
-- are closed one after another; a closed year's entries never change again.
CREATE TABLE fiscal_years (
    id              TEXT PRIMARY KEY,            -- 'fy-0001-00000002'
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    siren           TEXT NOT NULL,               -- the SIREN the year's FEC is filed under
    start_date      TEXT NOT NULL,
    end_date        TEXT NOT NULL,               -- the closing date
    status          TEXT NOT NULL,               -- 'open' | 'closed'
    closed_at       TEXT,                        -- timestamp, set when the year was closed
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,               -- its closing, or its latest entry's validation
    UNIQUE (account_id, start_date)
);

CREATE TABLE journals (
    account_id       TEXT NOT NULL REFERENCES accounts(id),
    code             TEXT NOT NULL,              -- 'AN' | 'VT' | 'HA' | 'BQ' | 'BQ2'
    label            TEXT NOT NULL,
    kind             TEXT NOT NULL,              -- 'opening' | 'sales' | 'purchases' | 'bank'
    bank_account_id  TEXT REFERENCES bank_accounts(id),
    PRIMARY KEY (account_id, code)
);

-- The chart of accounts: general accounts (PCG) and auxiliary accounts (one per customer on
-- 411000, one per supplier on 401000).
CREATE TABLE ledger_accounts (
    account_id         TEXT NOT NULL REFERENCES accounts(id),
    number             TEXT NOT NULL,            -- '706000' (general) | '41100042' (auxiliary)
    label              TEXT NOT NULL,
    kind               TEXT NOT NULL,            -- 'general' | 'customer' | 'supplier'
    collective_number  TEXT,                     -- auxiliary accounts: their general account
    company_id         TEXT REFERENCES companies(id),
    PRIMARY KEY (account_id, number)
);

-- One row per entry line; the lines of an entry share its journal, number, dates and piece.
CREATE TABLE accounting_entries (
    id                   TEXT PRIMARY KEY,       -- sorts in validation order
    account_id           TEXT NOT NULL REFERENCES accounts(id),
    fiscal_year_id       TEXT NOT NULL REFERENCES fiscal_years(id),
    journal_code         TEXT NOT NULL,
    entry_number         TEXT NOT NULL,          -- 'VT0000042': continuous per journal
    entry_date           TEXT NOT NULL,
    piece_ref            TEXT NOT NULL,
    piece_date           TEXT NOT NULL,
    position             INTEGER NOT NULL,       -- the line in its entry: 1, 2, 3...
    account_number       TEXT NOT NULL,          -- general account
    auxiliary_number     TEXT,                   -- auxiliary account (customers, suppliers)
    label                TEXT NOT NULL,
    debit                TEXT NOT NULL,
    credit               TEXT NOT NULL,
    lettering            TEXT,                   -- lettering code, NULL when not lettered
    lettered_on          TEXT,                   -- date, set with lettering
    validated_on         TEXT NOT NULL,          -- date the entry was validated (final)
    currency             TEXT NOT NULL,          -- of debit and credit: 'EUR'
    foreign_amount       TEXT,                   -- money, for an entry in another currency
    foreign_currency     TEXT,
    invoice_id           TEXT REFERENCES invoices(id),
    purchase_id          TEXT REFERENCES purchases(id),
    bank_transaction_id  TEXT REFERENCES bank_transactions(id)
);
CREATE INDEX accounting_entries_account ON accounting_entries(account_id, validated_on, journal_code, entry_number, position);

-- The termination gate's state (offboard.gate; GateStore.migrate() adds it to older databases).
-- An append-only log, hash-chained over the whole database: hash = sha256(prev_hash ||
-- canonical JSON of the row's content), prev_hash of the first row = 64 zeros.
CREATE TABLE offboard_audit_log (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id       TEXT NOT NULL,
    subscription_id  TEXT,
    at               TEXT NOT NULL,
    event            TEXT NOT NULL,
    detail           TEXT NOT NULL,
    prev_hash        TEXT NOT NULL,
    hash             TEXT NOT NULL UNIQUE
);
CREATE INDEX offboard_audit_log_account ON offboard_audit_log(account_id, id);
CREATE TRIGGER offboard_audit_log_no_update BEFORE UPDATE ON offboard_audit_log
BEGIN SELECT RAISE(ABORT, 'offboard_audit_log is append-only: UPDATE refused'); END;
CREATE TRIGGER offboard_audit_log_no_delete BEFORE DELETE ON offboard_audit_log
BEGIN SELECT RAISE(ABORT, 'offboard_audit_log is append-only: DELETE refused'); END;

-- One row per account being or having been terminated; 'pending' before the billing call.
CREATE TABLE offboard_terminations (
    account_id         TEXT PRIMARY KEY REFERENCES accounts(id),
    subscription_id    TEXT NOT NULL REFERENCES subscriptions(id),
    idempotency_key    TEXT NOT NULL UNIQUE,
    state              TEXT NOT NULL CHECK (state IN ('pending', 'done')),
    archive            TEXT NOT NULL,
    archive_sha256     TEXT NOT NULL,
    receipt            TEXT NOT NULL,
    receipt_signature  TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    done_at            TEXT,
    CHECK ((state = 'done') = (done_at IS NOT NULL))
);
CREATE TRIGGER offboard_terminations_done_is_final
BEFORE UPDATE ON offboard_terminations WHEN OLD.state = 'done'
BEGIN SELECT RAISE(ABORT, 'a done termination is final: UPDATE refused'); END;
CREATE TRIGGER offboard_terminations_done_is_kept
BEFORE DELETE ON offboard_terminations WHEN OLD.state = 'done'
BEGIN SELECT RAISE(ABORT, 'a done termination is final: DELETE refused'); END;
