"""The contract between the termination gate and a billing backend.

The gate builds one :class:`TerminationRequest` per termination, persists its idempotency key
before the first call, and hands it to :meth:`BillingBackend.terminate` together with its own
writable connection to the source database, inside a transaction it has begun. A backend never
commits or rolls back that transaction: the gate does, once the backend has answered.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from offboard.errors import ConfigError

_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# Sent as an HTTP header: visible ASCII only, so that no value can inject a header or a line.
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")

__all__ = ["BillingBackend", "BillingContext", "BillingResult", "TerminationRequest"]


@dataclass(frozen=True)
class TerminationRequest:
    """What the gate asks the billing system to do; the same on every retry and rerun."""

    account: str
    subscription_id: str
    idempotency_key: str  # chosen and persisted by the gate before the first call
    reason: str | None
    requested_at: str  # 'YYYY-MM-DDTHH:MM:SSZ' UTC
    effective_at: str  # 'YYYY-MM-DDTHH:MM:SSZ' UTC
    archive_sha256: str
    archive_id: str
    receipt_id: str

    def __post_init__(self) -> None:
        for name in ("account", "subscription_id", "archive_id", "receipt_id"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"termination request: {name} must be a non-empty string")
        if not _IDEMPOTENCY_KEY.match(self.idempotency_key):
            raise ValueError(
                "termination request: idempotency_key must be 1 to 255 visible ASCII characters"
            )
        for name in ("requested_at", "effective_at"):
            if not _TIMESTAMP.match(getattr(self, name)):
                raise ValueError(
                    f"termination request: {name} {getattr(self, name)!r} is not "
                    "'YYYY-MM-DDTHH:MM:SSZ'"
                )
        if not _SHA256.match(self.archive_sha256):
            raise ValueError("termination request: archive_sha256 must be 64 lower-case hex digits")
        if self.reason is not None and not isinstance(self.reason, str):
            raise ValueError("termination request: reason must be a string or None")

    def body(self) -> bytes:
        """Canonical JSON of every field: sorted keys, compact separators, UTF-8."""
        return json.dumps(
            dataclasses.asdict(self), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8")


@dataclass(frozen=True)
class BillingResult:
    """The billing system's answer to a successful termination."""

    backend: str  # "local", "webhook", ...
    reference: str | None  # the billing system's confirmation id, if it gave one
    replayed: bool  # already terminated by this same request (an idempotent replay)


@dataclass(frozen=True)
class BillingContext:
    """What a backend is configured with."""

    options: Mapping[str, str]  # from the command line or the configuration (e.g. {"url": ...})
    env: Mapping[str, str]  # the environment: secrets come from here, never from options


class BillingBackend(ABC):
    """A way of ending a subscription in the billing system.

    Backends register under the ``offboard.billing`` entry-point group (see
    :mod:`offboard.billing`). A backend declares the options it accepts in ``option_names``;
    any other option is a :class:`~offboard.errors.ConfigError`, raised by the constructor so
    that a misconfiguration stops the gate before anything is changed.
    """

    name: ClassVar[str]
    option_names: ClassVar[frozenset[str]] = frozenset()
    #: the billing system is outside the source database (an HTTP service...): the gate then
    #: calls :meth:`terminate` outside its transaction, so that no write lock on the source is
    #: held while the remote system answers, and marks the subscription terminated afterwards
    remote: ClassVar[bool] = False

    def __init__(self, context: BillingContext) -> None:
        self.context = context
        unknown = sorted(set(context.options) - self.option_names)
        if unknown:
            if any("secret" in key and key != "secret_env" for key in unknown):
                raise ConfigError(
                    f"billing backend {self.name!r}: secrets are never options; put the secret "
                    "in the environment (see the option secret_env)"
                )
            known = ", ".join(sorted(self.option_names)) or "none"
            raise ConfigError(
                f"billing backend {self.name!r}: unknown option {unknown[0]!r} "
                f"(options of this backend: {known})"
            )

    @abstractmethod
    def terminate(self, request: TerminationRequest, conn: sqlite3.Connection) -> BillingResult:
        """End ``request.subscription_id``; raise a :class:`~offboard.errors.BillingError`
        subclass when the billing system did not.

        ``conn`` is the gate's writable connection inside a transaction it has begun (not for
        a ``remote`` backend); a backend may write through it but never commits or rolls back.
        """
