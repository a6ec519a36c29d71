"""The gate's termination records: one row per account in ``offboard_terminations``.

A row is inserted ``pending`` (with the idempotency key, the archive's name and SHA-256, the
receipt and its signature) and committed before the billing system is called, so that a rerun
after a crash sends the same key; it becomes ``done`` in the transaction in which the billing
backend updated the subscription. Triggers keep a ``done`` row final (no UPDATE, no DELETE).
Each step appends its audit entry (``termination_started``, ``terminated``) in the same
transaction. The functions here run inside the caller's transaction.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from offboard.errors import GateRefused

from . import audit

__all__ = ["DDL", "TERMINATIONS", "TerminationRecord"]

TERMINATIONS = "offboard_terminations"
COLUMNS = (
    "account_id",
    "subscription_id",
    "idempotency_key",
    "state",
    "archive",
    "archive_sha256",
    "receipt",
    "receipt_signature",
    "created_at",
    "done_at",
)
DDL = (
    f"""CREATE TABLE IF NOT EXISTS {TERMINATIONS} (
    account_id         TEXT PRIMARY KEY REFERENCES accounts(id),
    subscription_id    TEXT NOT NULL REFERENCES subscriptions(id),
    idempotency_key    TEXT NOT NULL UNIQUE,
    state              TEXT NOT NULL CHECK (state IN ('pending', 'done')),
    archive            TEXT NOT NULL,
    archive_sha256     TEXT NOT NULL,
    receipt            TEXT NOT NULL,
    receipt_signature  TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    done_at            TEXT,
    CHECK ((state = 'done') = (done_at IS NOT NULL))
)""",
    f"""CREATE TRIGGER IF NOT EXISTS {TERMINATIONS}_done_is_final
BEFORE UPDATE ON {TERMINATIONS} WHEN OLD.state = 'done'
BEGIN SELECT RAISE(ABORT, 'a done termination is final: UPDATE refused'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS {TERMINATIONS}_done_is_kept
BEFORE DELETE ON {TERMINATIONS} WHEN OLD.state = 'done'
BEGIN SELECT RAISE(ABORT, 'a done termination is final: DELETE refused'); END""",
)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
#: what the billing backends accept (it may travel as an HTTP header)
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


@dataclass(frozen=True)
class TerminationRecord:
    account_id: str
    subscription_id: str
    idempotency_key: str
    state: str  # 'pending' | 'done'
    archive: str  # the archive's file name
    archive_sha256: str
    receipt: str  # the receipt, JSON
    receipt_signature: str  # the receipt's minisign signature file, as text
    created_at: str
    done_at: str | None


def get(conn: sqlite3.Connection, account: str) -> TerminationRecord | None:
    row = conn.execute(
        f"SELECT {', '.join(COLUMNS)} FROM {TERMINATIONS} WHERE account_id = ?", (account,)
    ).fetchone()
    return TerminationRecord(*row) if row else None


def begin(
    conn: sqlite3.Connection,
    account: str,
    subscription_id: str,
    *,
    idempotency_key: str,
    archive: str,
    archive_sha256: str,
    receipt: str,
    receipt_signature: str,
    at: str,
) -> TerminationRecord:
    """Insert the ``pending`` row and the ``termination_started`` entry; a pending row with the
    same key is returned unchanged (a rerun), any other existing row is refused."""
    _check(idempotency_key, archive, archive_sha256, receipt)
    owner = conn.execute(
        "SELECT account_id FROM subscriptions WHERE id = ?", (subscription_id,)
    ).fetchone()
    if owner is None or owner[0] != account:
        raise GateRefused(
            f"account {account!r}: subscription {subscription_id!r} is not this account's"
        )
    existing = get(conn, account)
    if existing is not None:
        if existing.state == "pending" and existing.idempotency_key == idempotency_key:
            return existing
        raise GateRefused(
            f"account {account!r}: a termination is already {existing.state} "
            f"(idempotency key {existing.idempotency_key!r}, archive {existing.archive!r})"
        )
    values = [account, subscription_id, idempotency_key, "pending", archive, archive_sha256]
    try:
        conn.execute(
            f"INSERT INTO {TERMINATIONS} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * 10)})",
            (*values, receipt, receipt_signature, at, None),
        )
    except sqlite3.IntegrityError as exc:  # the idempotency key of another account
        raise GateRefused(f"account {account!r}: termination refused: {exc}") from exc
    detail = {"archive": archive, "archive_sha256": archive_sha256, "key": idempotency_key}
    audit.append(conn, account, subscription_id, "termination_started", detail, at)
    record = get(conn, account)
    assert record is not None
    return record


def finish(
    conn: sqlite3.Connection, account: str, at: str, detail: dict[str, Any] | None = None
) -> TerminationRecord:
    """Set the row ``done`` and append ``terminated`` (with ``detail``); a row already done is
    returned unchanged."""
    record = get(conn, account)
    if record is None:
        raise GateRefused(f"account {account!r}: no termination was begun")
    if record.state == "done":
        return record
    conn.execute(
        f"UPDATE {TERMINATIONS} SET state = 'done', done_at = ? "
        "WHERE account_id = ? AND state = 'pending'",
        (at, account),
    )
    entry = (detail or {}) | {
        "archive": record.archive,
        "archive_sha256": record.archive_sha256,
        "key": record.idempotency_key,
        # the signed receipt itself, so that the hash-chained log holds it as well
        "receipt": record.receipt,
        "receipt_signature": record.receipt_signature,
    }
    audit.append(conn, account, record.subscription_id, "terminated", entry, at)
    done = get(conn, account)
    assert done is not None
    return done


def _check(key: str, archive: str, sha256: str, receipt: str) -> None:
    if not _IDEMPOTENCY_KEY.match(key):
        raise ValueError("idempotency_key: 1 to 255 visible ASCII characters")
    if not _SHA256.match(sha256):
        raise ValueError("archive_sha256: 64 lower-case hex digits")
    if archive in ("", ".", "..") or Path(archive).name != archive or "\x00" in archive:
        raise ValueError(f"archive {archive!r}: a file name, without a folder")
    try:
        is_object = isinstance(json.loads(receipt), dict)
    except ValueError:
        is_object = False
    if not is_object:
        raise ValueError("receipt: not a JSON object")
