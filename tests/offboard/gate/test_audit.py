from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from offboard.gate import GateStore, open_store
from offboard.gate.audit import GENESIS_HASH, canonical_json

from .conftest import NOW

ROOT = Path(__file__).resolve().parents[3]


def append_several(store: GateStore) -> None:
    with store.transaction():
        for i, acc in enumerate(["acc-0001", "acc-0002", "acc-0001", "acc-0005"]):
            detail = {"n": i, "text": 'é 🎉 "quoted"', "nested": {"b": 1, "a": [1, 2]}}
            store.append_audit(acc, None, "test_event", detail, now=NOW + timedelta(seconds=i))
    store.request_cancellation("acc-0001", "done", NOW, False)


def raw(db: Path) -> sqlite3.Connection:
    return sqlite3.connect(db, isolation_level=None)


def drop_triggers(con: sqlite3.Connection) -> None:
    con.execute("DROP TRIGGER offboard_audit_log_no_update")
    con.execute("DROP TRIGGER offboard_audit_log_no_delete")


def test_the_chain_is_sound_after_several_appends(store: GateStore) -> None:
    append_several(store)
    assert store.verify_audit_chain() == []
    entries = store.audit("acc-0001")
    assert [e.id for e in entries] == [1, 3, 5]
    assert entries[0].prev_hash == GENESIS_HASH
    assert entries[0].detail["nested"] == {"a": [1, 2], "b": 1}
    assert [e.at for e in entries[:2]] == ["2026-10-31T09:30:00Z", "2026-10-31T09:30:02Z"]
    rows = store.conn.execute("SELECT id, prev_hash, hash FROM offboard_audit_log ORDER BY id")
    previous = GENESIS_HASH
    for _id, prev_hash, digest in rows:
        assert prev_hash == previous
        assert len(digest) == 64
        previous = digest


def test_the_hash_is_sha256_of_prev_hash_and_the_canonical_row(store: GateStore) -> None:
    """The documented formula, recomputed independently of the store's code."""
    append_several(store)
    for entry_id, acc, sub, at, event, detail, prev, digest in store.conn.execute(
        "SELECT id, account_id, subscription_id, at, event, detail, prev_hash, hash "
        "FROM offboard_audit_log"
    ):
        assert detail == json.dumps(
            json.loads(detail), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        content = {
            "account_id": acc,
            "at": at,
            "detail": detail,
            "event": event,
            "id": entry_id,
            "subscription_id": sub,
        }
        expected = hashlib.sha256((prev + canonical_json(content)).encode()).hexdigest()
        assert digest == expected


def test_append_needs_a_transaction(store: GateStore) -> None:
    with pytest.raises(RuntimeError, match="transaction"):
        store.append_audit("acc-0001", None, "test_event", {}, now=NOW)


def test_event_names_are_plain(store: GateStore) -> None:
    with store.transaction(), pytest.raises(ValueError, match="audit event"):
        store.append_audit("acc-0001", None, "Bad Event; DROP", {}, now=NOW)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE offboard_audit_log SET detail = '{}' WHERE id = 1",
        "UPDATE offboard_audit_log SET hash = hash",
        "DELETE FROM offboard_audit_log WHERE id = 1",
        "DELETE FROM offboard_audit_log",
    ],
)
def test_the_triggers_refuse_update_and_delete(store: GateStore, new_db: Path, sql: str) -> None:
    append_several(store)
    con = raw(new_db)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        con.execute(sql)
    con.close()
    with pytest.raises(sqlite3.IntegrityError, match="append-only"), store.transaction() as conn:
        conn.execute(sql)
    assert store.conn.execute("SELECT count(*) FROM offboard_audit_log").fetchone() == (5,)
    assert store.verify_audit_chain() == []


def test_an_entry_edited_behind_the_triggers_is_detected(store: GateStore, new_db: Path) -> None:
    append_several(store)
    con = raw(new_db)
    drop_triggers(con)
    con.execute("""UPDATE offboard_audit_log SET detail = '{"n":9}' WHERE id = 2""")
    con.close()
    problems = store.verify_audit_chain()
    assert "audit log entry 2: changed (its hash does not match its content)" in problems
    assert sum("trigger" in p and "missing" in p for p in problems) == 2
    assert len(problems) == 3
    assert store.migrate() == [
        "trigger offboard_audit_log_no_update",
        "trigger offboard_audit_log_no_delete",
    ]
    assert store.verify_audit_chain() == [
        "audit log entry 2: changed (its hash does not match its content)"
    ]


def test_an_entry_rewritten_with_a_fresh_hash_breaks_the_next_link(
    store: GateStore, new_db: Path
) -> None:
    append_several(store)
    con = raw(new_db)
    drop_triggers(con)
    entry_id, acc, sub, at, prev = con.execute(
        "SELECT id, account_id, subscription_id, at, prev_hash FROM offboard_audit_log WHERE id = 3"
    ).fetchone()
    from offboard.gate.audit import entry_hash

    forged = entry_hash(prev, entry_id, acc, sub, at, "forged", "{}")
    con.execute(
        "UPDATE offboard_audit_log SET event = 'forged', detail = '{}', hash = ? WHERE id = 3",
        (forged,),
    )
    con.close()
    problems = store.verify_audit_chain()
    assert [p for p in problems if "trigger" not in p] == [
        "audit log entry 4: broken link (its prev_hash is not the hash of entry 3)"
    ]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("id = 1", "audit log entry 2: broken link (its prev_hash is not the genesis hash)"),
        ("id = 3", "audit log: entries 3 to 3 were removed"),
        ("id = 5", "audit log: entries up to 5 were written but the log ends at 4"),
        ("id >= 4", "audit log: entries up to 5 were written but the log ends at 3"),
    ],
)
def test_a_removed_entry_is_detected(
    store: GateStore, new_db: Path, where: str, expected: str
) -> None:
    append_several(store)
    con = raw(new_db)
    drop_triggers(con)
    con.execute(f"DELETE FROM offboard_audit_log WHERE {where}")
    con.close()
    assert any(p.startswith(expected) for p in store.verify_audit_chain())


def test_a_detail_that_is_not_canonical_is_detected(store: GateStore, new_db: Path) -> None:
    with store.transaction():
        store.append_audit("acc-0001", None, "test_event", {"a": 1}, now=NOW)
    con = raw(new_db)
    drop_triggers(con)
    con.execute("""DELETE FROM offboard_audit_log""")
    con.execute("DELETE FROM sqlite_sequence")
    from offboard.gate.audit import entry_hash

    text = '{ "a": 1 }'
    digest = entry_hash(GENESIS_HASH, 1, "acc-0001", None, "2026-10-31T09:30:00Z", "e", text)
    con.execute(
        "INSERT INTO offboard_audit_log VALUES (1, 'acc-0001', NULL, '2026-10-31T09:30:00Z', "
        "'e', ?, ?, ?)",
        (text, GENESIS_HASH, digest),
    )
    con.close()
    problems = store.verify_audit_chain()
    assert "audit log entry 1: its detail is not canonical JSON" in problems


_WRITER = """
import sys
from datetime import datetime, UTC
from offboard.gate import open_store

store = open_store(sys.argv[1], busy_timeout_ms=600_000)
print("ready", flush=True)
sys.stdin.readline()
for i in range(int(sys.argv[3])):
    with store.transaction():
        store.append_audit(sys.argv[2], None, "test_event", {"i": i},
                           now=datetime(2026, 10, 31, tzinfo=UTC))
store.close()
"""


def test_two_processes_appending_at_once_keep_one_chain(store: GateStore, new_db: Path) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(new_db), acc, "25"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for acc in ("acc-0001", "acc-0002")
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        assert [proc.wait() for proc in procs] == [0, 0]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert len(store.audit("acc-0001")) == len(store.audit("acc-0002")) == 25
    assert store.verify_audit_chain() == []
    ids = [r[0] for r in store.conn.execute("SELECT id FROM offboard_audit_log ORDER BY id")]
    assert ids == list(range(1, 51))


def test_verify_without_the_table(old_db: Path) -> None:
    with open_store(str(old_db)) as store:
        assert store.verify_audit_chain() == ["audit log: table offboard_audit_log is missing"]
