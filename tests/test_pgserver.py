"""The throwaway PostgreSQL server the tests use (tests/pgserver.py) really works."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import pgserver
from tests.pgserver import (
    PgServer,
    PgServerError,
    find_binaries,
    pg_server_session,  # noqa: F401  (fixture `pg_server`)
)

ROOT = Path(__file__).resolve().parent.parent


def _connectable(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(2)
        return sock.connect_ex((host, port)) == 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is dead for our purposes.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_accepts_a_connection_and_runs_select_1(pg_server: PgServer) -> None:
    assert pg_server.psql("SELECT 1") == "1\n"
    assert pg_server.psql("SELECT current_user") == "offboard\n"
    assert pg_server.url().startswith("postgresql://offboard@127.0.0.1:")
    assert pg_server.url("x").endswith(f":{pg_server.port}/x")


def test_cluster_is_utf8_locale_c_and_durability_off(pg_server: PgServer) -> None:
    out = pg_server.psql(
        "SELECT pg_encoding_to_char(encoding), datcollate, datctype "
        "FROM pg_database WHERE datname = current_database();"
        "SHOW fsync; SHOW synchronous_commit; SHOW full_page_writes;"
    )
    assert out.split() == ["UTF8|C|C", "off", "off", "off"]


def test_listens_on_loopback_only(pg_server: PgServer) -> None:
    assert pg_server.port is not None
    assert pg_server.psql("SHOW listen_addresses") == "127.0.0.1\n"
    assert _connectable("127.0.0.1", pg_server.port)
    # Bound to 127.0.0.1 itself, not to 0.0.0.0: another loopback address is refused.
    assert not _connectable("127.0.0.2", pg_server.port)
    # The unix socket lives in the server's own temporary directory.
    assert (pg_server.socket_dir / f".s.PGSQL.{pg_server.port}").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="only meaningful as root")
def test_as_root_the_server_runs_unprivileged(pg_server: PgServer) -> None:
    assert pg_server.pid is not None
    status = Path(f"/proc/{pg_server.pid}/status").read_text()
    uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
    assert "0" not in uids
    assert pg_server.root is not None
    assert pg_server.root.stat().st_uid == int(uids[0])
    assert pg_server.data_dir.stat().st_mode & 0o077 == 0


def test_create_database_and_table_round_trip(pg_server: PgServer) -> None:
    url = pg_server.create_database("roundtrip")
    assert url == pg_server.url("roundtrip")
    pg_server.psql(
        "CREATE TABLE t (id integer PRIMARY KEY, name text NOT NULL);"
        "INSERT INTO t VALUES (1, 'Hélène'), (2, 'a|b'), (3, 'émoji 🎉');",
        dbname="roundtrip",
    )
    out = pg_server.psql("SELECT id, name FROM t ORDER BY id", dbname="roundtrip")
    assert out.splitlines() == ["1|Hélène", "2|a|b", "3|émoji 🎉"]
    # Not in the default database.
    with pytest.raises(PgServerError, match="does not exist"):
        pg_server.psql("SELECT * FROM t")
    with pytest.raises(PgServerError, match="already exists"):
        pg_server.create_database("roundtrip")


def test_psql_stops_at_the_first_error(pg_server: PgServer) -> None:
    pg_server.create_database("stops")
    with pytest.raises(PgServerError, match="division by zero"):
        pg_server.psql("CREATE TABLE u (x int); SELECT 1/0; DROP TABLE u;", dbname="stops")
    assert pg_server.psql("SELECT count(*) FROM u", dbname="stops") == "0\n"


def test_text_sorts_by_bytes(pg_server: PgServer) -> None:
    out = pg_server.psql("SELECT x FROM (VALUES ('b'),('B'),('a'),('é')) v(x) ORDER BY x")
    assert out.splitlines() == ["B", "a", "b", "é"]


def test_adbc_driver_connects_if_installed(pg_server: PgServer) -> None:
    dbapi = pytest.importorskip("adbc_driver_postgresql.dbapi")
    with dbapi.connect(pg_server.url()) as conn, conn.cursor() as cur:
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)


def test_stop_removes_the_directory_and_closes_the_port() -> None:
    server = PgServer().start()
    root, port, pid = server.root, server.port, server.pid
    assert root is not None and port is not None and pid is not None
    assert root.is_dir() and _connectable("127.0.0.1", port)
    server.stop()
    assert not root.exists()
    assert not _connectable("127.0.0.1", port)
    assert not _alive(pid)
    assert not server.running
    server.stop()  # idempotent
    with pytest.raises(PgServerError, match="not started"):
        server.url()


def test_two_servers_never_share_a_port_or_directory() -> None:
    with PgServer() as one, PgServer() as two:
        assert one.port != two.port
        assert one.root != two.root
        assert one.psql("SELECT 1") == two.psql("SELECT 1") == "1\n"


def test_server_dies_with_the_test_process(tmp_path: Path) -> None:
    """Even a SIGKILLed test process leaves no server behind (the kernel's parent-death signal)."""
    script = (
        "import sys, time\n"
        "from tests.pgserver import PgServer\n"
        "s = PgServer().start()\n"
        "print(s.pid, s.port, s.root, flush=True)\n"
        "time.sleep(60)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    pid_s, port_s, root_s = child.stdout.readline().split()
    try:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        deadline = time.monotonic() + 15
        while _alive(int(pid_s)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(int(pid_s))
        assert not _connectable("127.0.0.1", int(port_s))
    finally:
        child.kill()
        shutil.rmtree(root_s, ignore_errors=True)  # atexit cannot run after SIGKILL


def test_startup_failure_reports_the_log_tail() -> None:
    with PgServer() as server:
        # A second postmaster on the same data directory must refuse to start, loudly.
        broken = PgServer(server.bindir)
        broken.root = server.root
        try:
            with pytest.raises(PgServerError, match=r"(?s)exited with code .*postmaster\.pid"):
                broken._launch(pgserver._free_port())
        finally:
            broken.root = None  # the directory belongs to `server`
        assert server.psql("SELECT 1") == "1\n"


def test_missing_binaries_skip_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pgserver, "find_binaries", lambda: None)
    with pytest.raises(pytest.skip.Exception, match=r"PostgreSQL binaries not found.*make test"):
        next(pgserver.pg_server_fixture())


def test_find_binaries_prefers_the_highest_debian_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for version in ("9.6", "13", "16", "17"):
        bindir = tmp_path / version / "bin"
        bindir.mkdir(parents=True)
        names = pgserver.BINARIES if version != "17" else ("psql",)  # 17: incomplete
        for name in names:
            exe = bindir / name
            exe.write_text("#!/bin/sh\n")
            exe.chmod(0o755)
    monkeypatch.setattr(pgserver, "DEBIAN_ROOT", tmp_path)
    assert find_binaries() == tmp_path / "16" / "bin"
