"""The ``fec`` kind: the demo's accounting as CSV tables, and a FEC per closed fiscal year that
passes the checker; ISO 8859-15 output; what a FEC cannot hold stops the export, naming the
record; the files in the summary, in ``offboard.json`` and through ``--resume``; a FEC changed
inside a re-signed archive is still reported by ``offboard verify``."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import sqlite3
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from offboard.accounting.fec_check import check_file
from offboard.accounting.fec_format import COLUMNS, luhn_valid
from offboard.cli import cli
from tests.manifests.conftest import Keys, make_keys, resign

ACCOUNT = "acc-0001"
CREATED = "2026-01-31T12:00:00Z"


def export(db: Path, out: Path, *options: str) -> tuple[int, str]:
    done = CliRunner().invoke(
        cli,
        ["export", f"sqlite:///{db}", "--account", ACCOUNT, "--out", str(out), "--kinds", "fec",
         "--quiet", *options],
    )  # fmt: skip
    return done.exit_code, done.output


@dataclass(frozen=True)
class Exported:
    folder: Path
    db: Path

    @property
    def fecs(self) -> list[Path]:
        return sorted((self.folder / "accounting").glob("*.txt"))

    def table(self, name: str) -> list[dict[str, str]]:
        with open(self.folder / "csv" / f"{name}.csv", encoding="utf-8", newline="") as fh:
            return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def exported(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Exported:
    out = tmp_path_factory.mktemp("fec") / "out"
    code, output = export(demo_db, out)
    assert code == 0, output
    return Exported(out, demo_db)


def lines_of(path: Path, codec: str = "utf-8") -> list[list[str]]:
    text = path.read_bytes().decode(codec)
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    return [line.split("\t") for line in text.split("\r\n")[:-1]]


def test_a_fec_per_closed_fiscal_year_named_by_siren_and_closing_date(exported: Exported) -> None:
    years = exported.table("accounting_fiscal_years")
    closed = [y for y in years if y["status"] == "closed"]
    assert [y["status"] for y in years] == ["closed", "closed", "open"]
    names = [f"{y['siren']}FEC{y['end_date'].replace('-', '')}.txt" for y in closed]
    assert [p.name for p in exported.fecs] == names
    assert luhn_valid(closed[0]["siren"]) and len(closed[0]["siren"]) == 9
    con = sqlite3.connect(exported.db)
    (siren,) = con.execute("SELECT siren FROM accounts WHERE id = ?", (ACCOUNT,)).fetchone()
    assert closed[0]["siren"] == siren


def test_every_demo_fec_passes_the_checker(exported: Exported) -> None:
    for path in exported.fecs:
        report = check_file(path)
        assert report.valid, (path.name, report.problems[:5])
        assert report.encoding == "utf-8" and report.entries > 100
        assert report.debit == report.credit


def test_the_fec_holds_the_closed_years_entries_in_validation_order(exported: Exported) -> None:
    entries = exported.table("accounting_entries")
    closed = {y["id"]: y for y in exported.table("accounting_fiscal_years")}
    years = [y for y in closed.values() if y["status"] == "closed"]
    for path, year in zip(exported.fecs, years, strict=True):
        rows = lines_of(path)
        assert rows[0] == list(COLUMNS) and all(len(r) == 18 for r in rows)
        mine = [e for e in entries if e["fiscal_year_id"] == year["id"]]
        assert len(rows) - 1 == len(mine)
        for line, entry in zip(rows[1:], mine, strict=True):
            assert line[2] == entry["entry_number"] and line[4] == entry["account_number"]
            assert line[11] == entry["debit"].replace(".", ",")
            assert line[15] == entry["validated_on"].replace("-", "")
        assert rows[1][0] == "AN", "the opening balances come first"
        valid = [r[15] for r in rows[1:]]
        assert valid == sorted(valid)


def test_bank_receipts_are_lettered_with_the_invoices_they_settle(exported: Exported) -> None:
    rows = lines_of(exported.fecs[-1])[1:]
    lettered = [r for r in rows if r[13]]
    assert lettered and all(r[14] and r[6] for r in lettered)
    groups: dict[tuple[str, str, str], list[list[str]]] = {}
    for r in lettered:
        groups.setdefault((r[4], r[6], r[13]), []).append(r)
    journals = {tuple(sorted(x[0] for x in g)) for g in groups.values()}
    assert ("BQ", "VT") in journals  # an invoice and the receipt that pays it
    assert ("AN", "BQ") in journals  # an invoice of the year before, carried, paid this year
    for group in groups.values():
        total = sum(int(x[11].replace(",", "")) - int(x[12].replace(",", "")) for x in group)
        assert total == 0
        assert len({x[14] for x in group}) == 1


def test_the_fec_is_deterministic(exported: Exported, tmp_path: Path) -> None:
    code, output = export(exported.db, tmp_path / "again")
    assert code == 0, output
    again = sorted((tmp_path / "again" / "accounting").glob("*.txt"))
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in exported.fecs]


def test_the_files_are_in_the_summary(exported: Exported) -> None:
    summary = json.loads((exported.folder / "export-summary.json").read_text(encoding="utf-8"))
    [kind] = [k for k in summary["kinds"] if k["kind"] == "fec"]
    files = kind["files"]["files"]
    assert [f["path"] for f in files] == [f"accounting/{p.name}" for p in exported.fecs]
    for f, path in zip(files, exported.fecs, strict=True):
        assert f["kind"] == "fec" and f["bytes"] == path.stat().st_size
        assert f["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        report = check_file(path)
        assert f["facts"]["lines"] == f["records"] == report.lines
        assert f["facts"]["entries"] == report.entries
        assert f["facts"]["debit"] == f["facts"]["credit"]
    assert [t["table"] for t in kind["tables"]] == [
        "accounting_fiscal_years",
        "accounting_journals",
        "accounting_accounts",
        "accounting_entries",
    ]


def clean_copy(db: Path, tmp_path: Path) -> Path:
    """The demo database with its texts that ISO 8859-15 lacks replaced, documents beside."""
    out = tmp_path / "clean.db"
    shutil.copyfile(db, out)
    con = sqlite3.connect(out)
    for table, column in (("accounting_entries", "label"), ("ledger_accounts", "label")):
        rows = con.execute(f"SELECT rowid, {column} FROM {table}").fetchall()
        for rowid, value in rows:
            fixed = value.encode("iso8859_15", errors="replace").decode("iso8859_15")
            if fixed != value:
                con.execute(f"UPDATE {table} SET {column} = ? WHERE rowid = ?", (fixed, rowid))
    con.execute(
        "UPDATE ledger_accounts SET label = 'Œuvres d''art & Zoé €' "
        "WHERE account_id = ? AND number = '706000'",
        (ACCOUNT,),
    )
    con.commit()
    con.close()
    return out


def test_iso_8859_15_output_reads_back_with_that_codec(exported: Exported, tmp_path: Path) -> None:
    db = clean_copy(exported.db, tmp_path)
    code, output = export(db, tmp_path / "iso", "--fec-encoding", "iso-8859-15")
    assert code == 0, output
    fecs = sorted((tmp_path / "iso" / "accounting").glob("*.txt"))
    code, _ = export(db, tmp_path / "utf8")
    assert code == 0
    for path in fecs:
        data = path.read_bytes()
        utf8 = (tmp_path / "utf8" / "accounting" / path.name).read_bytes().decode("utf-8")
        assert data.decode("iso8859_15") == utf8
        assert "Œuvres d'art & Zoé €".encode("iso8859_15") in data
        assert check_file(path, encoding="iso-8859-15").valid
        assert check_file(path).encoding == "iso-8859-15"  # told from its bytes
    summary = json.loads((tmp_path / "iso" / "export-summary.json").read_text(encoding="utf-8"))
    [kind] = [k for k in summary["kinds"] if k["kind"] == "fec"]
    assert {f["facts"]["encoding"] for f in kind["files"]["files"]} == {"iso-8859-15"}


def test_a_value_iso_8859_15_lacks_stops_the_export_naming_the_record(
    exported: Exported, tmp_path: Path
) -> None:
    code, output = export(exported.db, tmp_path / "out", "--fec-encoding", "iso-8859-15")
    assert code == 9
    assert "accounting_entries: record id='ecr-0001-" in output
    assert "ISO-8859-15 cannot encode" in output and "line " in output
    assert not (tmp_path / "out").exists()


def test_a_tab_or_a_line_break_in_a_label_stops_the_export_naming_the_record(
    exported: Exported, tmp_path: Path
) -> None:
    db = tmp_path / "tab.db"
    shutil.copyfile(exported.db, db)
    con = sqlite3.connect(db)
    (rid,) = con.execute(
        "SELECT id FROM accounting_entries WHERE account_id = ? AND fiscal_year_id LIKE '%1' "
        "ORDER BY id LIMIT 1 OFFSET 10",
        (ACCOUNT,),
    ).fetchone()
    con.execute("UPDATE accounting_entries SET label = 'VIR\tSEPA\nDUPONT' WHERE id = ?", (rid,))
    con.commit()
    con.close()
    code, output = export(db, tmp_path / "out")
    assert code == 9
    assert f"record id={rid!r}" in output and "EcritureLib" in output
    assert "U+0009" in output


def test_an_unbalanced_entry_in_the_source_stops_the_export(
    exported: Exported, tmp_path: Path
) -> None:
    db = tmp_path / "unbalanced.db"
    shutil.copyfile(exported.db, db)
    con = sqlite3.connect(db)
    (number,) = con.execute(
        "SELECT entry_number FROM accounting_entries WHERE account_id = ? AND journal_code = 'VT'"
        " ORDER BY id LIMIT 1",
        (ACCOUNT,),
    ).fetchone()
    con.execute(
        "UPDATE accounting_entries SET debit = '1.00' WHERE entry_number = ? AND position = 2",
        (number,),
    )
    con.commit()
    con.close()
    code, output = export(db, tmp_path / "out")
    assert code == 9
    assert "do not make a valid FEC" in output and f"entry {number}" in output
    assert "balance" in output


@pytest.fixture(scope="module")
def archive(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Keys]:
    folder = tmp_path_factory.mktemp("fec-archive")
    keys = make_keys(folder / "keys")
    out = folder / "acc-0001.zip"
    code, output = export(
        demo_db, out, "--sign-key", str(keys.key), "--created-at", CREATED, "--no-documents"
    )
    assert code == 0, output
    return out, keys


def verify(path: Path, keys: Keys) -> tuple[int, dict[str, object]]:
    done = CliRunner().invoke(cli, ["verify", str(path), "--pubkey", str(keys.pub), "--json"])
    return done.exit_code, json.loads(done.stdout)


def test_the_archive_lists_each_fec_with_its_facts(archive: tuple[Path, Keys]) -> None:
    path, keys = archive
    with zipfile.ZipFile(path) as zf:
        meta = json.loads(zf.read("acc-0001/offboard.json"))
        names = zf.namelist()
    files = meta["files"]
    assert [f["path"] for f in files] == sorted(
        n.split("/", 1)[1] for n in names if "/data/accounting/" in n
    )
    for f in files:
        assert f["kind"] == "fec" and f["exporter"] == "fec"
        assert set(f["facts"]) == {
            "fiscal_year", "siren", "encoding", "lines", "entries", "debit", "credit"
        }  # fmt: skip
    code, report = verify(path, keys)
    assert code == 0, report


def test_a_fec_changed_in_a_re_signed_archive_is_reported_by_verify(
    archive: tuple[Path, Keys], tmp_path: Path
) -> None:
    """The changed FEC gets its new SHA-256 in the manifest and offboard.json, and the
    archive is signed again: only checking the FEC itself shows the change."""
    path, keys = archive
    with zipfile.ZipFile(path) as zf:
        meta = json.loads(zf.read("acc-0001/offboard.json"))
    target = meta["files"][0]["path"]

    def change(data: dict[str, bytes]) -> None:
        lines = data[target].split(b"\r\n")
        fields = lines[5].split(b"\t")
        amount = fields[11] if fields[11] != b"0,00" else fields[12]
        column = 11 if fields[11] != b"0,00" else 12
        last = amount[-1:]
        fields[column] = amount[:-1] + (b"1" if last != b"1" else b"2")  # same size
        lines[5] = b"\t".join(fields)
        data[target] = b"\r\n".join(lines)
        digest = hashlib.sha256(data[target]).hexdigest()
        manifest = data["manifest-sha256.txt"].decode().splitlines()
        data["manifest-sha256.txt"] = "".join(
            (f"{digest}  {target}" if line.endswith(f"  {target}") else line) + "\n"
            for line in manifest
        ).encode()
        changed = json.loads(data["offboard.json"])
        for f in changed["files"]:
            if f["path"] == target:
                f["sha256"] = digest
        from manifests.metadata import encode

        data["offboard.json"] = encode(changed)

    bad = resign(path, tmp_path / "acc-0001.zip", keys, change)
    code, report = verify(bad, keys)
    assert code == 1
    problems = report["problems"]  # type: ignore[index]
    codes = {p["code"] for p in problems}  # type: ignore[union-attr]
    assert codes == {"fec-invalid"}, problems
    details = [p["detail"] for p in problems if p["path"].endswith(target)]  # type: ignore[union-attr,index]
    # the entry holding the changed line 6 (lines 5-7) no longer balances, nor does the file
    assert any(d.startswith("line 5: balance: entry ") for d in details), details
    assert any(d.startswith("balance: the file does not balance") for d in details), details
    assert any("debit differs" in d or "credit differs" in d for d in details), details


def test_a_finished_fec_task_is_reused_by_resume(
    demo_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run stopped after its FEC task finished: the next run reuses the files (their sizes and
    SHA-256 checked) and makes the archive an uninterrupted run makes."""
    from datetime import UTC, datetime

    import offboard.pipeline as pipeline
    from manifests.build import ArchiveOptions
    from manifests.signing import SecretKey
    from offboard.pipeline import ExportOptions, export_account
    from offboard.resume import ResumeState, resume_folder, run_identity
    from offboard.sources import open_source

    keys = make_keys(tmp_path / "keys")
    options = ExportOptions(kinds=["fec"], documents=False, jobs=2)

    def archive_options() -> ArchiveOptions:
        created = datetime(2026, 1, 31, 12, tzinfo=UTC)
        return ArchiveOptions(created_at=created, sign_key=SecretKey.load(keys.key))

    def run(out: Path, state: ResumeState | None) -> None:
        src = open_source(str(demo_db))
        try:
            export_account(src, ACCOUNT, out, options, archive=archive_options(), resume=state)
        finally:
            src.close()

    out = tmp_path / "resumed" / "a.zip"
    out.parent.mkdir()
    folder = resume_folder(out)
    identity = run_identity(out, str(demo_db), ACCOUNT, options, archive_options())
    real = pipeline._export_table

    def stopped(source, exporter, table, *args):  # type: ignore[no-untyped-def]
        if table.name == "accounting_journals":  # the kill, once the FEC task is recorded
            deadline = time.monotonic() + 60
            while not (folder / "journal" / "files-fec.json").exists():
                assert time.monotonic() < deadline
                time.sleep(0.005)
            raise KeyboardInterrupt
        return real(source, exporter, table, *args)

    monkeypatch.setattr(pipeline, "_export_table", stopped)
    with pytest.raises(KeyboardInterrupt):
        run(out, ResumeState.open(folder, identity))
    monkeypatch.setattr(pipeline, "_export_table", real)
    state = ResumeState.open(folder, identity)
    assert state.resumed
    found = state.files("fec")
    assert found is not None and [f.kind for f in found.files] == ["fec", "fec"]
    state = ResumeState.open(folder, identity)
    run(out, state)
    assert "files fec" in state.reused
    assert not folder.exists()
    reference = tmp_path / "reference" / "a.zip"
    reference.parent.mkdir()
    run(reference, None)
    assert out.read_bytes() == reference.read_bytes()
