"""Pages of one list, fetched in turn and checked: never an export with records missing.

:class:`Pager` asks for each page in the list's pagination style, retries what may succeed on
another attempt (429 with its ``Retry-After``, 5xx, 408, resets, timeouts, cut-short answers)
and stops the export, naming the page, on anything else:

* an HTTP error other than those (401, 403, 404...): final, never retried;
* an answer that is not JSON, or whose records are not a list of objects;
* a page whose records repeat an earlier page's (a server that serves page 2 twice);
* a next link or cursor that leads back to a page already read, or off the API's host (the
  token is sent to the API's own host only);
* a total that changes between pages (the data changed during the export), or a record count
  other than the total the API reported (a page skipped, or records added): with a total,
  there is never a "successful" export with missing records.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import urllib.parse
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from offboard.errors import SourceError, SourceUnavailable
from offboard.sources.http.spec import ListSpec, at_path
from offboard.transport import Answer, Endpoint, Transient, excerpt, parse_retry_after, sanitize

log = logging.getLogger("offboard.sources.http")
#: pages of one list, at most (a server whose next links never end)
MAX_PAGES = 10_000_000
RETRIED = frozenset({408, 425, 429})


class Client:
    """GETs on one API, with its token, timeouts and retry policy."""

    def __init__(self, base: str, client: dict[str, Any], token: str | None) -> None:
        self.endpoint = Endpoint.parse(base, "HTTP source")
        self.base_path = self.endpoint.target.split("?", 1)[0].rstrip("/")
        self.options = client
        self._headers = {"Accept": "application/json", "User-Agent": "offboard"}
        if token is not None:
            value = f"Bearer {token}" if client["auth"] == "bearer" else token
            self._auth = {str(client["header"]): value}
        else:
            self._auth = {}
        self.sleep: Callable[[float], None] = time.sleep

    def url(self, target: str) -> str:
        e = self.endpoint
        port = f":{e.port}" if e.port else ""
        return f"{e.scheme}://{e.host}{port}{target}"

    def target_of(self, url: str) -> str:
        """The path and query of ``url``, which must be on this API's scheme, host and port."""
        parts = urllib.parse.urlsplit(url)
        e = self.endpoint
        if (parts.scheme, parts.hostname, parts.port) != (e.scheme, e.host, e.port):
            raise SourceError(
                f"HTTP source {e.origin}: a next page is on another host ({sanitize(url, 80)}): "
                "refused (the token goes to the API's own host only)"
            )
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    def get(self, target: str, what: str, max_bytes: int | None = None) -> Answer:
        """The answer to a GET of ``target``, retried as the policy says; its status is 200."""
        from offboard.transport import retry_policy

        limit = max_bytes or int(self.options["max_page_bytes"])
        headers = {**self._headers, **self._auth}

        def attempt() -> Answer:
            answer = self.endpoint.get(target, headers, float(self.options["timeout"]), limit)
            if answer.status in RETRIED or 500 <= answer.status < 600:
                wait = parse_retry_after(answer.retry_after, _now())
                raise Transient(answer.describe(), wait)
            return answer

        def on_retry(number: int, cause: str, pause: float) -> None:
            log.warning(
                "%s: attempt %d of %d failed (%s); retrying in %.1f s",
                what,
                number,
                self.options["attempts"],
                cause,
                pause,
            )

        retrying = retry_policy(
            attempts=int(self.options["attempts"]),
            backoff=float(self.options["backoff"]),
            max_wait=float(self.options["max_wait"]),
            sleep=lambda seconds: self.sleep(seconds),
            on_retry=on_retry,
        )
        try:
            answer: Answer = retrying(attempt)
        except Transient as exc:
            raise SourceUnavailable(
                f"{what}: no usable answer after {self.options['attempts']} attempt(s) "
                f"(last: {exc.cause})"
            ) from None
        if answer.status != 200:
            raise SourceError(f"{what}: {answer.describe()}: {excerpt(answer.body)}")
        if len(answer.body) > limit:
            raise SourceError(f"{what}: the answer is larger than {limit:,} bytes")
        return answer


class Pager:
    """The records of one list, page after page, checked (see the module's documentation)."""

    def __init__(self, client: Client, spec: ListSpec, account: str | None, what: str) -> None:
        self.client = client
        self.spec = spec
        self.what = what
        quoted = urllib.parse.quote(account or "", safe="")
        self.first = client.base_path + spec.endpoint.replace("{account}", quoted)
        self.count = 0
        self.total: int | None = None

    def records(self) -> Iterator[list[dict[str, Any]]]:
        """Each page's records, in order; raises SourceError at the first thing wrong."""
        seen_pages: dict[str, int] = {}
        seen_targets: set[str] = set()
        target: str | None = self._target(0, None)
        number = 0
        while target is not None:
            number += 1
            if number > MAX_PAGES or target in seen_targets:
                raise SourceError(f"{self.what}: page {number} leads back to a page already read")
            seen_targets.add(target)
            where = f"{self.what}, page {number}"
            page = _json(self.client.get(target, f"GET {target}"), where)
            records = at_path(page, self.spec.records)
            if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
                raise SourceError(f"{where}: no list of records at {self.spec.records!r}")
            self._check_total(page, where)
            if records:
                digest = hashlib.sha256(
                    json.dumps(records, sort_keys=True, default=str).encode()
                ).hexdigest()
                if digest in seen_pages:
                    raise SourceError(
                        f"{where}: the same records as page {seen_pages[digest]}: the API "
                        "repeated a page"
                    )
                seen_pages[digest] = number
            self.count += len(records)
            yield records
            target = self._next(page, records, number)
        if self.total is not None and self.count != self.total:
            raise SourceError(
                f"{self.what}: {self.count:,} records read, the API reports {self.total:,}: "
                + ("records were skipped" if self.count < self.total else "records were added")
            )

    # -- pagination ---------------------------------------------------------------------------
    def _target(self, index: int, cursor: str | None) -> str:
        o, style = self.spec.options, self.spec.pagination
        size = int(o["page_size"])
        params: list[tuple[str, str]] = []
        if style == "page":
            params = [
                (o["page_param"], str(int(o["first_page"]) + index)),
                (o["size_param"], str(size)),
            ]
        elif style == "offset":
            params = [(o["offset_param"], str(index * size)), (o["limit_param"], str(size))]
        elif style == "cursor":
            params = [(o["limit_param"], str(size))]
            if cursor is not None:
                params.append((o["cursor_param"], cursor))
        elif style == "next" and index == 0:
            params = [(o["limit_param"], str(size))]
        if not params:
            return self.first
        joiner = "&" if "?" in self.first else "?"
        return self.first + joiner + urllib.parse.urlencode(params)

    def _next(self, page: Any, records: list[Any], number: int) -> str | None:
        style, o = self.spec.pagination, self.spec.options
        if style == "none":
            return None
        if style == "next":
            link = at_path(page, o["next"])
            if link is None:
                return None
            if not isinstance(link, str):
                raise SourceError(f"{self.what}, page {number}: the next link is not a URL")
            return self.client.target_of(urllib.parse.urljoin(self.client.url("/"), link))
        if style == "cursor":
            cursor = at_path(page, o["cursor_field"])
            if cursor is None or cursor == "":
                return None
            if not isinstance(cursor, (str, int)):
                raise SourceError(f"{self.what}, page {number}: the next cursor is not text")
            return self._target(number, str(cursor))
        # page or offset: an empty page, or the total reached, ends the list
        if not records or (self.total is not None and self.count >= self.total):
            return None
        return self._target(number, None)

    def _check_total(self, page: Any, where: str) -> None:
        if self.spec.total is None:
            return
        total = at_path(page, self.spec.total)
        if type(total) is not int or total < 0:
            raise SourceError(f"{where}: no record count at {self.spec.total!r}")
        if self.total is not None and total != self.total:
            raise SourceError(
                f"{where}: the API's record count changed from {self.total:,} to {total:,} "
                "during the export (the data changed): export again"
            )
        self.total = total


def _json(answer: Answer, where: str) -> Any:
    try:
        return json.loads(answer.body.decode("utf-8"), parse_float=Decimal)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        reason = sanitize(str(exc), 120)
        raise SourceError(f"{where}: the answer is not valid JSON ({reason})") from None


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)
