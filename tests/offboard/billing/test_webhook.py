from __future__ import annotations

import hashlib
import hmac
import json
import logging
import socket
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from offboard.billing import BillingContext, BillingResult, get_backend
from offboard.billing.webhook import WebhookBilling
from offboard.errors import BillingError, BillingRejected, BillingUnavailable, ConfigError

from .common import SECRET, make_request
from .conftest import ScriptedServer, hang_up, reply, reset, stall, trickle

ENV = {"OFFBOARD_BILLING_SECRET": SECRET}
NOW = datetime(2025, 4, 1, 9, 30, 0, tzinfo=UTC)
Factory = Callable[..., WebhookBilling]
NO_DB = sqlite3.connect(":memory:")  # the webhook backend never touches the database


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def webhook(waits: list[float]) -> Factory:
    """A webhook backend whose waits between attempts are recorded instead of slept."""

    def make(url: str, env: dict[str, str] | None = None, **options: str) -> WebhookBilling:
        opts = {"url": url, "timeout": "5", **options}
        backend = get_backend("webhook")(BillingContext(options=opts, env=env or ENV))
        assert isinstance(backend, WebhookBilling)
        backend.sleep = waits.append
        backend.clock = lambda: NOW
        return backend

    return make


def _signed(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "offboard.billing" and r.levelno == logging.WARNING
    ]


def test_posts_the_signed_canonical_body(server: ScriptedServer, webhook: Factory) -> None:
    request = make_request()
    result = webhook(server.url).terminate(request, NO_DB)
    assert result == BillingResult(backend="webhook", reference=None, replayed=False)
    [seen] = server.seen
    assert seen.method == "POST"
    assert seen.path == "/billing/terminate?tenant=7"
    assert seen.body == request.body()
    assert seen.headers["content-type"] == "application/json"
    assert seen.headers["idempotency-key"] == request.idempotency_key
    assert hmac.compare_digest(seen.headers["x-offboard-signature"], _signed(seen.body))
    assert SECRET not in json.dumps(seen.headers)
    assert _signed(seen.body) != "sha256=" + hmac.new(b"wrong", seen.body, "sha256").hexdigest()


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (reply(201, b'{"reference": "bill-4471"}'), BillingResult("webhook", "bill-4471", False)),
        (
            reply(200, b'{"status": "already_terminated", "reference": "bill-4471"}'),
            BillingResult("webhook", "bill-4471", True),
        ),
        (reply(200, b'{"status": "already_terminated"}'), BillingResult("webhook", None, True)),
        (reply(204), BillingResult("webhook", None, False)),
        (reply(200, b"  \n"), BillingResult("webhook", None, False)),
    ],
)
def test_success_answers(
    server: ScriptedServer,
    webhook: Factory,
    caplog: pytest.LogCaptureFixture,
    answer: Callable[..., None],
    expected: BillingResult,
) -> None:
    server.play(answer)
    assert webhook(server.url).terminate(make_request(), NO_DB) == expected
    assert len(server.seen) == 1
    assert _warnings(caplog) == []


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"<html>OK</html>", "not JSON"),
        (b'["bill-1"]', "not a JSON object"),
        (b'{"reference": 4471}', "a reference that is not a string"),
        (b'{"reference": "' + b"r" * 201 + b'"}', "a reference that is not a string"),
        (b'{"reference": "bill\\u001b[31m"}', "a reference that is not a string"),
        (b"\xff\xfe", "not JSON"),
        (b"[" * 50_000, "not JSON"),
        (b"x" * 1_000_000, "larger than 64 KiB"),
    ],
)
def test_odd_success_bodies_are_success_without_reference_and_a_warning(
    server: ScriptedServer,
    webhook: Factory,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
    problem: str,
) -> None:
    server.play(reply(200, body))
    result = webhook(server.url).terminate(make_request(), NO_DB)
    assert result == BillingResult("webhook", None, False)
    [warning] = _warnings(caplog)
    assert problem in warning and "HTTP 200" in warning


def test_retries_then_succeeds_with_the_same_request(
    server: ScriptedServer,
    webhook: Factory,
    waits: list[float],
    caplog: pytest.LogCaptureFixture,
) -> None:
    server.play(
        reply(500), reply(502), reply(503), reset, hang_up, reply(200, b'{"reference":"b-9"}')
    )
    backend = webhook(server.url, backoff="0.5", max_wait="8")
    logged_before_wait: list[int] = []

    def sleep(seconds: float) -> None:
        logged_before_wait.append(len(_warnings(caplog)))
        waits.append(seconds)

    backend.sleep = sleep
    result = backend.terminate(make_request(), NO_DB)
    assert result == BillingResult("webhook", "b-9", False)
    assert len(server.seen) == 6
    assert {s.headers["idempotency-key"] for s in server.seen} == {make_request().idempotency_key}
    assert {s.body for s in server.seen} == {make_request().body()}
    assert {s.headers["x-offboard-signature"] for s in server.seen} == {
        _signed(make_request().body())
    }
    assert len(waits) == 5 and all(0 <= w <= 8 for w in waits)
    assert logged_before_wait == [1, 2, 3, 4, 5]  # each line is logged before its wait
    lines = _warnings(caplog)
    assert len(lines) == 5
    for number, (line, cause) in enumerate(
        zip(
            lines,
            ["HTTP 500", "HTTP 502", "HTTP 503", "connection reset", "closed the connection"],
            strict=True,
        ),
        start=1,
    ):
        assert f"attempt {number} of 6 failed" in line
        assert cause in line
        assert f"retrying in {waits[number - 1]:.1f} s" in line


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [
        ("7", 7.0),
        ("3600", 60.0),  # capped at max_wait
        (format_datetime(NOW + timedelta(seconds=30), usegmt=True), 30.0),
        (format_datetime(NOW - timedelta(hours=1), usegmt=True), 0.0),
    ],
)
def test_429_honours_retry_after(
    server: ScriptedServer,
    webhook: Factory,
    waits: list[float],
    retry_after: str,
    expected: float,
) -> None:
    server.play(reply(429, b"slow down", {"Retry-After": retry_after}))
    backend = webhook(server.url, backoff="0.5", max_wait="60")
    assert backend.terminate(make_request(), NO_DB).backend == "webhook"
    assert waits == [expected]
    assert len(server.seen) == 2


def test_503_retry_after_and_unreadable_retry_after_falls_back_to_backoff(
    server: ScriptedServer, webhook: Factory, waits: list[float]
) -> None:
    server.play(
        reply(503, headers={"Retry-After": "2"}),
        reply(429, headers={"Retry-After": "soon"}),
    )
    webhook(server.url, backoff="0.25", max_wait="10").terminate(make_request(), NO_DB)
    assert waits[0] == 2.0
    assert 0.25 <= waits[1] <= 0.25 * 2 + 0.25  # second backoff: 0.25 * 2 + jitter up to 0.25


def test_an_answer_slower_than_the_timeout_is_retried(
    server: ScriptedServer, webhook: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    server.play(stall)
    result = webhook(server.url, timeout="0.3").terminate(make_request(), NO_DB)
    assert result.backend == "webhook"
    assert len(server.seen) == 2
    assert "no answer within 0.3 s" in _warnings(caplog)[0]


def test_the_timeout_bounds_the_whole_attempt_not_each_read(
    server: ScriptedServer, webhook: Factory
) -> None:
    server.play(trickle)
    with pytest.raises(BillingUnavailable, match=r"no complete answer within 0\.3 s"):
        webhook(server.url, timeout="0.3", attempts="1").terminate(make_request(), NO_DB)
    assert len(server.seen) == 1


@pytest.mark.parametrize("status", [400, 403, 404, 409, 422])
def test_a_final_refusal_is_not_retried(
    server: ScriptedServer,
    webhook: Factory,
    waits: list[float],
    caplog: pytest.LogCaptureFixture,
    status: int,
) -> None:
    server.play(reply(status, b'{"error": "subscription has unpaid invoices"}'))
    with pytest.raises(BillingRejected) as caught:
        webhook(server.url).terminate(make_request(), NO_DB)
    message = str(caught.value)
    assert f"HTTP {status}" in message
    assert "subscription has unpaid invoices" in message
    assert "sub-acc-t001" in message and "acc-t001" in message
    assert not caught.value.retriable
    assert len(server.seen) == 1
    assert waits == [] and _warnings(caplog) == []


def test_a_hostile_refusal_body_is_sanitised_and_bounded(
    server: ScriptedServer, webhook: Factory
) -> None:
    hostile = b"\x1b[2J\x1b]0;owned\x07line one\r\nline two\xe2\x80\xae\x00" + b"A" * 500_000
    server.play(reply(400, hostile))
    with pytest.raises(BillingRejected) as caught:
        webhook(server.url).terminate(make_request(), NO_DB)
    message = str(caught.value)
    assert "line one line two" in message
    assert not any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in message)
    assert "\u202e" not in message
    assert len(message) < 500 and message.endswith("…")


def test_retries_exhausted(
    server: ScriptedServer,
    webhook: Factory,
    waits: list[float],
    caplog: pytest.LogCaptureFixture,
) -> None:
    server.play(*[reply(503)] * 10)
    with pytest.raises(BillingUnavailable) as caught:
        webhook(server.url, attempts="3").terminate(make_request(), NO_DB)
    assert "after 3 attempt(s)" in str(caught.value)
    assert "HTTP 503" in str(caught.value)
    assert caught.value.retriable
    assert len(server.seen) == 3
    assert len(waits) == 2 and len(_warnings(caplog)) == 2  # none after the last attempt


def test_connection_refused_is_retried_then_unavailable(
    webhook: Factory, waits: list[float]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(BillingUnavailable, match="connection refused"):
        webhook(f"http://127.0.0.1:{port}/", attempts="2").terminate(make_request(), NO_DB)
    assert len(waits) == 1


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirects_are_never_followed(
    server: ScriptedServer, other_server: ScriptedServer, webhook: Factory, status: int
) -> None:
    server.play(reply(status, headers={"Location": other_server.url}))
    with pytest.raises(BillingRejected, match=f"HTTP {status}.*redirect to http://127.0.0.1:"):
        webhook(server.url).terminate(make_request(), NO_DB)
    assert len(server.seen) == 1
    assert other_server.seen == []


def test_url_from_the_environment(server: ScriptedServer, webhook: Factory) -> None:
    backend = WebhookBilling(
        BillingContext(options={}, env={**ENV, "OFFBOARD_BILLING_URL": server.url})
    )
    backend.terminate(make_request(), NO_DB)
    assert len(server.seen) == 1


def test_missing_url_names_the_option_and_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"option url or set OFFBOARD_BILLING_URL"):
        WebhookBilling(BillingContext(options={}, env=ENV))


@pytest.mark.parametrize(
    ("env", "options", "variable"),
    [
        ({}, {}, "OFFBOARD_BILLING_SECRET"),
        ({"OFFBOARD_BILLING_SECRET": ""}, {}, "OFFBOARD_BILLING_SECRET"),
        ({"OFFBOARD_BILLING_SECRET": SECRET}, {"secret_env": "ACME_HOOK_KEY"}, "ACME_HOOK_KEY"),
    ],
)
def test_missing_secret_names_the_variable(
    env: dict[str, str], options: dict[str, str], variable: str
) -> None:
    context = BillingContext(options={"url": "http://127.0.0.1:9/", **options}, env=env)
    with pytest.raises(ConfigError, match=f"set the environment variable {variable}$") as caught:
        WebhookBilling(context)
    assert SECRET not in str(caught.value)


def test_secret_env_picks_the_variable(server: ScriptedServer, webhook: Factory) -> None:
    backend = webhook(server.url, env={"ACME_HOOK_KEY": "other-key"}, secret_env="ACME_HOOK_KEY")
    backend.terminate(make_request(), NO_DB)
    [seen] = server.seen
    expected = hmac.new(b"other-key", seen.body, hashlib.sha256).hexdigest()
    assert seen.headers["x-offboard-signature"] == f"sha256={expected}"
    assert "other-key" not in repr(backend)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"url": "ftp://127.0.0.1/x"}, "http:// or https://"),
        ({"url": "file:///etc/passwd"}, "http:// or https://"),
        ({"url": "127.0.0.1:8080/x"}, "http:// or https://"),
        ({"url": "http:///x"}, "names no host"),
        ({"url": "http://user:pw@127.0.0.1/x"}, "must not hold credentials"),
        ({"url": "http://127.0.0.1/x\r\nX-Evil: 1"}, "control characters"),
        ({"url": "http://127.0.0.1:99999/"}, "not valid"),
        ({"url": "http://127.0.0.1/", "attempts": "0"}, "attempts must be between 1 and 100"),
        ({"url": "http://127.0.0.1/", "attempts": "2.5"}, "attempts must be a whole number"),
        ({"url": "http://127.0.0.1/", "timeout": "nan"}, "timeout must be between"),
        ({"url": "http://127.0.0.1/", "timeout": "soon"}, "timeout must be a number"),
        ({"url": "http://127.0.0.1/", "max_wait": "-1"}, "max_wait must be between"),
        ({"url": "http://127.0.0.1/", "secret_env": "NOT-A-NAME"}, "not an environment variable"),
        ({"url": "http://127.0.0.1/", "secret": SECRET}, "secrets are never options"),
        ({"url": "http://127.0.0.1/", "retries": "3"}, "unknown option 'retries'"),
    ],
)
def test_bad_configuration(options: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        WebhookBilling(BillingContext(options=options, env=ENV))
    assert SECRET not in str(caught.value)


def test_a_failed_tls_handshake_is_retried(server: ScriptedServer, webhook: Factory) -> None:
    backend = webhook(server.url.replace("http://", "https://"), attempts="2")
    with pytest.raises(BillingUnavailable, match="after 2 attempt"):
        backend.terminate(make_request(), NO_DB)
    assert server.seen == []  # the plain-HTTP server never saw a request it could read


def test_an_untrusted_certificate_is_final(
    tls_server: ScriptedServer, webhook: Factory, waits: list[float]
) -> None:
    backend = webhook(tls_server.url.replace("http://", "https://"))
    with pytest.raises(BillingError, match="TLS certificate does not verify") as caught:
        backend.terminate(make_request(), NO_DB)
    assert not isinstance(caught.value, BillingUnavailable | BillingRejected)
    assert not caught.value.retriable
    assert waits == [] and tls_server.seen == []
