from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from typing import Any

import pytest

from offboard.errors import GateRefused
from offboard.gate import GateStore, TerminationRecord

from .conftest import NOW, NOW_TS

SHA = "ab" * 32
RECEIPT = json.dumps({"account": "acc-0001", "archive_sha256": SHA})
SIGNATURE = "untrusted comment: signature\nRWQ...\ntrusted comment: x\nabc\n"
LATER = NOW + timedelta(minutes=5)


def begin(store: GateStore, account: str = "acc-0001", **changes: Any) -> TerminationRecord:
    args: dict[str, Any] = {
        "idempotency_key": f"term-{account}-1",
        "archive": f"{account}.zip",
        "archive_sha256": SHA,
        "receipt": RECEIPT,
        "receipt_signature": SIGNATURE,
        "now": NOW,
    }
    args |= changes
    subscription = args.pop("subscription_id", f"sub-{account[4:]}")
    with store.transaction():
        return store.begin_termination(account, subscription, **args)


def billing_update(store: GateStore, subscription: str) -> None:
    store.conn.execute(
        "UPDATE subscriptions SET status = 'terminated', terminated_at = ?, updated_at = ? "
        "WHERE id = ?",
        ("2026-10-31T09:35:00Z", "2026-10-31T09:35:00Z", subscription),
    )


def test_begin_then_finish(store: GateStore) -> None:
    assert store.termination("acc-0001") is None
    record = begin(store)
    assert record == TerminationRecord(
        "acc-0001",
        "sub-0001",
        "term-acc-0001-1",
        "pending",
        "acc-0001.zip",
        SHA,
        RECEIPT,
        SIGNATURE,
        NOW_TS,
        None,
    )
    assert store.termination("acc-0001") == record
    with store.transaction():
        billing_update(store, "sub-0001")
        done = store.finish_termination("acc-0001", LATER, {"billing": "local"})
    assert (done.state, done.done_at) == ("done", "2026-10-31T09:35:00Z")
    sub = store.subscription("acc-0001")
    assert sub is not None and sub.status == "terminated"
    entries = store.audit("acc-0001")
    assert [e.event for e in entries] == ["termination_started", "terminated"]
    assert entries[1].detail == {
        "archive": "acc-0001.zip",
        "archive_sha256": SHA,
        "billing": "local",
        "key": "term-acc-0001-1",
        "receipt": done.receipt,
        "receipt_signature": done.receipt_signature,
    }
    assert store.verify_audit_chain() == []


def test_a_rerun_with_the_same_key_gets_the_pending_record(store: GateStore) -> None:
    first = begin(store)
    assert begin(store, now=LATER) == first
    assert len(store.audit("acc-0001")) == 1


def test_another_key_is_refused_while_one_is_pending_or_done(store: GateStore) -> None:
    begin(store)
    with pytest.raises(GateRefused, match=r"already pending.*'term-acc-0001-1'"):
        begin(store, idempotency_key="term-acc-0001-2")
    with store.transaction():
        store.finish_termination("acc-0001", LATER)
    with pytest.raises(GateRefused, match="already done"):
        begin(store)


def test_finishing_twice_changes_nothing(store: GateStore) -> None:
    begin(store)
    with store.transaction():
        done = store.finish_termination("acc-0001", LATER)
    with store.transaction():
        assert store.finish_termination("acc-0001", LATER + timedelta(days=1)) == done
    assert len(store.audit("acc-0001")) == 2


def test_finish_without_begin_is_refused(store: GateStore) -> None:
    with pytest.raises(GateRefused, match="no termination was begun"), store.transaction():
        store.finish_termination("acc-0001", LATER)


def test_a_failed_billing_step_rolls_back_with_the_record(store: GateStore) -> None:
    begin(store)
    with pytest.raises(ConnectionError), store.transaction():
        billing_update(store, "sub-0001")
        store.finish_termination("acc-0001", LATER)
        raise ConnectionError("the billing system did not answer")
    record = store.termination("acc-0001")
    assert record is not None and record.state == "pending"
    sub = store.subscription("acc-0001")
    assert sub is not None and sub.status == "active"
    assert [e.event for e in store.audit("acc-0001")] == ["termination_started"]


def test_begin_and_finish_need_the_callers_transaction(store: GateStore) -> None:
    with pytest.raises(RuntimeError, match="transaction"):
        store.begin_termination(
            "acc-0001",
            "sub-0001",
            idempotency_key="k",
            archive="a.zip",
            archive_sha256=SHA,
            receipt=RECEIPT,
            receipt_signature=SIGNATURE,
            now=NOW,
        )
    with pytest.raises(RuntimeError, match="transaction"):
        store.finish_termination("acc-0001", NOW)


def test_the_subscription_must_be_the_accounts(store: GateStore) -> None:
    with pytest.raises(GateRefused, match="'sub-0002' is not this account's"):
        begin(store, subscription_id="sub-0002")
    with pytest.raises(GateRefused, match="'sub-nope' is not this account's"):
        begin(store, subscription_id="sub-nope")


def test_an_idempotency_key_belongs_to_one_account(store: GateStore) -> None:
    begin(store, idempotency_key="shared")
    with pytest.raises(GateRefused, match="acc-0002"):
        begin(store, "acc-0002", idempotency_key="shared")
    assert store.termination("acc-0002") is None
    assert store.audit("acc-0002") == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"idempotency_key": "has space"}, "idempotency_key"),
        ({"idempotency_key": ""}, "idempotency_key"),
        ({"archive_sha256": "AB" * 32}, "archive_sha256"),
        ({"archive": "../acc-0001.zip"}, "archive"),
        ({"archive": ".."}, "archive"),
        ({"archive": "dir/a.zip"}, "archive"),
        ({"receipt": "not json"}, "receipt"),
        ({"receipt": "[1, 2]"}, "receipt"),
    ],
)
def test_bad_termination_values(store: GateStore, change: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        begin(store, **change)
    assert store.termination("acc-0001") is None


def test_a_done_termination_is_final(store: GateStore) -> None:
    begin(store)
    with store.transaction():
        store.finish_termination("acc-0001", LATER)
    for sql in (
        "UPDATE offboard_terminations SET state = 'pending', done_at = NULL",
        "DELETE FROM offboard_terminations",
    ):
        with pytest.raises(sqlite3.IntegrityError, match="final"):
            store.conn.execute(sql)
    # a pending one may still be abandoned
    begin(store, "acc-0002")
    store.conn.execute("DELETE FROM offboard_terminations WHERE account_id = 'acc-0002'")
    assert store.termination("acc-0002") is None


def test_the_state_and_done_at_agree(store: GateStore) -> None:
    begin(store)
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        store.conn.execute("UPDATE offboard_terminations SET state = 'done'")
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        store.conn.execute("UPDATE offboard_terminations SET state = 'cancelled'")
