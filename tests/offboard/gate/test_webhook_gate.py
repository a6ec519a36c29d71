"""``offboard terminate --billing webhook`` end to end, against the billing tests' scripted
server on 127.0.0.1: retries, refusals and crashes keep one idempotency key and end in one
termination."""

from __future__ import annotations

import hashlib
import hmac
import json
import signal

from offboard.errors import ExitCode
from tests.offboard.billing.common import SECRET
from tests.offboard.billing.conftest import ScriptedServer, reply

from .common import (
    Demo,
    audit_problems,
    invoke,
    receipt_files,
    record,
    state,
    terminate_args,
    terminate_process,
)
from .test_crash import check_done

ENV = {"OFFBOARD_BILLING_SECRET": SECRET}


def webhook(server: ScriptedServer, **options: str) -> list[str]:
    values = {"url": server.url, "backoff": "0.01", "max_wait": "0.05", "timeout": "5"}
    values |= options
    args = ["--billing", "webhook"]
    for name, value in values.items():
        args += ["--billing-option", f"{name}={value}"]
    return args


def keys_sent(server: ScriptedServer) -> list[str]:
    return [seen.headers["idempotency-key"] for seen in server.seen]


def check_requests(server: ScriptedServer, demo: Demo) -> None:
    """Every request: the same signed body, the key recorded in the database."""
    done = record(demo.db)
    assert done is not None
    assert set(keys_sent(server)) == {done.idempotency_key}
    assert len({seen.body for seen in server.seen}) == 1
    for seen in server.seen:
        assert seen.path == "/billing/terminate?tenant=7"
        expected = "sha256=" + hmac.new(SECRET.encode(), seen.body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(seen.headers["x-offboard-signature"], expected)
        body = json.loads(seen.body)
        assert body["idempotency_key"] == done.idempotency_key
        assert body["archive_sha256"] == done.archive_sha256
        assert body["subscription_id"] == done.subscription_id


def test_server_errors_then_success(demo: Demo, billing_server: ScriptedServer) -> None:
    billing_server.play(reply(503), reply(500, b"try again"), reply(200, b'{"reference": "b-1"}'))
    result = invoke(*terminate_args(demo, extra=webhook(billing_server)), env=ENV)
    assert result.exit_code == 0, result.stderr
    assert len(billing_server.seen) == 3
    check_requests(billing_server, demo)
    check_done(demo, demo.archive)
    data, _ = receipt_files(demo.archive)
    assert json.loads(data.read_text())["billing"] == {"backend": "webhook"}
    from offboard.gate.store import open_store

    with open_store(str(demo.db)) as store:
        [terminated] = [e for e in store.audit("acc-0001") if e.event == "terminated"]
    assert terminated.detail["backend"] == "webhook"
    assert terminated.detail["reference"] == "b-1"


def test_a_final_refusal_leaves_it_pending_until_a_rerun(
    demo: Demo, billing_server: ScriptedServer
) -> None:
    billing_server.play(reply(422, b'{"error": "an unpaid invoice is open"}'))
    result = invoke(*terminate_args(demo, extra=webhook(billing_server)), env=ENV)
    assert result.exit_code == ExitCode.BILLING_REJECTED, result.stderr
    assert "refused to terminate subscription 'sub-0001'" in result.stderr
    assert "HTTP 422" in result.stderr
    pending = state(demo.db)
    assert pending.pending
    assert pending.status == "cancellation_requested"
    assert "terminated" not in pending.events
    assert not any(p.exists() for p in receipt_files(demo.archive))
    [first_key] = keys_sent(billing_server)
    assert first_key == pending.terminations[0][1]

    rerun = invoke(*terminate_args(demo, extra=webhook(billing_server)), env=ENV)
    assert rerun.exit_code == 0, rerun.stderr
    assert keys_sent(billing_server) == [first_key, first_key]
    check_requests(billing_server, demo)
    check_done(demo, demo.archive)


def test_retries_exhausted_leave_it_pending(demo: Demo, billing_server: ScriptedServer) -> None:
    billing_server.play(reply(503), reply(503))
    args = terminate_args(demo, extra=webhook(billing_server, attempts="2"))
    result = invoke(*args, env=ENV)
    assert result.exit_code == ExitCode.BILLING, result.stderr
    assert "no usable answer after 2 attempt(s)" in result.stderr
    assert state(demo.db).pending
    assert invoke(*args, env=ENV).exit_code == 0
    assert len(set(keys_sent(billing_server))) == 1
    assert len(billing_server.seen) == 3
    check_done(demo, demo.archive)


def test_a_crash_after_the_billing_system_answered(
    demo: Demo, billing_server: ScriptedServer
) -> None:
    billing_server.play(
        reply(200, b'{"reference": "b-7"}'),
        reply(200, b'{"status": "already_terminated", "reference": "b-7"}'),
    )
    options = webhook(billing_server)
    killed = terminate_process(demo, failpoint="terminate.billed", extra=options, env=ENV)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert len(billing_server.seen) == 1
    pending = state(demo.db)
    assert pending.pending
    assert pending.status == "cancellation_requested"

    rerun = terminate_process(demo, extra=options, env=ENV)
    assert rerun.returncode == 0, rerun.stderr
    assert keys_sent(billing_server) == [pending.terminations[0][1]] * 2
    check_requests(billing_server, demo)
    check_done(demo, demo.archive)
    from offboard.gate.store import open_store

    with open_store(str(demo.db)) as store:
        [terminated] = [e for e in store.audit("acc-0001") if e.event == "terminated"]
    assert terminated.detail["replayed"] is True

    again = terminate_process(demo, extra=options, env=ENV)
    assert again.returncode == 0, again.stderr
    assert "was already terminated" in again.stdout
    assert len(billing_server.seen) == 2  # a terminated account is not billed again


def test_no_secret_stops_before_anything_changes(
    demo: Demo, billing_server: ScriptedServer
) -> None:
    before = state(demo.db)
    unset: dict[str, str | None] = {"OFFBOARD_BILLING_SECRET": None}
    result = invoke(*terminate_args(demo, extra=webhook(billing_server)), env=unset)
    assert result.exit_code == ExitCode.USAGE, result.stderr
    assert "OFFBOARD_BILLING_SECRET" in result.stderr
    assert billing_server.seen == []
    assert state(demo.db) == before
    assert audit_problems(demo.db) == []
