"""Mapping files: a vendor schema that differs from ours gives the very same export.

The "Acme Factures" schema of docs/mappings.md (tenants, companies and people in one table,
amounts in whole cents, other names) is filled with a demo account's data; exported through
docs/mappings/acme.toml, every CSV file, document and bundle is byte for byte the reference
export's. Then each rule of the format is broken once, and the error names what is wrong.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from offboard.cli import cli
from offboard.errors import ExitCode
from tests.offboard.sources.acme import MAPPING, build_acme
from tests.offboard.sources.exports import export, files


def run(*args: str) -> tuple[int, str]:
    done = CliRunner().invoke(cli, list(args))
    return done.exit_code, done.output


@pytest.fixture(scope="module")
def acme(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_acme(demo_db, tmp_path_factory.mktemp("acme") / "acme.db")


def mapping_with(tmp_path: Path, old: str, new: str) -> Path:
    text = MAPPING.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "m.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_the_acme_schema_is_not_the_reference_one(acme: Path) -> None:
    conn = sqlite3.connect(acme)
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    conn.close()
    assert {"tenants", "parties", "bills"} <= names
    assert not {"accounts", "companies", "people", "invoices"} & names


def test_without_its_mapping_the_acme_database_cannot_be_exported(
    acme: Path, tmp_path: Path
) -> None:
    code, output = export(f"sqlite:///{acme}", tmp_path / "out")
    assert code == ExitCode.SCHEMA and "accounts" in output


def test_through_its_mapping_the_export_is_the_reference_one_byte_for_byte(
    acme: Path, sqlite_export: dict[str, bytes], tmp_path: Path
) -> None:
    code, output = export(f"sqlite:///{acme}", tmp_path / "out", "--mapping", str(MAPPING))
    assert code == 0, output
    got = files(tmp_path / "out")
    assert sorted(got) == sorted(sqlite_export)
    assert [name for name in sqlite_export if got[name] != sqlite_export[name]] == []


def test_mapping_check_reports_every_table(acme: Path) -> None:
    code, output = run(
        "mapping",
        "check",
        f"sqlite:///{acme}",
        "--mapping",
        str(MAPPING),
        "-a",
        "acc-0001",
        "--json",
    )
    assert code == 0, output
    report = json.loads(output)
    assert report["ok"] and report["mapping"] == str(MAPPING)
    by_table = {t["table"]: t for t in report["tables"]}
    assert by_table["sales_invoices"]["mapped"] and not by_table["quote_lines"]["mapped"]
    assert all(t["rows"] > 0 and t["problem"] is None for t in report["tables"])
    assert by_table["sales_invoices"]["sample"]["total_ttc"].count(".") == 1
    docs = {d["kind"]: d for d in report["documents"]}
    assert docs["sales_invoices"]["found"] == docs["sales_invoices"]["documents"] > 0


def test_accounts_come_from_the_mapping(acme: Path) -> None:
    code, output = run("accounts", f"sqlite:///{acme}", "--mapping", str(MAPPING))
    assert code == 0 and output.startswith("acc-0001\t")


def test_an_unknown_column_is_refused_naming_table_and_column(acme: Path, tmp_path: Path) -> None:
    bad = mapping_with(
        tmp_path,
        "SELECT party_id AS id, display_name AS name,",
        "SELECT party_id AS id, 'x' AS nickname, display_name AS name,",
    )
    code, output = export(f"sqlite:///{acme}", tmp_path / "out", "--mapping", str(bad))
    assert code == ExitCode.SCHEMA, output
    assert "table contacts_companies" in output and "'nickname'" in output
    assert not (tmp_path / "out").exists()


def test_a_missing_required_column_is_refused(acme: Path, tmp_path: Path) -> None:
    bad = mapping_with(tmp_path, "given_name AS first_name,", "")
    code, output = export(f"sqlite:///{acme}", tmp_path / "out", "--mapping", str(bad))
    assert code == ExitCode.SCHEMA and "required column 'first_name'" in output, output


def test_a_missing_optional_column_is_empty(
    acme: Path, sqlite_export: dict[str, bytes], tmp_path: Path
) -> None:
    loose = mapping_with(tmp_path, "job AS job_title, ", "")
    code, output = export(
        f"sqlite:///{acme}", tmp_path / "out", "--mapping", str(loose), "--kinds", "contacts"
    )
    assert code == 0, output
    people = (tmp_path / "out" / "csv" / "contacts_people.csv").read_text().splitlines()
    column = people[0].split(",").index('"job_title"')
    assert all(row.split(",")[column] == "" for row in people[1:] if row.count(",") >= column)
    assert (
        files(tmp_path / "out")["csv/contacts_companies.csv"]
        == sqlite_export["csv/contacts_companies.csv"]
    )


def test_cents_that_are_not_whole_are_refused_with_their_record(acme: Path, tmp_path: Path) -> None:
    broken = tmp_path / "acme.db"
    broken.write_bytes(acme.read_bytes())
    (tmp_path / "acme-documents").mkdir()
    conn = sqlite3.connect(broken)
    bill = conn.execute(
        "SELECT bill_id FROM bills WHERE tenant_id = 'acc-0001' LIMIT 1"
    ).fetchone()[0]
    conn.execute("UPDATE bills SET paid_cents = 1250.5 WHERE bill_id = ?", (bill,))
    conn.commit()
    conn.close()
    code, output = export(
        f"sqlite:///{broken}",
        tmp_path / "out",
        "--mapping",
        str(MAPPING),
        "--kinds",
        "sales_invoices",
        "--no-documents",
    )
    assert code == 9, output
    assert f"id='{bill}'" in output and "amount_paid" in output and "not whole cents" in output


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("format = 1", "format = 7", "format must be 1"),
        ('cents = ["base_ht", "vat_amount"]', 'cents = ["vat_rate"]', "not a money column"),
        ("[tables.quotes]", "[tables.quotations]", "no exporter has a table 'quotations'"),
        ("[documents.quotes]", "[documents.catalogue]", "no exporter has documents"),
        (
            'WHERE b.tenant_id = ?\nORDER BY b.issued, b.bill_no\n"""\ncents',
            'ORDER BY b.issued\n"""\ncents',
            "one parameter",
        ),
        ("[accounts]", "[acounts]", "unknown section [acounts]"),
        (
            'content = "SELECT pdf AS content FROM bill_files WHERE bill_id = ?"',
            'content = "SELECT pdf AS content FROM bill_files"',
            "content must be a query",
        ),
        ('cents = ["unit_price_ht", "total_ht"]', 'cent = ["unit_price_ht"]', "unknown key 'cent'"),
        ('name = "Acme Factures"', 'name = "Acme', "not valid TOML"),
    ],
    ids=["format", "cents", "table", "kind", "parameter", "section", "content", "key", "toml"],
)
def test_a_broken_mapping_is_refused_naming_what_is_wrong(
    acme: Path, tmp_path: Path, old: str, new: str, message: str
) -> None:
    bad = mapping_with(tmp_path, old, new)
    code, output = export(f"sqlite:///{acme}", tmp_path / "out", "--mapping", str(bad))
    assert code == ExitCode.MAPPING, output
    assert str(bad) in output and message in output, output


def test_a_missing_mapping_file_is_named(acme: Path, tmp_path: Path) -> None:
    code, output = export(
        f"sqlite:///{acme}", tmp_path / "out", "--mapping", str(tmp_path / "nope.toml")
    )
    assert code == ExitCode.MAPPING and "nope.toml" in output and "no such file" in output


def test_sqlite_cents_are_exact() -> None:
    from offboard.sources.sqlite import cents_sql

    conn = sqlite3.connect(":memory:")
    rows = conn.execute(
        f"SELECT {cents_sql('x')} FROM (SELECT 4571400 AS x UNION ALL SELECT -1250 "
        "UNION ALL SELECT 5 UNION ALL SELECT -7 UNION ALL SELECT 0 UNION ALL SELECT NULL "
        "UNION ALL SELECT 12.5 UNION ALL SELECT 922337203685477580)"
    ).fetchall()
    assert [r[0] for r in rows] == [
        "45714.00",
        "-12.50",
        "0.05",
        "-0.07",
        "0.00",
        None,
        "not whole cents: 12.5",
        "9223372036854775.80",
    ]


def test_the_shipped_reference_mapping_is_the_default(
    demo_db: Path, sqlite_export: dict[str, bytes], tmp_path: Path
) -> None:
    from offboard.sources.mapping import reference_toml

    shipped = MAPPING.with_name("reference.toml")
    assert shipped.read_text(encoding="utf-8") == reference_toml(), (
        "docs/mappings/reference.toml is stale: `offboard mapping reference > "
        "docs/mappings/reference.toml`"
    )
    code, output = export(f"sqlite:///{demo_db}", tmp_path / "out", "--mapping", str(shipped))
    assert code == 0, output
    assert files(tmp_path / "out") == sqlite_export


def test_documents_above_the_size_limit_are_reported_not_loaded(
    acme: Path, demo_db: Path, tmp_path: Path
) -> None:
    """Kept as bytes (Acme's invoices) or as files (the reference's quotes), alike."""
    for source, mapping, kind in (
        (f"sqlite:///{acme}", ["--mapping", str(MAPPING)], "sales_invoices"),
        (f"sqlite:///{demo_db}", [], "quotes"),
    ):
        out = tmp_path / kind
        code, output = export(
            source, out, *mapping, "--kinds", kind, "--max-document-size", "2KB", "--json"
        )
        assert code == 0, output
        summary = json.loads((out / "export-summary.json").read_text())
        reasons = {p["reason"] for p in summary["problems"]}
        assert "larger than 2,000 bytes" in reasons, reasons
        kept = list((out / "documents" / kind).glob("*.pdf"))
        assert all(p.stat().st_size <= 2000 for p in kept)


def test_a_document_whose_bytes_are_gone_is_missing(acme: Path, tmp_path: Path) -> None:
    broken = tmp_path / "acme.db"
    broken.write_bytes(acme.read_bytes())
    (tmp_path / "acme-documents").mkdir()
    conn = sqlite3.connect(broken)
    bill = conn.execute("SELECT bill_id FROM bill_files LIMIT 1").fetchone()[0]
    # the listing still names the bill (a vendor's stale index), its bytes are gone
    conn.execute("DELETE FROM bill_files WHERE bill_id = ?", (bill,))
    conn.execute("CREATE TABLE bill_index AS SELECT bill_id FROM bills")
    conn.commit()
    conn.close()
    stale = mapping_with(
        tmp_path,
        "LEFT JOIN bill_files f ON f.bill_id = b.bill_id",
        "LEFT JOIN bill_index f ON f.bill_id = b.bill_id",
    )
    out = tmp_path / "out"
    code, output = export(
        f"sqlite:///{broken}", out, "--mapping", str(stale), "--kinds", "sales_invoices"
    )
    assert code == 0, output
    summary = json.loads((out / "export-summary.json").read_text())
    assert [(p["record_id"], p["reason"]) for p in summary["problems"]] == [(bill, "missing")]
