"""Crash safety of ``offboard terminate``: SIGKILLed at any step, then run again.

The stateful test drives a demo database through cancellations, exports, changes to the source
and terminations run as processes of their own, some killed by a failpoint, against a model of
what each should do; after every step the database must agree with the model and keep the
gate's invariants.
"""

from __future__ import annotations

import shutil
import signal
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from offboard.gate.failpoints import TERMINATE_POINTS
from offboard.gate.receipt import check_receipt

from .common import (
    ACCOUNT,
    CHANGEABLE,
    OTHER,
    Demo,
    audit_problems,
    delete_one,
    export,
    insert_copy,
    invoke,
    receipt_files,
    record,
    sha256_file,
    state,
    terminate,
    terminate_process,
    update_text,
)

KILLED = -signal.SIGKILL
LOCKED, VERIFIED, CHECKED, PENDING, BILLED, COMMITTED, WRITTEN = TERMINATE_POINTS


def public_key(demo: Demo) -> Any:
    from manifests.signing import PublicKey

    return PublicKey.load(demo.pub)


def check_done(demo: Demo, archive: Path, account: str = ACCOUNT) -> None:
    """Terminated exactly once, with the receipt of ``archive`` beside it."""
    now = state(demo.db, account)
    assert now.status == "terminated"
    assert now.done
    assert now.events.count("termination_started") == 1
    assert now.events.count("terminated") == 1
    data, signature = receipt_files(archive)
    receipt = check_receipt(data.read_bytes(), signature.read_bytes(), public_key(demo))
    assert receipt["archive"]["sha256"] == sha256_file(archive) == now.terminations[0][3]
    assert audit_problems(demo.db) == []


# -- each failpoint, then a rerun -----------------------------------------------------------
@pytest.mark.parametrize("point", TERMINATE_POINTS)
def test_killed_at_each_step_then_rerun(demo: Demo, point: str) -> None:
    killed = terminate_process(demo, failpoint=point)
    assert killed.returncode == KILLED, (killed.returncode, killed.stderr)
    after = state(demo.db)
    index = TERMINATE_POINTS.index(point)
    written = [p.exists() for p in receipt_files(demo.archive)]
    if index < TERMINATE_POINTS.index(PENDING):
        assert after.terminations == []
        assert after.status == "cancellation_requested"
    elif index < TERMINATE_POINTS.index(COMMITTED):
        assert after.pending
        assert after.status == "cancellation_requested"
        assert after.events.count("termination_started") == 1
    else:
        assert after.done
        assert after.status == "terminated"
    assert written == [point == WRITTEN] * 2

    rerun = terminate_process(demo)
    assert rerun.returncode == 0, rerun.stderr
    already = index >= TERMINATE_POINTS.index(COMMITTED)
    assert ("was already terminated" in rerun.stdout) == already
    check_done(demo, demo.archive)
    if after.terminations:  # the same termination, completed with the same key
        assert state(demo.db).terminations[0][1] == after.terminations[0][1]

    final = state(demo.db)
    again = terminate_process(demo)
    assert again.returncode == 0, again.stderr
    assert "was already terminated" in again.stdout
    assert state(demo.db) == final


def test_a_pending_termination_completes_after_the_source_changed(demo: Demo) -> None:
    """The receipt of a pending termination is signed and committed, and the billing system
    may have been called already: a rerun with its archive completes it, whatever happened to
    the source since its check."""
    killed = terminate_process(demo, failpoint=BILLED)
    assert killed.returncode == KILLED, killed.stderr
    pending = state(demo.db)
    assert pending.pending
    insert_copy(demo.db, "people", ACCOUNT, "late")

    fresh = export(demo, demo.root / "acc-0001-fresh.zip")
    other = terminate(demo, fresh)
    assert other.exit_code == 14, other.stderr
    assert "with another archive (acc-0001.zip" in other.stderr
    assert state(demo.db) == pending

    rerun = terminate(demo)
    assert rerun.exit_code == 0, rerun.stderr
    check_done(demo, demo.archive)
    assert state(demo.db).terminations[0][1] == pending.terminations[0][1]


# -- the stateful test ----------------------------------------------------------------------
#: the machine works on acc-0002, which starts active; acc-0001 is the other account
MACHINE_ACCOUNT, BYSTANDER = OTHER, ACCOUNT
CREATED = datetime(2026, 2, 1, 8, 0, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Archive:
    path: Path
    sha256: str
    version: int  # the model's version of the account's data when it was exported


class TerminationMachine(RuleBasedStateMachine):
    def __init__(self, original: Demo, scratch: Path) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(dir=scratch))
        self.demo = original.copy(self.root / "demo")
        # the model
        self.status = state(self.demo.db, MACHINE_ACCOUNT).status
        assert self.status == "active"
        self.version = 0
        self.archives: list[Archive] = []
        self.changes = 0
        self.pending: Archive | None = None
        self.done: Archive | None = None
        self.key: str | None = None
        #: archives whose SHA-256 was accepted for a termination, fresh at the time
        self.accepted: set[str] = set()
        #: archives with the receipt's files beside them
        self.beside: set[Path] = set()
        self.last: Archive | None = None
        self._verified: set[str] = set()

    def teardown(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    # -- rules ------------------------------------------------------------------------------
    @initialize(cancelled=st.booleans(), exported=st.booleans())
    def start(self, cancelled: bool, exported: bool) -> None:
        """A run may start from a cancelled account and its archive, to get further."""
        if cancelled:
            self.cancel()
        if exported:
            self.export()

    @rule()
    def cancel(self) -> None:
        result = invoke("cancel", self.demo.db, "--account", MACHINE_ACCOUNT, "--now")
        if self.status == "terminated":
            assert result.exit_code == 14, result.stderr
            assert "already terminated" in result.stderr
            return
        assert result.exit_code == 0, result.stderr
        if self.status == "active":
            self.status = "cancellation_requested"
            self.version += 1  # the subscription's status is in the export

    @rule()
    def export(self) -> None:
        n = len(self.archives)
        path = self.root / f"{MACHINE_ACCOUNT}-{n:02d}.zip"
        export(self.demo, path, MACHINE_ACCOUNT, created=CREATED + timedelta(minutes=n))
        self.archives.append(Archive(path, sha256_file(path), self.version))

    @rule(
        change=st.sampled_from(["insert", "update", "delete"]),
        table=st.sampled_from(CHANGEABLE),
        bystander=st.booleans(),
    )
    def modify_source(self, change: str, table: tuple[str, str, str], bystander: bool) -> None:
        source, _, column = table
        account = BYSTANDER if bystander else MACHINE_ACCOUNT
        self.changes += 1
        suffix = f"m{self.changes}"
        if change == "insert":
            insert_copy(self.demo.db, source, account, suffix)
        elif change == "update":
            update_text(self.demo.db, source, column, account, f" {suffix}")
        elif source == "companies":  # invoices and quotes refer to it: delete a leaf instead
            delete_one(self.demo.db, "people", account)
        else:
            delete_one(self.demo.db, source, account)
        if not bystander:
            self.version += 1

    @precondition(lambda self: bool(self.archives))
    @rule(
        pick=st.integers(min_value=0, max_value=50),
        failpoint=st.sampled_from((None, *TERMINATE_POINTS)),
    )
    def terminate(self, pick: int, failpoint: str | None) -> None:
        self._terminate(self.archives[pick % len(self.archives)], failpoint)

    @precondition(lambda self: self.last is not None)
    @rule()
    def rerun_terminate(self) -> None:
        assert self.last is not None
        self._terminate(self.last, None)

    # -- what terminate should do -----------------------------------------------------------
    def _predict(self, archive: Archive) -> tuple[tuple[str, ...], int, str]:
        """(the failpoints reached, the exit code, the outcome) of a run with ``archive``."""
        if self.done is not None:
            return TERMINATE_POINTS[:1], 0, "already"
        if self.pending is not None:
            if archive.sha256 != self.pending.sha256:
                return TERMINATE_POINTS[:3], 14, "another archive is pending"
            return TERMINATE_POINTS, 0, "completed"
        if self.status != "cancellation_requested":
            return TERMINATE_POINTS[:1], 14, "no cancellation"
        if archive.version != self.version:
            return TERMINATE_POINTS[:2], 12, "stale"
        return TERMINATE_POINTS, 0, "terminated"

    def _terminate(self, archive: Archive, failpoint: str | None) -> None:
        self.last = archive
        reached, code, outcome = self._predict(archive)
        run = terminate_process(
            self.demo, archive.path, account=MACHINE_ACCOUNT, failpoint=failpoint
        )
        killed_at = failpoint if failpoint in reached else None
        event(f"terminate: {outcome}" + (f", killed at {killed_at}" if killed_at else ""))
        if killed_at is not None:
            assert run.returncode == KILLED, (run.returncode, run.stdout, run.stderr)
        else:
            assert run.returncode == code, (outcome, run.returncode, run.stdout, run.stderr)
        if code != 0:
            return
        if outcome == "already":
            done = self.done
            assert done is not None
            if killed_at is None and archive.path.name == done.path.name:
                self.beside.add(archive.path)
            return
        stop = TERMINATE_POINTS.index(killed_at) if killed_at else len(TERMINATE_POINTS)
        if stop <= TERMINATE_POINTS.index(CHECKED):
            return
        if self.pending is None:
            assert archive.version == self.version
            self.accepted.add(archive.sha256)
            self.pending = archive
            self.key = record(self.demo.db, MACHINE_ACCOUNT).idempotency_key
        if stop <= TERMINATE_POINTS.index(BILLED):
            return
        self.done, self.pending = self.pending, None
        self.status = "terminated"
        if stop >= TERMINATE_POINTS.index(WRITTEN):  # written just before that failpoint
            self.beside.add(archive.path)

    # -- invariants, read from the database -------------------------------------------------
    @invariant()
    def agrees_with_the_model(self) -> None:
        now = state(self.demo.db, MACHINE_ACCOUNT)
        assert len(now.terminations) <= 1
        assert now.events.count("terminated") <= 1
        assert now.events.count("termination_started") <= 1
        assert now.status == self.status
        expected = self.done or self.pending
        if expected is None:
            assert now.terminations == []
            return
        [(row_state, key, name, digest)] = now.terminations
        assert row_state == ("done" if self.done else "pending")
        assert digest == expected.sha256
        assert name == expected.path.name
        assert key == self.key  # one idempotency key, whatever the reruns
        assert state(self.demo.db, BYSTANDER).terminations == []

    @invariant()
    def terminated_only_with_a_verified_fresh_archive(self) -> None:
        done = record(self.demo.db, MACHINE_ACCOUNT)
        status = state(self.demo.db, MACHINE_ACCOUNT).status
        if status != "terminated":
            assert done is None or done.state != "done"
            return
        assert done is not None and done.state == "done"
        receipt = check_receipt(
            done.receipt.encode(), done.receipt_signature.encode(), public_key(self.demo)
        )
        assert receipt["account"]["id"] == MACHINE_ACCOUNT
        assert receipt["archive"]["sha256"] == done.archive_sha256
        assert done.archive_sha256 in self.accepted  # it matched the source at that time
        [archive] = [a for a in self.archives if a.sha256 == done.archive_sha256]
        if archive.sha256 not in self._verified:
            from manifests.verify import verify_archive

            report = verify_archive(archive.path, public_key(self.demo))
            assert report.valid, report.problems
            self._verified.add(archive.sha256)

    @invariant()
    def receipts_beside_the_archives(self) -> None:
        done = record(self.demo.db, MACHINE_ACCOUNT)
        for archive in self.archives:
            files = receipt_files(archive.path)
            assert all(p.exists() for p in files) == (archive.path in self.beside)
            assert any(p.exists() for p in files) == (archive.path in self.beside)
            if archive.path in self.beside:
                assert files[0].read_text(encoding="utf-8") == done.receipt
                assert files[1].read_text(encoding="utf-8") == done.receipt_signature

    @invariant()
    def audit_chain_is_sound(self) -> None:
        assert audit_problems(self.demo.db) == []

    @invariant()
    def a_pending_termination_completes_on_a_rerun(self) -> None:
        """On a copy of the database: a rerun with the pending archive completes it, and a
        second rerun changes nothing."""
        if self.pending is None:
            return
        copy = Demo(Path(tempfile.mkdtemp(dir=self.root)))
        try:
            for path in self.demo.root.glob("demo.db*"):
                if path.is_file():
                    shutil.copy2(path, copy.root / path.name)
            shutil.copytree(self.demo.documents, copy.documents)
            for path in (self.demo.key, self.demo.pub):
                shutil.copy2(path, copy.root / path.name)
            archive = copy.root / self.pending.path.name
            shutil.copy2(self.pending.path, archive)
            result = terminate(copy, archive, MACHINE_ACCOUNT)
            assert result.exit_code == 0, result.stderr
            assert "was already terminated" not in result.stdout
            check_done(copy, archive, MACHINE_ACCOUNT)
            assert state(copy.db, MACHINE_ACCOUNT).terminations[0][1] == self.key
            completed = state(copy.db, MACHINE_ACCOUNT)
            again = terminate(copy, archive, MACHINE_ACCOUNT)
            assert again.exit_code == 0, again.stderr
            assert "was already terminated" in again.stdout
            assert state(copy.db, MACHINE_ACCOUNT) == completed
        finally:
            shutil.rmtree(copy.root, ignore_errors=True)


def test_terminate_is_crash_safe(demo_original: Demo, tmp_path: Path) -> None:
    class Machine(TerminationMachine):
        def __init__(self) -> None:
            super().__init__(demo_original, tmp_path)

    run_state_machine_as_test(
        Machine,
        settings=settings(
            max_examples=30,
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
