"""``offboard fec-check FILE``: exit 0 valid, 1 invalid (every problem listed with its line),
19 unreadable; ``--json``; a cap on the problems listed, with the count of the rest."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from offboard.cli import cli
from offboard.errors import ExitCode
from tests.offboard.accounting.fecfiles import BAD_SIREN, NAME, column, data, rows


def run(*args: str) -> tuple[int, str, str]:
    done = CliRunner().invoke(cli, ["fec-check", *args])
    return done.exit_code, done.stdout, done.stderr


def write(folder: Path, payload: bytes, name: str = NAME) -> Path:
    path = folder / name
    path.write_bytes(payload)
    return path


def test_a_valid_file_exits_0(tmp_path: Path) -> None:
    code, out, _ = run(str(write(tmp_path, data(rows()))))
    assert code == 0
    assert out.startswith(f"VALID {NAME}: 7 lines, 3 entries, encoding utf-8")


def test_an_invalid_file_exits_1_and_lists_every_problem_with_its_line(tmp_path: Path) -> None:
    table = rows()
    table[1][column("Credit")] = "100.00"  # line 3: a dot decimal (and its entry unbalanced)
    table[4][column("CompteLib")] = ""  # line 6
    path = write(tmp_path, data(table), f"{BAD_SIREN}FEC20251231.txt")
    code, out, err = run(str(path))
    assert code == 1
    assert out.startswith(f"INVALID {BAD_SIREN}FEC20251231.txt")
    listed = [line for line in out.splitlines() if line.startswith("  ")]
    assert err == f"offboard: error: {path}: not a valid FEC: {len(listed)} problem(s) found\n"
    for expected in (
        "file: file-name: SIREN 805361475 fails its Luhn check",
        "line 3: amount: Credit '100.00' is not an amount",
        "line 2: balance: entry VT0000001 (lines 2-4) does not balance",
        "line 6: mandatory: CompteLib is empty",
        "file: balance: the file does not balance",
    ):
        assert expected in out, out


def test_json_gives_the_report(tmp_path: Path) -> None:
    table = rows()
    table[5][column("ValidDate")] = "20250231"  # line 7
    code, out, _ = run(str(write(tmp_path, data(table))), "--json")
    assert code == 1
    report = json.loads(out)
    assert report["valid"] is False and report["file"] == NAME
    assert {
        "line": 7,
        "rule": "date",
        "message": "ValidDate '20250231' is not an AAAAMMJJ day",
    } in (report["problems"])
    assert report["total_problems"] == len(report["problems"]) and report["unlisted_problems"] == 0
    code, out, _ = run(str(write(tmp_path, data(rows()), "other" + NAME)), "--json")
    assert code == 1 and json.loads(out)["problems"][0]["rule"] == "file-name"


def test_the_problems_listed_are_capped_and_the_rest_counted(tmp_path: Path) -> None:
    table = [list(r) for r in rows() for _ in range(10)]
    for r in table:
        r[column("Debit")] = r[column("Debit")].replace(",", ".")
    code, out, _ = run(str(write(tmp_path, data(table))), "--max-problems", "5")
    assert code == 1
    assert out.count("\n  line ") + out.count("\n  file") == 5
    assert "more problem(s) (--max-problems to list more)" in out


def test_an_iso_8859_15_file_with_its_encoding(tmp_path: Path) -> None:
    table = rows()
    table[0][column("CompAuxLib")] = table[6][column("CompAuxLib")] = "Cœur d'Œuvre €"
    path = write(tmp_path, data(table, "iso8859_15"))
    assert run(str(path), "--encoding", "iso-8859-15")[0] == 0
    code, out, _ = run(str(path))  # told from its bytes
    assert code == 0 and "encoding iso-8859-15" in out
    code, out, _ = run(str(path), "--encoding", "utf-8")
    assert code == 1 and "line 2: encoding:" in out


def test_start_narrows_the_fiscal_year(tmp_path: Path) -> None:
    path = write(tmp_path, data(rows()))
    code, out, _ = run(str(path), "--start", "20250201")
    assert code == 1 and "line 2: fiscal-year:" in out
    code, _, err = run(str(path), "--start", "2025-02-01")
    assert code == 2 and "--start" in err


def test_a_file_that_cannot_be_read_exits_19(tmp_path: Path) -> None:
    code, _, err = run(str(tmp_path / NAME))
    assert code == ExitCode.UNREADABLE and "cannot be read" in err and NAME in err
    code, _, err = run(str(tmp_path))  # a folder: click's usage error
    assert code == ExitCode.USAGE and "is a directory" in err
