"""One account of a backup run: :func:`backup_account`, the task every executor runs.

The task is self-contained and picklable (plain values: URLs, paths, names), so the same
function runs in a local worker process or on a Dask worker of another machine, which opens the
source, the destination and the signing key itself. It never raises: every outcome, a failure
included, comes back as an :class:`AccountResult`.

Steps: open the source and the destination; check the account; take its fingerprint
(:mod:`offboard.backup.fingerprint`); if it equals the one recorded with the account's last
archive, and that archive is still in the destination, the outcome is ``unchanged``; otherwise
export the archive into the destination (:func:`offboard.storage.store.export_to`) and record
the fingerprint with it (``destination.write_state``).
"""

from __future__ import annotations

import json
import os
import time
import traceback
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from offboard.errors import ExitCode, OffboardError, exit_code_of, no_space_cause, one_line

if TYPE_CHECKING:
    from manifests.signing import SecretKey
    from offboard.sources.base import Source
    from offboard.storage import Destination

__all__ = [
    "BACKED_UP",
    "FAILED",
    "LOCKED",
    "OUTCOMES",
    "UNCHANGED",
    "AccountResult",
    "AccountTask",
    "backup_account",
    "state_name",
]

BACKED_UP = "backed-up"
UNCHANGED = "unchanged"
FAILED = "failed"
LOCKED = "locked"
OUTCOMES = (BACKED_UP, UNCHANGED, FAILED, LOCKED)
#: the failpoint that kills the task's process just before the export (tests of dying workers)
FAILPOINT = "backup.export:{account}"


@dataclass(frozen=True)
class AccountTask:
    """Everything a worker needs to back up one account (no open handle, no secret but the
    passphrase, which local workers alone are given)."""

    source: str
    account: str
    destination: str
    #: the archive's name, ``offboard.storage.naming.backup_name(account, created_at)``
    name: str
    created_at: datetime
    sign_key: str
    mapping_file: str | None = None
    kinds: tuple[str, ...] | None = None
    allow_missing_documents: bool = False
    force: bool = False
    #: the account's archives in the destination when the run started: name -> bytes
    present: dict[str, int] = field(default_factory=dict)
    #: the destination's options (S3: lock, retain_until, legal_hold, sse, kms_key_id)
    store: dict[str, Any] = field(default_factory=dict)
    #: tables and document sets exported at once within the account
    jobs: int = 2
    passphrase: str | None = field(default=None, repr=False)
    #: age recipients (``age1...``) to encrypt the archive to
    encrypt_to: tuple[str, ...] = ()
    #: resumable: the account's work is kept until stored (:mod:`offboard.resume`)
    resume: bool = False
    #: the retention policy file (None: the default)
    retention: str | None = None


@dataclass
class AccountResult:
    """The outcome of one account (one row of the run report)."""

    account: str
    outcome: str
    #: the archive written (``backed-up``, or ``failed`` with documents missing) or matched
    archive: str | None = None
    location: str | None = None
    bytes: int = 0
    seconds: float = 0.0
    error: str | None = None
    #: the exit code ``offboard export`` would have given the failure (11 when locked)
    exit_code: int | None = None
    #: why it was backed up or skipped (what changed, or the archive it matches)
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["seconds"] = round(self.seconds, 3)
        return out


def state_name(account: str) -> str:
    """The destination's state file holding the account's last fingerprint."""
    from offboard.storage.naming import account_part

    return f"{account_part(account)}.fingerprint.json"


def failed(account: str, message: str, code: int, started: float, **more: Any) -> AccountResult:
    return AccountResult(
        account,
        FAILED,
        error=one_line(message),
        exit_code=code,
        seconds=time.perf_counter() - started,
        **more,
    )


def backup_account(task: AccountTask) -> AccountResult:
    """Back up ``task.account`` (see the module doc); never raises but on interruption."""
    started = time.perf_counter()
    try:
        return _backup(task, started)
    except OffboardError as exc:
        return failed(task.account, failure_message(exc), int(exit_code_of(exc)), started)
    except Exception as exc:
        if no_space_cause(exc) is not None:  # a full disk, wherever it was met, is not a bug
            return failed(task.account, failure_message(exc), int(ExitCode.NO_SPACE), started)
        if os.environ.get("OFFBOARD_DEBUG"):
            traceback.print_exc()
        message = f"internal error: {type(exc).__name__}: {exc} (a bug: OFFBOARD_DEBUG=1 shows it)"
        return failed(task.account, message, int(ExitCode.INTERNAL), started)


def failure_message(exc: BaseException) -> str:
    """The account's error line: the error's own, saying so when the disk was full."""
    full = no_space_cause(exc)
    if full is None:
        return str(exc)
    if not isinstance(exc, OffboardError):
        where = f" writing {full.filename}" if full.filename else ""
        return f"no space left on the device{where} ({full.strerror or full})"
    text = str(exc)
    return text if "no space" in text.lower() else f"{text} (no space left on the device)"


def _backup(task: AccountTask, started: float) -> AccountResult:
    from offboard.sources import Mapping, open_source
    from offboard.storage import open_destination

    destination = open_destination(task.destination)
    mapping = None if task.mapping_file is None else Mapping.load(Path(task.mapping_file))
    source = open_source(task.source, mapping)
    try:
        return _backup_from(task, source, destination, started)
    finally:
        source.close()


def _load_key(task: AccountTask) -> SecretKey:
    from manifests.signing import SecretKey
    from offboard.errors import KeyFileError

    def passphrase() -> str:
        if task.passphrase is not None:
            return task.passphrase
        env = os.environ.get("OFFBOARD_PASSPHRASE")
        if env is None:
            raise KeyFileError(
                f"{task.sign_key} is protected by a passphrase: set OFFBOARD_PASSPHRASE "
                "where the backup runs"
            )
        return env

    return SecretKey.load(Path(task.sign_key), passphrase)


def _backup_from(
    task: AccountTask, source: Source, destination: Destination, started: float
) -> AccountResult:
    from exporters import select
    from manifests.build import ArchiveOptions
    from manifests.metadata import iso
    from offboard.backup.fingerprint import account_fingerprint, changes
    from offboard.errors import DocumentsIncomplete
    from offboard.gate.failpoints import failpoint
    from offboard.pipeline import ExportOptions
    from offboard.storage.store import export_to

    key = _load_key(task)
    info = source.check_account(task.account)
    exporters = [cls() for cls in select(None if task.kinds is None else list(task.kinds))]
    options = {
        "kinds": sorted(e.name for e in exporters),
        "documents": True,
        "dialect": "standard",
        "key_id": key.public_key.key_id_hex,
    }
    fingerprint = account_fingerprint(source, info, exporters, options=options)
    state = _read_state(destination, task.account)
    if state is None:
        note = "first backup"
    elif state.get("fingerprint") != fingerprint:
        what = changes(state.get("fingerprint"), fingerprint)
        note = f"changed since {state.get('archive')}: {', '.join(what)}"
    elif state.get("archive") not in task.present:
        note = f"unchanged, but its last archive {state.get('archive')} is not in the destination"
    elif task.force:
        note = f"forced (unchanged since {state['archive']})"
    else:
        last = str(state["archive"])
        return AccountResult(
            task.account,
            UNCHANGED,
            archive=last,
            location=destination.describe(last),
            bytes=task.present[last],
            seconds=time.perf_counter() - started,
            note=f"unchanged since {last}",
        )
    failpoint(FAILPOINT.format(account=task.account))
    stored_name = f"{task.name}.age" if task.encrypt_to else task.name
    export_options = ExportOptions(
        kinds=None if task.kinds is None else list(task.kinds),
        allow_missing_documents=task.allow_missing_documents,
        jobs=task.jobs,
    )
    policy = None
    if task.retention is not None:
        from offboard.retention import Policy

        policy = Policy.load(Path(task.retention))
    # an archive of this very name (this account, this run's time) is an earlier run's that
    # stopped before recording it (its fingerprint could not be written: a full disk, say):
    # this run's to replace, by the same bytes when nothing changed
    overwrite = stored_name in task.present
    archive = ArchiveOptions(
        created_at=task.created_at, sign_key=key, retention=policy, overwrite=overwrite
    )
    recipients = None
    if task.encrypt_to:
        from manifests.encryption import parse_recipients

        recipients = parse_recipients(list(task.encrypt_to))
    resume = None
    if task.resume:
        from offboard.resume import prepare

        resume, export_options, prepared = prepare(
            destination.describe(task.name),
            _local_out(destination, task.name),
            task.source,
            task.account,
            export_options,
            archive,
        )
        assert prepared is not None
        archive = prepared
    try:
        summary = export_to(
            source,
            task.account,
            destination,
            task.name,
            export_options,
            archive,
            None,
            recipients,
            resume,
            **task.store,
        )
    except DocumentsIncomplete as exc:
        stored = exc.summary  # type: ignore[attr-defined]
        return failed(
            task.account,
            str(exc),
            int(exit_code_of(exc)),
            started,
            archive=stored_name,
            location=destination.describe(stored_name),
            bytes=stored.archive.archive_bytes if stored.archive is not None else 0,
            note=note,
        )
    written = summary.archive.archive_bytes if summary.archive is not None else 0
    record = {
        "account": task.account,
        "archive": stored_name,
        "created_at": iso(archive.created_at),  # UTC, as in the archive
        "bytes": written,
        "fingerprint": fingerprint,
    }
    data = json.dumps(record, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
    destination.write_state(state_name(task.account), data.encode("utf-8"))
    return AccountResult(
        task.account,
        BACKED_UP,
        archive=stored_name,
        location=destination.describe(stored_name),
        bytes=written,
        seconds=time.perf_counter() - started,
        note=note,
    )


def _local_out(destination: Destination, name: str) -> Path:
    """Where a folder destination writes ``name`` (for the resume folder beside it)."""
    from offboard.storage.local import LocalDestination

    return destination.path(name) if isinstance(destination, LocalDestination) else Path(name)


def _read_state(destination: Destination, account: str) -> dict[str, Any] | None:
    """The account's recorded fingerprint and archive, or None (none, or unreadable JSON:
    the account is then backed up, which records a good one)."""
    raw = destination.read_state(state_name(account))
    if raw is None:
        return None
    try:
        state = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(state, dict) or state.get("account") != account:
        return None
    return state
