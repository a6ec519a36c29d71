from __future__ import annotations

import sqlite3
from importlib.metadata import EntryPoint, entry_points

import pytest

import offboard.billing as billing
from offboard.billing import (
    BillingBackend,
    BillingResult,
    TerminationRequest,
    backend_names,
    get_backend,
)
from offboard.billing.local import LocalBilling
from offboard.billing.webhook import WebhookBilling
from offboard.errors import ConfigError, PluginError


class PluginBilling(BillingBackend):
    name = "plugin"

    def terminate(self, request: TerminationRequest, conn: sqlite3.Connection) -> BillingResult:
        return BillingResult(self.name, "ok", False)


class MisnamedBilling(PluginBilling):
    name = "other"


class NotABackend:
    name = "notone"


def test_builtins_are_registered_as_entry_points() -> None:
    registered = {ep.name: ep.value for ep in entry_points(group=billing.GROUP)}
    assert registered["local"] == "offboard.billing.local:LocalBilling"
    assert registered["webhook"] == "offboard.billing.webhook:WebhookBilling"
    assert {"local", "webhook"} <= set(backend_names())
    assert backend_names() == sorted(backend_names())
    assert get_backend("local") is LocalBilling
    assert get_backend("webhook") is WebhookBilling


def test_unknown_backend_names_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown billing backend 'stripe'.*local, webhook"):
        get_backend("stripe")


def _plugins(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    module = __name__
    found = [
        EntryPoint(name=name, value=f"{module}:{value}", group=billing.GROUP)
        for name, value in values.items()
    ]
    monkeypatch.setattr(billing, "entry_points", lambda group: found)


def test_a_third_party_backend_is_found_like_the_builtins(monkeypatch: pytest.MonkeyPatch) -> None:
    _plugins(monkeypatch, plugin="PluginBilling")
    assert backend_names() == ["plugin"]
    assert get_backend("plugin") is PluginBilling


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("plugin", "Missing", "cannot be loaded"),
        ("notone", "NotABackend", "not a BillingBackend subclass"),
        ("plugin", "MisnamedBilling", "declares name 'other'"),
    ],
)
def test_broken_plugins_are_reported(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    _plugins(monkeypatch, **{name: value})
    with pytest.raises(PluginError, match=message):
        get_backend(name)
