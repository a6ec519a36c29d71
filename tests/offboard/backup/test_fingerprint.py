"""The fingerprint `offboard backup` skips unchanged accounts by: any change shows, nothing is
read that an export would be needed for (no document bytes, no archive)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from exporters import select
from offboard.backup.fingerprint import account_fingerprint, changes, fingerprint_batches
from offboard.sources import open_source
from offboard.sources.base import DocumentRef, DocumentUnavailable, Source
from tests.pgserver import PgServer, pg_server_session  # noqa: F401
from tests.tinydb import ACCOUNT, OTHER

TS2 = "2025-04-01T08:00:00Z"


def fingerprint(db: Path, account: str = ACCOUNT) -> dict[str, Any]:
    source = open_source(f"sqlite:///{db}")
    try:
        info = source.check_account(account)
        return account_fingerprint(source, info, [cls() for cls in select(None)])
    finally:
        source.close()


def sql(db: Path, statement: str, *params: Any) -> None:
    con = sqlite3.connect(db)
    with con:
        assert con.execute(statement, params).rowcount >= 1, statement
    con.close()


def test_the_same_data_gives_the_same_fingerprint(tiny_db: Path) -> None:
    first = fingerprint(tiny_db)
    assert fingerprint(tiny_db) == first
    assert changes(first, fingerprint(tiny_db)) == []
    assert first["documents"]["sales_invoices"] == {
        "count": 2,  # in-3 has no document
        "digest": first["documents"]["sales_invoices"]["digest"],
        "unsized": 0,
        "unavailable": 1,  # invoices/missing.pdf
    }


def test_counts_totals_and_last_changes_are_the_exports(tiny_db: Path, tmp_path: Path) -> None:
    from offboard.pipeline import ExportOptions, export_account

    source = open_source(f"sqlite:///{tiny_db}")
    try:
        summary = export_account(source, ACCOUNT, tmp_path / "out", ExportOptions(documents=False))
    finally:
        source.close()
    found = fingerprint(tiny_db)["tables"]
    exported = [t.to_dict() for k in summary.kinds for t in k.tables]
    assert sorted(found) == sorted(t["table"] for t in exported)
    for table in exported:
        mine = found[table["table"]]
        assert (mine["records"], mine["totals"], mine["last_change"]) == (
            table["records"],
            table["totals"],
            table["last_change"],
        ), table["table"]
    assert found["sales_invoices"]["records"] == 3


def _copy_document(db: Path) -> None:
    docs = db.parent / f"{db.stem}-documents" / "invoices"
    (docs / "FA-2025-00003.pdf").write_bytes((docs / "FA-2025-00001.pdf").read_bytes())


MUTATIONS: dict[str, tuple[Callable[[Path], None], str]] = {
    # a record changed, its updated_at left alone and nothing counted or summed changes
    "a record changed": (
        lambda db: sql(db, "UPDATE invoice_lines SET description = 'Thé' WHERE id = 'il-1'"),
        "table sales_invoice_lines",
    ),
    "a record changed, updated_at too": (
        lambda db: sql(
            db, "UPDATE companies SET email = 'x@y.test', updated_at = ? WHERE id = 'co-00007'", TS2
        ),
        "table contacts_companies",
    ),
    "a new record": (
        lambda db: sql(
            db,
            "INSERT INTO products SELECT 'pr-9', account_id, 'SKU-9', name, description, kind, "
            "unit, unit_price_ht, vat_rate, active, created_at, updated_at "
            "FROM products WHERE id = 'pr-1'",
        ),
        "table catalogue",
    ),
    "a deleted record": (
        lambda db: sql(
            db,
            "DELETE FROM bank_transactions WHERE account_id = ? AND amount = ?",
            ACCOUNT,
            "-42.10",
        ),
        "table bank_transactions",
    ),
    "a changed money amount": (
        lambda db: sql(db, "UPDATE invoices SET amount_paid = '100.00' WHERE id = 'in-1'"),
        "table sales_invoices",
    ),
    "a new document": (
        lambda db: (
            _copy_document(db),
            sql(db, "UPDATE invoices SET pdf_path = 'invoices/FA-2025-00003.pdf' WHERE id='in-3'"),
        ),
        "documents sales_invoices",
    ),
    "a document's bytes replaced (another size)": (
        lambda db: (db.parent / f"{db.stem}-documents/invoices/FA-2025-00001.pdf").write_bytes(
            b"%PDF-1.4 another\n%%EOF\n"
        ),
        "documents sales_invoices",
    ),
    "a missing document appears": (
        lambda db: (db.parent / f"{db.stem}-documents/invoices/missing.pdf").write_bytes(
            b"%PDF-1.4\n%%EOF\n"
        ),
        "documents sales_invoices",
    ),
    "the account renamed": (
        lambda db: sql(db, "UPDATE accounts SET name = 'Tiny SAS' WHERE id = ?", ACCOUNT),
        "account name",
    ),
}


@pytest.mark.parametrize("change", sorted(MUTATIONS))
def test_every_change_changes_the_fingerprint(tiny_db: Path, change: str) -> None:
    mutate, named = MUTATIONS[change]
    before = fingerprint(tiny_db)
    mutate(tiny_db)
    after = fingerprint(tiny_db)
    assert after != before
    assert changes(before, after) == [named]


def test_another_accounts_change_does_not_change_it(tiny_db: Path) -> None:
    before = fingerprint(tiny_db)
    other = fingerprint(tiny_db, OTHER)
    sql(tiny_db, "UPDATE companies SET name = 'Changée' WHERE id = 'co-other'")
    assert fingerprint(tiny_db) == before
    assert fingerprint(tiny_db, OTHER) != other


def test_no_document_is_read(tiny_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from offboard.sources.sqlite import SQLiteSource

    def refuse(self: Source, ref: DocumentRef) -> Path:
        raise AssertionError(f"document {ref.number} read")

    monkeypatch.setattr(SQLiteSource, "document_path", refuse)
    assert fingerprint(tiny_db)["documents"]["sales_invoices"]["count"] == 2


def test_an_exporter_with_its_own_batches_is_digested_from_them(tiny_db: Path) -> None:
    from exporters.catalogue import CatalogueExporter

    seen: list[str] = []

    class Upper(CatalogueExporter):
        def get_batches(self, source: Source, account: str, table: Any) -> Any:
            seen.append(table.name)
            yield from super().get_batches(source, account, table)

    source = open_source(f"sqlite:///{tiny_db}")
    try:
        info = source.check_account(ACCOUNT)
        plain = account_fingerprint(source, info, [CatalogueExporter()])
        own = account_fingerprint(source, info, [Upper()])
    finally:
        source.close()
    assert seen == ["catalogue"]
    assert own == plain


def test_the_default_needs_only_read_table(tiny_db: Path) -> None:
    (catalogue,) = select(["catalogue"])
    table = catalogue.tables[0]
    source = open_source(f"sqlite:///{tiny_db}")
    try:
        assert source.table_fingerprint(table, ACCOUNT) == fingerprint_batches(
            table, source.read_table(table, ACCOUNT)
        )
        assert source.table_fingerprint(table, OTHER).records == 0
    finally:
        source.close()


def test_the_sources_without_sizes_list_documents_all_the_same(tiny_db: Path) -> None:
    """A source that cannot give sizes (the base default) is fingerprinted by its listing."""
    ref = DocumentRef("sales_invoices", "in-1", "FA-1", "2025-01-01", "X", "a.pdf")
    source = open_source(f"sqlite:///{tiny_db}")
    try:
        assert Source.document_size(source, ref) is None
        assert (
            source.document_size(
                DocumentRef("sales_invoices", "in-1", "FA-1", "", "", "invoices/FA-2025-00001.pdf")
            )
            == (tiny_db.parent / "tiny-documents/invoices/FA-2025-00001.pdf").stat().st_size
        )
        with pytest.raises(DocumentUnavailable, match="unsafe"):
            source.document_size(DocumentRef("sales_invoices", "x", "x", "", "", "../tiny.db"))
    finally:
        source.close()


def test_blob_and_s3_documents_are_sized_without_being_read(
    tiny_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    import offboard.sources.s3docs as s3docs
    from offboard.sources import Mapping
    from tests.s3server import s3_endpoint

    con = sqlite3.connect(tiny_db)
    with con:
        con.execute("CREATE TABLE files (key TEXT, content BLOB)")
        con.execute("INSERT INTO files VALUES ('k1', ?)", (b"12345",))
    con.close()
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        '[mapping]\nformat = 1\nname = "sizes"\n\n'
        "[documents.sales_invoices]\n"
        "query = \"SELECT id AS record_id, number, issue_date AS date, '' AS party, "
        "'k1' AS locator FROM invoices WHERE account_id = ? ORDER BY id\"\n"
        'content = "SELECT content FROM files WHERE key = ?"\n\n'
        "[documents.purchases]\n"
        "query = \"SELECT id AS record_id, number, issue_date AS date, '' AS party, "
        "'p/' || id AS locator FROM invoices WHERE account_id = ? ORDER BY id\"\n"
        's3 = { bucket = "docs", prefix = "t/" }\n',
        encoding="utf-8",
    )
    monkeypatch.setattr(s3docs._local, "client", None, raising=False)
    source = open_source(f"sqlite:///{tiny_db}", Mapping.load(mapping))
    try:
        blob = DocumentRef("sales_invoices", "in-1", "FA", "", "", "k1")
        assert source.document_size(blob) == 5
        with pytest.raises(DocumentUnavailable, match="missing"):
            source.document_size(DocumentRef("sales_invoices", "in-1", "FA", "", "", "nope"))
        with s3_endpoint():
            client = boto3.client("s3")
            client.create_bucket(Bucket="docs")
            client.put_object(Bucket="docs", Key="t/p/in-1", Body=b"x" * 1234)
            there = DocumentRef("purchases", "in-1", "A-1", "", "", "p/in-1")
            assert source.document_size(there) == 1234
            with pytest.raises(DocumentUnavailable, match="missing"):
                source.document_size(DocumentRef("purchases", "in-2", "A-2", "", "", "p/in-2"))
            info = source.check_account(ACCOUNT)
            exporters = [cls() for cls in select(["sales_invoices", "purchases"])]
            found = account_fingerprint(source, info, exporters)
            assert found["documents"]["sales_invoices"]["unsized"] == 0
            assert found["documents"]["purchases"]["count"] == 3
            assert found["documents"]["purchases"]["unavailable"] == 2
            client.put_object(Bucket="docs", Key="t/p/in-1", Body=b"x" * 1235)
            assert account_fingerprint(source, info, exporters) != found
    finally:
        source.close()
        monkeypatch.setattr(s3docs._local, "client", None, raising=False)


def test_postgresql_computes_the_same_figures_in_the_server(
    pg_server: PgServer, tiny_db: Path
) -> None:
    from offboard.demo.postgres import load_demo

    name = f"fp_{tiny_db.parent.name.lower().replace('-', '_')[-40:]}"
    url = pg_server.create_database(name)
    load_demo(tiny_db, url)
    source = open_source(f"{url}?documents={tiny_db.parent / 'tiny-documents'}")
    try:
        tables = [t for e in select(None) for t in e.tables]
        for table in tables:
            fast = source.table_fingerprint(table, ACCOUNT)
            slow = Source.table_fingerprint(source, table, ACCOUNT)  # the default: every record
            assert fast.method == "pg-md5-sum"
            assert (fast.records, fast.totals, fast.last_change) == (
                slow.records,
                slow.totals,
                slow.last_change,
            ), table.name
        before = account_fingerprint(source, source.check_account(ACCOUNT), select_all())
        assert before["documents"]["sales_invoices"]["count"] == 2
        for statement in (
            "UPDATE invoice_lines SET description = 'Thé' WHERE id = 'il-1'",
            "UPDATE invoices SET amount_paid = 100.01 WHERE id = 'in-1'",
            "DELETE FROM bank_transactions WHERE amount = -42.10",
        ):
            pg_server.psql(statement, name)
            after = account_fingerprint(source, source.check_account(ACCOUNT), select_all())
            assert len(changes(before, after)) == 1, statement
            before = after
    finally:
        source.close()
        pg_server.psql(f"DROP DATABASE {name} WITH (FORCE)")


def select_all() -> list[Any]:
    return [cls() for cls in select(None)]
