"""Backups into S3: `offboard backup --dest s3://…` under Object Lock, then `offboard prune`
and `offboard check` on the bucket. Locked versions are kept whatever the policy says; an
upload abandoned by a killed run is aborted by prune."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from offboard.cli import cli
from tests.manifests.conftest import Keys
from tests.offboard.storage.test_s3_export import uploads, versions
from tests.s3server import client

NO_RETENTION = Path(__file__).resolve().parents[2] / "fixtures" / "retention-none.toml"


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(autouse=True)
def state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


def backup(db: Path, dest: str, keys: Keys, when: str, *extra: str) -> Result:
    return run(
        "backup",
        f"sqlite:///{db}",
        "--accounts",
        "acc-0001",
        "--dest",
        dest,
        "--sign-key",
        str(keys.key),
        "--allow-missing-documents",
        "--created-at",
        when,
        "--workers",
        "1",
        "--json",
        "--retention",
        str(NO_RETENTION),
        *extra,
    )


def test_backups_into_s3_then_prune_and_check(
    demo_db: Path, keys: Keys, locked_bucket: str
) -> None:
    dest = f"s3://{locked_bucket}/nightly"
    until = (datetime.now(UTC) + timedelta(days=3650)).strftime("%Y-%m-%d")
    first = backup(
        demo_db, dest, keys, "2026-11-28T02:00:00Z", "--lock", "governance", "--retain-until", until
    )
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["accounts"][0]["outcome"] == "backed-up"
    for day in ("2026-11-29", "2026-11-30"):
        done = backup(demo_db, dest, keys, f"{day}T02:00:00Z", "--force")
        assert done.exit_code == 0, done.output
    unchanged = backup(demo_db, dest, keys, "2026-12-01T02:00:00Z")
    assert json.loads(unchanged.output)["accounts"][0]["outcome"] == "unchanged"
    left = client().create_multipart_upload(
        Bucket=locked_bucket, Key="nightly/acc-0001_2026-11-27T020000Z.zip"
    )
    checked = run("check", dest, "--pubkey", str(keys.pub), "--read-data-subset", "100%")
    assert checked.exit_code == 0, checked.output

    # today, what each archive's own date (its records' last activity) still protects is kept
    today = json.loads(run("prune", dest, "--keep-last", "1", "--json").output)
    for archive in today["accounts"][0]["archives"]:
        assert archive["status"] in ("kept", "removed"), archive
    # in 2030 their own dates (a policy that keeps nothing) have passed, not the Object Lock
    from offboard.backup.prune import prune
    from offboard.backup.retention import Policy
    from offboard.storage import open_destination

    later = prune(
        open_destination(dest),
        Policy(last=1),
        now=datetime(2030, 1, 1, tzinfo=UTC),
        dry_run=False,
    )
    report = later.to_dict()
    actions = {a["name"]: (a["status"], a["protected"]) for a in report["accounts"][0]["archives"]}
    assert actions["acc-0001_2026-11-30T020000Z.zip"][0] == "kept"
    earlier = {a["name"]: a["status"] for a in today["accounts"][0]["archives"]}
    removed = earlier.get("acc-0001_2026-11-29T020000Z.zip") == "removed"
    assert removed or actions["acc-0001_2026-11-29T020000Z.zip"][0] == "removed"
    status, protected = actions["acc-0001_2026-11-28T020000Z.zip"]
    assert status == "kept" and protected and "retained until" in protected[0]
    assert today["abandoned_uploads"] == ["acc-0001_2026-11-27T020000Z.zip"]
    assert left["UploadId"] not in [u["UploadId"] for u in uploads(locked_bucket)]
    keys_left = sorted(v["Key"] for v in versions(locked_bucket) if v["Key"].endswith(".zip"))
    assert keys_left == [
        "nightly/acc-0001_2026-11-28T020000Z.zip",
        "nightly/acc-0001_2026-11-30T020000Z.zip",
    ]
