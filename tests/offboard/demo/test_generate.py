"""The demo generator: determinism, exact money, numbering, bank balances and documents.

Every check reads the generated database with its own SQL (money as integer cents), not with
the generator's code.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pikepdf
import pytest
from pypdf import PdfReader

from offboard.demo import SCALES, generate_demo
from offboard.demo.common import iban_valid, luhn_valid

MONEY_RE = re.compile(r"^-?\d+\.\d{2}$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
MONEY_COLUMNS = {
    "subscriptions": ["monthly_price_ht"],
    "billing_invoices": ["total_ht", "total_vat", "total_ttc"],
    "products": ["unit_price_ht"],
    "quotes": ["total_ht", "total_vat", "total_ttc"],
    "quote_lines": ["unit_price_ht", "total_ht"],
    "invoices": ["total_ht", "total_vat", "total_ttc", "amount_paid"],
    "invoice_lines": ["unit_price_ht", "total_ht"],
    "invoice_vat": ["base_ht", "vat_amount"],
    "purchases": ["total_ht", "total_vat", "total_ttc", "amount_paid"],
    "purchase_lines": ["unit_price_ht", "total_ht"],
    "bank_accounts": ["opening_balance"],
    "bank_transactions": ["amount", "balance"],
}
DOC_TABLES = ("invoices", "quotes", "purchases", "billing_invoices")


def c(col: str) -> str:
    """SQL: a money/quantity/rate text as an integer (cents, thousandths, hundredths)."""
    return f"CAST(REPLACE({col}, '.', '') AS INTEGER)"


def rounded(num: str, den: int) -> str:
    """SQL: num / den rounded half away from zero, in integers."""
    h = den // 2
    return (
        f"(CASE WHEN ({num}) >= 0 THEN (({num}) + {h}) / {den} "
        f"ELSE -((-({num}) + {h}) / {den}) END)"
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    result = generate_demo(path, accounts=2, scale="small", seed=7, jobs=2)
    assert result.path == path
    assert result.documents_dir == path.with_name("demo-documents")
    assert result.account_ids == ["acc-0001", "acc-0002"]
    return path


@pytest.fixture(scope="module")
def con(demo: Path) -> sqlite3.Connection:
    return sqlite3.connect(demo)


def dump_digest(path: Path) -> str:
    con = sqlite3.connect(path)
    try:
        return hashlib.sha256("\n".join(con.iterdump()).encode()).hexdigest()
    finally:
        con.close()


def files_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_same_bytes_whatever_the_jobs(demo: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.db"
    generate_demo(again, accounts=2, scale="small", seed=7, jobs=1)
    assert dump_digest(again) == dump_digest(demo)
    assert again.read_bytes() == demo.read_bytes(), "even the file (same SQLite library)"
    assert files_digest(tmp_path / "again-documents") == files_digest(
        demo.with_name("demo-documents")
    )


def test_another_seed_gives_other_data(tmp_path: Path) -> None:
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    generate_demo(a, accounts=1, seed=7, documents=3, jobs=1)
    generate_demo(b, accounts=1, seed=8, documents=3, jobs=1)
    assert dump_digest(a) != dump_digest(b)


def test_same_output_in_every_time_zone(tmp_path: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from offboard.demo import generate_demo; "
        "generate_demo(Path(sys.argv[1]), accounts=1, seed=3, documents=25, jobs=1)"
    )
    digests = []
    for tz in ("UTC", "Pacific/Kiritimati"):
        path = tmp_path / tz.replace("/", "_") / "tz.db"
        env = {**os.environ, "TZ": tz}
        subprocess.run([sys.executable, "-c", code, str(path)], check=True, env=env)
        digests.append((dump_digest(path), files_digest(path.with_name("tz-documents"))))
    assert digests[0] == digests[1]
    assert len(digests[0][1]) > 25


def test_replaces_an_existing_demo_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    path = tmp_path / "out" / "offboard-demo.db"
    path.parent.mkdir()
    path.write_text("old")
    (tmp_path / "out" / "offboard-demo-documents").mkdir()
    (tmp_path / "out" / "offboard-demo-documents" / "stale.pdf").write_text("stale")
    result = generate_demo(path, accounts=1, documents=2, jobs=1)
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "offboard-demo-documents",
        "offboard-demo.db",
    ]
    assert not (result.documents_dir / "stale.pdf").exists()
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    with pytest.raises(ValueError, match="scale"):
        generate_demo(path, scale="huge")


def rows_without_documents(path: Path) -> list[object]:
    con = sqlite3.connect(path)
    out: list[object] = []
    for table in ("invoices", "invoice_lines", "quotes", "purchases", "bank_transactions"):
        cols = [r[1] for r in con.execute(f"PRAGMA table_info({table})") if r[1] != "pdf_path"]
        out += con.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY id").fetchall()
    con.close()
    return out


def test_documents_budget_changes_only_which_records_have_a_pdf(tmp_path: Path) -> None:
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    generate_demo(a, accounts=1, seed=5, documents=3, jobs=1)
    generate_demo(b, accounts=1, seed=5, documents=40, jobs=1)
    assert rows_without_documents(a) == rows_without_documents(b)
    con = sqlite3.connect(b)
    with_pdf = {
        t: con.execute(f"SELECT COUNT(*) FROM {t} WHERE pdf_path IS NOT NULL").fetchone()[0]
        for t in DOC_TABLES
    }
    billing = con.execute("SELECT COUNT(*) FROM billing_invoices").fetchone()[0]
    assert with_pdf["billing_invoices"] == billing
    assert sum(with_pdf.values()) == 40 and with_pdf["invoices"] > 0
    con.close()
    con = sqlite3.connect(a)
    last = con.execute(
        "SELECT pdf_path IS NOT NULL FROM billing_invoices ORDER BY issue_date"
    ).fetchall()
    assert [r[0] for r in last][-4:] == [0, 1, 1, 1], "the three most recent bills"
    special = con.execute(
        "SELECT COUNT(*) FROM purchases WHERE pdf_path IS NOT NULL AND pdf_path NOT LIKE "
        "'scans/%' UNION ALL SELECT COUNT(*) FROM purchases WHERE pdf_path LIKE 'scans/%'"
    ).fetchall()
    assert special == [(1,), (1,)], "acc-0001's missing and encrypted documents are always there"
    con.close()


def test_a_failure_leaves_the_previous_demo_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import offboard.demo.generate as gen

    path = tmp_path / "offboard-demo.db"
    generate_demo(path, accounts=1, documents=2, jobs=1)
    before = dump_digest(path), files_digest(tmp_path / "offboard-demo-documents")

    def boom(*args: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(gen, "make_purchases", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        generate_demo(path, accounts=1, seed=2, documents=2, jobs=1)
    assert (dump_digest(path), files_digest(tmp_path / "offboard-demo-documents")) == before
    monkeypatch.undo()

    import offboard.demo.quotes as quotes

    same_id = quotes.make_id
    monkeypatch.setattr(quotes, "make_id", lambda prefix, acc, n: same_id(prefix, acc, 1))
    with pytest.raises(RuntimeError, match=r"UNIQUE constraint failed: quotes\.id"):
        generate_demo(path, accounts=1, seed=2, documents=2, jobs=2)
    assert (dump_digest(path), files_digest(tmp_path / "offboard-demo-documents")) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "offboard-demo-documents",
        "offboard-demo.db",
    ]


def test_counts_match_the_scale(con: sqlite3.Connection) -> None:
    sc = SCALES["small"]
    expected = {
        "invoices": sc.invoices,
        "quotes": sc.quotes,
        "purchases": sc.purchases,
        "products": sc.products,
        "people": sc.people,
        "companies": sc.customers + sc.suppliers - sc.both,
    }
    for table, n in expected.items():
        per = con.execute(f"SELECT account_id, COUNT(*) FROM {table} GROUP BY 1").fetchall()
        assert per == [("acc-0001", n), ("acc-0002", n)], table
    for _, n in con.execute("SELECT account_id, COUNT(*) FROM bank_transactions GROUP BY 1"):
        assert 500 <= n <= 800
    for _, n in con.execute("SELECT account_id, COUNT(*) FROM invoice_lines GROUP BY 1"):
        assert 2.5 * sc.invoices <= n <= 3.5 * sc.invoices
    for table in DOC_TABLES:  # small renders every document
        nulls = con.execute(f"SELECT COUNT(*) FROM {table} WHERE pdf_path IS NULL").fetchone()
        assert nulls == (0,), table


def test_money_texts_dates_and_timestamps_are_well_formed(con: sqlite3.Connection) -> None:
    for table, cols in MONEY_COLUMNS.items():
        for col in cols:
            for (v,) in con.execute(f"SELECT {col} FROM {table}"):
                assert isinstance(v, str) and MONEY_RE.match(v), (table, col, v)
    tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    for table in tables:
        if table.startswith("sqlite_"):
            continue
        for _, col, *_rest in con.execute(f"PRAGMA table_info({table})"):
            for (v,) in con.execute(f"SELECT {col} FROM {table} WHERE {col} IS NOT NULL"):
                if col.endswith("_at"):
                    assert TS_RE.match(v), (table, col, v)
                elif col.endswith(("_date", "_on", "_until")) or col.startswith("period_"):
                    assert DATE_RE.match(v), (table, col, v)
                elif col == "vat_rate":
                    assert v in ("20.00", "10.00", "5.50", "2.10"), (table, v)
                elif col == "quantity":
                    assert re.match(r"^\d+\.\d{3}$", v), (table, v)
    for table in ("companies", "people", "products", "quotes", "invoices", "purchases"):
        bad = con.execute(f"SELECT COUNT(*) FROM {table} WHERE updated_at < created_at")
        assert bad.fetchone()[0] == 0, table


def test_line_totals_are_rounded_products(con: sqlite3.Connection) -> None:
    for table in ("quote_lines", "invoice_lines", "purchase_lines"):
        expected = rounded(f"{c('quantity')} * {c('unit_price_ht')}", 1000)
        bad = con.execute(f"SELECT id FROM {table} WHERE {c('total_ht')} != {expected}").fetchall()
        assert bad == [], table


def test_invoice_totals_add_up(con: sqlite3.Connection) -> None:
    rows = con.execute(
        f"""
        SELECT i.id FROM invoices i
        LEFT JOIN (SELECT invoice_id, SUM({c("total_ht")}) s FROM invoice_lines
                   GROUP BY invoice_id) l ON l.invoice_id = i.id
        LEFT JOIN (SELECT invoice_id, SUM({c("base_ht")}) b, SUM({c("vat_amount")}) v
                   FROM invoice_vat GROUP BY invoice_id) v ON v.invoice_id = i.id
        WHERE l.s IS NULL OR {c("i.total_ht")} != l.s OR {c("i.total_ht")} != v.b
           OR {c("i.total_vat")} != v.v
           OR {c("i.total_ttc")} != {c("i.total_ht")} + {c("i.total_vat")}
        """
    ).fetchall()
    assert rows == []
    per_rate = con.execute(
        f"""
        SELECT v.invoice_id, v.vat_rate FROM invoice_vat v
        LEFT JOIN (SELECT invoice_id, vat_rate, SUM({c("total_ht")}) s FROM invoice_lines
                   GROUP BY invoice_id, vat_rate) l
               ON l.invoice_id = v.invoice_id AND l.vat_rate = v.vat_rate
        WHERE l.s IS NULL OR {c("v.base_ht")} != l.s
           OR {c("v.vat_amount")} != {rounded(f"{c('v.base_ht')} * {c('v.vat_rate')}", 10000)}
        """
    ).fetchall()
    assert per_rate == []
    missing = con.execute(
        """SELECT COUNT(*) FROM (SELECT DISTINCT invoice_id, vat_rate FROM invoice_lines) l
           LEFT JOIN invoice_vat v USING (invoice_id, vat_rate) WHERE v.invoice_id IS NULL"""
    ).fetchone()[0]
    assert missing == 0


@pytest.mark.parametrize(
    ("table", "lines", "key"),
    [
        ("quotes", "quote_lines", "quote_id"),
        ("purchases", "purchase_lines", "purchase_id"),
    ],
)
def test_quote_and_purchase_totals_add_up(
    con: sqlite3.Connection, table: str, lines: str, key: str
) -> None:
    vat = rounded(f"SUM({c('total_ht')}) * {c('vat_rate')}", 10000)
    rows = con.execute(
        f"""
        SELECT t.id FROM {table} t
        JOIN (SELECT {key} k, SUM(s) s, SUM(v) v FROM (
                SELECT {key}, SUM({c("total_ht")}) s, {vat} v FROM {lines}
                GROUP BY {key}, vat_rate) GROUP BY {key}) l ON l.k = t.id
        WHERE {c("t.total_ht")} != l.s OR {c("t.total_vat")} != l.v
           OR {c("t.total_ttc")} != l.s + l.v
        """
    ).fetchall()
    assert rows == []
    assert (
        con.execute(
            f"SELECT COUNT(*) FROM {table} WHERE id NOT IN (SELECT {key} FROM {lines})"
        ).fetchone()[0]
        == 0
    )


def test_purchase_category_is_the_largest_lines(con: sqlite3.Connection) -> None:
    lines: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    for pid, pos, total, cat in con.execute(
        f"SELECT purchase_id, position, {c('total_ht')}, category FROM purchase_lines"
    ):
        lines[pid].append((-total, pos, cat))
    for pid, category in con.execute("SELECT id, category FROM purchases"):
        assert min(lines[pid])[2] == category, pid


def test_billing_totals_and_vendor_series(con: sqlite3.Connection) -> None:
    bad = con.execute(
        f"""SELECT id FROM billing_invoices
            WHERE {c("total_vat")} != {rounded(f"{c('total_ht')} * 2000", 10000)}
               OR {c("total_ttc")} != {c("total_ht")} + {c("total_vat")}
               OR (status = 'paid') != (paid_on IS NOT NULL)"""
    ).fetchall()
    assert bad == []
    by_year: dict[str, list[int]] = defaultdict(list)
    for (number,) in con.execute("SELECT number FROM billing_invoices ORDER BY issue_date, number"):
        _, year, n = number.split("-")
        assert len(n) == 6
        by_year[year].append(int(n))
    for numbers in by_year.values():
        assert numbers == list(range(1, len(numbers) + 1))
    months = con.execute(
        "SELECT account_id, COUNT(*) FROM billing_invoices GROUP BY account_id"
    ).fetchall()
    assert all(n >= 25 for _, n in months)


def test_payments_are_consistent(con: sqlite3.Connection) -> None:
    for table, sign in (("invoices", 1), ("purchases", -1)):
        col = "matched_invoice_id" if table == "invoices" else "matched_purchase_id"
        rows = con.execute(
            f"""
            SELECT t.id, t.status, {c("t.amount_paid")}, {c("t.total_ttc")},
                   COALESCE(SUM({c("b.amount")}), 0)
            FROM {table} t LEFT JOIN bank_transactions b ON b.{col} = t.id
            GROUP BY t.id
            """
        ).fetchall()
        statuses = set()
        for rid, status, paid, ttc, booked in rows:
            statuses.add(status)
            assert booked == sign * paid, rid
            if status == "paid":
                assert paid == ttc, rid
            elif status == "unpaid":
                assert paid == 0, rid
            else:
                assert status == "partly_paid" and 0 < abs(paid) < abs(ttc), rid
        assert statuses == {"paid", "partly_paid", "unpaid"}, table


def test_bank_running_balance_is_exact(con: sqlite3.Connection) -> None:
    opening = {
        bid: int(v.replace(".", ""))
        for bid, v in con.execute("SELECT id, opening_balance FROM bank_accounts")
    }
    running = dict(opening)
    for bid, amount, balance, booking, value in con.execute(
        "SELECT bank_account_id, amount, balance, booking_date, value_date "
        "FROM bank_transactions ORDER BY bank_account_id, booking_date, id"
    ):
        running[bid] += int(amount.replace(".", ""))
        assert running[bid] == int(balance.replace(".", ""))
        gap = abs(int(booking.replace("-", "")) - int(value.replace("-", "")))
        assert gap <= 3 or booking[:7] != value[:7]
    labels = {r[0] for r in con.execute("SELECT label FROM bank_transactions")}
    assert "-CB CARREFOUR 12/03" in labels
    assert any(label.startswith("VIR SEPA ") for label in labels)
    assert any(label.startswith("PRLV SEPA ") for label in labels)


def test_numbering_is_continuous_per_year_in_date_order(con: sqlite3.Connection) -> None:
    series = (
        ("invoices", "FA"),
        ("invoices", "AV"),
        ("quotes", "DE"),
        ("purchases", "ACH"),
    )
    for table, prefix in series:
        numbers: dict[tuple[str, str], list[tuple[str, int]]] = defaultdict(list)
        for acc, number, issued in con.execute(
            f"SELECT account_id, number, issue_date FROM {table} WHERE number LIKE ? "
            "ORDER BY account_id, number",
            (prefix + "-%",),
        ):
            _, year, n = number.split("-")
            assert issued[:4] == year and len(n) >= 5
            numbers[(acc, year)].append((issued, int(n)))
        assert numbers, prefix
        for key, seq in numbers.items():
            assert [n for _, n in seq] == list(range(1, len(seq) + 1)), (prefix, key)
            assert [d for d, _ in seq] == sorted(d for d, _ in seq), (prefix, key)


def test_credit_notes_are_negative_and_credit_an_earlier_invoice(con: sqlite3.Connection) -> None:
    rows = con.execute(
        """SELECT cn.number, cn.total_ht, cn.total_ttc, cn.issue_date, i.issue_date, i.kind,
                  cn.customer_id = i.customer_id
           FROM invoices cn LEFT JOIN invoices i ON i.id = cn.credited_invoice_id
           WHERE cn.kind = 'credit_note'"""
    ).fetchall()
    assert len(rows) >= 2
    for number, ht, ttc, issued, credited_on, kind, same_customer in rows:
        assert number.startswith("AV-") and ht.startswith("-") and ttc.startswith("-")
        assert kind == "invoice" and credited_on < issued and same_customer
    assert (
        con.execute(
            "SELECT COUNT(*) FROM invoices WHERE kind = 'invoice' AND "
            "(number NOT LIKE 'FA-%' OR total_ttc LIKE '-%' OR credited_invoice_id IS NOT NULL)"
        ).fetchone()[0]
        == 0
    )
    assert (
        con.execute(
            "SELECT COUNT(*) FROM invoices i JOIN quotes q ON q.id = i.quote_id "
            "WHERE q.status != 'accepted' OR q.total_ttc != i.total_ttc "
            "OR i.issue_date < q.issue_date"
        ).fetchone()[0]
        == 0
    )
    assert con.execute("SELECT COUNT(*) FROM invoices WHERE quote_id IS NOT NULL").fetchone()[0]


def test_dates_follow_terms_and_statuses(con: sqlite3.Connection) -> None:
    today = "2026-10-31"
    due = {
        "À réception": "date(issue_date)",
        "30 jours": "date(issue_date, '+30 days')",
        "60 jours": "date(issue_date, '+60 days')",
        "45 jours fin de mois": (
            "date(issue_date, '+45 days', 'start of month', '+1 month', '-1 day')"
        ),
    }
    for terms, expected in due.items():
        n, bad = con.execute(
            f"SELECT COUNT(*), SUM(due_date != {expected}) FROM invoices WHERE payment_terms = ?",
            (terms,),
        ).fetchone()
        assert n > 0 and bad == 0, terms
    quotes = dict(
        con.execute(
            """SELECT status, COUNT(*) FROM quotes WHERE
                 (status = 'expired' AND valid_until >= ?)
              OR (status IN ('sent', 'draft') AND valid_until < ?)
              OR (status IN ('accepted', 'refused') AND date(updated_at) > valid_until)
              OR issue_date > ? GROUP BY status""",
            (today, today, today),
        ).fetchall()
    )
    assert quotes == {}
    late = con.execute(
        "SELECT COUNT(*) FROM invoices WHERE issue_date > ? OR due_date < issue_date", (today,)
    ).fetchone()
    assert late == (0,)
    assert con.execute("SELECT MAX(booking_date) FROM bank_transactions").fetchone()[0] <= today


def test_keys_identifiers_and_registry_numbers(con: sqlite3.Connection) -> None:
    assert con.execute("PRAGMA foreign_key_check").fetchall() == []
    ids: list[str] = []
    for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        cols = [r[1] for r in con.execute(f"PRAGMA table_info({table})")]
        if "id" in cols:
            ids += [r[0] for r in con.execute(f"SELECT id FROM {table}")]
            ordered = [r[0] for r in con.execute(f"SELECT id FROM {table} ORDER BY rowid")]
            assert ordered == sorted(ordered), f"{table} ids follow creation order"
    assert len(ids) == len(set(ids))
    for table in ("accounts", "companies"):
        for siren, vat in con.execute(
            f"SELECT siren, vat_number FROM {table} WHERE siren IS NOT NULL"
        ):
            assert len(siren) == 9 and luhn_valid(siren), siren
            if vat is not None:
                assert vat == f"FR{(12 + 3 * (int(siren) % 97)) % 97:02d}{siren}"
    for iban, bic in con.execute("SELECT iban, bic FROM bank_accounts"):
        assert iban.startswith("FR") and len(iban) == 27 and iban_valid(iban) and len(bic) == 11


def test_ids_follow_creation_order(con: sqlite3.Connection) -> None:
    tables = ("companies", "people", "products", "quotes", "invoices", "purchases")
    for table in (*tables, "billing_invoices", "bank_transactions", "bank_accounts"):
        stamps = con.execute(f"SELECT account_id, created_at FROM {table} ORDER BY id").fetchall()
        assert stamps == sorted(stamps), table
    for lines, parent in (("invoice_lines", "invoices"), ("quote_lines", "quotes")):
        early = con.execute(
            f"""SELECT COUNT(*) FROM {lines} l JOIN {parent} d ON d.id = l.{parent[:-1]}_id
                JOIN products p ON p.id = l.product_id
                WHERE p.created_at > d.created_at OR p.account_id != d.account_id"""
        ).fetchone()[0]
        assert early == 0, f"{lines} sell products that do not exist yet"
    for table, col in (
        ("invoices", "customer_id"),
        ("quotes", "customer_id"),
        ("purchases", "supplier_id"),
    ):
        later = con.execute(
            f"SELECT COUNT(*) FROM {table} t JOIN companies c ON c.id = t.{col} "
            "WHERE c.created_at > t.created_at OR c.account_id != t.account_id "
            f"OR c.{'is_supplier' if col == 'supplier_id' else 'is_customer'} != 1"
        ).fetchone()[0]
        assert later == 0, table
    people = con.execute(
        """SELECT COUNT(*) FROM people p JOIN companies c ON c.id = p.company_id
           WHERE c.created_at > p.created_at OR c.account_id != p.account_id"""
    ).fetchone()[0]
    assert people == 0


def test_hostile_values_are_there(con: sqlite3.Connection) -> None:
    notes = {r[0] for r in con.execute("SELECT notes FROM companies WHERE notes IS NOT NULL")}
    assert '=HYPERLINK("http://example.test","x")' in notes
    assert any("\n" in n for n in notes) and any(n != n.strip() for n in notes)
    assert any(ord(ch) > 0xFFFF for n in notes for ch in n), "an emoji"
    descriptions = {r[0] for r in con.execute("SELECT description FROM invoice_lines")}
    assert any('"Pose" ; finitions\nétage 2' in d for d in descriptions)
    names = {r[0] for r in con.execute("SELECT first_name || ' ' || last_name FROM people")}
    assert any(ch in "".join(names) for ch in "éèëïçüÉ")


def test_documents_exist_except_one_missing_and_one_encrypted(demo: Path) -> None:
    root = demo.with_name("demo-documents")
    con = sqlite3.connect(demo)
    assert (root / "scans" / "NOTICE.md").is_file()
    missing: dict[str, int] = defaultdict(int)
    encrypted: dict[str, int] = defaultdict(int)
    scans: dict[str, int] = defaultdict(int)
    opened: dict[Path, bool] = {}
    for table in DOC_TABLES:
        for acc, path, number in con.execute(
            f"SELECT account_id, pdf_path, number FROM {table} WHERE pdf_path IS NOT NULL"
        ):
            file = root / path
            if not file.exists():
                missing[acc] += 1
                continue
            if path.startswith("scans/"):
                scans[acc] += 1
            else:
                assert (
                    path
                    == f"{'billing' if table == 'billing_invoices' else table}/{acc}/{number}.pdf"
                )
            if file not in opened:
                try:
                    pikepdf.open(file).close()
                    opened[file] = True
                except pikepdf.PasswordError:
                    opened[file] = False
            if not opened[file]:
                encrypted[acc] += 1
    con.close()
    assert dict(missing) == {"acc-0001": 1}
    assert dict(encrypted) == {"acc-0001": 1}
    assert scans["acc-0001"] >= 2 and scans["acc-0002"] >= 1


def test_pdfs_show_their_number(con: sqlite3.Connection, demo: Path) -> None:
    root = demo.with_name("demo-documents")
    for table in DOC_TABLES:
        number, path = con.execute(
            f"SELECT number, pdf_path FROM {table} WHERE pdf_path NOT LIKE 'scans/%' "
            "ORDER BY id DESC LIMIT 1"
        ).fetchone()
        text = PdfReader(root / path).pages[0].extract_text()
        assert number in text, (table, number)
        assert "Total TTC" in text
    ref, path = con.execute(
        "SELECT supplier_ref, pdf_path FROM purchases WHERE pdf_path LIKE 'purchases/%' LIMIT 1"
    ).fetchone()
    assert ref in PdfReader(root / path).pages[0].extract_text()


def test_reference_schema_doc_mentions_every_table_and_column() -> None:
    root = Path(__file__).resolve().parents[3]
    doc = (root / "docs" / "reference-schema.md").read_text(encoding="utf-8")
    sections = {
        m.group(1): m.group(2)
        for m in re.finditer(r"^### `(\w+)`\n(.*?)(?=^#{2,3} |\Z)", doc, re.M | re.S)
    }
    con = sqlite3.connect(":memory:")
    con.executescript((root / "offboard" / "demo" / "schema.sql").read_text(encoding="utf-8"))
    tables = [
        r[0]
        for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    assert len(tables) == 21
    for table in tables:
        assert table in sections, f"no section for {table}"
        for _, col, decl_type, notnull, _default, pk in con.execute(f"PRAGMA table_info({table})"):
            row = re.search(rf"^\| `{col}` \| (\w+) \| (yes|no) \|", sections[table], re.M)
            assert row, (table, col)
            assert row.group(1) == decl_type, (table, col)
            assert (row.group(2) == "no") == bool(notnull or (pk and decl_type != "INTEGER")), (
                table,
                col,
            )
    indexes = con.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
    for (index,) in indexes:
        assert f"`{index}`" in doc, index
    for word in ("round_half_up", "FA-YYYY-NNNNN", "AV-YYYY-NNNNN", "DE-YYYY-NNNNN", "ABO-YYYY"):
        assert word in doc
