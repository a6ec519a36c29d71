"""A backup destination of real signed archives, made with `offboard export` once a session.

Imported by the tests that use them (`from tests.offboard.backup.signed_backups import ...`),
rather than a conftest.py, which the whole folder would share."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from offboard.cli import cli
from offboard.storage.naming import backup_name
from tests.manifests.conftest import Keys, make_keys

#: (account, creation time) of each archive in the template destination
NIGHTS = [
    ("acc-0001", "2026-01-30T02:30:00Z"),
    ("acc-0001", "2026-01-31T02:30:00Z"),
    ("acc-0002", "2026-01-31T02:31:00Z"),
]


@dataclass(frozen=True)
class Backups:
    folder: Path
    keys: Keys
    names: list[str]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


_MADE: dict[Path, Backups] = {}


#: a retention policy that keeps nothing: these backups are for testing deletion
NO_RETENTION = Path(__file__).resolve().parents[2] / "fixtures" / "retention-none.toml"


def _make(demo_db: Path, root: Path) -> Backups:
    keys = make_keys(root / "keys")
    folder = root / "dest"
    names = []
    for account, created in NIGHTS:
        name = backup_name(account, datetime.fromisoformat(created))
        code, _, err = run(
            "export",
            str(demo_db),
            "--account",
            account,
            "--out",
            str(folder / name),
            "--sign-key",
            str(keys.key),
            "--created-at",
            created,
            "--allow-missing-documents",
            "--quiet",
            "--retention",
            str(NO_RETENTION),  # the default policy would keep them all for 10 years
        )
        assert code == 0, err
        names.append(name)
    return Backups(folder, keys, sorted(names))


@pytest.fixture(scope="session", name="backup_template")
def backup_template_fixture(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Backups:
    """Three signed archives of the demo's two accounts, under backup names; do not modify.
    Made once a session (each test module importing the fixture shares them)."""
    if demo_db not in _MADE:
        _MADE[demo_db] = _make(demo_db, tmp_path_factory.mktemp("backups"))
    return _MADE[demo_db]


@pytest.fixture(name="backups")
def backups_fixture(backup_template: Backups, tmp_path: Path) -> Backups:
    """A copy of the template destination, for the test to change."""
    folder = tmp_path / "dest"
    shutil.copytree(backup_template.folder, folder)
    return Backups(folder, backup_template.keys, backup_template.names)
