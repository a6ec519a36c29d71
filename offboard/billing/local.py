"""The ``local`` billing backend: the source database's own ``subscriptions`` table.

For a SaaS whose billing lives in the same database as the data (the demo's case), terminating
is one ``UPDATE`` through the gate's connection, inside the gate's transaction: the status
change commits together with the gate's own records, or not at all.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime

from offboard.errors import BillingRejected, OffboardError, SchemaError

from .base import BillingBackend, BillingContext, BillingResult, TerminationRequest

TERMINATED = "terminated"


def utc_now() -> datetime:
    return datetime.now(UTC)


class LocalBilling(BillingBackend):
    """Sets ``subscriptions.status`` to ``'terminated'`` (and ``terminated_at`` when present).

    ``updated_at`` and ``terminated_at`` get the time of the write (``clock``, UTC, to the
    second). The table keeps no idempotency key, so a subscription of this account found
    already terminated is reported as a replay.
    """

    name = "local"

    def __init__(self, context: BillingContext) -> None:
        super().__init__(context)
        self.clock: Callable[[], datetime] = utc_now

    def terminate(self, request: TerminationRequest, conn: sqlite3.Connection) -> BillingResult:
        if not conn.in_transaction:
            raise OffboardError(
                "local billing: the connection is not inside a transaction "
                "(the gate begins one before terminating)"
            )
        columns = {row[1] for row in conn.execute("PRAGMA table_info(subscriptions)")}
        if not columns:
            raise SchemaError("local billing: the source has no subscriptions table")
        missing = {"id", "account_id", "status", "updated_at"} - columns
        if missing:
            raise SchemaError(
                f"local billing: subscriptions lacks the column(s) {', '.join(sorted(missing))}"
            )
        now = self.clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        assignments = "status = :terminated, updated_at = :now"
        if "terminated_at" in columns:
            assignments += ", terminated_at = :now"
        params = {
            "terminated": TERMINATED,
            "now": now,
            "sub": request.subscription_id,
            "acc": request.account,
        }
        cursor = conn.execute(
            f"UPDATE subscriptions SET {assignments} "
            "WHERE id = :sub AND account_id = :acc AND status != :terminated",
            params,
        )
        if cursor.rowcount > 0:
            return self._result(request, replayed=False)
        row = conn.execute(
            "SELECT status FROM subscriptions WHERE id = :sub AND account_id = :acc", params
        ).fetchone()
        if row is not None and row[0] == TERMINATED:
            return self._result(request, replayed=True)
        raise BillingRejected(
            f"local billing: account {request.account!r} has no subscription "
            f"{request.subscription_id!r}"
        )

    def _result(self, request: TerminationRequest, *, replayed: bool) -> BillingResult:
        reference = request.subscription_id
        return BillingResult(backend=self.name, reference=reference, replayed=replayed)
