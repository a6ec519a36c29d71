"""A real, throwaway PostgreSQL server for the tests.

Debian's ``postgresql`` package provides the binaries (``make test`` installs it); each server gets
its own temporary directory (``initdb`` there, unix socket there) and its own free port on
127.0.0.1, so several pytest-xdist workers can each run one side by side. Nothing listens beyond
loopback. ``initdb``/``postgres`` refuse to run as root: as root they run as the ``postgres``
system user (or ``nobody``), which owns the temporary directory.

Use from a conftest or a test module::

    from tests.pgserver import pg_server_session  # noqa: F401  (provides fixture `pg_server`)

(or ``pytest_plugins = ["tests.pgserver"]`` in tests/conftest.py), then ask for ``pg_server``;
or build your own fixture around :func:`pg_server_fixture` / :class:`PgServer`.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import pytest

SUPERUSER = "offboard"
HOST = "127.0.0.1"
# Every binary the helpers use; Debian ships them all in /usr/lib/postgresql/<version>/bin.
BINARIES = ("initdb", "pg_ctl", "postgres", "pg_isready", "psql", "createdb")
DEBIAN_ROOT = Path("/usr/lib/postgresql")
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
SKIP_REASON = (
    "PostgreSQL binaries not found: run `make test`, which installs Debian's postgresql "
    "(or `apt-get install postgresql`); CI must have them"
)
# What the postmaster logs when another process took the port between our probe and its bind.
_PORT_TAKEN = re.compile(r"could not (bind|create listen socket)|Address already in use")
_PR_SET_PDEATHSIG = 1


class PgServerError(RuntimeError):
    """The server could not be set up, started or queried."""


class _PortTaken(PgServerError):
    """Another process bound the port first; start() retries with another one."""


def _has_binaries(folder: Path) -> bool:
    return all(os.access(folder / name, os.X_OK) for name in BINARIES)


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.name)) or (-1,)


def find_binaries() -> Path | None:
    """The folder holding ``initdb``, ``pg_ctl``, ``postgres`` (and the client tools), or None.

    Debian's ``/usr/lib/postgresql/<version>/bin`` first, highest version first; then PATH.
    """
    if DEBIAN_ROOT.is_dir():
        versions = sorted(
            (p for p in DEBIAN_ROOT.iterdir() if (p / "bin").is_dir()),
            key=_version_key,
            reverse=True,
        )
        for version in versions:
            if _has_binaries(version / "bin"):
                return version / "bin"
    initdb = shutil.which("initdb")
    if initdb is not None:
        folder = Path(initdb).resolve().parent
        if _has_binaries(folder):
            return folder
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _server_user() -> pwd.struct_passwd | None:
    """The unprivileged account to run the server as when we are root, else None (ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise PgServerError("running as root, but neither a 'postgres' nor a 'nobody' user exists")


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask the kernel to SIGQUIT (immediate shutdown) the server if the test process dies."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGQUIT, 0, 0, 0)


def _client_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(PGCLIENTENCODING="UTF8", PGCONNECT_TIMEOUT="5")
    return env


class PgServer:
    """One PostgreSQL cluster in a temporary directory, listening on 127.0.0.1 only.

    ``start()`` (or ``with PgServer() as pg:``) runs initdb and starts the server; ``stop()``
    shuts it down and removes the directory. Superuser ``offboard``, trust auth, UTF8, locale C
    (text sorts by bytes, like SQLite), durability off (fsync, synchronous_commit,
    full_page_writes) for speed.
    """

    def __init__(self, bindir: Path | None = None, *, base_dir: Path | None = None) -> None:
        found = bindir if bindir is not None else find_binaries()
        if found is None:
            raise PgServerError(SKIP_REASON)
        self.bindir = found
        self.base_dir = base_dir
        self.root: Path | None = None
        self.port: int | None = None
        self.startup_seconds: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._user = _server_user()

    # -- paths ----------------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return self._root / "data"

    @property
    def socket_dir(self) -> Path:
        return self._root / "socket"

    @property
    def log_path(self) -> Path:
        return self._root / "server.log"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def _root(self) -> Path:
        if self.root is None:
            raise PgServerError("server not started")
        return self.root

    def _bin(self, name: str) -> str:
        return str(self.bindir / name)

    # -- lifecycle ------------------------------------------------------------------------
    @property
    def _uid(self) -> int | None:
        return self._user.pw_uid if self._user is not None else None

    @property
    def _gid(self) -> int | None:
        return self._user.pw_gid if self._user is not None else None

    @property
    def _groups(self) -> list[int] | None:
        return [] if self._user is not None else None  # drop root's supplementary groups

    def _server_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "LC_", "LANG"))}
        env.update(LC_ALL="C", HOME=str(self._root))
        return env

    def start(self) -> PgServer:
        if self.root is not None:
            raise PgServerError("server already started")
        began = time.monotonic()
        self.root = Path(tempfile.mkdtemp(prefix="offboard-pg-", dir=self.base_dir))
        atexit.register(self.stop)
        try:
            if self._user is not None:
                os.chown(self.root, self._user.pw_uid, self._user.pw_gid)
            self.root.chmod(0o700)
            self._initdb()
            for attempt in range(5):
                try:
                    self._launch(_free_port())
                    break
                except _PortTaken:
                    if attempt == 4:
                        raise
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        return self

    def _initdb(self) -> None:
        cmd = [
            self._bin("initdb"),
            "-D",
            str(self.data_dir),
            "--auth=trust",
            f"--username={SUPERUSER}",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        ]
        result = subprocess.run(
            cmd,
            cwd=self._root,
            env=self._server_env(),
            capture_output=True,
            text=True,
            check=False,
            user=self._uid,
            group=self._gid,
            extra_groups=self._groups,
        )
        if result.returncode != 0:
            raise PgServerError(
                f"initdb failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}"
            )

    def _launch(self, port: int) -> None:
        self.socket_dir.mkdir(mode=0o700, exist_ok=True)
        if self._user is not None:
            os.chown(self.socket_dir, self._user.pw_uid, self._user.pw_gid)
        cmd = [
            self._bin("postgres"),
            "-D",
            str(self.data_dir),
            "-h",
            HOST,
            "-p",
            str(port),
            "-k",
            str(self.socket_dir),
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ]
        # The pdeath signal is tied to the thread that forks: only safe from the main thread.
        on_main = threading.current_thread() is threading.main_thread()
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                cmd,
                cwd=self._root,
                env=self._server_env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C in the terminal reaches pytest, not the server
                preexec_fn=_die_with_parent if on_main else None,
                user=self._uid,
                group=self._gid,
                extra_groups=self._groups,
            )
        self.port = port
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        proc = self._proc
        assert proc is not None and self.port is not None
        while True:
            code = proc.poll()
            if code is not None:
                self._proc = None
                tail = self.log_tail()
                if _PORT_TAKEN.search(tail):
                    raise _PortTaken(tail)
                raise PgServerError(
                    f"postgres exited with code {code} during startup; log tail:\n{tail}"
                )
            ready = subprocess.run(
                [
                    self._bin("pg_isready"),
                    "-q",
                    "-h",
                    HOST,
                    "-p",
                    str(self.port),
                    "-U",
                    SUPERUSER,
                    "-d",
                    "postgres",
                    "-t",
                    "1",
                ],
                env=_client_env(),
                capture_output=True,
                check=False,
            )
            if ready.returncode == 0:
                return
            if time.monotonic() > deadline:
                self._kill()
                raise PgServerError(
                    f"postgres did not accept connections on {HOST}:{self.port} within "
                    f"{START_TIMEOUT:.0f} s; log tail:\n{self.log_tail()}"
                )
            time.sleep(0.05)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except (OSError, PgServerError):
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:])

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT)  # "fast" shutdown, what `pg_ctl stop -m fast` sends
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def stop(self) -> None:
        """Shut the server down and remove its directory (idempotent)."""
        self._kill()
        root, self.root = self.root, None
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)
        self.port = None
        atexit.unregister(self.stop)

    def __enter__(self) -> PgServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- clients ----------------------------------------------------------------------------
    def url(self, dbname: str = "postgres") -> str:
        if self.port is None:
            raise PgServerError("server not started")
        return f"postgresql://{SUPERUSER}@{HOST}:{self.port}/{dbname}"

    def _conn_args(self, dbname: str) -> list[str]:
        if self.port is None:
            raise PgServerError("server not started")
        return ["-h", HOST, "-p", str(self.port), "-U", SUPERUSER, "-d", dbname]

    def create_database(self, name: str) -> str:
        """Create database ``name`` (UTF8, locale C like the cluster); returns its URL."""
        if self.port is None:
            raise PgServerError("server not started")
        cmd = [self._bin("createdb"), "-h", HOST, "-p", str(self.port), "-U", SUPERUSER, name]
        result = subprocess.run(cmd, env=_client_env(), capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise PgServerError(f"createdb {name!r} failed: {result.stderr.strip()}")
        return self.url(name)

    def psql(self, sql: str, dbname: str = "postgres") -> str:
        """Run ``sql`` (one or more statements) with psql, stopping at the first error.

        Returns psql's stdout in unaligned, tuples-only form (rows one a line, columns joined by
        ``|``); raises PgServerError with psql's stderr on failure.
        """
        cmd = [
            self._bin("psql"),
            "-X",  # no ~/.psqlrc
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            *self._conn_args(dbname),
            "-f",
            "-",
        ]
        result = subprocess.run(
            cmd,
            input=sql,
            env=_client_env(),
            capture_output=True,
            text=True,
            encoding="utf-8",
            check=False,
        )
        if result.returncode != 0:
            raise PgServerError(f"psql failed (exit {result.returncode}): {result.stderr.strip()}")
        return result.stdout


def pg_server_fixture() -> Iterator[PgServer]:
    """Body of a session fixture: a started server, or a loud skip if PostgreSQL is missing.

    Under pytest-xdist each worker runs its own (own directory, own port).
    """
    bindir = find_binaries()
    if bindir is None:
        pytest.skip(SKIP_REASON)
    with PgServer(bindir) as server:
        yield server


@pytest.fixture(scope="session", name="pg_server")
def pg_server_session() -> Iterator[PgServer]:
    """A running PostgreSQL server shared by the session (one per xdist worker)."""
    yield from pg_server_fixture()
