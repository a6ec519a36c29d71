from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from offboard.errors import AccountLocked, ExitCode
from offboard.gate import account_lock, lock_path
from offboard.gate.lock import lock_dir, lock_name

from .conftest import NOW

ROOT = Path(__file__).resolve().parents[3]

_HOLDER = """
import sys
from datetime import datetime, UTC
from pathlib import Path
from offboard.gate import account_lock

with account_lock(Path(sys.argv[1]), sys.argv[2], now=datetime(2026, 10, 31, 9, 30, tzinfo=UTC)):
    print("held", flush=True)
    sys.stdin.readline()
print("released", flush=True)
"""


@contextmanager
def holder(db: Path, account: str) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the account's lock until it is told to stop (or killed)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(db), account],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "held\n"
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "source.db"
    path.write_bytes(b"")
    return path


def test_another_process_is_refused_while_the_lock_is_held(db: Path) -> None:
    with holder(db, "acc-0001") as proc:
        with pytest.raises(AccountLocked) as err, account_lock(db, "acc-0001"):
            pytest.fail("the lock was taken twice")
        message = str(err.value)
        assert "'acc-0001'" in message
        assert f"held by pid {proc.pid} since 2026-10-31T09:30:00Z" in message
        assert err.value.exit_code == ExitCode.LOCKED
        assert int(err.value.exit_code) == 11
        assert err.value.retriable
        assert proc.stdin is not None
        proc.stdin.write("done\n")
        proc.stdin.flush()
        assert proc.stdout is not None and proc.stdout.readline() == "released\n"
        assert proc.wait() == 0
    with account_lock(db, "acc-0001", now=NOW):
        pass


def test_the_lock_is_free_after_its_holder_is_killed(db: Path) -> None:
    with holder(db, "acc-0001") as proc:
        with pytest.raises(AccountLocked), account_lock(db, "acc-0001"):
            pass
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait() == -signal.SIGKILL
        with account_lock(db, "acc-0001", now=NOW) as path:
            assert json.loads(path.read_text())["pid"] == os.getpid()


def test_different_accounts_do_not_block_each_other(db: Path) -> None:
    with holder(db, "acc-0001"):
        with account_lock(db, "acc-0002") as other, account_lock(db, "ACC-0001") as upper:
            assert len({other, upper, lock_path(db, "acc-0001")}) == 3
        with pytest.raises(AccountLocked), account_lock(db, "acc-0001"):
            pass


def test_the_lock_file_names_its_holder_only_while_held(db: Path) -> None:
    with account_lock(db, "acc-0001", now=NOW) as path:
        assert path == lock_path(db, "acc-0001")
        assert path.parent == db.with_name("source.db.offboard-locks")
        assert json.loads(path.read_text()) == {
            "account": "acc-0001",
            "pid": os.getpid(),
            "since": "2026-10-31T09:30:00Z",
        }
        # a second block of this very process is refused too
        with (
            pytest.raises(AccountLocked, match=f"held by pid {os.getpid()}"),
            account_lock(db, "acc-0001"),
        ):
            pass
    assert path.read_text() == ""
    with account_lock(db, "acc-0001"):
        pass


HOSTILE = [
    "../../etc/passwd",
    "..",
    ".",
    "",
    "/absolute/path",
    "a/b",
    "a\\b",
    "nul\x00byte",
    "new\nline",
    ".hidden",
    "CON",
    "con",
    "aux.lock",
    "x" * 5000,
    "x" * 5001,
    "é",
    "e\u0301",
    "😀 emoji",
    "acc-0001",
    "ACC-0001",
    "acc_0001",
    "acc 0001",
    "\udcff surrogate",
]


def test_hostile_account_names_stay_inside_the_lock_folder(db: Path, tmp_path: Path) -> None:
    folder = lock_dir(db)
    names = {lock_name(account) for account in HOSTILE}
    assert len(names) == len(HOSTILE)
    assert len({name.lower() for name in names}) == len(HOSTILE)  # case-insensitive disks too
    for name in names:
        assert "/" not in name and "\\" not in name and "\x00" not in name
        assert not name.startswith(".") and len(name.encode()) < 100
    with ExitStack() as stack:
        paths = [stack.enter_context(account_lock(db, account)) for account in HOSTILE]
        assert all(p.parent == folder for p in paths)
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["source.db", "source.db.offboard-locks"]


def test_every_name_of_one_database_shares_its_locks(db: Path, tmp_path: Path) -> None:
    link = tmp_path / "elsewhere" / "alias.db"
    link.parent.mkdir()
    link.symlink_to(db)
    with holder(db, "acc-0001"), pytest.raises(AccountLocked), account_lock(link, "acc-0001"):
        pytest.fail("the lock was taken through another name of the database")
