"""The account lock's safety, in-process: links, foreign or shared files and folders refused;
what a refused run says of a holder whose file names nobody alive; re-entry in one thread (the
close that runs a termination); where exports of non-SQLite sources keep their locks; and the
exit code of a backup run whose accounts were only locked."""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

from offboard.backup.report import BackupReport
from offboard.backup.run import incomplete_error
from offboard.backup.task import AccountResult
from offboard.cli import cli
from offboard.errors import AccountLocked, BackupIncomplete, ExitCode, SourceError
from offboard.gate.lock import (
    account_lock,
    lock_dir,
    lock_in,
    lock_name,
    source_identity,
    source_lock,
    source_lock_folder,
    state_folder,
)

ACCOUNT = "acc-0001"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "locks"
    path.mkdir(mode=0o755)
    path.chmod(0o755)
    return path


def refused(folder: Path, why: str) -> None:
    with pytest.raises(SourceError, match=why) as err, lock_in(folder, ACCOUNT):
        pytest.fail("the lock was taken")
    assert f"account {ACCOUNT!r}" in str(err.value) and err.value.exit_code == ExitCode.SOURCE


def test_a_symlink_at_the_lock_file_is_never_followed(folder: Path, tmp_path: Path) -> None:
    victim, missing = tmp_path / "victim", tmp_path / "missing"
    victim.write_bytes(b"precious")
    path = folder / lock_name(ACCOUNT)
    path.symlink_to(victim)
    refused(folder, "it is a symbolic link")
    assert victim.read_bytes() == b"precious"
    path.unlink()
    path.symlink_to(missing)  # a dangling link: O_CREAT would make its target if it followed
    refused(folder, "it is a symbolic link")
    assert not missing.exists() and path.is_symlink()


def test_a_symlinked_lock_folder_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "locks").symlink_to(real)
    refused(tmp_path / "locks", "the lock folder is a symbolic link")
    assert os.listdir(real) == []


def test_a_lock_folder_writable_by_every_user_is_refused(folder: Path) -> None:
    folder.chmod(0o777)
    refused(folder, r"writable by every user \(mode 0777\)")
    assert os.listdir(folder) == []
    folder.chmod(0o775)  # shared with a group: accepted
    with lock_in(folder, ACCOUNT):
        pass


@pytest.mark.parametrize("mode", [0o666, 0o664, 0o646])
def test_a_lock_file_writable_by_others_is_refused(folder: Path, mode: int) -> None:
    path = folder / lock_name(ACCOUNT)
    path.write_text("{}")
    path.chmod(mode)
    refused(folder, rf"writable by other users \(mode {mode:04o}\)")
    assert path.read_text() == "{}"


def test_a_lock_file_of_another_user_is_refused(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = folder / lock_name(ACCOUNT)
    path.write_text("{}")
    other = os.geteuid() + 4242
    monkeypatch.setattr(os, "geteuid", lambda: other)  # as if another user ran this
    refused(folder, "belongs to uid")
    assert path.read_text() == "{}"


def test_what_is_not_a_regular_file_is_refused(folder: Path) -> None:
    path = folder / lock_name(ACCOUNT)
    os.mkfifo(path)
    refused(folder, "it is not a regular file")
    path.unlink()
    path.mkdir()
    refused(folder, "cannot create the lock")


@contextmanager
def held_with(path: Path, content: bytes) -> Iterator[None]:
    """The lock held through another open file of this process, its file saying ``content``."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(fd, content)
        yield
    finally:
        os.close(fd)


def _dead_pid() -> int:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize("kind", ["garbage", "dead pid"])
def test_a_holder_whose_file_names_nobody_alive(folder: Path, kind: str) -> None:
    dead = _dead_pid()
    content = {
        "garbage": b"\x00not json",
        "dead pid": json.dumps({"pid": dead, "since": "2026-01-01T00:00:00Z"}).encode(),
    }[kind]
    with held_with(folder / lock_name(ACCOUNT), content):
        started = time.monotonic()
        with pytest.raises(AccountLocked) as err, lock_in(folder, ACCOUNT):
            pytest.fail("the lock was taken twice")
        waited = time.monotonic() - started
    message = str(err.value)
    assert f"account {ACCOUNT!r} is locked by another run (held by another process" in message
    assert (f"names pid {dead}, which is not running" in message) == (kind == "dead pid")
    assert 0.4 < waited < 5  # the file was read again for a while: a holder writes just after
    with lock_in(folder, ACCOUNT) as path:  # released: taken over, the file rewritten
        assert json.loads(path.read_text())["pid"] == os.getpid()


def test_a_reentrant_lock_is_shared_by_nested_blocks_of_its_thread_only(tmp_path: Path) -> None:
    db = tmp_path / "source.db"
    db.write_bytes(b"")
    with account_lock(db, ACCOUNT, reentrant=True) as path:
        named = path.read_text()
        with account_lock(db, ACCOUNT) as inner:  # as flow.terminate inside offboard close
            assert inner == path
        assert path.read_text() == named  # the nested block released nothing
        with account_lock(db, ACCOUNT, reentrant=True), account_lock(db, ACCOUNT):
            pass  # nested twice: still shared
        # still held, by this thread only: another thread is refused as another process is
        errors: list[BaseException] = []

        def other_thread() -> None:
            try:
                with account_lock(db, ACCOUNT):
                    pass
            except AccountLocked as exc:
                errors.append(exc)

        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
        assert len(errors) == 1 and f"held by pid {os.getpid()}" in str(errors[0])
    assert path.read_text() == ""
    with account_lock(db, ACCOUNT), pytest.raises(AccountLocked), account_lock(db, ACCOUNT):
        pass  # not reentrant: a nested block is refused, as before


def test_the_source_identity_names_one_source_whatever_the_url() -> None:
    same = [
        "postgresql://alice@db.example:5432/app?documents=/srv/docs",
        "postgres://bob@DB.example/app/",
        "postgresql://db.example/app",
    ]
    assert {source_identity(u) for u in same} == {"postgresql://db.example:5432/app"}
    assert source_identity("postgresql://db.example/other") != source_identity(same[0])
    assert (
        source_identity("postgresql:///app?host=/run/pg")
        == "postgresql://:5432/app?host=%2Frun%2Fpg"
    )
    assert source_identity("https://API.example/v1/") == "https://api.example:443/v1"
    assert source_identity("https://api.example:8443/v1") == "https://api.example:8443/v1"
    assert source_identity("plugin:thing") == "plugin:thing"


def test_where_an_export_keeps_its_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    db = tmp_path / "source.db"
    db.write_bytes(b"SQLite format 3\x00")
    assert source_lock_folder(f"sqlite:///{db}") == lock_dir(db)
    assert source_lock_folder(str(db)) == lock_dir(db)
    url = "postgresql://alice@db.example/app"
    expected = state_folder("postgresql://db.example:5432/app")
    assert source_lock_folder(url) == expected
    assert expected.parent == tmp_path / "state" / "offboard" / "locks"
    assert source_lock_folder(url, tmp_path / "mine") == tmp_path / "mine"
    with source_lock("postgres://bob@db.example:5432/app/", ACCOUNT) as path:
        assert path == expected / lock_name(ACCOUNT)


@pytest.mark.parametrize(
    "source",
    ["postgresql://db.example/app", "https://api.example/v1", "sqlite:///{db}"],
)
def test_an_export_is_refused_while_its_lock_is_held_for_every_source_kind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    """The lock is taken before the source is opened: these sources are never reached."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    db = tmp_path / "source.db"
    db.write_bytes(b"SQLite format 3\x00")
    source = source.format(db=db)
    out = tmp_path / "out"
    args = ["export", source, "--account", ACCOUNT, "--out", str(out), "--quiet"]
    with source_lock(source, ACCOUNT):
        result = CliRunner().invoke(cli, args)
    assert result.exit_code == ExitCode.LOCKED, result.output
    (line,) = result.stderr.splitlines()
    assert f"account {ACCOUNT!r} is locked by another run (held by pid {os.getpid()} since" in line
    assert not out.exists()
    # --lock-dir: the lock is that folder's
    mine = tmp_path / "mine" / "locks"
    with source_lock(source, ACCOUNT, folder=mine):
        result = CliRunner().invoke(cli, [*args, "--lock-dir", str(mine)])
    assert result.exit_code == ExitCode.LOCKED, result.output
    assert not out.exists()


def _report(*outcomes: str) -> BackupReport:
    report = BackupReport("s", "d", "2026-11-30T02:00:00Z", "local", 1, "2026-11-30T02:00:00Z")
    report.accounts = [
        AccountResult(f"acc-{i}", o, error=f"account 'acc-{i}' {o}", exit_code=11)
        for i, o in enumerate(outcomes)
    ]
    return report


def test_a_backup_run_whose_missing_accounts_were_all_locked_exits_11() -> None:
    locked = incomplete_error(_report("backed-up", "locked", "unchanged", "locked"))
    assert isinstance(locked, AccountLocked) and locked.exit_code == ExitCode.LOCKED
    assert str(locked).startswith("2 of 4 account(s) not backed up, locked by another run")
    assert "(first: account 'acc-1' locked)" in str(locked)
    failed = incomplete_error(_report("locked", "failed"), Path("r.json"))
    assert isinstance(failed, BackupIncomplete) and failed.exit_code == ExitCode.BACKUP_INCOMPLETE
    assert str(failed).endswith("; see r.json")
