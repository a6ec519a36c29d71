"""What a restore refuses, and that a refusal or a failure leaves nothing behind.

A modified archive (one byte of a document, a signature by another key, bytes changed in
place after the check) is refused before anything is written; an archive without a signature
only with --allow-unsigned; a target that is not a reference-schema database, or that holds
the account already, is refused; a failure or an interrupt half-way removes what was written.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import zipfile
from pathlib import Path
from typing import Any

import pytest

from offboard.errors import ExitCode, OutputError
from tests.manifests.conftest import Keys, make_keys, resign

from .conftest import Archive, documents_of, export, restore, round_trip, tree


def flip_byte_of(archive: Path, member_suffix: str, out: Path) -> Path:
    """A copy of ``archive`` with one byte of the data of the member ending ``member_suffix``
    changed (the zip stays readable; the member's CRC and checksum do not match)."""
    shutil.copyfile(archive, out)
    with zipfile.ZipFile(out) as zf:
        info = next(i for i in zf.infolist() if i.filename.endswith(member_suffix))
    with out.open("r+b") as fh:
        fh.seek(info.header_offset + 26)
        name_len = int.from_bytes(fh.read(2), "little")
        extra_len = int.from_bytes(fh.read(2), "little")
        at = info.header_offset + 30 + name_len + extra_len + info.compress_size // 2
        fh.seek(at)
        byte = fh.read(1)
        fh.seek(at)
        fh.write(bytes([byte[0] ^ 0x01]))
    return out


def first_pdf(archive: Path) -> str:
    with zipfile.ZipFile(archive) as zf:
        return next(n for n in zf.namelist() if "/documents/sales_invoices/" in n)


def test_a_modified_archive_is_refused_before_anything_is_written(
    archive_std: Archive, restore_keys: Keys, tmp_path: Path
) -> None:
    member = first_pdf(archive_std.path).split("/", 1)[1]
    tampered = flip_byte_of(archive_std.path, member, tmp_path / "acc-0001.zip")
    target = tmp_path / "target"
    target.mkdir()
    done = restore(tampered, str(target / "new.db"), restore_keys)
    assert done.exit_code == 1, done.output
    assert "refused: it does not verify, nothing was restored" in done.output
    assert "checksum-mismatch" in done.output or "corrupt-data" in done.output
    assert list(target.iterdir()) == []


def test_the_verify_report_is_printed_with_every_problem(
    archive_std: Archive, restore_keys: Keys, tmp_path: Path
) -> None:
    member = first_pdf(archive_std.path).split("/", 1)[1]
    tampered = flip_byte_of(archive_std.path, member, tmp_path / "acc-0001.zip")
    from .conftest import run

    done = run(
        "restore", str(tampered), "-p", str(restore_keys.pub), "--into", str(tmp_path / "x.db")
    )
    assert done.exit_code == 1
    assert "INVALID" in done.output and member in done.output
    as_json = run(
        "restore",
        str(tampered),
        "-p",
        str(restore_keys.pub),
        "--into",
        str(tmp_path / "x.db"),
        "--json",
    )
    import json

    report = json.loads(as_json.stdout)
    assert report["restored"] is False and not report["verify"]["valid"]
    assert not (tmp_path / "x.db").exists()


def test_an_archive_signed_by_another_key_is_refused(
    archive_std: Archive, restore_keys: Keys, tmp_path: Path
) -> None:
    other = make_keys(tmp_path / "keys", "intruder")
    forged = resign(archive_std.path, tmp_path / "acc-0001.zip", other, lambda data: None)
    target = tmp_path / "target"
    done = restore(forged, str(target / "new.db"), restore_keys)
    assert done.exit_code == 1
    assert "signature-invalid" in done.output
    assert not target.exists()


def test_unsigned_archives_need_allow_unsigned(
    demo_db: Path, restore_keys: Keys, tmp_path: Path
) -> None:
    unsigned = export(str(demo_db), tmp_path / "acc-0002.zip", "acc-0002", None)
    done = restore(unsigned, str(tmp_path / "a.db"), restore_keys)
    assert done.exit_code == 1 and "signature-missing" in done.output
    assert not (tmp_path / "a.db").exists()
    archive = Archive(unsigned, "acc-0002", ())
    round_trip(
        archive, str(tmp_path / "b.db"), restore_keys, tmp_path / "again.zip", "--allow-unsigned"
    )


def test_a_public_key_is_required(archive_std: Archive, tmp_path: Path) -> None:
    from .conftest import run

    done = run("restore", str(archive_std.path), "--into", str(tmp_path / "x.db"))
    assert done.exit_code == 2 and "--pubkey PUB is required" in done.output


@pytest.mark.parametrize("what", ["document", "table"])
def test_bytes_changed_in_place_after_the_check_stop_the_restore(
    archive_std: Archive,
    restore_keys: Keys,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    what: str,
) -> None:
    import manifests.verify

    copy = tmp_path / "acc-0001.zip"
    shutil.copyfile(archive_std.path, copy)
    real = manifests.verify.verify_archive
    member = first_pdf(copy).split("/", 1)[1] if what == "document" else "data/csv/quotes.csv"

    def verify_then_change(*args: Any, **kwargs: Any) -> Any:
        report = real(*args, **kwargs)
        flip_byte_of(copy, member, tmp_path / "changed.zip")
        with copy.open("r+b") as fh:  # the same file, rewritten in place
            fh.write((tmp_path / "changed.zip").read_bytes())
        return report

    monkeypatch.setattr(manifests.verify, "verify_archive", verify_then_change)
    target = tmp_path / "target"
    done = restore(copy, str(target / "new.db"), restore_keys)
    assert done.exit_code == 1, done.output
    assert "changed after the archive was verified" in done.output
    assert tree(target) == {}


@pytest.mark.parametrize("error", [OutputError("disk full (test)"), KeyboardInterrupt()])
@pytest.mark.parametrize("existing", [False, True], ids=["new-db", "existing-db"])
def test_a_failure_half_way_leaves_nothing_behind(
    archive_std: Archive,
    archive_fr: Archive,
    restore_keys: Keys,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    error: BaseException,
    existing: bool,
) -> None:
    import offboard.restore.run as run_module

    db = tmp_path / "new.db"
    if existing:
        assert restore(archive_fr.path, str(db), restore_keys).exit_code == 0
    before = tree(tmp_path)
    real = run_module._table

    def failing(*args: Any, **kwargs: Any) -> Any:
        if args[2].name == "bank_transactions":  # the last table, after all documents
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(run_module, "_table", failing)
    done = restore(archive_std.path, str(db), restore_keys)
    assert done.exit_code == (7 if isinstance(error, OutputError) else 8), done.output
    assert tree(tmp_path) == before
    if existing:
        conn = sqlite3.connect(db)
        assert [r[0] for r in conn.execute("SELECT id FROM accounts")] == ["acc-0002"]
        conn.close()


def test_a_target_that_is_not_an_sqlite_database_is_refused(
    archive_std: Archive, restore_keys: Keys, tmp_path: Path
) -> None:
    (tmp_path / "notes.db").write_text("not a database")
    done = restore(archive_std.path, str(tmp_path / "notes.db"), restore_keys)
    assert done.exit_code == 7
    assert "exists and is not an SQLite database" in done.output
    assert (tmp_path / "notes.db").read_text() == "not a database"


def test_an_existing_database_must_be_in_the_reference_schema(
    archive_std: Archive, restore_keys: Keys, tmp_path: Path
) -> None:
    db = tmp_path / "other.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE accounts (id TEXT PRIMARY KEY, name TEXT)")
    conn.close()
    digest = hashlib.sha256(db.read_bytes()).hexdigest()
    done = restore(archive_std.path, str(db), restore_keys)
    assert done.exit_code == ExitCode.SCHEMA
    assert "is not in the reference schema: it has no table companies" in done.output
    assert hashlib.sha256(db.read_bytes()).hexdigest() == digest
    assert not documents_of(db).exists()


def test_an_unknown_target_scheme_is_a_usage_error(
    archive_std: Archive, restore_keys: Keys
) -> None:
    done = restore(archive_std.path, "mysql://host/db", restore_keys)
    assert done.exit_code == 2 and "restore writes into" in done.output


def test_records_that_clash_with_the_database_s_are_refused_and_rolled_back(
    archive_std: Archive, restore_keys: Keys, tmp_path: Path
) -> None:
    db = tmp_path / "clash.db"
    assert restore(archive_std.path, str(db), restore_keys).exit_code == 0
    conn = sqlite3.connect(db)  # the account renamed: its records keep their ids
    conn.execute("UPDATE accounts SET id = 'acc-9999'")
    conn.commit()
    conn.close()
    before = tree(tmp_path)
    done = restore(archive_std.path, str(db), restore_keys)
    assert done.exit_code == 9, done.output
    assert "table 'companies': a record was refused: UNIQUE constraint failed: companies.id" in (
        done.output
    )
    assert tree(tmp_path) == before
