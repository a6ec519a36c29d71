"""The PostgreSQL source against a real server: the same export, byte for byte, as SQLite's.

The demo database is copied into PostgreSQL's typed reference schema (numeric, date,
timestamptz, boolean) and exported from both; every CSV file, document and bundle must be
identical. Server settings that could change the text of values (time zone, DateStyle) and
column types a vendor might use instead (timestamp without time zone, unconstrained numeric)
are tried too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from offboard.cli import cli
from offboard.demo.postgres import load_demo
from offboard.errors import ExitCode
from tests.offboard.sources.exports import export, files
from tests.pgserver import PgServer, pg_server_session  # noqa: F401

pytestmark = pytest.mark.usefixtures("pg_server")


def documents_of(db: Path) -> Path:
    return db.parent / f"{db.stem}-documents"


def pg_url(server: PgServer, name: str, db: Path) -> str:
    return f"{server.url(name)}?documents={documents_of(db)}"


def fresh(server: PgServer, name: str, demo_db: Path) -> str:
    """A new database holding the demo, its source URL."""
    load_demo(demo_db, server.create_database(name))
    return pg_url(server, name, demo_db)


@pytest.fixture(scope="module")
def pg_demo(pg_server: PgServer, demo_db: Path) -> str:
    return fresh(pg_server, "demo", demo_db)


def same_as_sqlite(source: str, out: Path, expected: dict[str, bytes]) -> None:
    code, output = export(source, out)
    assert code == 0, output
    got = files(out)
    assert sorted(got) == sorted(expected)
    differing = [name for name in expected if got[name] != expected[name]]
    assert differing == []


def test_the_postgresql_export_is_byte_identical_to_the_sqlite_one(
    pg_demo: str, sqlite_export: dict[str, bytes], tmp_path: Path
) -> None:
    assert any(name.startswith("csv/") for name in sqlite_export)
    assert any(name.endswith(".pdf") for name in sqlite_export)
    same_as_sqlite(pg_demo, tmp_path / "pg", sqlite_export)
    summary = json.loads((tmp_path / "pg" / "export-summary.json").read_text())
    assert summary["source"].startswith("PostgreSQL database demo on 127.0.0.1:")


def test_the_server_s_time_zone_and_date_style_change_nothing(
    pg_server: PgServer, demo_db: Path, sqlite_export: dict[str, bytes], tmp_path: Path
) -> None:
    url = fresh(pg_server, "settings", demo_db)
    pg_server.psql(
        "ALTER DATABASE settings SET timezone TO 'Pacific/Kiritimati';"
        "ALTER DATABASE settings SET datestyle TO 'SQL, DMY';"
    )
    same_as_sqlite(url, tmp_path / "pg", sqlite_export)


def test_timestamps_without_time_zone_are_taken_as_utc(
    pg_server: PgServer, demo_db: Path, sqlite_export: dict[str, bytes], tmp_path: Path
) -> None:
    url = fresh(pg_server, "naive", demo_db)
    pg_server.psql(
        "ALTER TABLE invoices ALTER COLUMN created_at TYPE timestamp "
        "USING created_at AT TIME ZONE 'UTC';"
        "ALTER DATABASE naive SET timezone TO 'America/St_Johns';",
        "naive",
    )
    same_as_sqlite(url, tmp_path / "pg", sqlite_export)


@pytest.fixture
def loose(pg_server: PgServer, demo_db: Path) -> Iterator[tuple[str, str]]:
    """A copy of the demo whose invoice amounts and times accept more than an export keeps;
    (URL, id of the account's first invoice)."""
    url = fresh(pg_server, "loose", demo_db)
    pg_server.psql(
        "ALTER TABLE invoices ALTER COLUMN total_ttc TYPE numeric;"
        "ALTER TABLE invoices ALTER COLUMN updated_at TYPE timestamptz(6);",
        "loose",
    )
    first = pg_server.psql(
        "SELECT id FROM invoices WHERE account_id = 'acc-0001' ORDER BY id LIMIT 1", "loose"
    ).strip()
    yield url, first
    pg_server.psql("DROP DATABASE loose WITH (FORCE)")


def test_an_amount_with_more_decimals_is_refused_with_its_record(
    loose: tuple[str, str], pg_server: PgServer, tmp_path: Path
) -> None:
    url, invoice = loose
    pg_server.psql(f"UPDATE invoices SET total_ttc = 10.005 WHERE id = '{invoice}'", "loose")
    code, output = export(url, tmp_path / "out", "--kinds", "sales_invoices")
    assert code == 9, output  # a bad record
    assert f"id='{invoice}'" in output and "total_ttc" in output and "10.005" in output
    assert not (tmp_path / "out").exists()


def test_a_time_with_a_fraction_of_a_second_is_refused_with_its_record(
    loose: tuple[str, str], pg_server: PgServer, tmp_path: Path
) -> None:
    url, invoice = loose
    pg_server.psql(
        f"UPDATE invoices SET updated_at = updated_at + interval '0.25 second' "
        f"WHERE id = '{invoice}'",
        "loose",
    )
    code, output = export(url, tmp_path / "out", "--kinds", "sales_invoices")
    assert code == 9, output  # a bad record
    assert f"id='{invoice}'" in output and "updated_at" in output and ".250000Z" in output


def test_accounts_and_an_unknown_account(pg_demo: str) -> None:
    done = CliRunner().invoke(cli, ["accounts", pg_demo])
    assert done.exit_code == 0 and "acc-0001" in done.output and "acc-0002" in done.output
    for account in ("acc-9999", "x' OR '1'='1"):
        done = CliRunner().invoke(cli, ["export", pg_demo, "-a", account, "--out", "/nonexistent"])
        assert done.exit_code == 4, done.output  # unknown account
        assert "acc-0001" in done.output  # the known accounts are listed


def test_a_server_that_does_not_answer_is_named(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = CliRunner().invoke(
        cli,
        [
            "export",
            f"postgresql://offboard@127.0.0.1:{port}/demo",
            "-a",
            "acc-0001",
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert done.exit_code == ExitCode.SOURCE_UNAVAILABLE, done.output  # retriable: refused
    assert f"PostgreSQL database demo on 127.0.0.1:{port}: cannot connect" in done.output
    assert "Traceback" not in done.output


def test_the_session_is_read_only(pg_demo: str) -> None:
    from offboard.sources import open_source

    source = open_source(pg_demo)
    try:
        source.accounts()
        with pytest.raises(Exception, match="read-only"):
            source._execute("CREATE TABLE intruder (x int)")  # type: ignore[attr-defined]
    finally:
        source.close()


def test_the_demo_command_loads_postgresql_and_prints_the_source(
    pg_server: PgServer, tmp_path: Path
) -> None:
    url = pg_server.create_database("fromcli")
    db = tmp_path / "d.db"
    args = ["demo", str(db), "--accounts", "1", "--documents", "3", "--postgres", url]
    done = CliRunner().invoke(cli, args)
    assert done.exit_code == 0, done.output
    source = next(
        line.split(None, 1)[1]
        for line in done.output.splitlines()
        if line.startswith("PostgreSQL:")
    )
    assert source.startswith(url + "?documents=")
    code, output = export(source, tmp_path / "out")
    assert code == 0, output
    assert len(list((tmp_path / "out" / "documents").rglob("*.pdf"))) >= 3
    # a second load into the same database fails whole, and says why
    again = CliRunner().invoke(cli, [*args[:2], "--postgres", url, "--accounts", "1"])
    assert again.exit_code == 3 and "could not be loaded" in again.output, again.output
    count = pg_server.psql("SELECT count(*) FROM accounts", "fromcli").strip()
    assert count == "1"


def test_postgresql_cents_are_exact(pg_server: PgServer) -> None:
    from offboard.sources.postgres import cents_sql

    values = "(4571400), (-1250), (5), (-7), (0), (NULL), (12.5), (922337203685477580)"
    out = pg_server.psql(f"SELECT {cents_sql('x')} FROM (VALUES {values}) AS v(x)")
    assert out.splitlines() == [
        "45714.00",
        "-12.50",
        "0.05",
        "-0.07",
        "0.00",
        "",
        "not whole cents: 12.5",
        "9223372036854775.80",
    ]


def test_a_mapping_reads_a_postgresql_schema_of_its_own(
    pg_server: PgServer, demo_db: Path, sqlite_export: dict[str, bytes], tmp_path: Path
) -> None:
    """A vendor's table in PostgreSQL, amounts in cents: mapped, the same invoices."""
    url = fresh(pg_server, "vendor", demo_db)
    pg_server.psql(
        "CREATE TABLE bills AS SELECT id AS bill_id, account_id AS tenant, number AS bill_no,"
        " kind, customer_id, quote_id, credited_invoice_id, issue_date, due_date,"
        " payment_terms, status, CAST(total_ht * 100 AS BIGINT) AS ht_cents,"
        " CAST(total_vat * 100 AS BIGINT) AS vat_cents,"
        " CAST(total_ttc * 100 AS BIGINT) AS ttc_cents,"
        " CAST(amount_paid * 100 AS BIGINT) AS paid_cents, currency, pdf_path,"
        " created_at, updated_at FROM invoices;",
        "vendor",
    )
    mapping = tmp_path / "vendor.toml"
    mapping.write_text(
        '[mapping]\nformat = 1\nname = "vendor"\n\n[tables.sales_invoices]\nquery = """\n'
        "SELECT b.bill_id AS id, b.bill_no AS number, b.kind, b.customer_id,"
        " c.name AS customer_name, c.siren AS customer_siren,"
        " c.vat_number AS customer_vat_number, b.quote_id, b.credited_invoice_id,"
        " b.issue_date, b.due_date, b.payment_terms, b.status, b.ht_cents AS total_ht,"
        " b.vat_cents AS total_vat, b.ttc_cents AS total_ttc, b.paid_cents AS amount_paid,"
        " b.currency, b.created_at, b.updated_at"
        " FROM bills b JOIN companies c ON c.id = b.customer_id WHERE b.tenant = ?"
        ' ORDER BY b.issue_date, b.bill_no\n"""\n'
        'cents = ["total_ht", "total_vat", "total_ttc", "amount_paid"]\n',
        encoding="utf-8",
    )
    code, output = export(
        url,
        tmp_path / "out",
        "--mapping",
        str(mapping),
        "--kinds",
        "sales_invoices",
        "--no-documents",
    )
    assert code == 0, output
    got = (tmp_path / "out" / "csv" / "sales_invoices.csv").read_bytes()
    assert got == sqlite_export["csv/sales_invoices.csv"]


def test_documents_kept_as_bytes_in_postgresql(
    pg_server: PgServer, demo_db: Path, sqlite_export: dict[str, bytes], tmp_path: Path
) -> None:
    """A vendor keeping the invoices' PDFs in a bytea column: mapped, the same documents."""
    import sqlite3

    url = fresh(pg_server, "blobs", demo_db)
    docs = documents_of(demo_db)
    conn = sqlite3.connect(demo_db)
    rows = conn.execute(
        "SELECT id, pdf_path FROM invoices WHERE account_id = 'acc-0001' AND pdf_path IS NOT NULL"
    ).fetchall()
    conn.close()
    values = ",\n".join(
        f"('{i}', decode('{(docs / p).read_bytes().hex()}', 'hex'))" for i, p in rows
    )
    pg_server.psql(
        f"CREATE TABLE pdfs (invoice_id text, pdf bytea);\nINSERT INTO pdfs VALUES {values};",
        "blobs",
    )
    mapping = tmp_path / "blobs.toml"
    mapping.write_text(
        '[mapping]\nformat = 1\nname = "blobs"\n\n[documents.sales_invoices]\nquery = """\n'
        "SELECT i.id AS record_id, i.number, i.issue_date AS date, c.name AS party,"
        " p.invoice_id AS locator FROM invoices i JOIN companies c ON c.id = i.customer_id"
        " LEFT JOIN pdfs p ON p.invoice_id = i.id WHERE i.account_id = ?"
        ' ORDER BY i.issue_date, i.number\n"""\n'
        'content = "SELECT pdf AS content FROM pdfs WHERE invoice_id = ?"\n',
        encoding="utf-8",
    )
    out = tmp_path / "out"
    code, output = export(
        url.split("?")[0], out, "--mapping", str(mapping), "--kinds", "sales_invoices"
    )
    assert code == 0, output
    got = files(out)
    wanted = {n: v for n, v in sqlite_export.items() if n.startswith("documents/sales_invoices")}
    assert wanted and {n: got[n] for n in wanted} == wanted
