"""Export → restore into SQLite → export again: the same payload, byte for byte.

The demo's acc-0001 has one missing and one encrypted purchase PDF, acc-0002 none; the
excel-fr archive is split into parts. Each restored database is an offboard source again whose
export has the original archive's ``manifest-sha256.txt`` lines, part for part.
"""

from __future__ import annotations

import sqlite3
import zipfile
from pathlib import Path

from offboard.errors import ExitCode
from tests.manifests.conftest import Keys

from .conftest import (
    Archive,
    documents_of,
    export,
    manifest_lines,
    metadata,
    parts,
    restore,
    round_trip,
    tree,
)


def test_a_restored_database_exports_the_same_archive_again(
    archive_std: Archive, restore_keys: Keys, tmp_path: Path
) -> None:
    db = tmp_path / "restored" / "new.db"
    again = round_trip(archive_std, f"sqlite:///{db}", restore_keys, tmp_path / "again.zip")
    before, after = metadata(archive_std.path), metadata(again)
    for key in ("archive_id", "source"):  # the source is another database; the id follows it
        before.pop(key), after.pop(key)
    assert after == before  # tables, totals, numbering, documents, bundles, problems
    # and the export of the restored database kept its account lock beside it
    assert sorted(p.name for p in db.parent.iterdir()) == [
        "new-documents",
        "new.db",
        "new.db.offboard-locks",
    ]


def test_restored_under_the_same_name_the_archive_is_identical_byte_for_byte(
    archive_std: Archive, restore_keys: Keys, tmp_path: Path
) -> None:
    db = tmp_path / "elsewhere" / "demo.db"  # named like the demo: the same source description
    again = round_trip(archive_std, str(db), restore_keys, tmp_path / "again" / "acc-0001.zip")
    assert again.read_bytes() == archive_std.path.read_bytes()


def test_an_excel_fr_archive_in_parts_round_trips(
    archive_fr: Archive, restore_keys: Keys, tmp_path: Path
) -> None:
    assert len(parts(archive_fr.path)) > 3
    assert metadata(archive_fr.path)["csv"]["dialect"] == "excel-fr"
    middle = parts(archive_fr.path)[2]  # any part names the whole archive
    db = tmp_path / "fr.db"
    done = restore(middle, f"sqlite:///{db}", restore_keys)
    assert done.exit_code == 0, done.output
    again = export(
        f"sqlite:///{db}", tmp_path / "again.zip", "acc-0002", restore_keys, *archive_fr.options
    )
    assert manifest_lines(again) == manifest_lines(archive_fr.path)


def test_missing_and_encrypted_documents_come_back_as_the_same_problems(
    archive_std: Archive, restore_keys: Keys, tmp_path: Path
) -> None:
    db = tmp_path / "new.db"
    done = restore(archive_std.path, str(db), restore_keys)
    assert done.exit_code == 0, done.output
    problems = metadata(archive_std.path)["problems"]
    assert {p["reason"] for p in problems} == {"missing", "encrypted"}
    conn = sqlite3.connect(db)
    located = dict(conn.execute("SELECT id, pdf_path FROM purchases WHERE pdf_path IS NOT NULL"))
    conn.close()
    root = documents_of(db)
    for p in problems:
        path = root / located[p["record_id"]]
        assert path.is_file() == (p["reason"] == "encrypted"), p
    kept = next(
        n
        for n in zipfile.ZipFile(archive_std.path).namelist()
        if "/_problems/" in n  # the encrypted PDF, kept as found
    )
    encrypted = next(p for p in problems if p["reason"] == "encrypted")
    restored = (root / located[encrypted["record_id"]]).read_bytes()
    assert restored == zipfile.ZipFile(archive_std.path).read(kept)


def test_a_second_account_is_restored_beside_the_first(
    archive_std: Archive, archive_fr: Archive, restore_keys: Keys, tmp_path: Path
) -> None:
    db = tmp_path / "both.db"
    for archive in (archive_std, archive_fr):
        done = restore(archive.path, str(db), restore_keys)
        assert done.exit_code == 0, done.output
    for archive in (archive_std, archive_fr):
        out = tmp_path / f"{archive.account}.zip"
        again = export(str(db), out, archive.account, restore_keys, *archive.options)
        assert manifest_lines(again) == manifest_lines(archive.path)
    assert sorted(p.name for p in (documents_of(db) / "invoices").iterdir()) == [
        "acc-0001",
        "acc-0002",
    ]


def test_the_same_account_again_is_refused_and_nothing_changes(
    archive_std: Archive, restore_keys: Keys, tmp_path: Path
) -> None:
    db = tmp_path / "new.db"
    assert restore(archive_std.path, str(db), restore_keys).exit_code == 0
    before = tree(tmp_path)
    done = restore(archive_std.path, str(db), restore_keys)
    assert done.exit_code == ExitCode.OUTPUT_EXISTS
    assert "account 'acc-0001' already exists in SQLite database new.db" in done.output
    assert tree(tmp_path) == before


def test_documents_of_another_account_with_the_same_name_are_left_alone(
    archive_std: Archive, restore_keys: Keys, tmp_path: Path
) -> None:
    db = tmp_path / "new.db"
    theirs = documents_of(db) / "invoices" / "acc-0001"
    theirs.mkdir(parents=True)
    (theirs / "FA-2024-00001.pdf").write_bytes(b"someone else's file")
    again = round_trip(archive_std, str(db), restore_keys, tmp_path / "again.zip")
    assert again.is_file()
    assert (theirs / "FA-2024-00001.pdf").read_bytes() == b"someone else's file"
    assert (documents_of(db) / "invoices" / "acc-0001~2" / "FA-2024-00001.pdf").is_file()
