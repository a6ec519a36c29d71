"""``offboard backup`` from the command line: in-process (CliRunner) and as real processes,
two of them at once on one account."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from manifests.signing import SecretKey, write_keypair
from offboard.cli import cli
from offboard.errors import ExitCode

ROOT = Path(__file__).resolve().parents[3]
WHEN = "2026-11-30T02:00:00Z"
NAME = "acc-0001_2026-11-30T020000Z.zip"


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    secret, _ = write_keypair(tmp_path_factory.mktemp("key") / "k", SecretKey.generate(), None)
    return Path(secret)


def backup(demo_db: Path, dest: Path, key: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        cli,
        [
            "backup",
            f"sqlite:///{demo_db}",
            "--dest",
            str(dest),
            "--sign-key",
            str(key),
            "--allow-missing-documents",
            *args,
        ],
        catch_exceptions=False,
    )
    return result.exit_code, result.stdout, result.stderr


def test_backup_then_nothing_changed(demo_db: Path, tmp_path: Path, key: Path) -> None:
    dest, report = tmp_path / "dest", tmp_path / "report.json"
    args = ["--accounts", "all", "--created-at", WHEN, "--workers", "2", "--report", str(report)]
    code, out, err = backup(demo_db, dest, key, *args, "--json")
    assert code == 0, err
    printed = json.loads(out)
    assert json.loads(report.read_text()) == printed
    assert printed["complete"] is True and printed["totals"]["backed-up"] == 2
    assert [a["archive"] for a in printed["accounts"]] == [
        NAME,
        "acc-0002_2026-11-30T020000Z.zip",
    ]
    assert (dest / NAME).is_file()
    code, out, err = backup(demo_db, dest, key, "--accounts", "acc-0001,acc-0002")
    assert code == 0, err
    lines = out.splitlines()
    assert f"acc-0001  unchanged  (matches {NAME})" in lines
    assert lines[-1].startswith("2 account(s): 0 backed-up, 2 unchanged, 0 failed, 0 locked;")


def test_a_failed_account_exits_15_after_the_others(
    demo_db: Path, tmp_path: Path, key: Path
) -> None:
    report = tmp_path / "r.json"
    code, out, err = backup(
        demo_db,
        tmp_path / "dest",
        key,
        *("--accounts", "acc-nope,acc-0001", "--workers", "1", "--report", str(report)),
    )
    assert code == ExitCode.BACKUP_INCOMPLETE
    assert err.startswith("offboard: error: 1 of 2 account(s) not backed up (first: acc-nope, ")
    assert f"see {report}" in err
    data = json.loads(report.read_text())
    assert [(a["account"], a["outcome"], a["exit_code"]) for a in data["accounts"]] == [
        ("acc-nope", "failed", ExitCode.UNKNOWN_ACCOUNT),
        ("acc-0001", "backed-up", None),
    ]
    assert any(line.startswith("acc-0001  backed-up  ") for line in out.splitlines())


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--lock", "governance", "--retain-until", "2036-01-01"], 2, "s3:// only"),
        (["--executor", "spark://h:1"], 2, "give local or dask://HOST:PORT"),
        (["--kinds", "nope"], 5, "nope"),
        (["--created-at", "yesterday"], 2, "--created-at"),
        (["--sign-key", "/nonexistent/k.key"], 10, "k.key"),
    ],
)
def test_bad_options_stop_the_run_before_any_account(
    demo_db: Path, tmp_path: Path, key: Path, args: list[str], code: int, message: str
) -> None:
    got, _, err = backup(demo_db, tmp_path / "dest", key, "--accounts", "all", *args)
    assert got == code and message in err, err
    assert not (tmp_path / "dest").exists()


def _run(demo_db: Path, dest: Path, key: Path, report: Path) -> subprocess.Popen[str]:
    command = [
        sys.executable,
        "-m",
        "offboard",
        "backup",
        f"sqlite:///{demo_db}",
        *("--accounts", "acc-0001", "--dest", str(dest), "--sign-key", str(key)),
        *("--allow-missing-documents", "--workers", "1", "--report", str(report), "--quiet"),
        *("--force", "--created-at", WHEN),
    ]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_held(lock: Path, proc: subprocess.Popen[str]) -> None:
    """Until ``proc`` holds the lock (its holder is written in the lock file while held)."""
    deadline = time.monotonic() + 60
    while not (lock.is_file() and lock.stat().st_size > 0):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the first run never took the lock"
        time.sleep(0.002)


def test_two_runs_at_once_one_backs_up_the_other_reports_locked(
    demo_db: Path, tmp_path: Path, key: Path
) -> None:
    from offboard.gate.lock import lock_name

    dest = tmp_path / "dest"
    lock = dest / ".offboard-locks" / lock_name("acc-0001")
    first = _run(demo_db, dest, key, tmp_path / "first.json")
    try:
        _wait_held(lock, first)
        # stopped, the first run holds the lock for as long as the second one runs
        os.kill(first.pid, signal.SIGSTOP)
        assert lock.stat().st_size > 0
        second = _run(demo_db, dest, key, tmp_path / "second.json")
        _, err = second.communicate(timeout=120)
        assert second.returncode == ExitCode.LOCKED, err  # every account not done was locked
        (locked,) = json.loads((tmp_path / "second.json").read_text())["accounts"]
        assert (locked["outcome"], locked["exit_code"]) == ("locked", ExitCode.LOCKED)
        assert f"held by pid {first.pid}" in locked["error"]
    finally:
        os.kill(first.pid, signal.SIGCONT)
    _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    (done,) = json.loads((tmp_path / "first.json").read_text())["accounts"]
    assert (done["outcome"], done["archive"]) == ("backed-up", NAME)
    assert [p.name for p in dest.glob("*.zip")] == [NAME]
