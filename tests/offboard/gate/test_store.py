from __future__ import annotations

import shutil
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from offboard.errors import (
    ConfigError,
    ExitCode,
    GateRefused,
    RecordError,
    SchemaError,
    SourceError,
    SourceUnavailable,
    UnknownAccount,
)
from offboard.gate import GateStore, open_store
from offboard.gate.store import MAX_REASON, SUBSCRIPTION_COLUMNS

from .conftest import NOW, NOW_TS, OLD_SCHEMA

GATE_OBJECTS = {
    "offboard_audit_log",
    "offboard_audit_log_account",
    "offboard_audit_log_no_update",
    "offboard_audit_log_no_delete",
    "offboard_terminations",
    "offboard_terminations_done_is_final",
    "offboard_terminations_done_is_kept",
}


def columns(db: Path, table: str) -> list[str]:
    con = sqlite3.connect(db)
    try:
        return [r[1] for r in con.execute(f"PRAGMA table_info({table})")]
    finally:
        con.close()


def objects(db: Path) -> set[str]:
    con = sqlite3.connect(db)
    try:
        return {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
    finally:
        con.close()


def row(store: GateStore, sql: str, *params: object) -> tuple[object, ...]:
    result = store.conn.execute(sql, params).fetchone()
    assert result is not None
    return tuple(result)


# -- opening ----------------------------------------------------------------------------------
def test_open_store_accepts_the_export_source_forms(
    new_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for suffix in (".sqlite", ".sqlite3"):
        shutil.copy(new_db, tmp_path / f"copy{suffix}")
    for source, path in [
        ("sqlite:///new.db", Path("new.db")),
        (f"sqlite:///{new_db}", new_db),  # sqlite:/// + an absolute path: sqlite:////abs.db
        (str(new_db), new_db),
        ("new.db", Path("new.db")),
        ("copy.sqlite", Path("copy.sqlite")),
        ("copy.sqlite3", Path("copy.sqlite3")),
    ]:
        with open_store(source) as store:
            assert store.path == path
            assert row(store, "SELECT count(*) FROM accounts") == (6,)


def test_open_store_is_writable_with_explicit_transactions(new_db: Path) -> None:
    with open_store(f"sqlite:///{new_db}", busy_timeout_ms=1234) as store:
        assert store.conn.isolation_level is None
        assert row(store, "PRAGMA foreign_keys") == (1,)
        assert row(store, "PRAGMA busy_timeout") == (1234,)
        with store.transaction() as conn:
            conn.execute("UPDATE accounts SET city = 'Lyon' WHERE id = 'acc-0001'")
    con = sqlite3.connect(new_db)
    assert con.execute("SELECT city FROM accounts WHERE id = 'acc-0001'").fetchone() == ("Lyon",)
    con.close()


@pytest.mark.parametrize("name", ["missing.db", "text.db", "folder.db"])
def test_open_store_refuses_what_is_not_a_database(tmp_path: Path, name: str) -> None:
    (tmp_path / "text.db").write_text("not a database\n" * 10)
    (tmp_path / "folder.db").mkdir()
    with pytest.raises(SourceError) as err:
        open_store(str(tmp_path / name))
    assert str(tmp_path / name) in str(err.value)
    assert err.value.exit_code == ExitCode.SOURCE
    assert not (tmp_path / "missing.db").exists()  # never created by the attempt


@pytest.mark.parametrize("source", ["postgres://db.example/x", "notes.txt", "sqlite:/x.db"])
def test_open_store_refuses_other_sources(source: str) -> None:
    with pytest.raises(SourceError, match="source"):
        open_store(source)


# -- migration --------------------------------------------------------------------------------
def test_migrate_an_old_database_adds_everything_once(old_db: Path) -> None:
    assert not set(SUBSCRIPTION_COLUMNS) & set(columns(old_db, "subscriptions"))
    with open_store(str(old_db)) as store:
        added = store.migrate()
        assert [a for a in added if a.startswith("column ")] == [
            f"column subscriptions.{c}" for c in SUBSCRIPTION_COLUMNS
        ]
        assert {a.split()[1] for a in added if not a.startswith("column ")} == GATE_OBJECTS
        assert store.migrate() == []
        assert store.migrate() == []
        sub = store.subscription("acc-0001")
        assert sub is not None and sub.status == "active" and sub.cancellation_reason is None
        assert row(store, "PRAGMA integrity_check") == ("ok",)
    assert set(SUBSCRIPTION_COLUMNS) <= set(columns(old_db, "subscriptions"))
    assert objects(old_db) >= GATE_OBJECTS


def test_migrate_a_current_database_is_idempotent(new_db: Path) -> None:
    with open_store(str(new_db)) as store:
        store.migrate()
        before = objects(new_db), columns(new_db, "subscriptions")
        assert store.migrate() == []
        assert (objects(new_db), columns(new_db, "subscriptions")) == before
        assert store.verify_audit_chain() == []


def test_migrate_is_one_transaction(old_db: Path) -> None:
    con = sqlite3.connect(old_db)
    con.execute("CREATE TABLE offboard_terminations (account_id TEXT PRIMARY KEY)")
    con.commit()
    con.close()
    with open_store(str(old_db)) as store, pytest.raises(SchemaError, match="idempotency_key"):
        store.migrate()
    # nothing of the failed migration is left: no column, no audit table
    assert not set(SUBSCRIPTION_COLUMNS) & set(columns(old_db, "subscriptions"))
    assert "offboard_audit_log" not in objects(old_db)


def test_migrate_needs_a_subscriptions_table(tmp_path: Path) -> None:
    db = tmp_path / "empty.db"
    sqlite3.connect(db).execute("CREATE TABLE t (x)").connection.close()
    with open_store(str(db)) as store, pytest.raises(SchemaError, match="subscriptions"):
        store.migrate()


def test_the_gate_needs_the_migration(old_db: Path) -> None:
    with open_store(str(old_db)) as store, pytest.raises(SchemaError, match="migration"):
        store.subscription("acc-0001")


def test_migrate_and_cancel_on_a_generated_demo_database(demo_db: Path, tmp_path: Path) -> None:
    db = shutil.copy(demo_db, tmp_path / "demo.db")
    with open_store(str(db)) as store:
        store.migrate()
        assert store.migrate() == []
        sub = store.request_cancellation("acc-0001", "Fermeture", NOW, immediately=False)
        assert sub.status == "cancellation_requested"
        assert sub.cancellation_effective_on == max(sub.current_period_end, NOW.date().isoformat())
        assert store.verify_audit_chain() == []


# -- subscriptions and cancellation -----------------------------------------------------------
def test_subscription_prefers_the_one_not_terminated(store: GateStore) -> None:
    sub = store.subscription("acc-0005")
    assert sub is not None and sub.id == "sub-0005b"
    store.conn.execute("UPDATE subscriptions SET status = 'terminated' WHERE id = 'sub-0005b'")
    sub = store.subscription("acc-0005")
    assert sub is not None and sub.id == "sub-0005b"  # both terminated: the latest created
    store.conn.execute("UPDATE subscriptions SET created_at = '2020-01-01T00:00:00Z'")
    sub = store.subscription("acc-0005")
    assert sub is not None and sub.id == "sub-0005b"  # same creation time: the greatest id
    assert store.subscription("acc-0004") is None
    assert store.subscription("acc-9999") is None


def test_cancellation_takes_effect_at_the_end_of_the_paid_period(store: GateStore) -> None:
    sub = store.request_cancellation("acc-0001", "  Cessation d'activité  ", NOW, False)
    assert (sub.status, sub.cancellation_reason) == (
        "cancellation_requested",
        "Cessation d'activité",
    )
    assert sub.cancellation_requested_at == NOW_TS
    assert sub.cancellation_effective_on == "2026-11-30"
    assert sub.terminated_at is None
    assert row(store, "SELECT updated_at FROM subscriptions WHERE id = 'sub-0001'") == (NOW_TS,)
    [entry] = store.audit("acc-0001")
    assert (entry.event, entry.subscription_id, entry.at) == (
        "cancellation_requested",
        "sub-0001",
        NOW_TS,
    )
    assert entry.detail == {
        "current_period_end": "2026-11-30",
        "effective_on": "2026-11-30",
        "immediately": False,
        "previous_status": "active",
        "reason": "Cessation d'activité",
        "requested_at": NOW_TS,
    }


def test_cancellation_immediately_takes_effect_today(store: GateStore) -> None:
    sub = store.request_cancellation("acc-0001", None, NOW, immediately=True)
    assert sub.cancellation_effective_on == "2026-10-31"
    assert sub.cancellation_reason is None
    assert store.audit("acc-0001")[0].detail["immediately"] is True


def test_past_due_is_cancelled_like_active(store: GateStore) -> None:
    sub = store.request_cancellation("acc-0002", "Impayés", NOW, False)
    assert (sub.status, sub.cancellation_effective_on) == ("cancellation_requested", "2026-11-30")
    assert store.audit("acc-0002")[0].detail["previous_status"] == "past_due"


def test_a_period_already_over_takes_effect_today(store: GateStore) -> None:
    sub = store.request_cancellation("acc-0006", None, NOW, False)
    assert sub.cancellation_effective_on == "2026-10-31"


def test_dates_and_times_are_utc(store: GateStore) -> None:
    paris = datetime(2026, 10, 31, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    sub = store.request_cancellation("acc-0001", None, paris, immediately=True)
    assert sub.cancellation_effective_on == "2026-10-30"  # 01:30 at UTC+2 is the 30th in UTC
    assert sub.cancellation_requested_at == "2026-10-30T23:30:00Z"


def test_a_second_request_keeps_the_first(store: GateStore) -> None:
    first = store.request_cancellation("acc-0001", "premier", NOW, False)
    again = store.request_cancellation("acc-0001", "second", NOW + timedelta(days=3), False)
    assert again == first
    assert len(store.audit("acc-0001")) == 1


def test_a_later_immediate_request_moves_the_date_earlier(store: GateStore) -> None:
    store.request_cancellation("acc-0001", "premier", NOW, False)
    later = NOW + timedelta(days=2)
    sub = store.request_cancellation("acc-0001", "urgent", later, immediately=True)
    assert sub.cancellation_effective_on == "2026-11-02"
    assert (sub.cancellation_reason, sub.cancellation_requested_at) == ("premier", NOW_TS)
    assert row(store, "SELECT updated_at FROM subscriptions WHERE id = 'sub-0001'") == (
        "2026-11-02T09:30:00Z",
    )
    entries = store.audit("acc-0001")
    assert [e.event for e in entries] == ["cancellation_requested", "cancellation_advanced"]
    assert entries[1].detail["previous_effective_on"] == "2026-11-30"
    assert entries[1].detail["reason"] == "urgent"
    # already effective today: a further immediate request changes nothing
    assert store.request_cancellation("acc-0001", None, later, immediately=True) == sub
    assert len(store.audit("acc-0001")) == 2


@pytest.mark.parametrize(
    "reason",
    [
        "a\nb",
        "tab\there",
        "nul\x00",
        "\x1b[31mred",
        "\x7f",
        "rtl \u202e override",
        "a\u2028b",
        "x" * (MAX_REASON + 1),
    ],
)
def test_bad_reasons_are_refused_before_anything_changes(store: GateStore, reason: str) -> None:
    with pytest.raises(ConfigError, match="--reason") as err:
        store.request_cancellation("acc-0001", reason, NOW, False)
    assert err.value.exit_code == ExitCode.USAGE
    sub = store.subscription("acc-0001")
    assert sub is not None and sub.status == "active"
    assert store.audit("acc-0001") == []


@pytest.mark.parametrize(
    ("reason", "stored"),
    [
        ("Départ à la retraite 👩\u200d🌾", "Départ à la retraite 👩\u200d🌾"),
        ("=HYPERLINK(1)", "=HYPERLINK(1)"),
        ("y" * MAX_REASON, "y" * MAX_REASON),
        ("   ", None),
        ("", None),
    ],
)
def test_good_reasons_are_kept(store: GateStore, reason: str, stored: str | None) -> None:
    sub = store.request_cancellation("acc-0001", reason, NOW, False)
    assert sub.cancellation_reason == stored


@pytest.mark.parametrize(
    ("account", "code", "why"),
    [
        ("acc-9999", ExitCode.UNKNOWN_ACCOUNT, "account 'acc-9999' not found in the source"),
        ("acc-0004", ExitCode.REFUSED, "'acc-0004' has no subscription"),
        ("acc-0003", ExitCode.REFUSED, "'acc-0003': subscription 'sub-0003' is already terminated"),
    ],
)
def test_cancellation_refusals(store: GateStore, account: str, code: ExitCode, why: str) -> None:
    with pytest.raises((GateRefused, UnknownAccount), match=why) as err:
        store.request_cancellation(account, None, NOW, True)
    assert err.value.exit_code == code
    assert store.audit(account) == []
    assert not store.conn.in_transaction


def test_a_malformed_period_end_names_the_record(store: GateStore) -> None:
    store.conn.execute("UPDATE subscriptions SET current_period_end = '30/11/2026'")
    with pytest.raises(RecordError, match=r"sub-0001.*current_period_end"):
        store.request_cancellation("acc-0001", None, NOW, False)


def test_now_must_carry_a_time_zone(store: GateStore) -> None:
    with pytest.raises(ValueError, match="timezone"):
        store.request_cancellation("acc-0001", None, NOW.replace(tzinfo=None), False)


# -- transactions -----------------------------------------------------------------------------
def test_transaction_rolls_back_on_error(store: GateStore) -> None:
    with pytest.raises(KeyError), store.transaction() as conn:
        conn.execute("UPDATE subscriptions SET status = 'terminated'")
        store.append_audit("acc-0001", "sub-0001", "test_event", {}, now=NOW)
        raise KeyError("boom")
    assert not store.conn.in_transaction
    assert store.audit("acc-0001") == []
    assert row(store, "SELECT count(*) FROM subscriptions WHERE status = 'terminated'") == (2,)


def test_transaction_is_not_reentrant(store: GateStore) -> None:
    with store.transaction(), pytest.raises(RuntimeError, match="already open"):
        store.request_cancellation("acc-0001", None, NOW, False)


def test_a_database_locked_by_another_writer_is_retriable(new_db: Path) -> None:
    other = sqlite3.connect(new_db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with open_store(str(new_db), busy_timeout_ms=0) as store:
            with pytest.raises(SourceUnavailable, match="locked") as err:
                store.migrate()
            assert err.value.retriable
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_old_schema_file_is_the_schema_without_the_gate() -> None:
    text = OLD_SCHEMA.read_text(encoding="utf-8")
    assert "CREATE TABLE subscriptions" in text
    assert "offboard_" not in text and "cancellation_reason" not in text
