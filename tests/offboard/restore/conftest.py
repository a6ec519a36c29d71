"""Archives of the demo to restore, made once per session, and the round trip's helpers.

The round trip every test relies on: export an account of the demo to a signed archive,
restore the archive into a new database, export the restored database again with the same
``--created-at``, and compare the payload (``manifest-sha256.txt`` of every part).
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from offboard.cli import cli
from tests.manifests.conftest import Keys, make_keys

CREATED_AT = "2026-01-31T12:00:00Z"


@dataclass(frozen=True)
class Archive:
    """An archive of the demo (its first part, for a split one) and how it was made."""

    path: Path
    account: str
    options: tuple[str, ...]


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def export(source: str, out: Path, account: str, keys: Keys | None, *options: str) -> Path:
    """``offboard export SOURCE -a ACCOUNT --out OUT.zip`` signed with ``keys`` (None:
    unsigned), at :data:`CREATED_AT`; the archive's first part."""
    signing = ["--unsigned"] if keys is None else ["--sign-key", str(keys.key)]
    done = run(
        "export",
        source,
        "--account",
        account,
        "--out",
        str(out),
        *signing,
        "--created-at",
        CREATED_AT,
        "--allow-missing-documents",
        "--quiet",
        *options,
    )
    assert done.exit_code == 0, done.output
    return parts(out)[0]


def restore(archive: Path, into: str, keys: Keys, *options: str) -> Result:
    return run("restore", str(archive), "--pubkey", str(keys.pub), "--into", into, "-q", *options)


def parts(archive: Path) -> list[Path]:
    """The part files of ``archive``: NAME.zip, or every NAME-part-NNN.zip (given NAME.zip or
    any part)."""
    if "-part-" in archive.name:
        stem = archive.name.split("-part-")[0]
    elif archive.is_file():
        return [archive]
    else:
        stem = archive.name.removesuffix(".zip")
    found = sorted(archive.parent.glob(f"{stem}-part-*.zip"))
    assert found, f"no archive {archive}"
    return found


def manifest_lines(archive: Path) -> list[list[str]]:
    """Each part's ``manifest-sha256.txt`` lines (checksum and payload path)."""
    out = []
    for part in parts(archive):
        with zipfile.ZipFile(part) as zf:
            name = next(n for n in zf.namelist() if n.endswith("/manifest-sha256.txt"))
            out.append(zf.read(name).decode().splitlines())
    return out


def metadata(archive: Path) -> dict[str, Any]:
    """The ``offboard.json`` of ``archive`` (of its first part)."""
    with zipfile.ZipFile(parts(archive)[0]) as zf:
        name = next(n for n in zf.namelist() if n.endswith("/offboard.json"))
        found: dict[str, Any] = json.loads(zf.read(name))
        return found


def tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (relative path: SHA-256); empty if there is no folder."""
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def documents_of(db: Path) -> Path:
    return db.parent / f"{db.stem}-documents"


def round_trip(original: Archive, into: str, keys: Keys, out: Path, *options: str) -> Path:
    """Restore ``original`` into ``into`` (with restore ``options``), export it again as
    ``out``; assert the payloads are the same; the new archive."""
    done = restore(original.path, into, keys, *options)
    assert done.exit_code == 0, done.output
    again = export(into, out, original.account, keys, *original.options)
    assert manifest_lines(again) == manifest_lines(original.path)
    return again


@pytest.fixture(scope="session")
def restore_keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return make_keys(tmp_path_factory.mktemp("restore-keys"))


@pytest.fixture(scope="session")
def archive_std(
    demo_db: Path, restore_keys: Keys, tmp_path_factory: pytest.TempPathFactory
) -> Archive:
    """acc-0001 (one missing, one encrypted document), standard dialect; do not modify."""
    out = tmp_path_factory.mktemp("restore-std") / "acc-0001.zip"
    return Archive(export(f"sqlite:///{demo_db}", out, "acc-0001", restore_keys), "acc-0001", ())


@pytest.fixture(scope="session")
def archive_fr(
    demo_db: Path, restore_keys: Keys, tmp_path_factory: pytest.TempPathFactory
) -> Archive:
    """acc-0002 in the excel-fr dialect, split into parts of 100 files; do not modify."""
    out = tmp_path_factory.mktemp("restore-fr") / "acc-0002.zip"
    options = ("--dialect", "excel-fr", "--split-files", "100")
    path = export(f"sqlite:///{demo_db}", out, "acc-0002", restore_keys, *options)
    return Archive(path, "acc-0002", options)
