"""`offboard prune`: the policy applied to a destination folder, dry runs, protections, and
deletions that fail."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from offboard.cli import cli
from offboard.errors import OutputError
from offboard.storage import StoredArchive
from offboard.storage.local import LocalDestination
from tests.offboard.backup.signed_backups import (  # noqa: F401 - the fixtures
    Backups,
    backup_template_fixture,
    backups_fixture,
)

#: 21 nights of two accounts, one split archive, and files that are not backups
NIGHTS = [datetime(2026, 1, 1, 2, 30, tzinfo=UTC) + timedelta(days=i) for i in range(21)]
OTHERS = ["notes.zip", "acc-0001.zip", "acc-0001_2026-01-05T023000Z.txt"]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def name(account: str, when: datetime) -> str:
    return f"{account}_{when:%Y-%m-%dT%H%M%S}Z.zip"


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    """Placeholder archives under backup names: prune reads their names, and only their
    ``bag-info.txt`` (here without a retain-until date: archives of before policies)."""
    folder = tmp_path / "dest"
    folder.mkdir()
    for when in NIGHTS:
        for account in ("acc-0001", "acc-0002"):
            placeholder(folder / name(account, when))
    # the oldest archive of acc-0002 is split in two parts
    (folder / name("acc-0002", NIGHTS[0])).unlink()
    stem = name("acc-0002", NIGHTS[0])[: -len(".zip")]
    for part in (1, 2):
        placeholder(folder / f"{stem}-part-{part:03d}.zip")
    for other in OTHERS:
        placeholder(folder / other)
    return folder


def placeholder(path: Path, retain_until: str | None = None) -> None:
    """A zip holding only ``bag-info.txt`` (with ``retain_until`` if given)."""
    import zipfile

    info = "Offboard-Archive-Id: placeholder\n"
    if retain_until is not None:
        info += f"Offboard-Retain-Until: {retain_until}\n"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{path.name[: -len('.zip')]}/bag-info.txt", info)


def listing(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def backups_of(account: str, folder: Path) -> set[str]:
    return {n for n in listing(folder) if n.startswith(f"{account}_") and n.endswith("Z.zip")}


def test_dry_run_shows_the_plan_and_deletes_nothing(dest: Path) -> None:
    before = listing(dest)
    code, out, err = run("prune", str(dest), "--keep-daily", "3", "--keep-weekly", "2", "-n")
    assert code == 0, err
    assert listing(dest) == before
    assert "account acc-0001" in out and "account acc-0002" in out
    assert "remove (dry run)" in out and "daily, weekly" in out
    assert "notes.zip" in out and "nothing was deleted" in out


def test_json_lists_each_archive_with_its_reasons(dest: Path) -> None:
    code, out, _ = run("prune", str(dest), "--keep-daily", "3", "--keep-weekly", "2", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["policy"]["daily"] == 3 and report["dry_run"] is False
    accounts = {a["account"]: a["archives"] for a in report["accounts"]}
    first = accounts["acc-0001"]
    # newest first; 2026-01-21 is a Wednesday: the days 19-21, and the Sunday of the week before
    assert [(a["created_at"], a["reasons"]) for a in first if a["action"] == "keep"] == [
        ("2026-01-21T02:30:00Z", ["daily", "weekly"]),
        ("2026-01-20T02:30:00Z", ["daily"]),
        ("2026-01-19T02:30:00Z", ["daily"]),
        ("2026-01-18T02:30:00Z", ["weekly"]),
    ]
    assert {a["status"] for a in first} == {"kept", "removed"}
    assert report["ignored"] == sorted(OTHERS[:2])
    assert report["summary"]["removed"] == 2 * 17 and report["summary"]["kept"] == 8
    kept = {a["name"] for archives in accounts.values() for a in archives if a["action"] == "keep"}
    assert listing(dest) == kept | set(OTHERS)


def test_a_split_archive_is_removed_whole(dest: Path) -> None:
    code, out, _ = run("prune", str(dest), "--keep-last", "1", "--json")
    assert code == 0
    assert not any(n.startswith("acc-0002_2026-01-01") for n in listing(dest))
    (split,) = [
        a
        for acc in json.loads(out)["accounts"]
        for a in acc["archives"]
        if a["name"] == name("acc-0002", NIGHTS[0])
    ]
    assert split["parts"] == 2 and split["status"] == "removed"


def test_keep_unlimited(dest: Path) -> None:
    code, out, _ = run("prune", str(dest), "--keep-monthly", "unlimited", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["policy"]["monthly"] == "unlimited"
    reasons = [a["reasons"] for a in report["accounts"][0]["archives"] if a["action"] == "keep"]
    assert reasons == [["monthly"], ["oldest monthly"]]  # one month, and the oldest archive


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("--keep-daily", "0", "--keep-last", "0"),
    ],
)
def test_an_empty_policy_is_refused(dest: Path, args: tuple[str, ...]) -> None:
    before = listing(dest)
    code, _, err = run("prune", str(dest), *args)
    assert code == 2 and "empty retention policy" in err
    assert listing(dest) == before


@pytest.mark.parametrize("value", ["-1", "many", "1.5", "²"])
def test_a_bad_count_is_refused(dest: Path, value: str) -> None:
    code, _, err = run("prune", str(dest), "--keep-daily", value)
    assert code == 2 and "--keep-daily" in err


def test_a_missing_destination_has_nothing_to_prune(tmp_path: Path) -> None:
    code, out, _ = run("prune", str(tmp_path / "none"), "--keep-last", "1", "--json")
    assert code == 0 and json.loads(out)["accounts"] == []


class Protected(LocalDestination):
    """A folder whose archives carry the Object Lock facts an S3 listing would give, and
    whose deletions of some names fail."""

    def __init__(self, folder: Path, facts: dict[str, dict[str, Any]], failing: set[str]) -> None:
        super().__init__(folder)
        self.facts, self.failing = facts, failing

    def list_archives(self) -> list[StoredArchive]:
        out = super().list_archives()
        for archive in out:
            for key, value in self.facts.get(archive.name, {}).items():
                setattr(archive, key, value)
        return out

    def delete(self, archive: StoredArchive, *, now: datetime) -> None:
        if archive.name in self.failing:
            raise OutputError(f"cannot delete {archive.name}: access denied")
        super().delete(archive, now=now)


def use(monkeypatch: pytest.MonkeyPatch, destination: LocalDestination) -> None:
    monkeypatch.setattr("offboard.storage.open_destination", lambda url: destination)


def test_held_and_retained_archives_are_kept(dest: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    future = datetime.now(UTC) + timedelta(days=365)
    facts = {
        name("acc-0001", NIGHTS[0]): {"legal_hold": True},
        name("acc-0001", NIGHTS[1]): {"retain_until": future},
        name("acc-0001", NIGHTS[2]): {"retain_until": datetime(2026, 1, 2, tzinfo=UTC)},
    }
    use(monkeypatch, Protected(dest, facts, set()))
    code, out, _ = run("prune", str(dest), "--keep-last", "1", "--json")
    assert code == 0
    archives = {a["name"]: a for a in json.loads(out)["accounts"][0]["archives"]}
    assert archives[name("acc-0001", NIGHTS[0])]["protected"] == ["legal hold"]
    assert archives[name("acc-0001", NIGHTS[1])]["protected"] == [
        f"retained until {future:%Y-%m-%dT%H:%M:%SZ}"
    ]
    assert archives[name("acc-0001", NIGHTS[2])]["status"] == "removed"  # retention expired
    assert backups_of("acc-0001", dest) == {name("acc-0001", NIGHTS[i]) for i in (0, 1, 20)}
    code, out, _ = run("prune", str(dest), "--keep-last", "1", "--dry-run")
    assert "legal hold" in out and "retained until" in out


def test_a_failed_deletion_is_reported_and_the_others_go_on(
    dest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = name("acc-0001", NIGHTS[3])
    use(monkeypatch, Protected(dest, {}, {bad}))
    code, out, err = run("prune", str(dest), "--keep-last", "2", "--json")
    assert code == 7
    assert f"1 deletion(s) failed in {dest} ({bad})" in err
    report = json.loads(out)
    (failed,) = [a for acc in report["accounts"] for a in acc["archives"] if a["error"]]
    assert failed["name"] == bad and failed["status"] == "failed"
    assert "access denied" in failed["error"]
    assert report["summary"]["removed"] == 2 * 19 - 1 and report["summary"]["failed"] == 1
    assert backups_of("acc-0001", dest) == {
        bad,
        name("acc-0001", NIGHTS[19]),
        name("acc-0001", NIGHTS[20]),
    }
    code, out, err = run("prune", str(dest), "--keep-last", "2")
    assert code == 7 and "FAILED" in out and "access denied" in out


def test_prune_then_check_real_archives(backups: Backups) -> None:
    code, out, _ = run("prune", str(backups.folder), "--keep-last", "1", "--json")
    assert code == 0
    assert json.loads(out)["summary"]["removed"] == 1
    remaining = sorted(p.name for p in backups.folder.iterdir())
    assert remaining == ["acc-0001_2026-01-31T023000Z.zip", "acc-0002_2026-01-31T023100Z.zip"]
    code, _, err = run("check", str(backups.folder), "--pubkey", str(backups.keys.pub))
    assert code == 0, err


def test_an_archives_own_retain_until_date_is_honoured(dest: Path) -> None:
    """The date the archive's retention policy gave it (in its bag-info.txt) keeps it, as
    does an archive whose date cannot be read; both are said."""
    old = name("acc-0001", NIGHTS[-1])
    placeholder(dest / old, retain_until="2099-12-31")
    damaged = name("acc-0002", NIGHTS[-1])
    (dest / damaged).write_bytes(b"not a zip")
    code, out, err = run("prune", str(dest), "--keep-last", "1", "--json")
    assert code == 0, err
    report = json.loads(out)
    archives = {a["name"]: a for acc in report["accounts"] for a in acc["archives"]}
    assert archives[old]["status"] == "kept"
    assert archives[old]["protected"] == ["retained until 2100-01-01T00:00:00Z"]
    assert archives[damaged]["status"] == "kept"
    assert archives[damaged]["protected"][0].startswith("retention date unreadable")
    assert (dest / old).exists() and (dest / damaged).exists()
