"""A real local HTTP server serving a demo database as a JSON API, with injected faults.

For the tests of an HTTP source: network traffic stays on loopback (the server binds
``127.0.0.1`` on a random free port) and every failure a client must survive is produced for real
on the socket (a reset, a truncated body, a slow answer...), not mocked.

Use from a conftest or a test module::

    from tests.httpapi import demo_api_fixture, demo_api_session  # noqa: F401

which provides ``demo_api_server`` (one server on the ``demo_db`` fixture for the session, one
per xdist worker) and ``demo_api`` (that server, :meth:`DemoApi.reset` before and after each
test: no pending fault, an empty request log). Or build your own::

    with DemoApi(db_path, token="t0ken", page_limit_default=20) as api:
        api.inject(r"/tables/purchases\\?", Status(503), Reset())
        ...

API (base URL :attr:`DemoApi.base_url` = ``http://127.0.0.1:PORT/api/v1``). Every request needs
``Authorization: Bearer <token>`` (else 401 with a JSON error body and ``WWW-Authenticate``).

* ``GET /accounts`` -> ``{"data": [{"id", "name"}, ...]}`` (not paginated); ``GET
  /accounts/{account}`` -> ``{"data": {"id", "name"}}``.
* ``GET /accounts/{account}/tables/{table}``: the records of a canonical table (the exporters'
  ``Table.query``), field names = canonical column names. Text, dates (``YYYY-MM-DD``) and
  timestamps (``YYYY-MM-DDTHH:MM:SSZ``) are JSON strings as stored; decimals (money, rates,
  quantities) are JSON numbers written with exactly their stored digits (``45714.00``,
  ``1.500``: parse with ``parse_float=decimal.Decimal``); booleans true/false; int64 numbers;
  NULL null.
* ``GET /accounts/{account}/documents/{kind}``: ``{"record_id", "number", "date", "party",
  "url"}``; ``url`` is ``http://127.0.0.1:PORT/files/<opaque token>`` (null when the record has
  no document). ``GET /files/<token>`` -> the PDF (``application/pdf``, ``Content-Length``), 404
  when the file is missing. Tokens are random ids mapped server-side to files under
  ``<db stem>-documents/``: a client cannot name any other file.
* Unknown account, table, kind, file or route -> 404; bad pagination parameters -> 400; a method
  other than GET -> 405. Errors are ``{"error": {"status": N, "message": "..."}}``.

Pagination (every list endpoint but ``/accounts``), all styles accepted:
``?page=P&per_page=N`` (P from 1), ``?offset=O&limit=N``, ``?cursor=C&limit=N`` (C opaque; it is
in ``meta.next_cursor``). ``per_page`` and ``limit`` are synonyms; a limit above
:data:`MAX_LIMIT` is clamped to it. No parameter: the first page, ``page_limit_default`` records
(50), offset style. Body::

    {"data": [...],
     "meta": {"total": T, "next_cursor": C or null, "page": P (page style) or null,
              "offset": O, "limit": N},
     "links": {"next": absolute URL of the next page in the request's style, or null}}

Faults: ``api.inject(pattern, *faults)``; ``pattern`` is a regex searched in the request's path
and query (``/api/v1/accounts/acc-0001/tables/purchases?offset=50&limit=50``); each following
request that matches consumes the next fault, in order, one per request (then the requests are
served normally again). Several ``inject`` calls queue up: the earliest rule with a pending fault
that matches is used. Faults are taken before the token is checked. The kinds:

* :class:`Status` ``(code, retry_after=None)``: that status with a JSON error body, and a
  ``Retry-After`` header when given (seconds ``"2"`` or an HTTP-date, see :func:`http_date`);
* :class:`Reset`: the connection is closed with SO_LINGER 0 (a TCP RST), nothing is sent;
* :class:`Delay` ``(seconds)``: sleep, then answer normally (for client timeouts);
* :class:`TruncatedLength` ``(fraction=0.5)``: the normal headers with the full Content-Length,
  then only that fraction of the body, then close (the client sees ``IncompleteRead``);
* :class:`TruncatedClose` ``(fraction=0.5)``: no Content-Length, ``Connection: close``, part of
  the body, close (HTTP cannot tell: the client gets a body that is not valid JSON);
* :class:`InvalidJson` ``(body=..., content_type=...)``: a 200 whose body is not JSON;
* :class:`RepeatPage`: a 200 with exactly the body of the previous page (same style and limit;
  on the first page: the first page itself), i.e. records served twice;
* :class:`SkipPage`: a 200 with exactly the body of the next page (its meta and links
  included), i.e. one page of records never served.

On an endpoint that is not paginated, RepeatPage and SkipPage answer normally.
:attr:`DemoApi.requests` logs every request as a :class:`Logged` ``(method, path, status,
fault)`` when its answer is complete (status None for a reset); :attr:`DemoApi.errors` holds
exceptions raised inside the server (answered 500), which a test should find empty.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import email.utils
import hmac
import json
import re
import secrets
import socket
import sqlite3
import struct
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple

import pyarrow as pa
import pytest

HOST = "127.0.0.1"
API_PREFIX = "/api/v1"
FILES_PREFIX = "/files/"
DEFAULT_TOKEN = "offboard-demo-token"
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
#: seconds an idle keep-alive connection is kept open by the server
IDLE_TIMEOUT = 30.0
JSON_TYPE = "application/json; charset=utf-8"
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?\Z")


# -- faults ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Status:
    """Answer ``status`` with a JSON error body (and ``Retry-After: retry_after`` when given)."""

    status: int
    retry_after: str | None = None
    message: str = "injected fault"


@dataclass(frozen=True)
class Reset:
    """Close the connection abruptly (SO_LINGER 0: the client sees a TCP reset), no response."""


@dataclass(frozen=True)
class Delay:
    """Sleep ``seconds`` (cut short by :meth:`DemoApi.stop`), then answer normally."""

    seconds: float


@dataclass(frozen=True)
class TruncatedLength:
    """Full headers with the real Content-Length, then ``fraction`` of the body, then close."""

    fraction: float = 0.5


@dataclass(frozen=True)
class TruncatedClose:
    """No Content-Length, ``Connection: close``, ``fraction`` of the body, then close."""

    fraction: float = 0.5


@dataclass(frozen=True)
class InvalidJson:
    """A 200 whose body is not JSON."""

    body: bytes = b'{"data": [{"id": <html><body>502 Bad Gateway</body></html>'
    content_type: str = JSON_TYPE


@dataclass(frozen=True)
class RepeatPage:
    """A 200 with the previous page's body (the first page's own on the first page)."""


@dataclass(frozen=True)
class SkipPage:
    """A 200 with the next page's body: the requested page's records are never served."""


Fault = (
    Status | Reset | Delay | TruncatedLength | TruncatedClose | InvalidJson | RepeatPage | SkipPage
)


def http_date(seconds_from_now: float) -> str:
    """An HTTP-date (RFC 9110, GMT) ``seconds_from_now`` from now, for ``Retry-After``."""
    return email.utils.formatdate(time.time() + seconds_from_now, usegmt=True)


class Logged(NamedTuple):
    """One request the server answered (or reset)."""

    method: str
    path: str  # path and query, as sent
    status: int | None  # None: the connection was reset
    fault: Fault | None


# -- responses -------------------------------------------------------------------------------------
@dataclass
class _Response:
    status: int
    body: bytes
    content_type: str = JSON_TYPE
    headers: tuple[tuple[str, str], ...] = ()


class _HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _error(status: int, message: str, headers: tuple[tuple[str, str], ...] = ()) -> _Response:
    body = json.dumps({"error": {"status": status, "message": message}}).encode()
    return _Response(status, body, JSON_TYPE, headers)


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


# -- record encoding: the JSON text of each value, decimals written with their stored digits -------
def _text(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    return _json(value if isinstance(value, str) else str(value))


def _decimal(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        raise ValueError(f"not a decimal: {value!r}")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and _JSON_NUMBER.match(value):
        return value
    raise ValueError(f"not an exact decimal: {value!r}")


def _integer(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"not an integer: {value!r}")


def _boolean(value: object) -> str:
    if value is None:
        return "null"
    if value in (0, 1):
        return "true" if value else "false"
    raise ValueError(f"not a boolean (0/1): {value!r}")


def _encoder(t: pa.DataType) -> Callable[[object], str]:
    if pa.types.is_decimal(t):
        return _decimal
    if pa.types.is_boolean(t):
        return _boolean
    if pa.types.is_integer(t):
        return _integer
    return _text


# -- pagination ------------------------------------------------------------------------------------
def encode_cursor(offset: int) -> str:
    """The opaque cursor of the page starting at ``offset``."""
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _HttpError(400, f"invalid cursor {cursor!r}") from None
    prefix, _, number = text.partition(":")
    if prefix != "offset" or not number.isdigit():
        raise _HttpError(400, f"invalid cursor {cursor!r}")
    return int(number)


@dataclass(frozen=True)
class _Paging:
    style: str  # "page", "offset" or "cursor"
    offset: int
    limit: int

    @property
    def page(self) -> int:
        return self.offset // self.limit + 1

    def moved(self, pages: int) -> _Paging:
        return _Paging(self.style, max(0, self.offset + pages * self.limit), self.limit)

    def query(self) -> str:
        if self.style == "page":
            return f"page={self.page}&per_page={self.limit}"
        if self.style == "cursor":
            return f"cursor={encode_cursor(self.offset)}&limit={self.limit}"
        return f"offset={self.offset}&limit={self.limit}"


def _int_param(params: dict[str, str], name: str, minimum: int) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    if not re.fullmatch(r"[0-9]+", raw) or int(raw) < minimum:
        raise _HttpError(400, f"{name} must be an integer >= {minimum}, not {raw!r}")
    return int(raw)


def _paging(query: str, default_limit: int, max_limit: int) -> _Paging:
    params: dict[str, str] = {}
    for name, values in urllib.parse.parse_qs(query, keep_blank_values=True).items():
        if len(values) > 1:
            raise _HttpError(400, f"parameter {name!r} given more than once")
        params[name] = values[0]
    per_page = _int_param(params, "per_page", 1)
    limit = _int_param(params, "limit", 1)
    if per_page is not None and limit is not None and per_page != limit:
        raise _HttpError(400, "per_page and limit disagree")
    size = min(per_page or limit or default_limit, max_limit)
    styles = [s for s in ("page", "offset", "cursor") if s in params]
    if len(styles) > 1:
        raise _HttpError(400, f"use one of page, offset or cursor, not {' and '.join(styles)}")
    if styles == ["page"]:
        page = _int_param(params, "page", 1)
        assert page is not None
        return _Paging("page", (page - 1) * size, size)
    if styles == ["cursor"]:
        return _Paging("cursor", decode_cursor(params["cursor"]), size)
    if styles == ["offset"]:
        offset = _int_param(params, "offset", 0)
        assert offset is not None
        return _Paging("offset", offset, size)
    return _Paging("page" if per_page is not None else "offset", 0, size)


# -- the server ------------------------------------------------------------------------------------
class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False

    def __init__(self, api: DemoApi) -> None:
        self.api = api
        super().__init__((HOST, 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "offboard-demo-api/1"
    timeout = IDLE_TIMEOUT
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.server.api._track(self.connection, True)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.api._track(self.connection, False)

    def handle(self) -> None:
        with contextlib.suppress(ConnectionError, TimeoutError):
            super().handle()

    def do_GET(self) -> None:
        self.server.api._serve(self)

    def _not_allowed(self) -> None:
        self.close_connection = True  # the request body, if any, is not read
        self.server.api._serve(self, allowed=False)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _not_allowed

    # -- writing -----------------------------------------------------------------------------------
    def send(self, response: _Response, *, length: bool = True, keep: int | None = None) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        for name, value in response.headers:
            self.send_header(name, value)
        if length:
            self.send_header("Content-Length", str(len(response.body)))
        if keep is not None or self.close_connection:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(response.body if keep is None else response.body[:keep])

    def reset(self) -> None:
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()  # the descriptor closes (RST) when finish() closes rfile


class DemoApi:
    """The demo database ``db`` served as a JSON API on 127.0.0.1 (see the module docstring).

    ``with DemoApi(db) as api:`` or ``api.start()`` / ``api.stop()``. ``base_url`` is
    ``http://127.0.0.1:PORT/api/v1``; ``origin`` is ``http://127.0.0.1:PORT``.
    """

    def __init__(
        self,
        db: Path | str,
        token: str = DEFAULT_TOKEN,
        *,
        page_limit_default: int = DEFAULT_LIMIT,
        page_limit_max: int = MAX_LIMIT,
    ) -> None:
        from exporters import select

        self.db = Path(db).resolve()
        self.documents_root = self.db.parent / f"{self.db.stem}-documents"
        self.token = token
        self.page_limit_default = page_limit_default
        self.page_limit_max = page_limit_max
        exporters = select(None)
        self.tables = {t.name: t for e in exporters for t in e.tables}
        self.document_sets = {e.documents.kind: e.documents for e in exporters if e.documents}
        self._encoders = {
            name: [_encoder(f.type) for f in t.schema] for name, t in self.tables.items()
        }
        self._lock = threading.Lock()
        self._rules: list[tuple[re.Pattern[str], deque[Fault]]] = []
        self._log: list[Logged] = []
        self._errors: list[BaseException] = []
        self._files: dict[str, Path] = {}  # token -> file
        self._file_tokens: dict[Path, str] = {}
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> DemoApi:
        if self._server is not None:
            raise RuntimeError("server already started")
        self._stopping.clear()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"demo-api-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, cut open connections, cut pending delays short (idempotent)."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> DemoApi:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("server not started")
        port: int = self._server.server_address[1]
        return port

    @property
    def address(self) -> tuple[str, int]:
        """The (host, port) the server listens on."""
        return (HOST, self.port)

    @property
    def origin(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def base_url(self) -> str:
        return self.origin + API_PREFIX

    def url(self, path: str) -> str:
        """``base_url + path`` (``path`` starting with ``/``)."""
        return self.base_url + path

    def table_url(self, account: str, table: str, query: str = "") -> str:
        url = self.url(f"/accounts/{_quote(account)}/tables/{_quote(table)}")
        return f"{url}?{query}" if query else url

    def documents_url(self, account: str, kind: str, query: str = "") -> str:
        url = self.url(f"/accounts/{_quote(account)}/documents/{_quote(kind)}")
        return f"{url}?{query}" if query else url

    # -- faults and the log ------------------------------------------------------------------------
    def inject(self, pattern: str, *faults: Fault) -> None:
        """Queue ``faults`` for the next requests whose path+query ``pattern`` re.search-es."""
        if not faults:
            return
        with self._lock:
            self._rules.append((re.compile(pattern), deque(faults)))

    def pending_faults(self) -> int:
        """How many injected faults no request has consumed yet."""
        with self._lock:
            return sum(len(faults) for _, faults in self._rules)

    def reset(self) -> None:
        """Drop the pending faults, the request log and the recorded server errors."""
        with self._lock:
            self._rules.clear()
            self._log.clear()
            self._errors.clear()

    @property
    def requests(self) -> list[Logged]:
        """A copy of the request log, in the order the answers were completed."""
        with self._lock:
            return list(self._log)

    @property
    def errors(self) -> list[BaseException]:
        """Exceptions raised while serving (each answered 500); a test expects none."""
        with self._lock:
            return list(self._errors)

    def _take_fault(self, target: str) -> Fault | None:
        with self._lock:
            for pattern, faults in self._rules:
                if faults and pattern.search(target):
                    fault = faults.popleft()
                    self._rules = [rule for rule in self._rules if rule[1]]
                    return fault
        return None

    def _record(self, entry: Logged) -> None:
        with self._lock:
            self._log.append(entry)

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    # -- serving -----------------------------------------------------------------------------------
    def _serve(self, handler: _Handler, *, allowed: bool = True) -> None:
        method, target = handler.command, handler.path
        fault = self._take_fault(target)
        if isinstance(fault, Reset):
            self._record(Logged(method, target, None, fault))
            handler.reset()
            return
        if isinstance(fault, Delay):
            self._stopping.wait(fault.seconds)
        if isinstance(fault, Status):
            extra = () if fault.retry_after is None else (("Retry-After", fault.retry_after),)
            response = _error(fault.status, fault.message, extra)
        elif isinstance(fault, InvalidJson):
            response = _Response(200, fault.body, fault.content_type)
        elif not allowed:
            response = _error(405, f"method {method} not allowed", (("Allow", "GET"),))
        else:
            shift = -1 if isinstance(fault, RepeatPage) else 1 if isinstance(fault, SkipPage) else 0
            response = self._answer(handler, target, shift)
        self._record(Logged(method, target, response.status, fault))
        if isinstance(fault, TruncatedLength | TruncatedClose):
            keep = max(0, min(len(response.body) - 1, int(len(response.body) * fault.fraction)))
            handler.send(response, length=isinstance(fault, TruncatedLength), keep=keep)
        else:
            handler.send(response)

    def _answer(self, handler: _Handler, target: str, shift: int) -> _Response:
        try:
            if not self._authorized(handler.headers.get("Authorization")):
                return _error(
                    401,
                    "missing or invalid bearer token",
                    (("WWW-Authenticate", 'Bearer realm="offboard-demo"'),),
                )
            return self._route(target, shift)
        except _HttpError as exc:
            return _error(exc.status, exc.message)
        except Exception as exc:  # a bug of this server: answer 500 and keep it for the test
            with self._lock:
                self._errors.append(exc)
            return _error(500, f"internal error: {type(exc).__name__}: {exc}")

    def _authorized(self, header: str | None) -> bool:
        if header is None or not header.startswith("Bearer "):
            return False
        return hmac.compare_digest(header[len("Bearer ") :].encode(), self.token.encode())

    def _route(self, target: str, shift: int) -> _Response:
        split = urllib.parse.urlsplit(target)
        path = split.path
        if path.startswith(FILES_PREFIX):
            return self._file(urllib.parse.unquote(path[len(FILES_PREFIX) :]))
        if path != API_PREFIX and not path.startswith(API_PREFIX + "/"):
            raise _HttpError(404, f"no such route {path!r}")
        parts = [urllib.parse.unquote(p) for p in path[len(API_PREFIX) :].strip("/").split("/")]
        if parts == ["accounts"]:
            return self._json_response({"data": self._accounts()})
        if len(parts) < 2 or parts[0] != "accounts":
            raise _HttpError(404, f"no such route {path!r}")
        account = self._account(parts[1])
        if len(parts) == 2:
            return self._json_response({"data": account})
        if len(parts) == 4 and parts[2] == "tables":
            if parts[3] not in self.tables:
                raise _HttpError(404, f"unknown table {parts[3]!r}")
            return self._list(split, parts[1], shift, self._table_rows, parts[3])
        if len(parts) == 4 and parts[2] == "documents":
            if parts[3] not in self.document_sets:
                raise _HttpError(404, f"unknown document kind {parts[3]!r}")
            return self._list(split, parts[1], shift, self._document_rows, parts[3])
        raise _HttpError(404, f"no such route {path!r}")

    def _json_response(self, value: object) -> _Response:
        return _Response(200, _json(value).encode("utf-8"))

    # -- data --------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        uri = "file:" + urllib.parse.quote(str(self.db)) + "?mode=ro"
        conn = sqlite3.connect(uri, uri=True)
        try:
            yield conn
        finally:
            conn.close()

    def _accounts(self) -> list[dict[str, str]]:
        with self._db() as conn:
            rows = conn.execute("SELECT id, name FROM accounts ORDER BY id").fetchall()
        return [{"id": str(r[0]), "name": str(r[1])} for r in rows]

    def _account(self, account: str) -> dict[str, str]:
        with self._db() as conn:
            row = conn.execute("SELECT id, name FROM accounts WHERE id = ?", [account]).fetchone()
        if row is None:
            raise _HttpError(404, f"unknown account {account!r}")
        return {"id": str(row[0]), "name": str(row[1])}

    def _table_rows(self, account: str, name: str) -> list[str]:
        table = self.tables[name]
        with self._db() as conn:
            rows = conn.execute(table.query, [account]).fetchall()
        keys = [_json(c) for c in table.column_names]
        encoders = self._encoders[name]
        return [
            "{"
            + ", ".join(f"{k}: {enc(v)}" for k, enc, v in zip(keys, encoders, row, strict=True))
            + "}"
            for row in rows
        ]

    def _document_rows(self, account: str, kind: str) -> list[str]:
        with self._db() as conn:
            rows = conn.execute(self.document_sets[kind].query, [account]).fetchall()
        out = []
        for record_id, number, date, party, locator in rows:
            url = None if locator is None else f"{self.origin}{FILES_PREFIX}{self._token(locator)}"
            out.append(
                _json(
                    {
                        "record_id": None if record_id is None else str(record_id),
                        "number": number,
                        "date": date,
                        "party": party,
                        "url": url,
                    }
                )
            )
        return out

    def _token(self, locator: str) -> str:
        path = self.documents_root / str(locator)
        with self._lock:
            token = self._file_tokens.get(path)
            if token is None:
                token = secrets.token_urlsafe(18)
                self._file_tokens[path] = token
                self._files[token] = path
            return token

    def _file(self, token: str) -> _Response:
        with self._lock:
            path = self._files.get(token)
        if path is None:
            raise _HttpError(404, "no such file")
        root = self.documents_root.resolve()
        resolved = path.resolve()
        if not resolved.is_relative_to(root) or not resolved.is_file():
            raise _HttpError(404, "document file not found")
        return _Response(200, resolved.read_bytes(), "application/pdf")

    def _list(
        self,
        split: urllib.parse.SplitResult,
        account: str,
        shift: int,
        rows_of: Callable[[str, str], list[str]],
        name: str,
    ) -> _Response:
        paging = _paging(split.query, self.page_limit_default, self.page_limit_max).moved(shift)
        rows = rows_of(account, name)
        total = len(rows)
        page = rows[paging.offset : paging.offset + paging.limit]
        has_next = paging.offset + paging.limit < total
        following = paging.moved(1)
        meta = {
            "total": total,
            "next_cursor": encode_cursor(following.offset) if has_next else None,
            "page": paging.page if paging.style == "page" else None,
            "offset": paging.offset,
            "limit": paging.limit,
        }
        links = {"next": f"{self.origin}{split.path}?{following.query()}" if has_next else None}
        body = f'{{"data": [{", ".join(page)}], "meta": {_json(meta)}, "links": {_json(links)}}}'
        return _Response(200, body.encode("utf-8"))


def _quote(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")


# -- fixtures --------------------------------------------------------------------------------------
def demo_api_server_fixture(db: Path) -> Iterator[DemoApi]:
    """Body of a fixture: a started :class:`DemoApi` on ``db``, stopped afterwards."""
    with DemoApi(db) as api:
        yield api


@pytest.fixture(scope="session", name="demo_api_server")
def demo_api_session(demo_db: Path) -> Iterator[DemoApi]:
    """The demo API on the session's ``demo_db``, shared by the session (one per xdist worker)."""
    yield from demo_api_server_fixture(demo_db)


@pytest.fixture(name="demo_api")
def demo_api_fixture(demo_api_server: DemoApi) -> Iterator[DemoApi]:
    """The session's demo API, reset (no pending fault, empty log) before and after the test."""
    demo_api_server.reset()
    yield demo_api_server
    demo_api_server.reset()
