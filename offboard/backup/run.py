"""A backup run: every account asked for, one archive each, into one destination.

:func:`run_backup` lists the accounts (``all``, or the ids given), lists the destination's
archives once, and hands one task per account (:mod:`offboard.backup.task`) to an executor
(:mod:`offboard.backup.executors`), a few at a time. Every archive of the run has the same
creation time, so the same name pattern ``<account>_<time>.zip``
(:func:`offboard.storage.naming.backup_name`).

Locks. Before its task is submitted, the run takes the account's lock (the flock of
:mod:`offboard.gate.lock`) and holds it until the task's result is in; an account another run
holds is reported ``locked`` at once, never waited for, and the run goes on. The locks are
taken by the process that runs ``offboard backup``, whatever executes the tasks, in a folder
of the destination's own: ``<dest>/.offboard-locks/`` for a folder destination, and for an
``s3://`` one a local state folder, ``$XDG_STATE_HOME/offboard/locks/<SHA-256 of the URL>/``
(``~/.local/state`` without XDG_STATE_HOME), or ``--lock-dir``. So two runs into one
destination exclude each other per account when they start on the same machine (or share the
lock folder on a local file system: flock is not reliable over NFS). These locks are the
destination's: a backup and an ``offboard export`` or ``terminate`` of one account (whose lock
is the source's) do not exclude each other.

Exit code. A run in which every account was backed up or unchanged exits 0. One in which every
account that was not is ``locked`` (another run holds it: that run is backing it up) exits 11,
as a refused ``offboard export`` or ``terminate`` does, so that a scheduler can tell "another
run is on it" from a failure; a run with any ``failed`` account exits 15
(:func:`incomplete_error`). The report lists every outcome either way.

A failure in one account never stops the others: it is that account's outcome (``failed``,
with its message and exit code), and the run ends with every account reported.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from offboard.backup.report import BackupReport
from offboard.backup.task import (
    BACKED_UP,
    LOCKED,
    UNCHANGED,
    AccountResult,
    AccountTask,
    failed,
)
from offboard.errors import (
    AccountLocked,
    BackupIncomplete,
    ConfigError,
    ExitCode,
    NoSpace,
    OffboardError,
    OutputError,
    exit_code_of,
)

if TYPE_CHECKING:
    from offboard.backup.executors import Executor

__all__ = ["LOCK_DIR", "BackupPlan", "incomplete_error", "lock_folder", "run_backup"]

#: the folder of a folder destination holding its accounts' backup locks
LOCK_DIR = ".offboard-locks"


@dataclass(frozen=True)
class BackupPlan:
    """What a run backs up, where, and how (the options of ``offboard backup``)."""

    source: str
    destination: str
    sign_key: Path
    created_at: datetime
    #: the account ids, or None for every account of the source
    accounts: list[str] | None = None
    mapping_file: Path | None = None
    kinds: list[str] | None = None
    allow_missing_documents: bool = False
    force: bool = False
    #: the destination's options (S3 only)
    store: dict[str, Any] = field(default_factory=dict)
    lock_dir: Path | None = None
    passphrase: str | None = field(default=None, repr=False)
    jobs: int = 2
    #: age recipients (``age1...`` strings) the archives are encrypted to
    encrypt_to: tuple[str, ...] = ()
    #: keep each account's work until its archive is stored, and reuse an interrupted run's
    resume: bool = False
    #: the retention policy file (None: the default)
    retention: str | None = None


#: the destination's state file naming the time of a resumable run not yet complete
PENDING = "pending-run.json"


def resumed_time(destination: str, now: datetime, *, given_explicitly: bool) -> datetime:
    """The creation time of a resumable run: that of the interrupted run recorded in the
    destination, if any (unless a time was given), else ``now``, recorded for the next."""
    import json

    from offboard.storage import open_destination

    dest = open_destination(destination)
    if not given_explicitly:
        raw = dest.read_state(PENDING)
        try:
            found = json.loads(raw or b"{}").get("created_at")
            if isinstance(found, str):
                return datetime.strptime(found, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except (ValueError, AttributeError):
            pass  # unreadable: a new run
    stamp = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    dest.write_state(PENDING, json.dumps({"created_at": stamp}).encode("utf-8") + b"\n")
    return now


def lock_folder(destination: str, override: Path | None = None) -> Path:
    """Where a run into ``destination`` keeps its accounts' locks (see the module doc)."""
    from offboard.storage import is_s3_url, open_destination

    if override is not None:
        return override
    if is_s3_url(destination):
        from offboard.gate.lock import state_folder

        return state_folder(destination.rstrip("/"))
    from offboard.storage.local import LocalDestination

    local = open_destination(destination)
    assert isinstance(local, LocalDestination)
    return local.folder / LOCK_DIR


def _accounts(plan: BackupPlan) -> list[str]:
    """The accounts of the run, each once, in the order given (or the source's)."""
    if plan.accounts is not None:
        return list(dict.fromkeys(plan.accounts))
    from offboard.sources import Mapping, open_source

    mapping = None if plan.mapping_file is None else Mapping.load(plan.mapping_file)
    source = open_source(plan.source, mapping)
    try:
        return [a.id for a in source.accounts()]
    finally:
        source.close()


def _present(destination: str) -> dict[str, dict[str, int]]:
    """The destination's backup archives now: account part -> archive name -> bytes."""
    from offboard.storage import open_destination
    from offboard.storage.naming import parse_backup_name

    found: dict[str, dict[str, int]] = {}
    for archive in open_destination(destination).list_archives():
        parsed = parse_backup_name(archive.name)
        if parsed is not None:
            found.setdefault(parsed.account, {})[archive.name] = archive.size
    return found


def _tasks(plan: BackupPlan, accounts: list[str], carries_secrets: bool) -> list[AccountTask]:
    from offboard.storage.naming import account_part, backup_name

    present = _present(plan.destination)
    return [
        AccountTask(
            source=plan.source,
            account=account,
            destination=plan.destination,
            name=backup_name(account, plan.created_at),
            created_at=plan.created_at,
            sign_key=str(plan.sign_key),
            mapping_file=None if plan.mapping_file is None else str(plan.mapping_file),
            kinds=None if plan.kinds is None else tuple(plan.kinds),
            allow_missing_documents=plan.allow_missing_documents,
            force=plan.force,
            present=present.get(account_part(account), {}),
            store=dict(plan.store),
            jobs=plan.jobs,
            passphrase=plan.passphrase if carries_secrets else None,
            encrypt_to=plan.encrypt_to,
            resume=plan.resume,
            retention=plan.retention,
        )
        for account in accounts
    ]


def run_backup(
    plan: BackupPlan,
    executor: Executor,
    on_result: Callable[[AccountResult], None] | None = None,
) -> BackupReport:
    """Back up every account of ``plan`` with ``executor`` (closed when done); the report.

    ``on_result`` is called with each account's result as it comes. Raises only for what
    stops the whole run before any account: the source's accounts or the destination's
    archives cannot be listed, the lock folder cannot be made, a bad option.
    """
    started = time.perf_counter()
    report = BackupReport(
        source=plan.source,
        destination=plan.destination,
        created_at=plan.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        executor=executor.name,
        workers=executor.workers,
        started_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    with executor:
        if plan.mapping_file is not None:
            from offboard.sources import Mapping

            Mapping.load(plan.mapping_file)  # a bad mapping stops the run here, not per account
        tasks = _tasks(plan, _accounts(plan), executor.carries_secrets)
        folder = lock_folder(plan.destination, plan.lock_dir)
        try:
            folder.mkdir(mode=0o755, parents=True, exist_ok=True)  # never world-writable
        except OSError as exc:
            raise OutputError(f"cannot create the lock folder {str(folder)!r}: {exc}") from exc
        results = _run(tasks, executor, folder, on_result)
    report.accounts = [results[i] for i in range(len(tasks))]
    report.seconds = time.perf_counter() - started
    return report


def _run(
    tasks: list[AccountTask],
    executor: Executor,
    folder: Path,
    on_result: Callable[[AccountResult], None] | None,
) -> dict[int, AccountResult]:
    from offboard.gate.lock import lock_in

    results: dict[int, AccountResult] = {}
    held: dict[int, ExitStack] = {}
    waiting = deque(enumerate(tasks))

    def done(index: int, result: AccountResult) -> None:
        results[index] = result
        if on_result is not None:
            on_result(result)

    try:
        while waiting or held:
            while waiting and len(held) < executor.slots:
                index, task = waiting.popleft()
                lock = ExitStack()
                clock = time.perf_counter()
                try:
                    lock.enter_context(lock_in(folder, task.account))
                except AccountLocked as exc:
                    code = int(ExitCode.LOCKED)
                    done(index, AccountResult(task.account, LOCKED, error=str(exc), exit_code=code))
                    continue
                except OffboardError as exc:
                    done(index, failed(task.account, str(exc), int(exit_code_of(exc)), clock))
                    continue
                held[index] = lock
                try:
                    executor.submit(index, task)
                except Exception:
                    held.pop(index).close()
                    raise
            if held:
                index, result = executor.next_result()
                held.pop(index).close()
                done(index, result)
    finally:
        executor.close()  # before the locks go: no task of ours may still be running
        for lock in held.values():
            lock.close()
    return results


def incomplete_error(report: BackupReport, report_file: Path | None = None) -> OffboardError:
    """The error an incomplete run ends with: AccountLocked (exit 11) when every account not
    backed up or unchanged was locked by another run; NoSpace (exit 16) when an account failed
    because the disk is full (the next would fail too); else BackupIncomplete (exit 15)."""
    bad = [a for a in report.accounts if a.outcome not in (BACKED_UP, UNCHANGED)]
    first = bad[0]
    see = "" if report_file is None else f"; see {report_file}"
    full = [a for a in bad if a.exit_code == ExitCode.NO_SPACE]
    if full:
        return NoSpace(
            f"{len(bad)} of {len(report.accounts)} account(s) not backed up, no space left on "
            f"the device (first: {full[0].account}: {full[0].error}){see}"
        )
    if all(a.outcome == LOCKED for a in bad):
        return AccountLocked(
            f"{len(bad)} of {len(report.accounts)} account(s) not backed up, locked by another "
            f"run (first: {first.error}){see}"
        )
    return BackupIncomplete(
        f"{len(bad)} of {len(report.accounts)} account(s) not backed up "
        f"(first: {first.account}, {first.outcome}: {first.error}){see}"
    )


def parse_accounts(value: str) -> list[str] | None:
    """``--accounts``: ``all`` (None) or ids separated by commas."""
    if value.strip() == "all":
        return None
    ids = [a.strip() for a in value.split(",") if a.strip()]
    if not ids:
        raise ConfigError("--accounts: give all, or account ids separated by commas")
    return ids
