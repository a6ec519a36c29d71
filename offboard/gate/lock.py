"""One termination run per account at a time, across processes.

The lock is an exclusive ``flock`` on ``<database>.offboard-locks/<account>.lock`` beside the
source database. The kernel releases it when its holder closes the file or dies in any way
(SIGKILL, a power cut of the machine), so a crashed run never leaves an account locked; that is
why it is not a row in the database. The lock file stays in place (removing it would let two
runs lock two different files of the same name); while the lock is held it names its holder
(pid and start time), for the message another run shows.

A child forked while the lock is held shares it: the lock ends when the last of them closes it.
``flock`` locks are not reliable on network file systems: keep the database on a local disk.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from offboard.errors import AccountLocked, SourceError

__all__ = ["account_lock", "lock_dir", "lock_in", "lock_name", "lock_path"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
#: characters of the account kept readable in the file name (the digest makes it unique)
_PREFIX = 40


def lock_dir(source_path: Path) -> Path:
    """The folder of the lock files of a database: ``<database>.offboard-locks``, beside the
    database file itself (links resolved: every name of one database shares its locks)."""
    real = source_path.resolve()
    return real.with_name(real.name + ".offboard-locks")


def lock_name(account: str) -> str:
    """A safe, distinct file name for any account name.

    A readable prefix (letters, digits, ``_`` and ``-``; anything else becomes ``_``) followed by
    the SHA-256 of the exact name: no separator, no dot, no ``..``, no hidden or reserved name,
    and distinct accounts get distinct names even on a case-insensitive file system.
    """
    digest = hashlib.sha256(account.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    prefix = _UNSAFE.sub("_", account[:_PREFIX]) or "account"
    return f"{prefix}-{digest}.lock"


def lock_path(source_path: Path, account: str) -> Path:
    return lock_dir(source_path) / lock_name(account)


def _holder(fd: int) -> str:
    try:
        data = json.loads(os.pread(fd, 4096, 0).decode("utf-8"))
        return f"held by pid {int(data['pid'])} since {data['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "held by another process"


@contextlib.contextmanager
def account_lock(source_path: Path, account: str, *, now: datetime | None = None) -> Iterator[Path]:
    """Hold the account's lock for the block (yields the lock file's path).

    Raises AccountLocked at once, naming the holder, when another run (or another block of this
    process) holds it. ``now`` is the start time written for others to see (default: the clock).
    """
    with lock_in(lock_dir(source_path), account, now=now) as path:
        yield path


@contextlib.contextmanager
def lock_in(folder: Path, account: str, *, now: datetime | None = None) -> Iterator[Path]:
    """:func:`account_lock` with its lock file in ``folder`` (made if missing, its parent
    must exist), for locks that are not kept beside a database (``offboard backup``'s)."""
    path = folder / lock_name(account)
    since = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        folder.mkdir(exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        raise SourceError(
            f"account {account!r}: cannot create the lock {str(path)!r}: {exc}"
        ) from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise SourceError(f"account {account!r}: cannot lock {str(path)!r}: {exc}") from exc
            raise AccountLocked(
                f"account {account!r} is locked by another run ({_holder(fd)}); nothing was done"
            ) from None
        holder = json.dumps({"account": account, "pid": os.getpid(), "since": since})
        os.ftruncate(fd, 0)
        os.pwrite(fd, (holder + "\n").encode("ascii"), 0)
        try:
            yield path
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
