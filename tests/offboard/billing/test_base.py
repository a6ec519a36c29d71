from __future__ import annotations

import dataclasses
import json
import sqlite3

import pytest

from offboard.billing import BillingBackend, BillingContext, BillingResult, TerminationRequest
from offboard.errors import ConfigError

from .common import make_request


def test_body_is_canonical_json_of_every_field() -> None:
    request = make_request()
    body = request.body()
    assert json.loads(body) == dataclasses.asdict(request)
    keys = list(json.loads(body))
    assert keys == sorted(keys) == sorted(f.name for f in dataclasses.fields(TerminationRequest))
    assert b": " not in body and b", " not in body  # compact separators
    assert "demandée".encode() in body  # UTF-8, not \\u escapes
    assert body == make_request().body()
    assert body != make_request(receipt_id="rcp-02").body()
    assert json.loads(make_request(reason=None).body())["reason"] is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("idempotency_key", ""),
        ("idempotency_key", "key\r\nX-Injected: 1"),
        ("idempotency_key", "key with spaces"),
        ("idempotency_key", "k" * 256),
        ("requested_at", "2025-04-01 09:30:00"),
        ("effective_at", "2025-04-30T23:59:59+02:00"),
        ("archive_sha256", "ABC"),
        ("archive_sha256", "A" * 64),
        ("account", ""),
        ("subscription_id", ""),
        ("receipt_id", ""),
    ],
)
def test_request_refuses_malformed_fields(field: str, value: str) -> None:
    with pytest.raises(ValueError, match=field):
        make_request(**{field: value})


class _Quiet(BillingBackend):
    name = "quiet"
    option_names = frozenset({"level"})

    def terminate(self, request: TerminationRequest, conn: sqlite3.Connection) -> BillingResult:
        return BillingResult(self.name, None, False)


def test_unknown_options_are_refused_by_the_constructor() -> None:
    _Quiet(BillingContext(options={"level": "1"}, env={}))
    with pytest.raises(
        ConfigError, match=r"unknown option 'colour'.*options of this backend: level"
    ):
        _Quiet(BillingContext(options={"colour": "red"}, env={}))
    with pytest.raises(ConfigError, match="secrets are never options"):
        _Quiet(BillingContext(options={"secret": "hunter2"}, env={}))
