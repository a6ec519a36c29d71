"""The export against the generated demo: counts, totals and documents checked independently."""

from __future__ import annotations

import csv
import hashlib
import os
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from offboard.errors import RecordError
from offboard.pipeline import ExportOptions, export_account
from offboard.sources.sqlite import SQLiteSource

# table -> (source table, money columns): the independent check reads the source tables directly
SOURCE_TABLES = {
    "sales_invoices": ("invoices", ["total_ht", "total_vat", "total_ttc", "amount_paid"]),
    "sales_invoice_lines": ("invoice_lines", ["unit_price_ht", "total_ht"]),
    "sales_invoice_vat": ("invoice_vat", ["base_ht", "vat_amount"]),
    "quotes": ("quotes", ["total_ht", "total_vat", "total_ttc"]),
    "quote_lines": ("quote_lines", ["unit_price_ht", "total_ht"]),
    "purchases": ("purchases", ["total_ht", "total_vat", "total_ttc", "amount_paid"]),
    "purchase_lines": ("purchase_lines", ["unit_price_ht", "total_ht"]),
    "contacts_companies": ("companies", []),
    "contacts_people": ("people", []),
    "catalogue": ("products", ["unit_price_ht"]),
    "bank_accounts": ("bank_accounts", ["opening_balance"]),
    "bank_transactions": ("bank_transactions", ["amount", "balance"]),
    "subscription": ("subscriptions", ["monthly_price_ht"]),
    "billing_invoices": ("billing_invoices", ["total_ht", "total_vat", "total_ttc"]),
}
DOC_TABLES = {
    "sales_invoices": "invoices",
    "quotes": "quotes",
    "purchases": "purchases",
    "billing_history": "billing_invoices",
}


@pytest.fixture(scope="module")
def exported(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("export") / "out"
    source = SQLiteSource.from_url(f"sqlite:///{demo_db}")
    account = "acc-0001"
    export_account(source, account, out, ExportOptions(allow_missing_documents=True))
    source.close()
    return out, account


def cents(text: str) -> int:
    return int(Decimal(text) * 100)


def test_counts_and_money_totals_equal_the_source(
    demo_db: Path, exported: tuple[Path, str]
) -> None:
    out, account = exported
    con = sqlite3.connect(demo_db)
    for name, (src_table, money) in SOURCE_TABLES.items():
        sums = ", ".join(f"SUM(CAST(REPLACE({m}, '.', '') AS INTEGER))" for m in money)
        sql = f"SELECT COUNT(*){', ' + sums if sums else ''} FROM {src_table} WHERE account_id = ?"
        expected = con.execute(sql, (account,)).fetchone()
        with (out / "csv" / f"{name}.csv").open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert len(rows) == expected[0], name
        assert expected[0] > 0, f"{name} is empty in the demo"
        for i, m in enumerate(money, start=1):
            assert sum(cents(r[m]) for r in rows) == expected[i], f"{name}.{m}"
            assert all(len(r[m].split(".")[1]) == 2 for r in rows), f"{name}.{m} not 2 places"
    con.close()


def test_every_document_is_present_or_reported(demo_db: Path, exported: tuple[Path, str]) -> None:
    import json

    out, account = exported
    summary = json.loads((out / "export-summary.json").read_text())
    problems = {(p["kind"], p["number"]) for p in summary["problems"]}
    reasons = sorted(p["reason"] for p in summary["problems"])
    assert reasons == ["encrypted", "missing"], "the demo's acc-0001 has one of each"
    con = sqlite3.connect(demo_db)
    for kind, src_table in DOC_TABLES.items():
        numbers = [
            n
            for (n,) in con.execute(
                f"SELECT number FROM {src_table} WHERE account_id = ? AND pdf_path IS NOT NULL",
                (account,),
            )
        ]
        assert numbers
        folder = out / "documents" / kind
        present = {p.stem for p in folder.glob("*.pdf")}
        for number in numbers:
            assert number in present or (kind, number) in problems, (kind, number)
        assert (out / "documents" / f"{kind}-bundle-001.pdf").is_file()
    con.close()


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "export-summary.json"
    }


def test_identical_output_in_every_time_zone(demo_db: Path, tmp_path: Path) -> None:
    digests = []
    for tz in ("UTC", "Pacific/Kiritimati", "America/St_Johns"):
        out = tmp_path / tz.replace("/", "_")
        env = {**os.environ, "TZ": tz}
        subprocess.run(
            [
                sys.executable,
                "-m",
                "offboard",
                "export",
                f"sqlite:///{demo_db}",
                "--account",
                "acc-0002",
                "--out",
                str(out),
                "--quiet",
            ],
            check=True,
            env=env,
        )
        digests.append(tree_digest(out))
    assert digests[0] == digests[1] == digests[2]
    assert any(k.startswith("documents/") for k in digests[0])


def test_failure_mid_export_leaves_nothing(demo_db: Path, tmp_path: Path) -> None:
    src = SQLiteSource.from_url(f"sqlite:///{demo_db}")
    con = sqlite3.connect(demo_db)
    bad = tmp_path / "bad.db"
    con.execute(f"VACUUM INTO '{bad}'")
    con.close()
    con = sqlite3.connect(bad)
    last = con.execute(
        "SELECT id FROM invoice_lines WHERE account_id='acc-0001' ORDER BY invoice_id DESC LIMIT 1"
    ).fetchone()[0]
    con.execute("UPDATE invoice_lines SET total_ht = 1.0 / 3 WHERE id = ?", (last,))
    con.commit()
    con.close()
    src.close()
    out = tmp_path / "out"
    with pytest.raises(RecordError, match=last):
        export_account(
            SQLiteSource.from_url(str(bad)), "acc-0001", out, ExportOptions(documents=False)
        )
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [bad]


def test_export_does_not_import_pandas(demo_db: Path, tmp_path: Path) -> None:
    """pandas costs ~45 MB of resident memory; the export must stay lean without it."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from offboard.pipeline import ExportOptions, export_account\n"
        "from offboard.sources import open_source\n"
        f"src = open_source({str(demo_db)!r})\n"
        f"export_account(src, 'acc-0002', Path({str(tmp_path / 'o')!r}), ExportOptions())\n"
        "assert 'pandas' not in sys.modules, 'pandas was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_excel_fr_export_reads_back_to_the_same_values(demo_db: Path, tmp_path: Path) -> None:
    import pandas as pd

    from offboard.csvio import EXCEL_FR, restore_cell

    kinds = ["sales_invoices", "bank", "contacts"]
    for name, dialect in (("std", None), ("fr", EXCEL_FR)):
        options = ExportOptions(kinds=kinds, documents=False)
        if dialect is not None:
            options = ExportOptions(kinds=kinds, documents=False, dialect=dialect)
        src = SQLiteSource.from_url(str(demo_db))
        export_account(src, "acc-0001", tmp_path / name, options)
        src.close()
    for csv_file in sorted((tmp_path / "std" / "csv").glob("*.csv")):
        std = pd.read_csv(csv_file, dtype=str, keep_default_na=False)
        fr = pd.read_csv(
            tmp_path / "fr" / "csv" / csv_file.name,
            sep=";",
            decimal=",",
            encoding="utf-8-sig",
            dtype=str,
            keep_default_na=False,
        )
        assert list(fr.columns) == list(std.columns), csv_file.name
        assert len(fr) == len(std) > 0, csv_file.name
        numeric = pd.read_csv(
            tmp_path / "fr" / "csv" / csv_file.name, sep=";", decimal=",", encoding="utf-8-sig"
        )
        for column in std.columns:
            if std[column].str.fullmatch(r"-?\d+\.\d+").all():  # money, rates, quantities
                assert numeric[column].dtype.kind == "f", (csv_file.name, column)
                assert list(fr[column].str.replace(",", ".")) == list(std[column])
            else:
                assert list(fr[column]) == list(std[column]), (csv_file.name, column)
        texts = [c for c in std.columns if std[c].str.startswith("'").any()]
        for column in texts:  # neutralised cells restore to text that is never a formula
            restored = [restore_cell(v) for v in fr[column]]
            assert restored == [restore_cell(v) for v in std[column]]
