"""``offboard restore`` as a user runs it: a real process, its JSON, its help, its imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.manifests.conftest import Keys

from .conftest import Archive, run


def offboard(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "offboard", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
        timeout=120,
    )


def test_a_real_process_restores_and_reports_as_json(
    archive_std: Archive, restore_keys: Keys, tmp_path: Path
) -> None:
    done = offboard(
        "restore",
        str(archive_std.path),
        "--pubkey",
        str(restore_keys.pub),
        "--into",
        "sqlite:///restored.db",
        "--json",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["restored"] is True
    assert report["account"] == {"id": "acc-0001", "name": report["account"]["name"]}
    assert report["into"] == "SQLite database restored.db"
    assert {t["table"]: t["records"] for t in report["tables"]}["sales_invoices"] == 300
    assert report["documents"] > 600 and report["without_bytes"] == 1
    assert sorted(p["reason"] for p in report["problems"]) == ["encrypted", "missing"]
    assert (tmp_path / "restored.db").is_file()
    assert (tmp_path / "restored-documents" / "purchases" / "acc-0001").is_dir()
    listed = offboard("accounts", "restored.db", cwd=tmp_path)
    assert listed.stdout.startswith("acc-0001\t")


def test_the_summary_names_the_tables_and_the_problems(
    archive_std: Archive, restore_keys: Keys, tmp_path: Path
) -> None:
    done = run(
        "restore",
        str(archive_std.path),
        "-p",
        str(restore_keys.pub),
        "--into",
        str(tmp_path / "r.db"),
    )
    assert done.exit_code == 0, done.output
    assert "sales_invoice_lines" in done.output and "invoice_lines" in done.output
    assert "2 document problem(s) listed by the archive" in done.output
    assert "Restored " in done.output and "into SQLite database r.db" in done.output


def test_restore_is_a_command_and_its_help_loads_no_heavy_library(tmp_path: Path) -> None:
    assert "restore" in run("--help").output
    code = (
        "import sys\n"
        "from offboard.cli import cli\n"
        "import offboard.restore\n"
        "try:\n"
        "    cli(['restore', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = [m for m in ('pyarrow', 'adbc_driver_manager', 'pikepdf') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "--into TARGET" in done.stdout
