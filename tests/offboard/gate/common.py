"""What the termination flow's tests share: a copied demo, the commands, the database's state."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from offboard.cli import cli
from offboard.gate.failpoints import ENV as FAILPOINT_ENV

ROOT = Path(__file__).resolve().parents[3]
ACCOUNT, OTHER = "acc-0001", "acc-0002"
#: tables of the account to change, each with a text column that the export writes
#: (source table, exported table, column)
CHANGEABLE = (
    ("people", "contacts_people", "last_name"),
    ("companies", "contacts_companies", "name"),
    ("bank_transactions", "bank_transactions", "label"),
)


@dataclass(frozen=True)
class Demo:
    """A demo database of its own, with its documents, key pairs and archives.

    ``archive`` is the signed archive of ``acc-0001`` made after its cancellation (``--now``);
    ``unsigned`` the same export without a signature, ``stranger`` the same signed by another
    key, ``other_archive`` the signed archive of ``acc-0002`` (not cancelled).
    """

    root: Path

    @property
    def db(self) -> Path:
        return self.root / "demo.db"

    @property
    def documents(self) -> Path:
        return self.root / "demo-documents"

    @property
    def key(self) -> Path:
        return self.root / "operator.key"

    @property
    def pub(self) -> Path:
        return self.root / "operator.pub"

    @property
    def stranger_key(self) -> Path:
        return self.root / "stranger.key"

    @property
    def archive(self) -> Path:
        return self.root / "acc-0001.zip"

    @property
    def unsigned(self) -> Path:
        return self.root / "unsigned.zip"

    @property
    def stranger(self) -> Path:
        return self.root / "stranger.zip"

    @property
    def other_archive(self) -> Path:
        return self.root / "acc-0002.zip"

    def copy(self, root: Path) -> Demo:
        shutil.copytree(self.root, root, ignore=shutil.ignore_patterns("*.offboard-locks"))
        return Demo(root)


def export(
    demo: Demo, out: Path, account: str = ACCOUNT, *, signed: bool = True, **kw: Any
) -> Path:
    """A fresh archive of ``account`` at ``out`` (signed with the operator's key)."""
    from tests.manifests.conftest import Keys, make_archive

    keys = Keys(demo.key, demo.pub) if signed else None
    return make_archive(demo.db, out, keys, account, **kw)


def cancel_now(db: Path, account: str) -> None:
    from offboard.gate.store import open_store

    with open_store(str(db)) as store:
        store.migrate()
        store.request_cancellation(account, "closing the company", datetime.now(UTC), True)


# -- the commands ---------------------------------------------------------------------------
def invoke(*args: str | Path, env: Mapping[str, str | None] | None = None) -> Result:
    """``offboard ARGS`` in this process; stdout and stderr apart (``env``: a None unsets)."""
    return CliRunner().invoke(
        cli, [str(a) for a in args], env=dict(env or {}), catch_exceptions=False
    )


def terminate_args(
    demo: Demo,
    archive: Path | None = None,
    account: str = ACCOUNT,
    extra: Sequence[str] = (),
) -> list[str]:
    return [
        "terminate",
        str(demo.db),
        "--account",
        account,
        "--archive",
        str(archive or demo.archive),
        "--pubkey",
        str(demo.pub),
        "--sign-key",
        str(demo.key),
        *extra,
    ]


def terminate(
    demo: Demo, archive: Path | None = None, account: str = ACCOUNT, *extra: str
) -> Result:
    return invoke(*terminate_args(demo, archive, account, extra))


def terminate_process(
    demo: Demo,
    archive: Path | None = None,
    *,
    account: str = ACCOUNT,
    failpoint: str | None = None,
    extra: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python -m offboard terminate ...`` as a process of its own, killed at ``failpoint``."""
    environ = {k: v for k, v in os.environ.items() if k != FAILPOINT_ENV}
    environ |= dict(env or {})
    if failpoint is not None:
        environ[FAILPOINT_ENV] = failpoint
    return subprocess.run(
        [sys.executable, "-m", "offboard", *terminate_args(demo, archive, account, extra)],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# -- the database's state -------------------------------------------------------------------
@dataclass(frozen=True)
class GateState:
    """What the gate keeps about one account, read straight from the database."""

    status: str
    #: (state, idempotency_key, archive, archive_sha256) of each termination row
    terminations: list[tuple[str, str, str, str]]
    #: the events of the account's audit entries, oldest first
    events: list[str]
    #: the rows of the gate's tables, to compare before and after
    rows: dict[str, list[tuple[Any, ...]]] = field(repr=False)

    @property
    def done(self) -> bool:
        return [t[0] for t in self.terminations] == ["done"]

    @property
    def pending(self) -> bool:
        return [t[0] for t in self.terminations] == ["pending"]


def state(db: Path, account: str = ACCOUNT) -> GateState:
    con = sqlite3.connect(db)
    try:
        (status,) = con.execute(
            "SELECT status FROM subscriptions WHERE account_id = ? ORDER BY created_at DESC",
            (account,),
        ).fetchone()
        terminations = con.execute(
            "SELECT state, idempotency_key, archive, archive_sha256 FROM offboard_terminations "
            "WHERE account_id = ?",
            (account,),
        ).fetchall()
        events = [
            r[0]
            for r in con.execute(
                "SELECT event FROM offboard_audit_log WHERE account_id = ? ORDER BY id", (account,)
            )
        ]
        rows = {
            table: con.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
            for table in ("subscriptions", "offboard_terminations", "offboard_audit_log")
        }
    finally:
        con.close()
    return GateState(status, terminations, events, rows)


def record(db: Path, account: str = ACCOUNT) -> Any:
    from offboard.gate.store import open_store

    with open_store(str(db)) as store:
        return store.termination(account)


def audit_problems(db: Path) -> list[str]:
    from offboard.gate.store import open_store

    with open_store(str(db)) as store:
        return store.verify_audit_chain()


def execute(db: Path, sql: str, params: Sequence[Any] = ()) -> None:
    con = sqlite3.connect(db)
    try:
        with con:
            con.execute(sql, params)
    finally:
        con.close()


# -- changes to the source after an export --------------------------------------------------
def insert_copy(db: Path, table: str, account: str, suffix: str) -> str:
    """Insert a copy of the account's first row of ``table`` under a new id; the new id."""
    con = sqlite3.connect(db)
    try:
        columns = [r[1] for r in con.execute(f"PRAGMA table_info({table})")]
        row = list(
            con.execute(
                f"SELECT * FROM {table} WHERE account_id = ? ORDER BY id LIMIT 1", (account,)
            ).fetchone()
        )
        row[columns.index("id")] = new_id = f"{row[columns.index('id')]}-{suffix}"
        with con:
            con.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(row))})",
                row,
            )
    finally:
        con.close()
    return new_id


def update_text(db: Path, table: str, column: str, account: str, suffix: str) -> str:
    """Change ``column`` of the account's last row of ``table``; the row's id."""
    con = sqlite3.connect(db)
    try:
        (row_id,) = con.execute(
            f"SELECT id FROM {table} WHERE account_id = ? ORDER BY id DESC LIMIT 1", (account,)
        ).fetchone()
        with con:
            con.execute(
                f"UPDATE {table} SET {column} = {column} || ? WHERE id = ?", (suffix, row_id)
            )
    finally:
        con.close()
    return str(row_id)


def delete_one(db: Path, table: str, account: str) -> str:
    """Delete the account's row of ``table`` in the middle of its ids; the row's id."""
    con = sqlite3.connect(db)
    try:
        ids = [
            r[0]
            for r in con.execute(
                f"SELECT id FROM {table} WHERE account_id = ? ORDER BY id", (account,)
            )
        ]
        row_id = ids[len(ids) // 2]
        with con:
            con.execute(f"DELETE FROM {table} WHERE id = ?", (row_id,))
    finally:
        con.close()
    return str(row_id)


def documents_of(db: Path, account: str) -> list[tuple[str, Path]]:
    """(number, file) of the account's billing invoices that have a PDF."""
    con = sqlite3.connect(db)
    try:
        rows = con.execute(
            "SELECT number, pdf_path FROM billing_invoices WHERE account_id = ? "
            "AND pdf_path IS NOT NULL ORDER BY number",
            (account,),
        ).fetchall()
    finally:
        con.close()
    return [(number, db.with_name(f"{db.stem}-documents") / path) for number, path in rows]


# -- archives -------------------------------------------------------------------------------
def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def flip_payload_byte(src: Path, dst: Path, suffix: str) -> str:
    """Copy ``src`` to ``dst`` with one byte flipped in the stored data of the payload member
    ending in ``suffix``; the member's name."""
    data = bytearray(src.read_bytes())
    with zipfile.ZipFile(src) as zf:
        info = next(i for i in zf.infolist() if i.filename.endswith(suffix))
    header = info.header_offset
    # the local header: 30 bytes, then the name and the extra field, whose lengths end it
    name_len, extra_len = struct.unpack_from("<HH", data, header + 26)
    start = header + 30 + name_len + extra_len
    data[start + info.compress_size // 2] ^= 0x01
    dst.write_bytes(bytes(data))
    return info.filename


def replace_member(src: Path, dst: Path, suffix: str, change: Callable[[bytes], bytes]) -> str:
    """Rewrite ``src`` as ``dst`` with the member ending in ``suffix`` replaced by
    ``change(its content)`` (same name and header fields); the member's name."""
    with zipfile.ZipFile(src) as zf:
        items = [(i, zf.read(i)) for i in zf.infolist()]
    name = next(i.filename for i, _ in items if i.filename.endswith(suffix))
    with zipfile.ZipFile(dst, "w") as out:
        for info, content in items:
            out.writestr(info, change(content) if info.filename == name else content)
    return name


def receipt_files(archive: Path) -> tuple[Path, Path]:
    from offboard.gate.receipt import receipt_paths

    return receipt_paths(archive)


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
