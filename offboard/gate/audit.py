"""The gate's audit log: an append-only table, hash-chained over the whole database.

Each entry's ``hash`` is the SHA-256 (hex) of its ``prev_hash`` (the hash of the entry before it,
or 64 zeros for the first one) followed by the canonical JSON (:func:`canonical_json`) of the
object ``{"account_id", "at", "detail", "event", "id", "subscription_id"}``, ``detail`` being
the stored text. Triggers refuse any UPDATE or DELETE; an entry changed or removed behind their
back (the triggers dropped, the file edited) breaks the chain, which :func:`verify_chain`
reports. Entries are numbered 1, 2, 3... with no gap (AUTOINCREMENT never reuses a number), so
a removed entry shows even at the end of the log, through ``sqlite_sequence``.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from dataclasses import dataclass
from typing import Any

__all__ = ["AUDIT", "DDL", "GENESIS_HASH", "AuditEntry", "canonical_json", "entry_hash"]

AUDIT = "offboard_audit_log"
#: the ``prev_hash`` of the first entry
GENESIS_HASH = "0" * 64
COLUMNS = ("id", "account_id", "subscription_id", "at", "event", "detail", "prev_hash", "hash")
TRIGGERS = (f"{AUDIT}_no_update", f"{AUDIT}_no_delete")
DDL = (
    f"""CREATE TABLE IF NOT EXISTS {AUDIT} (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id       TEXT NOT NULL,
    subscription_id  TEXT,
    at               TEXT NOT NULL,
    event            TEXT NOT NULL,
    detail           TEXT NOT NULL,
    prev_hash        TEXT NOT NULL,
    hash             TEXT NOT NULL UNIQUE
)""",
    f"CREATE INDEX IF NOT EXISTS {AUDIT}_account ON {AUDIT}(account_id, id)",
    f"""CREATE TRIGGER IF NOT EXISTS {TRIGGERS[0]} BEFORE UPDATE ON {AUDIT}
BEGIN SELECT RAISE(ABORT, '{AUDIT} is append-only: UPDATE refused'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS {TRIGGERS[1]} BEFORE DELETE ON {AUDIT}
BEGIN SELECT RAISE(ABORT, '{AUDIT} is append-only: DELETE refused'); END""",
)
_EVENT = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM {AUDIT}"


@dataclass(frozen=True)
class AuditEntry:
    id: int
    account_id: str
    subscription_id: str | None
    at: str  # 'YYYY-MM-DDTHH:MM:SSZ' UTC
    event: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str


def canonical_json(value: Any) -> str:
    """Sorted keys, compact separators, UTF-8 characters kept as they are, no NaN."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def entry_hash(
    prev_hash: str,
    entry_id: int,
    account_id: str,
    subscription_id: str | None,
    at: str,
    event: str,
    detail: str,
) -> str:
    """SHA-256 (hex) of ``prev_hash`` followed by the canonical JSON of the entry's content."""
    content = canonical_json(
        {
            "account_id": account_id,
            "at": at,
            "detail": detail,
            "event": event,
            "id": entry_id,
            "subscription_id": subscription_id,
        }
    )
    return hashlib.sha256((prev_hash + content).encode("utf-8")).hexdigest()


def _next_number(conn: sqlite3.Connection) -> tuple[int, str]:
    last = conn.execute(f"SELECT id, hash FROM {AUDIT} ORDER BY id DESC LIMIT 1").fetchone()
    seq = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (AUDIT,)).fetchone()
    number = max(last[0] if last else 0, seq[0] if seq else 0) + 1
    return number, (last[1] if last else GENESIS_HASH)


def append(
    conn: sqlite3.Connection,
    account: str,
    subscription_id: str | None,
    event: str,
    detail: dict[str, Any],
    at: str,
) -> AuditEntry:
    """Append one entry; ``conn`` must be inside a write transaction (the chain's tail is read
    and extended under SQLite's write lock, so that two writers can never fork it)."""
    if not conn.in_transaction:
        raise RuntimeError("the audit log is appended to inside a transaction only")
    if not _EVENT.match(event):
        raise ValueError(f"audit event {event!r}: lower-case letters, digits and _ only")
    text = canonical_json(detail)
    number, prev = _next_number(conn)
    digest = entry_hash(prev, number, account, subscription_id, at, event, text)
    conn.execute(
        f"INSERT INTO {AUDIT} ({', '.join(COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (number, account, subscription_id, at, event, text, prev, digest),
    )
    return AuditEntry(number, account, subscription_id, at, event, detail, prev, digest)


def entries(conn: sqlite3.Connection, account: str) -> list[AuditEntry]:
    """The account's entries, oldest first."""
    rows = conn.execute(f"{_SELECT} WHERE account_id = ? ORDER BY id", (account,)).fetchall()
    return [AuditEntry(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6], r[7]) for r in rows]


def verify_chain(conn: sqlite3.Connection) -> list[str]:
    """Every problem found: a missing trigger, a broken link, a changed or removed entry."""
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    if AUDIT not in names:
        return [f"audit log: table {AUDIT} is missing"]
    problems = [
        f"audit log: trigger {t} is missing (the log is no longer append-only)"
        for t in TRIGGERS
        if t not in names
    ]
    prev_id, prev_hash = 0, GENESIS_HASH
    for number, account, sub_id, at, event, detail, stored_prev, stored in conn.execute(
        f"{_SELECT} ORDER BY id"
    ):
        where = f"audit log entry {number}"
        if number != prev_id + 1:
            problems.append(f"audit log: entries {prev_id + 1} to {number - 1} were removed")
        if stored_prev != prev_hash:
            of = f"the hash of entry {prev_id}" if prev_id else "the genesis hash"
            problems.append(f"{where}: broken link (its prev_hash is not {of})")
        text = str(detail)
        if entry_hash(str(stored_prev), number, account, sub_id, at, event, text) != stored:
            problems.append(f"{where}: changed (its hash does not match its content)")
        elif not _is_canonical(text):
            problems.append(f"{where}: its detail is not canonical JSON")
        prev_id, prev_hash = number, stored
    seq = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (AUDIT,)).fetchone()
    if seq and seq[0] > prev_id:
        problems.append(
            f"audit log: entries up to {seq[0]} were written but the log ends at {prev_id} "
            "(its last entries were removed)"
        )
    return problems


def _is_canonical(text: str) -> bool:
    try:
        return canonical_json(json.loads(text)) == text
    except ValueError:
        return False
