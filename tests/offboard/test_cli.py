from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from offboard.cli import cli
from offboard.errors import ExitCode
from tests.tinydb import ACCOUNT

README = Path(__file__).resolve().parents[2] / "README.md"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_every_command_is_documented_in_the_readme() -> None:
    readme = README.read_text(encoding="utf-8")
    for name in cli.commands:
        assert re.search(rf"offboard {name}\b", readme), f"`offboard {name}` not in README"


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_has_help(name: str) -> None:
    code, out, _ = run(name, "--help")
    assert code == 0 and "Usage:" in out


def test_every_exit_code_is_documented_in_the_readme() -> None:
    readme = README.read_text(encoding="utf-8")
    for code in ExitCode:
        assert re.search(rf"^\| {int(code)} \|", readme, re.M), f"exit code {int(code)} missing"


def test_kinds_lists_the_builtins() -> None:
    code, out, _ = run("kinds", "--json")
    assert code == 0
    names = {k["kind"] for k in json.loads(out)}
    assert {"sales_invoices", "bank", "billing_history", "contacts"} <= names


def test_accounts(tiny_db: Path) -> None:
    code, out, _ = run("accounts", str(tiny_db))
    assert code == 0 and "acc-t001\tTiny SARL" in out


def test_missing_document_exits_with_its_code_and_writes_everything_else(
    tiny_db: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    code, stdout, stderr = run("export", str(tiny_db), "-a", ACCOUNT, "--out", str(out), "--json")
    assert code == ExitCode.DOCUMENTS_INCOMPLETE
    summary = json.loads(stdout)
    assert summary["problems"] == [
        {  # the tiny database's invoice is a plain PDF: Factur-X is required by default
            "kind": "sales_invoices",
            "record_id": "in-1",
            "number": "FA-2025-00001",
            "reason": "factur-x: no XML attachment (factur-x.xml)",
        },
        {
            "kind": "sales_invoices",
            "record_id": "in-2",
            "number": "FA-2025-00002",
            "reason": "missing",
        },
    ]
    # the error names the first document at fault (the Factur-X problem of FA-2025-00001)
    assert "FA-2025-00001" in stderr and "Traceback" not in stderr
    assert (out / "csv" / "sales_invoices.csv").is_file()
    assert (out / "documents" / "sales_invoices" / "FA-2025-00001.pdf").is_file()
    assert json.loads((out / "export-summary.json").read_text())["problems"]


def test_allow_missing_documents_exits_zero(tiny_db: Path, tmp_path: Path) -> None:
    code, _, _ = run(
        "export",
        str(tiny_db),
        "-a",
        ACCOUNT,
        "--out",
        str(tmp_path / "o"),
        "--allow-missing-documents",
        "--quiet",
    )
    assert code == 0


def test_unknown_account(tiny_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, _, err = run("export", str(tiny_db), "-a", "acc-nope", "--out", str(out))
    assert code == ExitCode.UNKNOWN_ACCOUNT
    assert "acc-nope" in err and "Traceback" not in err
    assert not out.exists()


def test_unknown_kind(tiny_db: Path, tmp_path: Path) -> None:
    code, _, err = run(
        "export", str(tiny_db), "-a", ACCOUNT, "--out", str(tmp_path / "o"), "--kinds", "bank,nope"
    )
    assert code == ExitCode.UNKNOWN_KIND
    assert "'nope'" in err and "sales_invoices" in err


def test_bad_source(tmp_path: Path) -> None:
    code, _, err = run("export", str(tmp_path / "x.db"), "-a", "a", "--out", str(tmp_path / "o"))
    assert code == ExitCode.SOURCE and "x.db" in err


def test_non_empty_output_is_not_overwritten(tiny_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    args = ["export", str(tiny_db), "-a", ACCOUNT, "--out", str(out), "--no-documents", "-q"]
    code, _, err = run(*args)
    assert code == ExitCode.OUTPUT_EXISTS and "--overwrite" in err
    assert (out / "keep.txt").read_text() == "mine"
    code, _, _ = run(*args, "--overwrite")
    assert code == 0
    assert not (out / "keep.txt").exists() and (out / "csv" / "catalogue.csv").is_file()


def test_summary_table_is_printed(tiny_db: Path, tmp_path: Path) -> None:
    code, out, _ = run(
        "export",
        str(tiny_db),
        "-a",
        ACCOUNT,
        "--out",
        str(tmp_path / "o"),
        "--kinds",
        "sales_invoices",
        "--allow-missing-documents",
    )
    assert code == 0
    for word in ("kind", "table", "records", "documents", "bytes", "seconds"):
        assert word in out
    assert "sales_invoice_lines" in out and "FA-2025-00002" in out
