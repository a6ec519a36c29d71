"""One run per account at a time, across processes: exports, terminations, closes, backups.

The lock is an exclusive ``flock`` on ``<folder>/<account>.lock``. The kernel releases it when
its holder closes the file or dies in any way (SIGKILL, a power cut of the machine), so a
crashed run never leaves an account locked, and the next run takes it over at once, whatever
the file says; that is why it is not a row in the database. The lock file stays in place
(removing it would let two runs lock two different files of the same name); while the lock is
held it names its holder (pid and start time), for the message another run shows. A run that
finds a lock file naming a process that is not running (or holding anything else) simply
takes the lock and writes its own name.

Where the lock file is (:func:`source_lock_folder`):

* an SQLite source: ``<database>.offboard-locks/`` beside the database (:func:`lock_dir`), for
  ``offboard export``, ``terminate`` and ``close`` alike, so that they exclude each other;
* any other source (PostgreSQL, HTTP, a plugin's): a local state folder,
  ``$XDG_STATE_HOME/offboard/locks/<SHA-256 of the source's identity>/`` (``~/.local/state``
  without XDG_STATE_HOME; :func:`source_identity`: the URL without user, password or
  documents root), so two exports of one account started on one machine exclude each other;
* ``offboard backup``: a folder of the destination's own (:mod:`offboard.backup.run`);
* or the folder given (``--lock-dir``).

The lock is refused, never followed or shared, when the folder or the file is a symbolic link
(both are opened with ``O_NOFOLLOW``), is not a folder or a regular file, is writable by every
user (the folder) or by anyone but its owner (the file), or belongs to another user: whoever
can replace or rewrite the lock file could let two runs in.

In one process, a second block on a lock already held is refused like another process, except
inside a block that took it with ``reentrant=True``, in the same thread: ``offboard close``
holds the lock from the cancellation to the receipt, and the termination it runs inside shares
it (a second ``flock`` of the same file in the same process would conflict with the first).

A child forked while the lock is held shares it: the lock ends when the last of them closes it.
``flock`` locks are not reliable on network file systems: keep the lock folder on a local disk.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import stat
import threading
import time
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from offboard.errors import AccountLocked, SourceError
from offboard.gate.failpoints import failpoint
from offboard.gate.pauses import pausepoint

__all__ = [
    "HELD_POINT",
    "account_lock",
    "lock_dir",
    "lock_in",
    "lock_name",
    "lock_path",
    "source_identity",
    "source_lock",
    "source_lock_folder",
    "state_folder",
]

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
#: characters of the account kept readable in the file name (the digest makes it unique)
_PREFIX = 40
#: the failpoint and pause point reached once a lock is taken and names its holder
HELD_POINT = "lock.held"
#: how long a refused run keeps reading a lock file that does not name a live holder yet
#: (the holder writes its name just after taking the lock)
_HOLDER_WAIT = 0.5
_DEFAULT_PORTS = {"postgresql": 5432, "http": 80, "https": 443}
#: locks held with ``reentrant=True``: (device, inode) of the lock file -> (pid, thread)
_REENTRANT: dict[tuple[int, int], tuple[int, int]] = {}


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


def state_folder(identity: str) -> Path:
    """``$XDG_STATE_HOME/offboard/locks/<SHA-256 of identity>`` (``~/.local/state`` without
    XDG_STATE_HOME): the local lock folder of what has no folder of its own to keep it in."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    digest = hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()
    return Path(state) / "offboard" / "locks" / digest


def source_identity(url: str) -> str:
    """What names one source whatever URL reaches it: scheme and host in lower case, the
    port (the scheme's default if none), the path without a trailing ``/``, the query's
    parameters sorted; no user, password or fragment, and for PostgreSQL no ``documents``
    root. A URL without a host is kept as given."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    scheme = "postgresql" if scheme == "postgres" else scheme
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    if scheme == "postgresql":
        query = [(k, v) for k, v in query if k != "documents"]
    if not parts.netloc and scheme != "postgresql":
        return url
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        return url
    host = (parts.hostname or "").lower()
    where = f"{host}:{port}" if port else host
    tail = f"?{urllib.parse.urlencode(sorted(query))}" if query else ""
    return f"{scheme}://{where}{parts.path.rstrip('/')}{tail}"


def source_lock_folder(source: str, override: Path | None = None) -> Path:
    """The folder of the account locks of a SOURCE (see the module doc): ``override`` if given,
    beside an SQLite database, else the local state folder of the source's identity."""
    if override is not None:
        return override
    from offboard.sources import scheme_of

    if scheme_of(source) == "sqlite":
        from offboard.sources.sqlite import database_path

        return lock_dir(database_path(source))
    return state_folder(source_identity(source))


@contextlib.contextmanager
def source_lock(
    source: str,
    account: str,
    *,
    folder: Path | None = None,
    reentrant: bool = False,
    now: datetime | None = None,
) -> Iterator[Path]:
    """Hold the lock of ``account`` of SOURCE for the block (the one ``offboard terminate``
    takes for an SQLite source); ``folder`` instead of :func:`source_lock_folder`'s."""
    where = source_lock_folder(source, folder)
    _make_parents(where, account)
    with lock_in(where, account, now=now, reentrant=reentrant) as path:
        yield path


@contextlib.contextmanager
def account_lock(
    source_path: Path, account: str, *, now: datetime | None = None, reentrant: bool = False
) -> Iterator[Path]:
    """Hold the account's lock for the block (yields the lock file's path).

    Raises AccountLocked at once, naming the holder, when another run (or another block of this
    process) holds it. ``now`` is the start time written for others to see (default: the clock).
    """
    with lock_in(lock_dir(source_path), account, now=now, reentrant=reentrant) as path:
        yield path


@contextlib.contextmanager
def lock_in(
    folder: Path, account: str, *, now: datetime | None = None, reentrant: bool = False
) -> Iterator[Path]:
    """:func:`account_lock` with its lock file in ``folder`` (made if missing, its parent
    must exist), for locks that are not kept beside a database (``offboard backup``'s).

    With ``reentrant``, a block nested in this one, in this thread, shares the lock instead of
    being refused. SourceError when the lock cannot be made, or is refused (see the module doc).
    """
    path = folder / lock_name(account)
    since = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    fd = _open(folder, path, account)
    try:
        st = os.fstat(fd)
        key = (st.st_dev, st.st_ino)
        me = (os.getpid(), threading.get_ident())
        if _REENTRANT.get(key) == me:
            os.close(fd)
            fd = -1
            yield path  # the enclosing block of this thread holds it, and will release it
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise SourceError(f"account {account!r}: cannot lock {str(path)!r}: {exc}") from exc
            raise AccountLocked(
                f"account {account!r} is locked by another run ({_holder(fd)}); nothing was done"
            ) from None
        holder = json.dumps({"account": account, "pid": os.getpid(), "since": since}) + "\n"
        data = holder.encode("ascii")
        try:
            os.pwrite(fd, data, 0)  # then cut: a reader never sees an empty file once it is named
            os.ftruncate(fd, len(data))
        except OSError as exc:  # a full disk: the lock is not taken, nothing else was done
            fcntl.flock(fd, fcntl.LOCK_UN)
            raise SourceError(
                f"account {account!r}: cannot write the lock {str(path)!r}: {exc.strerror or exc}"
            ) from exc
        if reentrant:
            _REENTRANT[key] = me
        try:
            failpoint(HELD_POINT)
            pausepoint(HELD_POINT)
            yield path
        finally:
            if reentrant:
                _REENTRANT.pop(key, None)
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        if fd >= 0:
            os.close(fd)


def _make_parents(folder: Path, account: str) -> None:
    """The missing folders above ``folder``, private to this user (``0700``, whatever umask)."""
    missing = [p for p in (folder.parent, *folder.parent.parents) if not p.exists()]
    try:
        for parent in reversed(missing):
            with contextlib.suppress(FileExistsError):
                parent.mkdir(mode=0o700)
    except OSError as exc:
        raise SourceError(
            f"account {account!r}: cannot create the lock folder {str(folder)!r}: {exc}"
        ) from exc


def _refused(account: str, what: Path, why: str) -> SourceError:
    return SourceError(f"account {account!r}: lock {str(what)!r} refused: {why}")


def _open(folder: Path, path: Path, account: str) -> int:
    """The lock file's descriptor, opened read-write through the folder's, neither followed
    through a symbolic link; checked (see the module doc) before anything is written to it."""
    try:
        folder.mkdir(mode=0o755, exist_ok=True)
        dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            why = "symbolic link" if folder.is_symlink() else "not a folder"
            raise _refused(account, folder, f"the lock folder is a {why}") from exc
        raise SourceError(
            f"account {account!r}: cannot create the lock {str(path)!r}: {exc}"
        ) from exc
    try:
        _check(os.fstat(dir_fd), folder, account, folder=True)
        flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
        try:
            fd = os.open(path.name, flags, 0o644, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise _refused(account, path, "it is a symbolic link (not followed)") from exc
            raise SourceError(
                f"account {account!r}: cannot create the lock {str(path)!r}: {exc}"
            ) from exc
    finally:
        os.close(dir_fd)
    try:
        _check(os.fstat(fd), path, account, folder=False)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _check(st: os.stat_result, what: Path, account: str, *, folder: bool) -> None:
    mine = os.geteuid()
    if folder:
        if not stat.S_ISDIR(st.st_mode):
            raise _refused(account, what, "the lock folder is not a folder")
        if st.st_mode & stat.S_IWOTH:
            raise _refused(
                account, what, f"the lock folder is writable by every user ({_mode(st)})"
            )
        if st.st_uid not in (mine, 0):
            raise _refused(account, what, f"the lock folder belongs to uid {st.st_uid}")
        return
    if not stat.S_ISREG(st.st_mode):
        raise _refused(account, what, "it is not a regular file")
    if st.st_uid != mine:
        raise _refused(account, what, f"it belongs to uid {st.st_uid}, not to uid {mine}")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise _refused(account, what, f"it is writable by other users ({_mode(st)})")


def _mode(st: os.stat_result) -> str:
    return f"mode {stat.S_IMODE(st.st_mode):04o}"


def _holder(fd: int) -> str:
    """Who holds the lock, as its file says. The holder writes its name just after taking the
    lock: a file naming nobody, or a process that is not running, is read again for a while."""
    deadline = time.monotonic() + _HOLDER_WAIT
    while True:
        pid, since = _named(fd)
        alive = pid is not None and _running(pid)
        if alive or time.monotonic() >= deadline:
            break
        time.sleep(0.01)
    if pid is not None and alive:
        return f"held by pid {pid} since {since}"
    if pid is not None:
        return f"held by another process; the lock file names pid {pid}, which is not running"
    return "held by another process"


def _named(fd: int) -> tuple[int | None, str | None]:
    try:
        data = json.loads(os.pread(fd, 4096, 0).decode("utf-8"))
        return int(data["pid"]), str(data["since"])
    except (OSError, ValueError, KeyError, TypeError):
        return None, None


def _running(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    except OSError:
        return False
    return True
