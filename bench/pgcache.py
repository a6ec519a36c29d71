"""A PostgreSQL server for the benchmarks, on a data directory kept in .bench/ between runs.

Like ``tests/pgserver.py`` (which starts a throw-away server in a temporary directory), but the
data directory persists, so that the large demo account is loaded once: initdb on the first
run (again if the installed server's version changed), the server run as the ``postgres`` user
when root, on 127.0.0.1 and a free port, with a temporary socket folder; always stopped.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from archive import CACHE

HOST = "127.0.0.1"
DATABASE = "large"
LOADED = CACHE / "pgdata.loaded"
SUPERUSER = "offboard"
DATA = CACHE / "pgdata"
LOG = CACHE / "pgdata.log"
DEBIAN_ROOT = Path("/usr/lib/postgresql")
START_TIMEOUT = 60.0
STOP_TIMEOUT = 120.0
#: durability off (a benchmark cache, rebuilt from .bench/large.db if lost); WAL roomy for the load
SERVER_SETTINGS = (
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
    "max_wal_size=8GB",
)


# -- the server -----------------------------------------------------------------------------
def bindir() -> Path:
    """Debian's /usr/lib/postgresql/<highest version>/bin, else the folder of initdb on PATH."""
    if DEBIAN_ROOT.is_dir():
        found = sorted(
            (p / "bin" for p in DEBIAN_ROOT.iterdir() if (p / "bin" / "postgres").exists()),
            key=lambda p: [int(n) for n in re.findall(r"\d+", p.parent.name)],
        )
        if found:
            return found[-1]
    initdb = shutil.which("initdb")
    if initdb is None:
        raise SystemExit("PostgreSQL not found: `make system-deps` installs Debian's postgresql")
    return Path(initdb).resolve().parent


def server_user() -> pwd.struct_passwd | None:
    """The account initdb and postgres run as when we are root (they refuse root), else None."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise SystemExit("running as root, but there is no 'postgres' user") from None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent() -> None:  # runs in the child, after the switch to the server's user
    with contextlib.suppress(Exception):
        ctypes.CDLL(None).prctl(1, signal.SIGQUIT, 0, 0, 0)  # PR_SET_PDEATHSIG


class Server:
    """A PostgreSQL server on the persistent data directory DATA, listening on loopback only."""

    def __init__(self) -> None:
        self.bindir = bindir()
        self.user = server_user()
        self.port = free_port()
        self.socket_dir = Path(tempfile.mkdtemp(prefix="offboard-bench-pg-"))
        self.proc: subprocess.Popen[bytes] | None = None

    def _as_server(self) -> dict[str, Any]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "LC_", "LANG"))}
        env.update(LC_ALL="C", HOME=str(DATA.parent))
        if self.user is None:
            return {"env": env}
        return {
            "env": env,
            "user": self.user.pw_uid,
            "group": self.user.pw_gid,
            "extra_groups": [],
        }

    def _chown(self, path: Path) -> None:
        if self.user is not None:
            os.chown(path, self.user.pw_uid, self.user.pw_gid)

    def initdb(self) -> None:
        """A new cluster in DATA (replacing a broken one or one of another major version)."""
        shutil.rmtree(DATA, ignore_errors=True)
        LOADED.unlink(missing_ok=True)
        DATA.mkdir(mode=0o700, parents=True)
        self._chown(DATA)
        cmd = [str(self.bindir / "initdb"), "-D", str(DATA), "--auth=trust"]
        cmd += [f"--username={SUPERUSER}", "--encoding=UTF8", "--locale=C", "--no-sync"]
        done = subprocess.run(
            cmd, capture_output=True, text=True, check=False, cwd=DATA, **self._as_server()
        )
        if done.returncode != 0:
            raise SystemExit(f"initdb failed:\n{done.stdout}\n{done.stderr}")

    def start(self) -> None:
        version = (
            (DATA / "PG_VERSION").read_text().strip() if (DATA / "PG_VERSION").exists() else ""
        )
        if version != self.bindir.parent.name.split(".")[0]:
            print(f"initdb {DATA.relative_to(CACHE.parent)} (cached)...", flush=True)
            self.initdb()
        self._chown(self.socket_dir)
        self.socket_dir.chmod(0o700)
        cmd = [str(self.bindir / "postgres"), "-D", str(DATA), "-h", HOST, "-p", str(self.port)]
        cmd += ["-k", str(self.socket_dir)]
        for setting in SERVER_SETTINGS:
            cmd += ["-c", setting]
        with LOG.open("ab") as log:
            self.proc = subprocess.Popen(
                cmd,
                cwd=DATA,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C reaches the bench, which stops the server
                preexec_fn=_die_with_parent,
                **self._as_server(),
            )
        deadline = time.monotonic() + START_TIMEOUT
        ready = [str(self.bindir / "pg_isready"), "-q", "-h", HOST, "-p", str(self.port)]
        ready += ["-U", SUPERUSER, "-d", "postgres", "-t", "1"]
        while subprocess.run(ready, check=False).returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"postgres did not start; see {LOG}:\n{tail(LOG)}")
            time.sleep(0.1)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # fast shutdown
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(self.socket_dir, ignore_errors=True)

    def url(self, database: str = DATABASE) -> str:
        return f"postgresql://{SUPERUSER}@{HOST}:{self.port}/{database}"

    def psql(self, *args: str, database: str = DATABASE) -> list[str]:
        """The psql command line on ``database``: no psqlrc, stop at the first error."""
        connect = ["-h", HOST, "-p", str(self.port), "-U", SUPERUSER, "-d", database]
        return [str(self.bindir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", *connect, *args]


@contextlib.contextmanager
def running() -> Iterator[Server]:
    server = Server()
    try:
        server.start()
        yield server
    finally:
        server.stop()


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# -- the data -------------------------------------------------------------------------------
