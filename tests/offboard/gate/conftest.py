"""Source databases for the gate's tests: the current reference schema and the schema from
before the gate (``data/schema-before-gate.sql``, the reference schema without the gate's
columns and tables), each with a few accounts in every subscription state; and for the
terminate flow, a generated demo database with its documents, keys and archives, built once
per session and copied for each test (:func:`demo`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path

import pytest

from offboard.gate import GateStore, open_store
from tests.offboard.billing.conftest import ScriptedServer, running

from .common import ACCOUNT, OTHER, Demo, cancel_now, export

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


# -- a demo database per test, for the terminate flow ---------------------------------------
@pytest.fixture(scope="session")
def demo_original(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """Built once per session: the demo (2 accounts, a few PDFs each), two key pairs,
    acc-0001 cancelled (``--now``) and then exported. Tests copy it (:func:`demo`)."""
    from offboard.demo import generate_demo
    from tests.manifests.conftest import Keys, make_archive, make_keys

    demo = Demo(tmp_path_factory.mktemp("gate-demo") / "original")
    demo.root.mkdir()
    generate_demo(demo.db, accounts=2, scale="small", seed=11, jobs=1, documents=6)
    make_keys(demo.root, "operator")
    make_keys(demo.root, "stranger")
    cancel_now(demo.db, ACCOUNT)
    export(demo, demo.archive)
    export(demo, demo.unsigned, signed=False)
    make_archive(
        demo.db,
        demo.stranger,
        Keys(demo.stranger_key, demo.stranger_key.with_suffix(".pub")),
        ACCOUNT,
    )
    export(demo, demo.other_archive, OTHER)
    return demo


@pytest.fixture
def demo(demo_original: Demo, tmp_path: Path) -> Demo:
    """A copy of the session's demo, for this test alone."""
    return demo_original.copy(tmp_path / "demo")


@pytest.fixture
def billing_server() -> Iterator[ScriptedServer]:
    """The billing tests' scripted HTTP server on 127.0.0.1."""
    with running() as srv:
        yield srv
