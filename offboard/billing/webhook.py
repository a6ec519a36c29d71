"""The ``webhook`` billing backend: a signed HTTP POST to the billing system.

The request body is :meth:`TerminationRequest.body` (canonical JSON); the headers are
``Content-Type: application/json``, ``Idempotency-Key`` (the request's key, the same on every
attempt and rerun, so that the billing system terminates once) and ``X-Offboard-Signature:
sha256=<hex HMAC-SHA256 of the exact body bytes>`` with the shared secret read from the
environment variable named by the option ``secret_env`` (default ``OFFBOARD_BILLING_SECRET``).

Options (all strings): ``url`` (else the environment's ``OFFBOARD_BILLING_URL``; http or https),
``secret_env``, ``attempts`` (default 6), ``timeout`` (seconds per attempt, default 10),
``max_wait`` (the longest wait between attempts, ``Retry-After`` included, default 60) and
``backoff`` (the first backoff in seconds, default 0.5, doubling with jitter).

Answers:

* 2xx: terminated. The body may be empty or a JSON object with an optional ``"reference"``
  (a string of at most 200 printable characters) and ``"status": "already_terminated"`` for an
  idempotent replay. Any other body (not JSON, not an object, a bad reference) is still a
  success, since the billing system said so, but is logged as a warning and gives no
  reference: failing here would leave a terminated subscription reported as not terminated.
* 408, 425, 429, 5xx and unknown statuses, timeouts, refused, reset or dropped connections,
  malformed or cut-off answers:
  retried with the same key and body, up to ``attempts`` in all, waiting ``Retry-After``
  (seconds or an HTTP date, at most ``max_wait``) when the answer gives one and an exponential
  backoff with jitter otherwise; one WARNING line on the ``offboard.billing`` logger before each
  retry. Retries exhausted: :class:`BillingUnavailable` naming the last cause.
* any other 4xx: final, :class:`BillingRejected` with the status and a short, sanitised excerpt
  of the answer.
* 3xx: redirects are never followed (the termination goes to the configured address or
  nowhere): :class:`BillingRejected` naming where it pointed.

Answers are hostile input: at most 64 KiB of a body is read, each attempt is cut off after
``timeout`` seconds however slowly the bytes come, and nothing from the answer reaches a
message or the log without its control characters removed and its length bounded.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from offboard import __version__
from offboard.errors import BillingRejected, BillingUnavailable, ConfigError
from offboard.transport import (
    MAX_RESPONSE_BYTES,
    Answer,
    Endpoint,
    Transient,
    excerpt,
    origin_of,
    parse_retry_after,
    retry_policy,
    sanitize,
)

from .base import BillingBackend, BillingContext, BillingResult, TerminationRequest

if TYPE_CHECKING:
    import sqlite3


log = logging.getLogger("offboard.billing")

URL_ENV = "OFFBOARD_BILLING_URL"
DEFAULT_SECRET_ENV = "OFFBOARD_BILLING_SECRET"
MAX_REFERENCE_CHARS = 200
REPLAY_STATUS = "already_terminated"
RETRIED_STATUSES = frozenset({408, 425, 429})
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def utc_now() -> datetime:
    return datetime.now(UTC)


def _number(
    options: Mapping[str, str],
    key: str,
    default: float,
    low: float,
    high: float,
    *,
    whole: bool = False,
) -> float:
    raw = options.get(key)
    if raw is None:
        return default
    try:
        value = float(int(raw)) if whole else float(raw)
    except ValueError:
        kind = "a whole number" if whole else "a number"
        shown = sanitize(raw, 40)
        raise ConfigError(f"billing webhook: option {key} must be {kind}, not {shown!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"billing webhook: option {key} must be between {low:g} and {high:g}")
    return value


class WebhookBilling(BillingBackend):
    """Terminates by a signed, idempotent HTTP POST (see the module's documentation).

    Everything is checked by the constructor (address, secret, options), so that a
    misconfiguration stops the gate before it changes anything.
    """

    name = "webhook"
    remote = True
    option_names = frozenset({"url", "secret_env", "attempts", "timeout", "max_wait", "backoff"})

    def __init__(self, context: BillingContext) -> None:
        super().__init__(context)
        options = context.options
        url = options.get("url") or context.env.get(URL_ENV) or ""
        if not url:
            raise ConfigError(f"billing webhook: no address: give the option url or set {URL_ENV}")
        self.endpoint = Endpoint.parse(url)
        self.origin = self.endpoint.origin

        self.secret_env = options.get("secret_env", DEFAULT_SECRET_ENV)
        if not _ENV_NAME.match(self.secret_env):
            raise ConfigError(
                f"billing webhook: option secret_env {sanitize(self.secret_env, 60)!r} is not "
                "an environment variable name"
            )
        secret = context.env.get(self.secret_env, "")
        if not secret:
            raise ConfigError(
                "billing webhook: the shared secret is missing: set the environment variable "
                f"{self.secret_env}"
            )
        self._secret = secret.encode("utf-8")

        self.attempts = int(_number(options, "attempts", 6, 1, 100, whole=True))
        self.timeout = _number(options, "timeout", 10.0, 0.01, 600.0)
        self.max_wait = _number(options, "max_wait", 60.0, 0.0, 3600.0)
        self.backoff = _number(options, "backoff", 0.5, 0.0, 600.0)
        # Seams for the tests: how to wait between attempts, and what time it is.
        self.sleep: Callable[[float], None] = time.sleep
        self.clock: Callable[[], datetime] = utc_now

    def __repr__(self) -> str:
        return f"WebhookBilling({self.origin}, secret from ${self.secret_env})"

    def signature(self, body: bytes) -> str:
        """The ``X-Offboard-Signature`` header of ``body``."""
        return "sha256=" + hmac.new(self._secret, body, hashlib.sha256).hexdigest()

    def terminate(self, request: TerminationRequest, conn: sqlite3.Connection) -> BillingResult:
        body = request.body()
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Idempotency-Key": request.idempotency_key,
            "X-Offboard-Signature": self.signature(body),
            "User-Agent": f"offboard/{__version__}",
        }
        retrying = retry_policy(
            attempts=self.attempts,
            backoff=self.backoff,
            max_wait=self.max_wait,
            sleep=lambda seconds: self.sleep(seconds),
            on_retry=self._log_retry,
        )
        try:
            answer: Answer = retrying(self._attempt, request, body, headers)
        except Transient as exc:
            raise BillingUnavailable(
                f"billing webhook at {self.origin}: no usable answer after {self.attempts} "
                f"attempt(s) to terminate subscription {request.subscription_id!r} "
                f"(last: {exc.cause})"
            ) from None
        return self._success(request, answer)

    def _log_retry(self, attempt: int, cause: str, pause: float) -> None:
        log.warning(
            "billing webhook at %s: attempt %d of %d failed (%s); retrying in %.1f s",
            self.origin,
            attempt,
            self.attempts,
            cause,
            pause,
        )

    def _attempt(
        self, request: TerminationRequest, body: bytes, headers: Mapping[str, str]
    ) -> Answer:
        answer = self.endpoint.post(body, headers, self.timeout)
        status = answer.status
        if 200 <= status < 300:
            return answer
        if status in RETRIED_STATUSES or 500 <= status < 600:
            retry_after = parse_retry_after(answer.retry_after, self.clock())
            raise Transient(answer.describe(), retry_after)
        if 300 <= status < 400:
            where = origin_of(answer.location) if answer.location else "nowhere"
            raise BillingRejected(
                f"billing webhook at {self.origin} answered {answer.describe()}, a redirect to "
                f"{where}; redirects are not followed: set url to the billing system's own address"
            )
        if 400 <= status < 500:
            shown = excerpt(answer.body)
            raise BillingRejected(
                f"billing webhook at {self.origin} refused to terminate subscription "
                f"{request.subscription_id!r} of account {request.account!r}: "
                f"{answer.describe()}" + (f": {shown}" if shown else "")
            )
        raise Transient(f"unexpected status {answer.describe()}")

    def _success(self, request: TerminationRequest, answer: Answer) -> BillingResult:
        reference: str | None = None
        replayed = False
        problem: str | None = None
        data = answer.body
        if len(data) > MAX_RESPONSE_BYTES:
            problem = f"larger than {MAX_RESPONSE_BYTES // 1024} KiB"
        elif data.strip():
            parsed: Any = None
            try:
                parsed = json.loads(data)
            except (ValueError, RecursionError):
                problem = "not JSON"
            if problem is None and not isinstance(parsed, dict):
                problem = "not a JSON object"
            if isinstance(parsed, dict):
                replayed = parsed.get("status") == REPLAY_STATUS
                given = parsed.get("reference")
                if _printable(given):
                    reference = given
                elif given is not None:
                    problem = (
                        f"a reference that is not a string of 1 to {MAX_REFERENCE_CHARS} "
                        "printable characters"
                    )
        if problem is not None:
            log.warning(
                "billing webhook at %s: %s, subscription %r terminated, but the answer is %s: "
                "no reference recorded",
                self.origin,
                answer.describe(),
                request.subscription_id,
                problem,
            )
        return BillingResult(backend=self.name, reference=reference, replayed=replayed)


def _printable(value: object) -> bool:
    """A reference worth keeping: a non-empty one-line string, printable, not too long."""
    return isinstance(value, str) and bool(value) and sanitize(value, MAX_REFERENCE_CHARS) == value
