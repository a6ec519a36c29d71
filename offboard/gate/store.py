"""The termination gate's state, kept in the source database itself.

A :class:`GateStore` is a writable stdlib ``sqlite3`` connection to the source database (opened
from the same SOURCE forms as the export), in autocommit mode: every change runs in an explicit
``BEGIN IMMEDIATE`` transaction (:meth:`GateStore.transaction`), so that the gate's records and
the billing backend's ``UPDATE`` commit together or not at all.

:meth:`GateStore.migrate` adds what the gate needs to a database in the reference schema: four
columns on ``subscriptions``, the append-only ``offboard_audit_log`` (a SHA-256 hash chain over
the whole database) and ``offboard_terminations`` (one row per terminated account, with the
idempotency key sent to the billing system). See docs/reference-schema.md.

Every timestamp is UTC ``YYYY-MM-DDTHH:MM:SSZ``, every date the UTC calendar date of ``now``;
``now`` is always given by the caller.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from offboard.errors import (
    ConfigError,
    GateRefused,
    RecordError,
    SchemaError,
    SourceError,
    SourceUnavailable,
    UnknownAccount,
)
from offboard.sources.sqlite import database_path

from . import audit, terminations
from .audit import AuditEntry
from .terminations import TerminationRecord

__all__ = ["AuditEntry", "GateStore", "Subscription", "TerminationRecord", "open_store"]

ACTIVE, PAST_DUE = "active", "past_due"
CANCELLATION_REQUESTED, TERMINATED = "cancellation_requested", "terminated"
MAX_REASON = 500
AUDIT, TERMINATIONS = audit.AUDIT, terminations.TERMINATIONS

SUBSCRIPTION_COLUMNS = (
    "cancellation_reason",
    "cancellation_requested_at",
    "cancellation_effective_on",
    "terminated_at",
)
_DDL = (
    *audit.DDL,
    *terminations.DDL,
)
_OBJECT_NAME = re.compile(r"\bEXISTS (\w+)")
_SUB_SELECT = (
    f"SELECT id, account_id, status, plan, current_period_end, {', '.join(SUBSCRIPTION_COLUMNS)} "
    "FROM subscriptions"
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: bidirectional embeddings, overrides and isolates: they make a text read otherwise than stored
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@dataclass(frozen=True)
class Subscription:
    id: str
    account_id: str
    status: str
    plan: str
    current_period_end: str
    cancellation_reason: str | None
    cancellation_requested_at: str | None
    cancellation_effective_on: str | None
    terminated_at: str | None


def utc_timestamp(now: datetime) -> str:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware, got {now!r}")
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_reason(reason: str | None) -> str | None:
    """The cancellation reason, stripped (None when empty); ConfigError naming ``--reason``."""
    if reason is None or not reason.strip():
        return None
    reason = reason.strip()
    if len(reason) > MAX_REASON:
        raise ConfigError(f"--reason: at most {MAX_REASON} characters (got {len(reason)})")
    for ch in reason:
        if unicodedata.category(ch) in ("Cc", "Zl", "Zp") or ch in _BIDI:
            raise ConfigError(f"--reason: control character U+{ord(ch):04X} refused")
    return reason


def open_store(url_or_path: str, *, busy_timeout_ms: int = 5000) -> GateStore:
    """Open the source database read-write for the gate (SourceError naming the path)."""
    path = database_path(url_or_path)
    uri = "file:" + urllib.parse.quote(str(path.resolve())) + "?mode=rw"
    try:
        conn = sqlite3.connect(uri, uri=True, isolation_level=None)
    except sqlite3.Error as exc:
        raise SourceError(f"source {str(path)!r}: cannot open for writing: {exc}") from exc
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        conn.close()
        raise SourceError(f"source {str(path)!r}: not a usable SQLite database: {exc}") from exc
    return GateStore(conn, path)


class GateStore:
    """The gate's lifecycle records and audit log in the source database."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path

    @property
    def conn(self) -> sqlite3.Connection:
        """The writable connection, for the billing backend inside :meth:`transaction`."""
        return self._conn

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> GateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions and errors --------------------------------------------------------------
    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as exc:
            message = str(exc)
            where = f"source {str(self.path)!r}: {what}"
            if "locked" in message or "busy" in message:
                raise SourceUnavailable(f"{where}: {message}") from exc
            if "no such" in message:
                raise SchemaError(f"{where}: {message} (run the gate's migration)") from exc
            raise SourceError(f"{where}: {message}") from exc

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE``, then ``COMMIT``, or ``ROLLBACK`` when the block raises.

        Not re-entrant: the gate's methods that need one of their own say so.
        """
        if self._conn.in_transaction:
            raise RuntimeError("GateStore.transaction(): a transaction is already open")
        with self._errors("cannot start a write transaction"):
            self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
            with self._errors("cannot commit"):
                self._conn.execute("COMMIT")
        except BaseException:
            if self._conn.in_transaction:
                with suppress(sqlite3.Error):  # never hide the error that caused the rollback
                    self._conn.execute("ROLLBACK")
            raise

    def _require_transaction(self, what: str) -> None:
        if not self._conn.in_transaction:
            raise RuntimeError(f"GateStore.{what}() must run inside GateStore.transaction()")

    # -- schema -------------------------------------------------------------------------------
    def migrate(self) -> list[str]:
        """Add the gate's columns, tables, index and triggers where missing, in one transaction;
        return what was added (empty when the database was up to date)."""
        added: list[str] = []
        with self.transaction() as conn, self._errors("migration"):
            columns = [r[1] for r in conn.execute("PRAGMA table_info(subscriptions)")]
            if not columns:
                raise SchemaError(f"source {str(self.path)!r}: no table 'subscriptions'")
            for name in SUBSCRIPTION_COLUMNS:
                if name not in columns:
                    conn.execute(f"ALTER TABLE subscriptions ADD COLUMN {name} TEXT")
                    added.append(f"column subscriptions.{name}")
            known = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            for ddl in _DDL:
                match = _OBJECT_NAME.search(ddl)
                assert match is not None
                if match.group(1) not in known:
                    conn.execute(ddl)
                    added.append(f"{ddl.split()[1].lower()} {match.group(1)}")
            for table, wanted in (
                (AUDIT, list(audit.COLUMNS)),
                (TERMINATIONS, list(terminations.COLUMNS)),
            ):
                have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
                missing = [c for c in wanted if c not in have]
                if missing:
                    raise SchemaError(
                        f"source {str(self.path)!r}: table {table!r} lacks {', '.join(missing)}"
                    )
        return added

    # -- subscriptions ------------------------------------------------------------------------
    def subscription(self, account: str) -> Subscription | None:
        """The account's subscription: the one not terminated, else the latest terminated one
        (latest by ``created_at``, then ``id``); None when the account has none."""
        with self._errors(f"account {account!r}"):
            row = self._conn.execute(
                f"{_SUB_SELECT} WHERE account_id = ? "
                "ORDER BY status = 'terminated', created_at DESC, id DESC LIMIT 1",
                (account,),
            ).fetchone()
        return Subscription(*row) if row else None

    def request_cancellation(
        self, account: str, reason: str | None, now: datetime, immediately: bool
    ) -> Subscription:
        """Record the account's request to cancel (in a transaction of its own).

        The cancellation takes effect at the end of the paid period (``current_period_end``, or
        today if that is already past), or today when ``immediately``. A second request keeps the
        first one unchanged, unless ``immediately`` makes it take effect earlier.
        """
        reason = check_reason(reason)
        stamp = utc_timestamp(now)
        today = now.astimezone(UTC).date()
        with self.transaction():
            sub = self.subscription(account)
            if sub is None:
                exists = self._conn.execute(
                    "SELECT 1 FROM accounts WHERE id = ?", (account,)
                ).fetchone()
                if not exists:
                    raise UnknownAccount(account)
                raise GateRefused(f"account {account!r} has no subscription: nothing to cancel")
            if sub.status == TERMINATED:
                raise GateRefused(
                    f"account {account!r}: subscription {sub.id!r} is already terminated "
                    f"({sub.terminated_at or 'date unknown'})"
                )
            if sub.status == CANCELLATION_REQUESTED:
                previous = _parse_date(
                    sub.cancellation_effective_on, sub, "cancellation_effective_on"
                )
                if not immediately or today >= previous:
                    return sub
                effective = today
                fields: dict[str, str | None] = {"cancellation_effective_on": effective.isoformat()}
                event = "cancellation_advanced"
                detail: dict[str, Any] = {"previous_effective_on": previous.isoformat()}
            elif sub.status in (ACTIVE, PAST_DUE):
                period_end = _parse_date(sub.current_period_end, sub, "current_period_end")
                effective = today if immediately else max(period_end, today)
                fields = {
                    "status": CANCELLATION_REQUESTED,
                    "cancellation_reason": reason,
                    "cancellation_requested_at": stamp,
                    "cancellation_effective_on": effective.isoformat(),
                }
                event = "cancellation_requested"
                detail = {"previous_status": sub.status, "requested_at": stamp}
            else:
                raise GateRefused(
                    f"account {account!r}: subscription {sub.id!r} has the unknown status "
                    f"{sub.status!r}"
                )
            sets = ", ".join(f"{name} = ?" for name in fields)
            with self._errors(f"subscription {sub.id!r}"):
                self._conn.execute(
                    f"UPDATE subscriptions SET {sets}, updated_at = ? WHERE id = ?",
                    (*fields.values(), stamp, sub.id),
                )
            detail |= {
                "current_period_end": sub.current_period_end,
                "effective_on": effective.isoformat(),
                "immediately": immediately,
                "reason": reason,
            }
            self.append_audit(account, sub.id, event, detail, now=now)
            updated = self.subscription(account)
        assert updated is not None
        return updated

    # -- audit log ----------------------------------------------------------------------------
    def append_audit(
        self,
        account: str,
        subscription_id: str | None,
        event: str,
        detail: dict[str, Any],
        *,
        now: datetime,
    ) -> AuditEntry:
        """Append one entry to the hash chain, inside the caller's :meth:`transaction`."""
        self._require_transaction("append_audit")
        with self._errors("audit log"):
            return audit.append(
                self._conn, account, subscription_id, event, detail, utc_timestamp(now)
            )

    def audit(self, account: str) -> list[AuditEntry]:
        """The account's audit entries, oldest first."""
        with self._errors("audit log"):
            return audit.entries(self._conn, account)

    def verify_audit_chain(self) -> list[str]:
        """Every problem of the audit log (a broken link, a changed or removed entry, a missing
        trigger); empty when the chain is sound."""
        with self._errors("audit log"):
            return audit.verify_chain(self._conn)

    # -- termination records (see offboard.gate.terminations) ---------------------------------
    def termination(self, account: str) -> TerminationRecord | None:
        with self._errors("terminations"):
            return terminations.get(self._conn, account)

    def begin_termination(
        self,
        account: str,
        subscription_id: str,
        *,
        idempotency_key: str,
        archive: str,
        archive_sha256: str,
        receipt: str,
        receipt_signature: str,
        now: datetime,
    ) -> TerminationRecord:
        """Insert the account's ``pending`` termination and its audit entry
        ``termination_started``, inside the caller's :meth:`transaction`: commit it before
        calling the billing system, so that the idempotency key is kept whatever happens then.

        A pending termination with the same key is returned unchanged (a rerun); any other
        termination of the account is refused (GateRefused).
        """
        self._require_transaction("begin_termination")
        with self._errors("terminations"):
            return terminations.begin(
                self._conn,
                account,
                subscription_id,
                idempotency_key=idempotency_key,
                archive=archive,
                archive_sha256=archive_sha256,
                receipt=receipt,
                receipt_signature=receipt_signature,
                at=utc_timestamp(now),
            )

    def finish_termination(
        self, account: str, now: datetime, detail: dict[str, Any] | None = None
    ) -> TerminationRecord:
        """Mark the account's termination ``done`` and append the audit entry ``terminated``
        (with ``detail``, e.g. the billing system's reference), inside the caller's
        :meth:`transaction`: the one in which the billing backend updated the subscription.
        A termination already done is returned unchanged."""
        self._require_transaction("finish_termination")
        with self._errors("terminations"):
            return terminations.finish(self._conn, account, utc_timestamp(now), detail)


def _parse_date(text: str | None, sub: Subscription, column: str) -> date:
    try:
        if text is not None and _DATE.match(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise RecordError(
        f"table 'subscriptions', record id={sub.id!r}: column {column!r} value {text!r} "
        "is not a date 'YYYY-MM-DD'"
    )
