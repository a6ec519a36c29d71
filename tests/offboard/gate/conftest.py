"""Source databases for the gate's tests: the current reference schema and the schema from
before the gate (``data/schema-before-gate.sql``, the reference schema without the gate's
columns and tables), each with a few accounts in every subscription state."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path

import pytest

from offboard.gate import GateStore, open_store

NOW = datetime(2026, 10, 31, 9, 30, 0, tzinfo=UTC)
NOW_TS = "2026-10-31T09:30:00Z"
CREATED = "2024-09-12T08:00:00Z"
OLD_SCHEMA = Path(__file__).with_name("data") / "schema-before-gate.sql"

#: (subscription id, account, status, current_period_end, created_at)
SUBSCRIPTIONS = [
    ("sub-0001", "acc-0001", "active", "2026-11-30", CREATED),
    ("sub-0002", "acc-0002", "past_due", "2026-11-30", CREATED),
    ("sub-0003", "acc-0003", "terminated", "2026-09-30", CREATED),
    ("sub-0005a", "acc-0005", "terminated", "2025-06-30", "2024-01-05T08:00:00Z"),
    ("sub-0005b", "acc-0005", "active", "2026-11-30", "2025-07-01T08:00:00Z"),
    ("sub-0006", "acc-0006", "active", "2026-09-30", CREATED),  # period already over
]
ACCOUNTS = ["acc-0001", "acc-0002", "acc-0003", "acc-0004", "acc-0005", "acc-0006"]


def current_schema() -> str:
    return (files("offboard.demo") / "schema.sql").read_text(encoding="utf-8")


def make_db(path: Path, schema: str) -> Path:
    """A database in ``schema`` with ``ACCOUNTS`` and ``SUBSCRIPTIONS`` (acc-0004 has none)."""
    con = sqlite3.connect(path)
    con.executescript(schema)
    for acc in ACCOUNTS:
        con.execute(
            "INSERT INTO accounts (id, name, siren, vat_number, email, address_line1, "
            "postal_code, city, country, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                acc,
                f"Société {acc}",
                "732829320",
                "FR44732829320",
                "a@x.test",
                "1 rue A",
                "75001",
                "Paris",
                "FR",
                CREATED,
            ),
        )
    for sub, acc, status, period_end, created in SUBSCRIPTIONS:
        con.execute(
            "INSERT INTO subscriptions (id, account_id, plan, seats, status, monthly_price_ht, "
            "currency, started_on, current_period_start, current_period_end, created_at, "
            "updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                sub,
                acc,
                "standard",
                2,
                status,
                "78.00",
                "EUR",
                created[:10],
                period_end[:8] + "01",
                period_end,
                created,
                created,
            ),
        )
    con.commit()
    con.close()
    return path


@pytest.fixture
def old_db(tmp_path: Path) -> Path:
    return make_db(tmp_path / "old.db", OLD_SCHEMA.read_text(encoding="utf-8"))


@pytest.fixture
def new_db(tmp_path: Path) -> Path:
    return make_db(tmp_path / "new.db", current_schema())


@pytest.fixture
def store(new_db: Path) -> Iterator[GateStore]:
    with open_store(str(new_db)) as s:
        s.migrate()
        yield s
