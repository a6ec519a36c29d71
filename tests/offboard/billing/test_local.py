from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from offboard.billing import BillingContext, BillingResult, get_backend
from offboard.billing.local import LocalBilling
from offboard.errors import BillingRejected, ConfigError, OffboardError, SchemaError
from tests.tinydb import ACCOUNT, OTHER, TS, schema_sql

from .common import make_request

NOW = datetime(2025, 4, 1, 9, 30, 5, tzinfo=UTC)


def _db(*, terminated_at: bool = False) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.executescript(schema_sql())
    columns = {row[1] for row in conn.execute("PRAGMA table_info(subscriptions)")}
    if terminated_at and "terminated_at" not in columns:
        conn.execute("ALTER TABLE subscriptions ADD COLUMN terminated_at TEXT")
    for acc in (ACCOUNT, OTHER):
        conn.execute(
            "INSERT INTO accounts VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                acc,
                acc,
                "732829320",
                "FR44732829320",
                "a@x.test",
                "1 rue A",
                "75001",
                "Paris",
                "FR",
                TS,
            ),
        )
        conn.execute(
            "INSERT INTO subscriptions (id, account_id, plan, seats, status, monthly_price_ht, "
            "currency, started_on, current_period_start, current_period_end, created_at, "
            "updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (f"sub-{acc}", acc, "standard", 3, "active", "29.00", "EUR", "2024-01-01",
             "2025-03-01", "2025-03-31", TS, TS),
        )  # fmt: skip
    return conn


@pytest.fixture
def conn() -> Iterator[sqlite3.Connection]:
    connection = _db()
    connection.execute("BEGIN IMMEDIATE")
    yield connection
    connection.close()


def _backend() -> LocalBilling:
    backend = get_backend("local")(BillingContext(options={}, env={}))
    assert isinstance(backend, LocalBilling)
    backend.clock = lambda: NOW
    return backend


def _row(conn: sqlite3.Connection, sub: str) -> tuple[str, str]:
    row = conn.execute(
        "SELECT status, updated_at FROM subscriptions WHERE id = ?", (sub,)
    ).fetchone()
    return (row[0], row[1])


def test_terminates_inside_the_callers_transaction_without_committing(
    conn: sqlite3.Connection,
) -> None:
    result = _backend().terminate(make_request(), conn)
    assert result == BillingResult(backend="local", reference=f"sub-{ACCOUNT}", replayed=False)
    assert _row(conn, f"sub-{ACCOUNT}") == ("terminated", "2025-04-01T09:30:05Z")
    assert _row(conn, f"sub-{OTHER}") == ("active", TS)
    assert conn.in_transaction  # not committed: the gate decides
    conn.execute("ROLLBACK")
    assert _row(conn, f"sub-{ACCOUNT}") == ("active", TS)


def test_sets_terminated_at_when_the_column_exists() -> None:
    conn = _db(terminated_at=True)
    conn.execute("BEGIN IMMEDIATE")
    _backend().terminate(make_request(), conn)
    assert conn.execute(
        "SELECT terminated_at FROM subscriptions WHERE id = ?", (f"sub-{ACCOUNT}",)
    ).fetchone() == ("2025-04-01T09:30:05Z",)
    assert conn.execute(
        "SELECT terminated_at FROM subscriptions WHERE id = ?", (f"sub-{OTHER}",)
    ).fetchone() == (None,)


def test_already_terminated_is_a_replay_and_changes_nothing(conn: sqlite3.Connection) -> None:
    first = _backend()
    first.terminate(make_request(), conn)
    later = _backend()
    later.clock = lambda: datetime(2025, 5, 1, tzinfo=UTC)
    result = later.terminate(make_request(), conn)
    assert result == BillingResult(backend="local", reference=f"sub-{ACCOUNT}", replayed=True)
    assert _row(conn, f"sub-{ACCOUNT}") == ("terminated", "2025-04-01T09:30:05Z")


@pytest.mark.parametrize(
    ("account", "subscription"),
    [(ACCOUNT, "sub-missing"), (ACCOUNT, f"sub-{OTHER}"), ("acc-nobody", f"sub-{ACCOUNT}")],
)
def test_a_subscription_not_of_this_account_is_rejected(
    conn: sqlite3.Connection, account: str, subscription: str
) -> None:
    request = make_request(account=account, subscription_id=subscription)
    with pytest.raises(BillingRejected) as caught:
        _backend().terminate(request, conn)
    assert account in str(caught.value) and subscription in str(caught.value)
    assert _row(conn, f"sub-{OTHER}") == ("active", TS)
    assert _row(conn, f"sub-{ACCOUNT}") == ("active", TS)


def test_refuses_a_connection_outside_a_transaction() -> None:
    conn = _db()
    with pytest.raises(OffboardError, match="not inside a transaction"):
        _backend().terminate(make_request(), conn)
    assert _row(conn, f"sub-{ACCOUNT}") == ("active", TS)


def test_a_source_without_subscriptions_is_a_schema_error() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    with pytest.raises(SchemaError, match="subscriptions"):
        _backend().terminate(make_request(), conn)


def test_takes_no_options() -> None:
    with pytest.raises(ConfigError, match="unknown option 'url'"):
        LocalBilling(BillingContext(options={"url": "http://127.0.0.1/"}, env={}))
