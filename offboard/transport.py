"""One HTTP request (a billing system's POST, an API's GET), answers treated as hostile input.

Standard library only (:mod:`http.client`, imported when first used). An attempt is cut off
after its timeout however slowly the bytes come (a watchdog shuts the socket down), at most
``max_bytes`` of an answer's body are read (64 KiB by default), redirects are never followed,
and whatever comes from the answer reaches a message only through :func:`sanitize`.
:func:`retry_policy` is the one retry policy of both: exponential backoff with jitter,
``Retry-After`` honoured (capped), a warning logged before each retry.
"""

from __future__ import annotations

import re
import socket
import threading
import time
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from offboard.errors import BillingError, ConfigError

if TYPE_CHECKING:
    import http.client

MAX_RESPONSE_BYTES = 64 * 1024
EXCERPT_CHARS = 200
_SECONDS = re.compile(r"^[0-9]{1,10}$")
# Control, format (bidi overrides, zero-width), surrogate, private and unassigned characters,
# line and paragraph separators: none of them reaches a terminal or a log line.
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def sanitize(text: str, limit: int = EXCERPT_CHARS) -> str:
    """``text`` on one line, without control or format characters, at most ``limit`` long."""
    shown = "".join(" " if unicodedata.category(ch) in _HIDDEN else ch for ch in text[: limit * 2])
    shown = " ".join(shown.split())
    if len(shown) > limit or len(text) > limit * 2:
        shown = shown[: limit - 1].rstrip() + "…"
    return shown


def excerpt(data: bytes, limit: int = EXCERPT_CHARS) -> str:
    """A short, printable excerpt of an answer's body."""
    return sanitize(data[: limit * 4].decode("utf-8", "replace"), limit)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` in seconds from ``now`` (``delay-seconds`` or an HTTP date), or None."""
    if value is None:
        return None
    value = value.strip()
    if _SECONDS.match(value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, for messages (a path or query may hold tokens)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "an invalid address"
    host = f"[{host}]" if ":" in host else host
    return sanitize(f"{parts.scheme}://{host}{port}", 120)


class Transient(Exception):
    """One attempt failed in a way that another attempt may not."""

    def __init__(self, cause: str, retry_after: float | None = None) -> None:
        super().__init__(cause)
        self.cause = cause
        self.retry_after = retry_after


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str
    retry_after: str | None
    location: str | None
    body: bytes  # at most MAX_RESPONSE_BYTES + 1: the one byte more tells it was cut

    def describe(self) -> str:
        return f"HTTP {self.status} {sanitize(self.reason, 60)}".rstrip()


@dataclass(frozen=True)
class Endpoint:
    """Where to POST, checked: http or https, a host, no credentials, no control characters."""

    scheme: str
    host: str
    port: int | None
    target: str  # path and query
    origin: str

    @classmethod
    def parse(cls, url: str, what: str = "billing webhook") -> Endpoint:
        if any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in url):
            raise ConfigError(f"{what}: the url contains spaces or control characters")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise ConfigError(f"{what}: the url {origin_of(url)} is not valid") from None
        if parts.scheme not in ("http", "https"):
            raise ConfigError(
                f"{what}: the url must start with http:// or https:// "
                f"(not {sanitize(parts.scheme, 20) or 'no scheme'})"
            )
        if not parts.hostname:
            raise ConfigError(f"{what}: the url names no host")
        if parts.username is not None or parts.password is not None:
            raise ConfigError(
                f"{what}: the url must not hold credentials (a command line is visible to "
                "other users): they are read from the environment"
            )
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return cls(parts.scheme, parts.hostname, port, target, origin_of(url))

    def post(self, body: bytes, headers: Mapping[str, str], timeout: float) -> Answer:
        """One POST, cut off after ``timeout`` seconds in all; raises :class:`Transient`."""
        return self.request("POST", self.target, body, headers, timeout)

    def get(
        self, target: str, headers: Mapping[str, str], timeout: float, max_bytes: int
    ) -> Answer:
        """One GET of ``target`` (a path and query on this endpoint's host), its whole body:
        a body shorter than its Content-Length raises :class:`Transient`; at most
        ``max_bytes + 1`` bytes are read (the one more tells the answer was too long)."""
        return self.request("GET", target, None, headers, timeout, max_bytes, whole=True)

    def request(
        self,
        method: str,
        target: str,
        body: bytes | None,
        headers: Mapping[str, str],
        timeout: float,
        max_bytes: int = MAX_RESPONSE_BYTES,
        *,
        whole: bool = False,
    ) -> Answer:
        """One request, cut off after ``timeout`` seconds in all; raises :class:`Transient`."""
        import http.client
        import ssl

        conn = self._connection(timeout)
        expired = threading.Event()
        watchdog: threading.Timer | None = None
        try:
            try:
                started = time.monotonic()
                conn.connect()
                remaining = max(timeout - (time.monotonic() - started), 0.0)
                watchdog = threading.Timer(remaining, _cut_off, (conn.sock, expired))
                watchdog.daemon = True
                watchdog.start()
                conn.request(method, target, body=body, headers=dict(headers))
                response = conn.getresponse()
            except ssl.SSLCertVerificationError as exc:
                raise BillingError(
                    f"billing webhook at {self.origin}: the TLS certificate does not verify "
                    f"({sanitize(str(exc.verify_message), 100)})"
                ) from None
            except (OSError, http.client.HTTPException) as exc:
                if expired.is_set() or isinstance(exc, TimeoutError):
                    raise Transient(f"no answer within {timeout:g} s") from None
                raise Transient(self._cause(exc)) from None
            data = _read_bounded(response, max_bytes, whole)
            if expired.is_set():
                # Cut off mid-answer: http.client takes the end of file for the end of the
                # headers, so what was parsed may look whole. Not an answer to rely on.
                raise Transient(f"no complete answer within {timeout:g} s")
            return Answer(
                status=response.status,
                reason=response.reason or "",
                retry_after=response.getheader("Retry-After"),
                location=response.getheader("Location"),
                body=data,
            )
        finally:
            if watchdog is not None:
                watchdog.cancel()
            conn.close()

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        import http.client

        if self.scheme == "https":
            import ssl

            return http.client.HTTPSConnection(
                self.host, self.port, timeout=timeout, context=ssl.create_default_context()
            )
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def _cause(self, exc: BaseException) -> str:
        import http.client

        if isinstance(exc, ConnectionRefusedError):
            return "connection refused"
        if isinstance(exc, http.client.RemoteDisconnected):
            return "the server closed the connection without answering"
        if isinstance(exc, ConnectionResetError):
            return "connection reset"
        if isinstance(exc, ConnectionError):
            return "connection broken"
        if isinstance(exc, socket.gaierror):
            return f"cannot resolve {sanitize(self.host, 80)}"
        if isinstance(exc, http.client.HTTPException):
            return f"malformed answer ({type(exc).__name__})"
        return sanitize(str(exc) or type(exc).__name__, 120)


def _cut_off(sock: socket.socket | None, expired: threading.Event) -> None:
    """End an attempt that ran past its time: wakes any read or write blocked on ``sock``."""
    expired.set()
    if sock is not None:
        # The plain socket's shutdown, under TLS too: the blocked thread then sees an end of file.
        try:
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except OSError:  # already closed
            return


def _read_bounded(response: http.client.HTTPResponse, max_bytes: int, whole: bool) -> bytes:
    """At most ``max_bytes + 1`` bytes of the body; what came, if it was cut short (or, when
    ``whole``, :class:`Transient`)."""
    import http.client

    try:
        data = response.read(max_bytes + 1)
        # http.client returns a short read without complaint when the connection closes
        # before Content-Length bytes: what is left to come tells
        left = response.length
        if whole and left and len(data) <= max_bytes:
            got = len(data)
            raise Transient(f"the answer was cut short ({got} bytes of {got + left})")
        return data
    except http.client.IncompleteRead as exc:
        if whole:
            got, wanted = len(exc.partial), exc.expected or 0
            raise Transient(f"the answer was cut short ({got} bytes of {got + wanted})") from None
        return bytes(exc.partial[: max_bytes + 1])
    except (OSError, http.client.HTTPException) as exc:
        if whole:
            raise Transient(f"the answer was cut short ({type(exc).__name__})") from None
        return b""


def retry_policy(
    *,
    attempts: int,
    backoff: float,
    max_wait: float,
    sleep: Callable[[float], None],
    on_retry: Callable[[int, str, float], None],
) -> Any:
    """A tenacity ``Retrying`` for :class:`Transient` failures: ``attempts`` in all, waiting
    backoff, 2 x backoff, 4 x backoff... plus up to one backoff of jitter, or the answer's
    ``Retry-After`` when it gave one, never more than ``max_wait``; ``on_retry(attempt, cause,
    pause)`` is called before each wait (to log a warning)."""
    from tenacity import (
        RetryCallState,
        Retrying,
        retry_if_exception_type,
        stop_after_attempt,
        wait_exponential,
        wait_random,
    )

    jittered = wait_exponential(multiplier=backoff, max=max_wait) + wait_random(0, backoff)

    def wait(state: RetryCallState) -> float:
        failure = state.outcome.exception() if state.outcome else None
        if isinstance(failure, Transient) and failure.retry_after is not None:
            return min(failure.retry_after, max_wait)
        return min(float(jittered(state)), max_wait)

    def before_sleep(state: RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome else None
        cause = failure.cause if isinstance(failure, Transient) else repr(failure)
        pause = state.next_action.sleep if state.next_action else 0.0
        on_retry(state.attempt_number, cause, pause)

    return Retrying(
        sleep=sleep,
        stop=stop_after_attempt(attempts),
        wait=wait,
        retry=retry_if_exception_type(Transient),
        before_sleep=before_sleep,
        reraise=True,
    )
