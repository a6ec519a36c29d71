"""A backup run: one archive per account, unchanged accounts skipped, failures and locks
reported account by account, never stopping the others.

Most tests run the tasks in this process (:class:`Inline`, the same task function the real
executors run, without their process start-up); tests/offboard/backup/test_executors.py runs
them in local worker processes and on a Dask cluster.
"""

from __future__ import annotations

import json
import sqlite3
from collections import deque
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from manifests.signing import SecretKey, write_keypair
from offboard.backup.executors import Executor
from offboard.backup.report import write_report
from offboard.backup.run import BackupPlan, lock_folder, parse_accounts, run_backup
from offboard.backup.task import AccountResult, AccountTask, backup_account, state_name
from offboard.errors import ConfigError, ExitCode
from offboard.gate.lock import lock_in
from offboard.storage import open_destination
from tests.tinydb import ACCOUNT, OTHER

WHEN = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


class Inline(Executor):
    """Runs each task in this process when its result is asked for."""

    name = "inline"
    slots = 4

    def __init__(self) -> None:
        self.queue: deque[tuple[int, AccountTask]] = deque()
        self.submitted: list[AccountTask] = []

    def submit(self, key: int, task: AccountTask) -> None:
        self.queue.append((key, task))
        self.submitted.append(task)

    def next_result(self) -> tuple[int, AccountResult]:
        key, task = self.queue.popleft()
        return key, backup_account(task)

    def close(self) -> None:
        self.queue.clear()


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    secret, _ = write_keypair(tmp_path_factory.mktemp("key") / "k", SecretKey.generate(), None)
    return Path(secret)


def plan(db: Path, dest: Path, key: Path, **more: Any) -> BackupPlan:
    options: dict[str, Any] = {"allow_missing_documents": True, "created_at": WHEN}
    options.update(more)
    return BackupPlan(source=f"sqlite:///{db}", destination=str(dest), sign_key=key, **options)


def outcomes(report: Any) -> dict[str, str]:
    return {a.account: a.outcome for a in report.accounts}


def test_every_account_gets_one_archive_then_unchanged_ones_are_skipped(
    tiny_db: Path, tmp_path: Path, key: Path
) -> None:
    dest = tmp_path / "dest"
    first = run_backup(plan(tiny_db, dest, key), Inline())
    assert outcomes(first) == {ACCOUNT: "backed-up", OTHER: "backed-up"}
    assert first.complete
    names = sorted(p.name for p in dest.glob("*.zip"))
    assert names == [f"{ACCOUNT}_2026-11-30T020000Z.zip", f"{OTHER}_2026-11-30T020000Z.zip"]
    done = first.accounts[0]
    assert done.archive == names[0] and done.location == str(dest / names[0])
    assert done.bytes == (dest / names[0]).stat().st_size and done.note == "first backup"
    state = json.loads(open_destination(str(dest)).read_state(state_name(ACCOUNT)) or b"")
    assert state["archive"] == names[0] and state["fingerprint"]["account"]["id"] == ACCOUNT

    later = WHEN + timedelta(days=1)
    again = run_backup(plan(tiny_db, dest, key, created_at=later), Inline())
    assert outcomes(again) == {ACCOUNT: "unchanged", OTHER: "unchanged"}
    assert again.complete and again.bytes_written == 0
    skipped = again.accounts[0]
    assert skipped.archive == names[0] and skipped.note == f"unchanged since {names[0]}"
    assert skipped.bytes == done.bytes
    assert sorted(p.name for p in dest.glob("*.zip")) == names

    forced = run_backup(plan(tiny_db, dest, key, created_at=later, force=True), Inline())
    assert outcomes(forced) == {ACCOUNT: "backed-up", OTHER: "backed-up"}
    assert forced.accounts[0].note == f"forced (unchanged since {names[0]})"
    assert len(list(dest.glob("*.zip"))) == 4


def test_a_changed_account_is_backed_up_again_and_says_what_changed(
    tiny_db: Path, tmp_path: Path, key: Path
) -> None:
    dest = tmp_path / "dest"
    run_backup(plan(tiny_db, dest, key), Inline())
    con = sqlite3.connect(tiny_db)
    with con:
        con.execute("UPDATE invoice_lines SET description = 'Thé' WHERE id = 'il-1'")
    con.close()
    later = WHEN + timedelta(hours=1)
    report = run_backup(plan(tiny_db, dest, key, created_at=later), Inline())
    assert outcomes(report) == {ACCOUNT: "backed-up", OTHER: "unchanged"}
    assert report.accounts[0].note == (
        f"changed since {ACCOUNT}_2026-11-30T020000Z.zip: table sales_invoice_lines"
    )


def test_an_account_whose_last_archive_is_gone_is_backed_up_again(
    tiny_db: Path, tmp_path: Path, key: Path
) -> None:
    dest = tmp_path / "dest"
    run_backup(plan(tiny_db, dest, key), Inline())
    (dest / f"{OTHER}_2026-11-30T020000Z.zip").unlink()
    report = run_backup(plan(tiny_db, dest, key, created_at=WHEN + timedelta(1)), Inline())
    assert outcomes(report) == {ACCOUNT: "unchanged", OTHER: "backed-up"}
    assert "is not in the destination" in (report.accounts[1].note or "")


def test_failures_never_stop_the_other_accounts(tiny_db: Path, tmp_path: Path, key: Path) -> None:
    con = sqlite3.connect(tiny_db)
    with con:  # a binary float in a money column: the export refuses it, naming the record
        con.execute("UPDATE invoices SET total_ttc = 11473.2135 WHERE id = 'in-2'")
        con.execute(
            "INSERT INTO accounts SELECT 'acc-t003', 'Third', siren, vat_number, email, "
            "address_line1, postal_code, city, country, created_at FROM accounts WHERE id = ?",
            (OTHER,),
        )
    con.close()
    dest = tmp_path / "dest"
    accounts = ["acc-nope", ACCOUNT, OTHER, "acc-t003", OTHER]
    report = run_backup(plan(tiny_db, dest, key, accounts=accounts), Inline())
    by = {a.account: a for a in report.accounts}
    assert [a.account for a in report.accounts] == ["acc-nope", ACCOUNT, OTHER, "acc-t003"]
    assert outcomes(report) == {
        "acc-nope": "failed",
        ACCOUNT: "failed",
        OTHER: "backed-up",
        "acc-t003": "backed-up",
    }
    assert by["acc-nope"].exit_code == ExitCode.UNKNOWN_ACCOUNT
    assert "'acc-nope' not found" in (by["acc-nope"].error or "")
    assert by[ACCOUNT].exit_code == ExitCode.BAD_RECORD
    assert "11473.2135" in (by[ACCOUNT].error or "") and by[ACCOUNT].archive is None
    assert not report.complete
    totals = report.to_dict()["totals"]
    assert totals["accounts"] == 4 and totals["failed"] == 2 and totals["backed-up"] == 2
    assert sorted(p.name for p in dest.glob("*.zip")) == [
        "acc-t002_2026-11-30T020000Z.zip",
        "acc-t003_2026-11-30T020000Z.zip",
    ]
    assert open_destination(str(dest)).read_state(state_name(ACCOUNT)) is None


def test_missing_documents_fail_the_account_unless_allowed(
    tiny_db: Path, tmp_path: Path, key: Path
) -> None:
    dest = tmp_path / "dest"
    report = run_backup(plan(tiny_db, dest, key, allow_missing_documents=False), Inline())
    assert outcomes(report) == {ACCOUNT: "failed", OTHER: "backed-up"}
    broken = report.accounts[0]
    assert broken.exit_code == ExitCode.DOCUMENTS_INCOMPLETE
    assert "invoices" in (broken.error or "") and broken.archive is not None
    assert (dest / broken.archive).is_file()  # stored, but not recorded: the next run retries
    again = run_backup(
        plan(tiny_db, dest, key, created_at=WHEN + timedelta(1), allow_missing_documents=False),
        Inline(),
    )
    assert outcomes(again) == {ACCOUNT: "failed", OTHER: "unchanged"}


def test_a_locked_account_is_reported_and_not_waited_for(
    tiny_db: Path, tmp_path: Path, key: Path
) -> None:
    dest = tmp_path / "dest"
    folder = lock_folder(str(dest))
    assert folder == dest / ".offboard-locks"
    folder.mkdir(parents=True)
    executor = Inline()
    with lock_in(folder, OTHER):
        report = run_backup(plan(tiny_db, dest, key), executor)
    assert outcomes(report) == {ACCOUNT: "backed-up", OTHER: "locked"}
    assert [t.account for t in executor.submitted] == [ACCOUNT]
    locked = report.accounts[1]
    assert locked.exit_code == ExitCode.LOCKED and "locked by another run" in (locked.error or "")
    assert not report.complete
    # the locks are released at the end of the run
    with lock_in(folder, ACCOUNT):
        pass


def test_the_report_is_written_whole(tiny_db: Path, tmp_path: Path, key: Path) -> None:
    report = run_backup(plan(tiny_db, tmp_path / "dest", key, accounts=[OTHER]), Inline())
    path = tmp_path / "reports" / "run.json"
    write_report(path, report)
    data = json.loads(path.read_text())
    assert data["created_at"] == "2026-11-30T02:00:00Z"
    assert data["complete"] is True and data["executor"] == "inline"
    assert data["totals"] == {
        "accounts": 1,
        "backed-up": 1,
        "unchanged": 0,
        "failed": 0,
        "locked": 0,
        "bytes_written": data["accounts"][0]["bytes"],
        "seconds": data["totals"]["seconds"],
    }
    assert set(data["accounts"][0]) == {
        "account",
        "outcome",
        "archive",
        "location",
        "bytes",
        "seconds",
        "error",
        "exit_code",
        "note",
    }
    assert [p.name for p in path.parent.iterdir()] == ["run.json"]


def test_the_lock_folder_of_an_s3_destination_is_local_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    digest = hashlib.sha256(b"s3://bucket/backups").hexdigest()
    expected = tmp_path / "state" / "offboard" / "locks" / digest
    assert lock_folder("s3://bucket/backups") == expected
    assert lock_folder("s3://bucket/backups/") == expected
    assert lock_folder("s3://bucket/backups", tmp_path / "mine") == tmp_path / "mine"
    monkeypatch.delenv("XDG_STATE_HOME")
    assert lock_folder("s3://b/p").parent == Path.home() / ".local/state/offboard/locks"


def test_accounts_option() -> None:
    assert parse_accounts("all") is None
    assert parse_accounts(" a, b ,,c") == ["a", "b", "c"]
    with pytest.raises(ConfigError):
        parse_accounts(" , ")
