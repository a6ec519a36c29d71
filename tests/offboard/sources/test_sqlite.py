from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from exporters import load_all
from offboard.errors import RecordError, SourceError, UnknownAccount
from offboard.sources import open_source, scheme_of
from offboard.sources.base import DocumentRef, DocumentUnavailable
from offboard.sources.sqlite import SQLiteSource, parse_url
from tests.tinydb import ACCOUNT


def table(name: str):  # type: ignore[no-untyped-def]
    for cls in load_all().values():
        for t in cls.tables:
            if t.name == name:
                return t
    raise KeyError(name)


def read_all(source: SQLiteSource, name: str, account: str = ACCOUNT) -> list[dict]:  # type: ignore[type-arg]
    rows: list[dict] = []  # type: ignore[type-arg]
    for b in source.read_table(table(name), account):
        rows.extend(b.to_pylist())
    return rows


def test_url_forms(tiny_db: Path) -> None:
    assert parse_url("sqlite:///demo/x.db") == Path("demo/x.db")
    assert parse_url("sqlite:////abs/x.db") == Path("/abs/x.db")
    assert scheme_of(str(tiny_db)) == "sqlite"
    assert open_source(str(tiny_db)).describe() == "SQLite database tiny.db"
    assert open_source(f"sqlite:///{tiny_db}").check_account(ACCOUNT).name == "Tiny SARL"
    with pytest.raises(SourceError, match="ftp"):
        open_source("ftp://example.test/x")
    with pytest.raises(SourceError, match="sqlite:///"):
        open_source("sqlite:/x.db")


def test_missing_and_non_sqlite_files(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such database file"):
        open_source(str(tmp_path / "nope.db"))
    fake = tmp_path / "fake.db"
    fake.write_text("hello")
    with pytest.raises(SourceError, match="not an SQLite database"):
        open_source(str(fake))


def test_unknown_account_lists_known(tiny_db: Path) -> None:
    with pytest.raises(UnknownAccount, match="acc-t001"):
        open_source(str(tiny_db)).check_account("acc-9999")


def test_opened_read_only(tiny_db: Path) -> None:
    src = SQLiteSource.from_url(str(tiny_db))
    assert src._rows("SELECT 1 AS one", [], "probe") == [{"one": 1}]
    with pytest.raises(SourceError, match="readonly"):
        src._rows("DELETE FROM accounts", [], "probe")


def test_nulls_before_text_are_typed(tiny_db: Path) -> None:
    rows = read_all(SQLiteSource.from_url(str(tiny_db)), "contacts_companies")
    assert len(rows) == 1500
    assert rows[0]["notes"] is None
    assert rows[1299]["notes"] is not None
    assert isinstance(rows[0]["is_customer"], bool)


def test_other_accounts_rows_never_leak(tiny_db: Path) -> None:
    rows = read_all(SQLiteSource.from_url(str(tiny_db)), "contacts_companies", "acc-t002")
    assert [r["id"] for r in rows] == ["co-other"]


def test_float_money_is_refused_with_the_record_named(tiny_db: Path) -> None:
    con = sqlite3.connect(tiny_db)
    con.execute("UPDATE invoices SET total_ht = 11473.2135 WHERE id = 'in-2'")
    con.commit()
    con.close()
    with pytest.raises(RecordError) as err:
        read_all(SQLiteSource.from_url(str(tiny_db)), "sales_invoices")
    msg = str(err.value)
    assert "sales_invoices" in msg and "id='in-2'" in msg and "total_ht" in msg
    assert "11473.2135" in msg


def test_integer_money_gets_two_places(tiny_db: Path) -> None:
    con = sqlite3.connect(tiny_db)
    con.execute("UPDATE invoices SET total_ht = 45714 WHERE id = 'in-2'")
    con.commit()
    con.close()
    rows = read_all(SQLiteSource.from_url(str(tiny_db)), "sales_invoices")
    assert str(rows[1]["total_ht"]) == "45714.00"


def test_impossible_date_is_refused(tiny_db: Path) -> None:
    con = sqlite3.connect(tiny_db)
    con.execute("UPDATE invoices SET issue_date = '2025-02-30' WHERE id = 'in-1'")
    con.commit()
    con.close()
    with pytest.raises(RecordError, match=r"issue_date.*2025-02-30"):
        read_all(SQLiteSource.from_url(str(tiny_db)), "sales_invoices")


def test_required_value_missing_is_refused(tiny_db: Path) -> None:
    t = table("catalogue")
    from dataclasses import replace

    t2 = replace(
        t,
        query=t.query.replace(
            "FROM products",
            "FROM (SELECT id, sku, NULL AS name, "
            "description, kind, unit, unit_price_ht, vat_rate, active, created_at, "
            "updated_at, account_id FROM products)",
        ),
    )
    with pytest.raises(RecordError, match=r"'name'.*required"):
        list(SQLiteSource.from_url(str(tiny_db)).read_table(t2, ACCOUNT))


@pytest.mark.parametrize(
    "locator", ["../../etc/passwd", "/etc/passwd", "invoices/../../tiny.db", "a\x00b"]
)
def test_locators_cannot_escape_the_documents_root(tiny_db: Path, locator: str) -> None:
    src = SQLiteSource.from_url(str(tiny_db))
    ref = DocumentRef("sales_invoices", "in-1", "FA", "2025-01-01", "X", locator)
    with pytest.raises(DocumentUnavailable, match="unsafe"):
        src.document_path(ref)


def test_document_path_missing_and_present(tiny_db: Path) -> None:
    src = SQLiteSource.from_url(str(tiny_db))
    ok = DocumentRef("sales_invoices", "in-1", "FA", "", "", "invoices/FA-2025-00001.pdf")
    assert src.document_path(ok).is_file()
    gone = DocumentRef("sales_invoices", "in-2", "FA", "", "", "invoices/missing.pdf")
    with pytest.raises(DocumentUnavailable, match="missing"):
        src.document_path(gone)
