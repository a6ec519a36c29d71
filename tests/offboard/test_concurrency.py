"""Concurrent runs of one account, as real processes of the ``offboard`` command.

N = 2, 8 and 32 ``offboard export``, ``close`` or ``backup`` of one account started at once:
exactly one proceeds and the others exit 11, with one line naming the account and the winner
(its pid), having created nothing. The race is real: the winner waits, holding the lock, at the
pause point ``lock.held`` until every other run has ended, and only then is let go. A run killed
(SIGKILL) holding the lock, or a lock file holding garbage or naming a dead process, is taken
over at once by the next run.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from manifests.signing import PublicKey, SecretKey, write_keypair
from manifests.verify import verify_archive
from offboard.errors import ExitCode
from offboard.gate.failpoints import ENV as FAILPOINT_ENV
from offboard.gate.lock import HELD_POINT, lock_dir, lock_name
from offboard.gate.pauses import ENV as PAUSE_ENV

OFFBOARD = Path(sys.executable).with_name("offboard")
EXPORTED, CLOSED = "acc-0001", "acc-0002"
WHEN = "2026-11-30T02:00:00Z"
BACKUP_NAME = f"{EXPORTED}_2026-11-30T020000Z.zip"
SIZES = (2, 8, 32)
DEADLINE = 120.0
CLOSE_EVENTS = ["cancellation_requested", "termination_started", "terminated"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo")
    made = [str(OFFBOARD), "demo", str(root / "d.db"), "--accounts", "3", "--scale", "small"]
    subprocess.run([*made, "--seed", "1"], check=True, capture_output=True)
    write_keypair(root / "k", SecretKey.generate(), None)
    return root


@dataclass(frozen=True)
class World:
    """A copy of the demo of its own (documents hard-linked), keys, a TMPDIR and a state home."""

    root: Path
    demo: Path

    @property
    def db(self) -> Path:
        return self.root / "d.db"

    @property
    def key(self) -> Path:
        return self.demo / "k.key"

    @property
    def go(self) -> Path:
        """The file a paused run waits for."""
        return self.root / "go"

    def env(self, **more: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in (FAILPOINT_ENV, PAUSE_ENV)}
        env.update(TMPDIR=str(self.root / "tmp"), XDG_STATE_HOME=str(self.root / "state"))
        return {**env, **more}

    def paused(self) -> dict[str, str]:
        return self.env(**{PAUSE_ENV: f"{HELD_POINT}={self.go}"})


@pytest.fixture
def world(demo: Path, tmp_path: Path) -> World:
    shutil.copy2(demo / "d.db", tmp_path / "d.db")
    shutil.copytree(demo / "d-documents", tmp_path / "d-documents", copy_function=os.link)
    (tmp_path / "tmp").mkdir()
    return World(tmp_path, demo)


@dataclass(frozen=True)
class Command:
    """One command of the tests: its account, lock file, the i-th run's arguments and the
    archive the i-th run writes (``outputs``: the folder where each run writes its own)."""

    account: str
    lock: Path
    outputs: Path
    args: Callable[[int], list[str]]
    archive: Callable[[int], Path]


def command(world: World, name: str) -> Command:
    source, key, pub = f"sqlite:///{world.db}", str(world.key), str(world.demo / "k.pub")
    if name == "export":
        outs = world.root / "outs"

        def export(i: int) -> list[str]:
            out = str(outs / f"o{i}.zip")
            return [
                *("export", source, "-a", EXPORTED, "--out", out, "--sign-key", key, "-q"),
                *("--kinds", "catalogue"),
            ]

        lock = lock_dir(world.db) / lock_name(EXPORTED)
        return Command(EXPORTED, lock, outs, export, lambda i: outs / f"o{i}.zip")
    if name == "close":
        outs = world.root / "closed"

        def close(i: int) -> list[str]:
            out = str(outs / f"c{i}")
            return [
                *("close", source, "-a", CLOSED, "--out", out, "--sign-key", key, "--yes"),
                *("--pubkey", pub),
            ]

        lock = lock_dir(world.db) / lock_name(CLOSED)
        return Command(CLOSED, lock, outs, close, lambda i: next((outs / f"c{i}").glob("*.zip")))
    dest = world.root / "dest"

    def backup(i: int) -> list[str]:
        return [
            *("backup", source, "--accounts", EXPORTED, "--dest", str(dest), "-q"),
            *("--sign-key", key, "--kinds", "catalogue", "--created-at", WHEN, "--workers", "1"),
        ]

    lock = dest / ".offboard-locks" / lock_name(EXPORTED)
    return Command(EXPORTED, lock, dest, backup, lambda i: dest / BACKUP_NAME)


@dataclass
class Ended:
    index: int
    proc: subprocess.Popen[str]
    out: str
    err: str

    @property
    def code(self) -> int:
        assert self.proc.returncode is not None
        return self.proc.returncode


def start(world: World, args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(OFFBOARD), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=world.root,
    )


def run(world: World, args: list[str]) -> Ended:
    proc = start(world, args, world.env())
    out, err = proc.communicate(timeout=DEADLINE)
    return Ended(0, proc, out, err)


def wait_held(lock: Path, proc: subprocess.Popen[str]) -> None:
    """Until the lock file names ``proc`` (it holds the lock, paused)."""
    deadline = time.monotonic() + DEADLINE
    while True:
        assert proc.poll() is None, proc.communicate()
        try:
            if json.loads(lock.read_text())["pid"] == proc.pid:
                return
        except (OSError, ValueError, KeyError):
            pass
        assert time.monotonic() < deadline, "the run never took the lock"
        time.sleep(0.01)


def race(world: World, cmd: Command, n: int) -> tuple[Ended, list[Ended]]:
    """Start ``n`` runs at once; once all but one have ended, the one left must be paused
    holding the lock (the lock file names it); let it go. (winner, the others)."""
    env = world.paused()
    procs = [start(world, cmd.args(i), env) for i in range(n)]
    try:
        ended: dict[int, Ended] = {}
        deadline = time.monotonic() + DEADLINE
        while len(ended) < n - 1:
            assert time.monotonic() < deadline, f"only {len(ended)} of {n} runs ended"
            for i, proc in enumerate(procs):
                if i not in ended and proc.poll() is not None:
                    out, err = proc.communicate()
                    ended[i] = Ended(i, proc, out, err)
            time.sleep(0.01)
        (index,) = (i for i in range(n) if i not in ended)
        winner = procs[index]
        # every other run has ended while the winner still holds the lock
        assert winner.poll() is None, winner.communicate()
        assert json.loads(cmd.lock.read_text())["pid"] == winner.pid
        world.go.touch()
        out, err = winner.communicate(timeout=DEADLINE)
        return Ended(index, winner, out, err), [ended[i] for i in sorted(ended)]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


def refused(run: Ended, account: str, holder: int) -> None:
    """Exit 11 and one line naming the account and the run holding its lock."""
    assert run.code == ExitCode.LOCKED, run.err
    (line,) = run.err.splitlines()
    assert line.startswith("offboard: error: "), line
    assert f"account {account!r} is locked by another run (held by pid {holder} since " in line
    assert line.endswith("nothing was done)") or line.endswith("nothing was done"), line
    assert run.out == ""


def verified(world: World, archive: Path, account: str) -> None:
    report = verify_archive(archive, PublicKey.load(world.demo / "k.pub"))
    assert report.valid, report.problems
    assert report.account == account


def untouched_elsewhere(world: World, cmd: Command, *outputs: str) -> None:
    """Nothing but the winner's output, the lock and (backup) the state file was created."""
    assert sorted(os.listdir(world.root / "tmp")) == []
    expected = {"d.db", "d-documents", "d.db.offboard-locks", "tmp", "go", cmd.outputs.name}
    assert set(os.listdir(world.root)) <= expected | {"state"}
    assert sorted(os.listdir(cmd.outputs)) == sorted(outputs)
    assert cmd.lock.read_text() == ""  # released: names nobody
    assert os.listdir(cmd.lock.parent) == [cmd.lock.name]


@pytest.mark.parametrize("n", SIZES)
def test_concurrent_exports_of_one_account(world: World, n: int) -> None:
    cmd = command(world, "export")
    cmd.outputs.mkdir()
    winner, losers = race(world, cmd, n)
    assert winner.code == 0, winner.err
    assert len(losers) == n - 1
    for loser in losers:
        refused(loser, EXPORTED, winner.proc.pid)
    untouched_elsewhere(world, cmd, f"o{winner.index}.zip")
    verified(world, cmd.archive(winner.index), EXPORTED)


def _audit(db: Path, account: str) -> tuple[list[str], int]:
    with sqlite3.connect(db) as con:
        events = con.execute(
            "SELECT event FROM offboard_audit_log WHERE account_id = ? ORDER BY id", (account,)
        ).fetchall()
        (done,) = con.execute(
            "SELECT count(*) FROM offboard_terminations WHERE account_id = ?", (account,)
        ).fetchone()
    return [e for (e,) in events], done


@pytest.mark.parametrize("n", SIZES)
def test_concurrent_closes_of_one_account(world: World, n: int) -> None:
    cmd = command(world, "close")
    winner, losers = race(world, cmd, n)
    assert winner.code == 0, winner.err
    for loser in losers:
        refused(loser, CLOSED, winner.proc.pid)
    untouched_elsewhere(world, cmd, f"c{winner.index}")
    archive = cmd.archive(winner.index)
    receipt = archive.stem + ".termination-receipt.json"
    assert sorted(os.listdir(archive.parent)) == [receipt, receipt + ".minisig", archive.name]
    verified(world, archive, CLOSED)
    # one cancellation, one termination: the others changed nothing
    assert _audit(world.db, CLOSED) == (CLOSE_EVENTS, 1)


@pytest.mark.parametrize("n", SIZES)
def test_concurrent_backups_of_one_account_into_one_destination(world: World, n: int) -> None:
    cmd = command(world, "backup")
    winner, losers = race(world, cmd, n)
    assert winner.code == 0, winner.err
    for loser in losers:
        refused(loser, EXPORTED, winner.proc.pid)
        assert "1 of 1 account(s) not backed up, locked by another run" in loser.err
    untouched_elsewhere(world, cmd, BACKUP_NAME, ".offboard-locks", ".offboard-state")
    assert os.listdir(cmd.outputs / ".offboard-state") == [f"{EXPORTED}.fingerprint.json"]
    verified(world, cmd.archive(0), EXPORTED)


def test_an_export_and_a_close_of_one_account_exclude_each_other(world: World) -> None:
    close, export = command(world, "close"), command(world, "export")
    export.outputs.mkdir()
    # a close holds the account's lock: an export of it is refused and writes nothing
    export_closed = export.args(0)
    export_closed[export_closed.index(EXPORTED)] = CLOSED
    holder = start(world, close.args(0), world.paused())
    try:
        wait_held(close.lock, holder)
        refused(run(world, export_closed), CLOSED, holder.pid)
        world.go.touch()
        assert holder.wait(timeout=DEADLINE) == 0
    finally:
        holder.kill()
        holder.communicate()
    assert os.listdir(export.outputs) == []
    # an export holds it: a close of the account is refused and changes nothing
    world.go.unlink()
    close_exported = close.args(1)
    close_exported[close_exported.index(CLOSED)] = EXPORTED
    before = world.db.read_bytes()
    holder = start(world, export.args(1), world.paused())
    try:
        wait_held(export.lock, holder)
        refused(run(world, close_exported), EXPORTED, holder.pid)
        assert world.db.read_bytes() == before
        world.go.touch()
        assert holder.wait(timeout=DEADLINE) == 0
    finally:
        holder.kill()
        holder.communicate()
    assert sorted(os.listdir(close.outputs)) == ["c0"]
    verified(world, export.archive(1), EXPORTED)


@pytest.mark.parametrize("name", ["export", "close", "backup"])
def test_a_run_killed_holding_the_lock_is_taken_over_at_once(world: World, name: str) -> None:
    cmd = command(world, name)
    cmd.outputs.mkdir(exist_ok=True)
    killed = start(world, cmd.args(0), world.env(**{FAILPOINT_ENV: HELD_POINT}))
    killed.communicate(timeout=DEADLINE)
    assert killed.returncode == -signal.SIGKILL
    # the dead run's name is left in the lock file; nothing of its own was written
    assert json.loads(cmd.lock.read_text())["pid"] == killed.pid
    assert os.listdir(cmd.outputs) == ([".offboard-locks"] if name == "backup" else [])
    after = start(world, cmd.args(1), world.paused())
    try:
        wait_held(cmd.lock, after)  # taken over at once, and the lock file names the new holder
        world.go.touch()
        _, err = after.communicate(timeout=DEADLINE)
        assert after.returncode == 0, err
    finally:
        after.kill()
        after.communicate()
    assert cmd.lock.read_text() == ""
    verified(world, cmd.archive(1), cmd.account)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize("left", ["garbage", "dead pid", "empty"])
def test_a_lock_file_with_garbage_or_a_dead_holder_is_taken_over(world: World, left: str) -> None:
    cmd = command(world, "export")
    cmd.outputs.mkdir()
    cmd.lock.parent.mkdir()
    content = {
        "garbage": b"\x00\xff{not json at all" * 300,
        "dead pid": json.dumps({"account": EXPORTED, "pid": _dead_pid(), "since": WHEN}).encode(),
        "empty": b"",
    }[left]
    cmd.lock.write_bytes(content)
    run = start(world, cmd.args(0), world.paused())
    try:
        wait_held(cmd.lock, run)
        assert json.loads(cmd.lock.read_text())["account"] == EXPORTED  # all of it rewritten
        world.go.touch()
        _, err = run.communicate(timeout=DEADLINE)
        assert run.returncode == 0, err
    finally:
        run.kill()
        run.communicate()
    verified(world, cmd.archive(0), EXPORTED)


def test_a_symlink_planted_at_the_lock_path_is_refused_not_followed(world: World) -> None:
    cmd = command(world, "export")
    cmd.outputs.mkdir()
    cmd.lock.parent.mkdir()
    victim = world.root / "victim.txt"
    victim.write_text("precious\n")
    cmd.lock.symlink_to(victim)
    got = run(world, cmd.args(0))
    assert got.code == ExitCode.SOURCE, got.err
    (line,) = got.err.splitlines()
    assert f"account {EXPORTED!r}: lock {str(cmd.lock)!r} refused: it is a symbolic link" in line
    assert victim.read_text() == "precious\n"
    assert os.listdir(cmd.outputs) == [] and os.listdir(world.root / "tmp") == []
