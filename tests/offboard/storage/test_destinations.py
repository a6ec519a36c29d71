"""Destinations, a folder and an S3 prefix, behave alike: listing, copies, deletes, state."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from offboard.errors import ConfigError, OutputError
from offboard.storage import Destination, archive_name, open_destination, split_archive_url
from offboard.storage.naming import account_part, backup_name, parse_backup_name
from tests.manifests.conftest import Keys
from tests.offboard.storage.test_s3_export import export, versions

NOW = datetime(2026, 12, 1, 2, 30, tzinfo=UTC)
#: when the demo archives' own retention (a policy that keeps nothing) has passed
LATER = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["folder", "s3"])
def dest(request: pytest.FixtureRequest, tmp_path: Path) -> Destination:
    if request.param == "folder":
        return open_destination(str(tmp_path / "backups"))
    bucket = request.getfixturevalue("bucket")
    return open_destination(f"s3://{bucket}/nightly")


NO_RETENTION = Path(__file__).resolve().parents[2] / "fixtures" / "retention-none.toml"


def _store(
    dest: Destination,
    demo_db: Path,
    keys: Keys,
    name: str,
    *extra: str,
    retention: Path | None = NO_RETENTION,
) -> None:
    policy = [] if retention is None else ["--retention", str(retention)]
    result = export(demo_db, dest.describe(name), keys, *policy, *extra)
    assert result.exit_code == 0, result.output


def test_listing_groups_parts_and_ignores_other_files(
    dest: Destination, demo_db: Path, keys: Keys
) -> None:
    assert dest.list_archives() == []
    _store(dest, demo_db, keys, "one.zip")
    _store(dest, demo_db, keys, "two.zip", "--split-files", "150")
    dest.write_state("acc-0001.json", b"{}")
    found = dest.list_archives()
    assert [a.name for a in found] == ["one.zip", "two.zip"]
    assert len(found[0].parts) == 1 and len(found[1].parts) >= 2
    assert all(p.size > 0 for a in found for p in a.parts)


def test_a_local_copy_is_the_stored_bytes(
    dest: Destination, demo_db: Path, keys: Keys, local_archive: Path
) -> None:
    _store(dest, demo_db, keys, "acc-0001.zip", retention=None)
    (archive,) = dest.list_archives()
    with dest.local_copy(archive) as path:
        assert (
            hashlib.sha256(path.read_bytes()).digest()
            == hashlib.sha256(local_archive.read_bytes()).digest()
        )


def test_delete_removes_every_part(dest: Destination, demo_db: Path, keys: Keys) -> None:
    _store(dest, demo_db, keys, "two.zip", "--split-files", "150")
    (archive,) = dest.list_archives()
    dest.delete(archive, now=LATER)
    assert dest.list_archives() == []


def test_delete_is_refused_while_retained_or_held(
    dest: Destination, demo_db: Path, keys: Keys
) -> None:
    _store(dest, demo_db, keys, "a.zip")
    (archive,) = dest.list_archives()
    archive.retain_until = NOW + timedelta(days=1)
    with pytest.raises(OutputError, match="retained until 2026-12-02"):
        dest.delete(archive, now=NOW)
    archive.retain_until, archive.legal_hold = None, True
    with pytest.raises(OutputError, match="legal hold"):
        dest.delete(archive, now=NOW)
    assert len(dest.list_archives()) == 1


def test_state_files_round_trip_and_refuse_unsafe_names(dest: Destination) -> None:
    assert dest.read_state("acc-0001.json") is None
    dest.write_state("acc-0001.json", b'{"a": 1}')
    dest.write_state("acc-0001.json", b'{"a": 2}')
    assert dest.read_state("acc-0001.json") == b'{"a": 2}'
    for bad in ("../x", ".hidden", "a/b", ""):
        with pytest.raises(ValueError):
            dest.write_state(bad, b"")


def test_s3_listing_reads_lock_state(demo_db: Path, keys: Keys, locked_bucket: str) -> None:
    until = (datetime.now(UTC) + timedelta(days=400)).replace(microsecond=0)
    dest = open_destination(f"s3://{locked_bucket}")
    _store(
        dest,
        demo_db,
        keys,
        "l.zip",
        "--lock",
        "governance",
        "--retain-until",
        until.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    _store(dest, demo_db, keys, "h.zip", "--legal-hold")
    held, locked = dest.list_archives()
    # the held one has only its own date: its records' last activity (the policy keeps nothing)
    from offboard.storage.retained import end_of, read_retain_until

    with dest.local_copy(held) as path:
        own = read_retain_until(path)
    assert own is not None
    assert held.legal_hold and held.retain_until == end_of(own)
    assert locked.retain_until == until and not locked.legal_hold
    assert all(p.version_id for p in locked.parts)
    with pytest.raises(OutputError, match="retained until"):
        dest.delete(locked, now=datetime.now(UTC))
    assert len(versions(locked_bucket)) == 2


def test_urls_and_names() -> None:
    assert split_archive_url("s3://b/p/q/n.zip") == ("s3://b/p/q", "n.zip")
    assert split_archive_url("/srv/x/n.zip") == ("/srv/x", "n.zip")
    with pytest.raises(ConfigError):
        split_archive_url("s3://")
    with pytest.raises(ConfigError):
        open_destination("ftp://host/x")
    with pytest.raises(ConfigError):
        open_destination("s3://b/../x")
    assert archive_name("n-part-007.zip") == "n.zip"
    assert archive_name("n.zip") == "n.zip"


@pytest.mark.parametrize(
    "account", ["acc-0001", "a_b.c", "../../etc", ".hidden", "é", "x" * 81, "a/b", ""]
)
def test_backup_names_are_safe_and_parse_back(account: str) -> None:
    name = backup_name(account, NOW)
    assert "/" not in name and not name.startswith(".")
    parsed = parse_backup_name(name)
    assert parsed is not None
    assert parsed.account == account_part(account)
    assert parsed.created_at == NOW.replace(minute=30, second=0)
    assert (parsed.account == account) == (account in ("acc-0001", "a_b.c"))


def test_names_that_are_not_backups_do_not_parse() -> None:
    for name in ("x.zip", "acc_2026-12-01.zip", "acc_2026-13-01T000000Z.zip", "a_b.zip"):
        assert parse_backup_name(name) is None
