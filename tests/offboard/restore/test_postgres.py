"""Restoring into PostgreSQL (a real server, see tests/pgserver.py): the same round trip.

A new, empty database gets the typed reference schema and the account in one transaction; its
export is the original archive's payload byte for byte. A database holding the account, one
with part of the schema only, or a failure half-way: nothing is committed, no document stays.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from offboard.demo.postgres import load_demo
from offboard.errors import ExitCode
from tests.manifests.conftest import Keys
from tests.pgserver import PgServer, pg_server_session  # noqa: F401

from .conftest import Archive, export, manifest_lines, restore, round_trip, tree

pytestmark = pytest.mark.usefixtures("pg_server")
_names = itertools.count(1)


def new_database(server: PgServer) -> str:
    """The URL of a new, empty database."""
    return server.create_database(f"restore{next(_names)}")


def test_a_restore_into_postgresql_exports_the_same_archive_again(
    pg_server: PgServer, archive_std: Archive, restore_keys: Keys, tmp_path: Path
) -> None:
    url = f"{new_database(pg_server)}?documents={tmp_path / 'documents'}"
    round_trip(archive_std, url, restore_keys, tmp_path / "again.zip")
    assert (tmp_path / "documents" / "invoices" / "acc-0001").is_dir()


def test_an_excel_fr_split_archive_into_postgresql(
    pg_server: PgServer, archive_fr: Archive, restore_keys: Keys, tmp_path: Path
) -> None:
    url = f"{new_database(pg_server)}?documents={tmp_path / 'documents'}"
    round_trip(archive_fr, url, restore_keys, tmp_path / "again.zip")


def test_an_account_already_in_the_database_is_refused(
    pg_server: PgServer, demo_db: Path, archive_std: Archive, restore_keys: Keys, tmp_path: Path
) -> None:
    url = new_database(pg_server)
    load_demo(demo_db, url)  # the demo's accounts, acc-0001 among them
    done = restore(archive_std.path, f"{url}?documents={tmp_path / 'docs'}", restore_keys)
    assert done.exit_code == ExitCode.OUTPUT_EXISTS
    assert "account 'acc-0001' already exists in PostgreSQL database" in done.output
    assert not (tmp_path / "docs").exists()


def test_a_second_account_goes_beside_the_first(
    pg_server: PgServer,
    archive_std: Archive,
    archive_fr: Archive,
    restore_keys: Keys,
    tmp_path: Path,
) -> None:
    url = f"{new_database(pg_server)}?documents={tmp_path / 'documents'}"
    for archive in (archive_fr, archive_std):
        assert restore(archive.path, url, restore_keys).exit_code == 0
    again = export(url, tmp_path / "fr.zip", "acc-0002", restore_keys, *archive_fr.options)
    assert manifest_lines(again) == manifest_lines(archive_fr.path)


def test_a_failure_half_way_commits_nothing(
    pg_server: PgServer,
    archive_std: Archive,
    restore_keys: Keys,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import offboard.restore.run as run_module

    url = new_database(pg_server)
    real = run_module._table

    def failing(*args: Any, **kwargs: Any) -> Any:
        if args[2].name == "bank_transactions":
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(run_module, "_table", failing)
    done = restore(archive_std.path, f"{url}?documents={tmp_path / 'documents'}", restore_keys)
    assert done.exit_code == 8
    name = url.rsplit("/", 1)[1]
    tables = pg_server.psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", name)
    assert tables.strip() == "0"  # even the schema it created is rolled back
    assert tree(tmp_path) == {}


def test_documents_need_a_folder(
    pg_server: PgServer, archive_std: Archive, restore_keys: Keys
) -> None:
    done = restore(archive_std.path, new_database(pg_server), restore_keys)
    assert done.exit_code == 2
    assert "add ?documents=PATH to the --into URL" in done.output


def test_a_database_with_part_of_the_schema_is_refused(
    pg_server: PgServer, archive_std: Archive, restore_keys: Keys, tmp_path: Path
) -> None:
    url = new_database(pg_server)
    pg_server.psql("CREATE TABLE accounts (id TEXT PRIMARY KEY, name TEXT)", url.rsplit("/", 1)[1])
    done = restore(archive_std.path, f"{url}?documents={tmp_path}", restore_keys)
    assert done.exit_code == ExitCode.SCHEMA
    assert "is not in the reference schema: it has no table companies" in done.output
