"""The demo HTTP API of tests/httpapi.py, read with the standard library's HTTP clients."""

from __future__ import annotations

import email.message
import email.utils
import http.client
import json
import socket
import sqlite3
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from exporters import select
from tests.httpapi import (
    DEFAULT_TOKEN,
    MAX_LIMIT,
    Delay,
    DemoApi,
    InvalidJson,
    Logged,
    RepeatPage,
    Reset,
    SkipPage,
    Status,
    TruncatedClose,
    TruncatedLength,
    decode_cursor,
    demo_api_fixture,  # noqa: F401  (fixture `demo_api`)
    demo_api_session,  # noqa: F401  (fixture `demo_api_server`)
    encode_cursor,
    http_date,
)

ACCOUNT = "acc-0001"
TABLES = {t.name: t for e in select(None) for t in e.tables}
DOCUMENT_SETS = {e.documents.kind: e.documents for e in select(None) if e.documents}


# -- helpers ---------------------------------------------------------------------------------------
class Answer:
    def __init__(self, status: int, headers: email.message.Message, body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body, parse_float=Decimal)


def get(url: str, token: str | None = DEFAULT_TOKEN, timeout: float = 10.0) -> Answer:
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Answer(response.status, response.headers, response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return Answer(exc.code, exc.headers, exc.read())


def get_json(url: str) -> Any:
    answer = get(url)
    assert answer.status == 200, answer.body
    assert answer.headers["Content-Type"].startswith("application/json")
    return answer.json()


def db_rows(db: Path, sql: str, account: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute(sql, [account]).fetchall()
    finally:
        conn.close()


def expected_records(db: Path, table: str, account: str = ACCOUNT) -> list[dict[str, Any]]:
    """The rows of the table's query as the JSON parsed with parse_float=Decimal should be."""
    t = TABLES[table]
    out = []
    for row in db_rows(db, t.query, account):
        record: dict[str, Any] = {}
        for field, value in zip(t.schema, row, strict=True):
            if value is not None and pa.types.is_decimal(field.type):
                value = Decimal(value)
            elif value is not None and pa.types.is_boolean(field.type):
                value = bool(value)
            record[field.name] = value
        out.append(record)
    return out


def read_all(first_url: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Follow links.next from ``first_url``: (all records, each page's meta)."""
    records: list[dict[str, Any]] = []
    metas: list[dict[str, Any]] = []
    url: str | None = first_url
    while url is not None:
        body = get_json(url)
        records.extend(body["data"])
        metas.append(body["meta"])
        url = body["links"]["next"]
    return records, metas


# -- the server ------------------------------------------------------------------------------------
def test_listens_on_loopback_only(demo_api: DemoApi) -> None:
    host, port = demo_api.address
    assert host == "127.0.0.1"
    assert demo_api.base_url == f"http://127.0.0.1:{port}/api/v1"
    # bound to 127.0.0.1 itself, not to every address: another loopback address is refused
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
        sock.settimeout(5)
        sock.connect(("127.0.0.2", port))
    with socket.create_connection((host, port), timeout=5):
        pass


def test_start_stop_context_manager(demo_db: Path) -> None:
    api = DemoApi(demo_db, token="other")
    with pytest.raises(RuntimeError):
        _ = api.base_url
    with api:
        assert get(api.url("/accounts"), token="other").status == 200
        assert get(api.url("/accounts")).status == 401
        port = api.port
    api.stop()  # idempotent
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_stop_cuts_pending_delays_short(demo_db: Path) -> None:
    api = DemoApi(demo_db).start()
    api.inject("accounts", Delay(60))
    errors: list[BaseException] = []

    def call() -> None:
        try:
            get(api.url("/accounts"), timeout=30)
        except Exception as exc:
            errors.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    time.sleep(0.2)
    began = time.monotonic()
    api.stop()
    thread.join(10)
    assert not thread.is_alive()
    assert time.monotonic() - began < 5


# -- auth, accounts, errors ------------------------------------------------------------------------
@pytest.mark.parametrize("token", [None, "wrong", ""])
def test_a_bearer_token_is_required(demo_api: DemoApi, token: str | None) -> None:
    urls = [
        demo_api.url("/accounts"),
        demo_api.table_url(ACCOUNT, "purchases"),
        demo_api.documents_url(ACCOUNT, "purchases"),
        demo_api.origin + "/files/whatever",
    ]
    for url in urls:
        answer = get(url, token=token)
        assert answer.status == 401, url
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        assert answer.json()["error"]["status"] == 401
    # another scheme with the right secret is refused too
    request = urllib.request.Request(demo_api.url("/accounts"))
    request.add_header("Authorization", f"Basic {DEFAULT_TOKEN}")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=5)
    info.value.close()
    assert info.value.code == 401
    assert [r.status for r in demo_api.requests] == [401] * 5
    assert demo_api.errors == []


def test_accounts(demo_api: DemoApi, demo_db: Path) -> None:
    conn = sqlite3.connect(f"file:{demo_db}?mode=ro", uri=True)
    rows = conn.execute("SELECT id, name FROM accounts ORDER BY id").fetchall()
    conn.close()
    body = get_json(demo_api.url("/accounts"))
    assert body == {"data": [{"id": i, "name": n} for i, n in rows]}
    assert len(body["data"]) == 2
    assert get_json(demo_api.url(f"/accounts/{ACCOUNT}")) == {
        "data": {"id": rows[0][0], "name": rows[0][1]}
    }


@pytest.mark.parametrize(
    "path",
    [
        "/accounts/acc-9999",
        "/accounts/acc-9999/tables/purchases",
        "/accounts/acc-9999/documents/purchases",
        f"/accounts/{ACCOUNT}/tables/nope",
        f"/accounts/{ACCOUNT}/documents/nope",
        f"/accounts/{ACCOUNT}/things/purchases",
        "/nothing",
    ],
)
def test_unknown_things_are_404(demo_api: DemoApi, path: str) -> None:
    answer = get(demo_api.url(path))
    assert answer.status == 404
    assert answer.json()["error"]["status"] == 404
    assert get(demo_api.origin + "/elsewhere").status == 404
    assert demo_api.errors == []


def test_other_methods_are_refused(demo_api: DemoApi) -> None:
    request = urllib.request.Request(demo_api.url("/accounts"), data=b"{}", method="POST")
    request.add_header("Authorization", f"Bearer {DEFAULT_TOKEN}")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=5)
    info.value.close()
    assert info.value.code == 405


@pytest.mark.parametrize(
    "query",
    [
        "page=0",
        "page=x",
        "offset=-1",
        "limit=0",
        "per_page=-5",
        "cursor=!!!",
        "cursor=" + encode_cursor(5)[:-2] + "zz",
        "page=1&offset=0",
        "per_page=10&limit=20",
        "limit=5&limit=6",
    ],
)
def test_bad_pagination_is_400(demo_api: DemoApi, query: str) -> None:
    answer = get(demo_api.table_url(ACCOUNT, "purchases", query))
    assert answer.status == 400, answer.body
    assert answer.json()["error"]["status"] == 400


# -- tables ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("style", ["page", "offset", "cursor"])
def test_table_page_by_page_in_each_style(demo_api: DemoApi, demo_db: Path, style: str) -> None:
    expected = expected_records(demo_db, "purchases")
    limit = 30
    records: list[dict[str, Any]] = []
    page, offset, cursor = 1, 0, None
    while True:
        if style == "page":
            query = f"page={page}&per_page={limit}"
        elif style == "offset":
            query = f"offset={offset}&limit={limit}"
        else:
            query = f"limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        body = get_json(demo_api.table_url(ACCOUNT, "purchases", query))
        meta = body["meta"]
        assert meta["total"] == len(expected)
        assert meta["offset"] == offset
        assert meta["limit"] == limit
        assert meta["page"] == (page if style == "page" else None)
        assert len(body["data"]) == min(limit, len(expected) - offset)
        records.extend(body["data"])
        if meta["next_cursor"] is None:
            assert body["links"]["next"] is None
            break
        assert decode_cursor(meta["next_cursor"]) == offset + limit
        page, offset, cursor = page + 1, offset + limit, meta["next_cursor"]
    assert records == expected
    assert page == -(-len(expected) // limit)


@pytest.mark.parametrize("account", ["acc-0001", "acc-0002"])
def test_every_table_through_next_links(demo_api: DemoApi, demo_db: Path, account: str) -> None:
    for name in TABLES:
        expected = expected_records(demo_db, name, account)
        records, metas = read_all(demo_api.table_url(account, name, "limit=100"))
        assert records == expected, name
        assert all(m["total"] == len(expected) for m in metas)
        assert len(metas) == max(1, -(-len(expected) // 100))
        assert list(records[0]) == TABLES[name].column_names
    assert demo_api.errors == []


@pytest.mark.parametrize("style", ["page=1&per_page=40", "offset=0&limit=40", "limit=40"])
def test_next_links_keep_the_style(demo_api: DemoApi, style: str) -> None:
    url: str | None = demo_api.table_url(ACCOUNT, "sales_invoice_lines", style)
    seen = 0
    urls = []
    while url is not None:
        urls.append(url)
        body = get_json(url)
        seen += len(body["data"])
        url = body["links"]["next"]
    assert seen == body["meta"]["total"] == 909
    key = {"page=1&per_page=40": "page", "offset=0&limit=40": "offset", "limit=40": "offset"}
    for later in urls[1:]:
        assert later.startswith(demo_api.base_url)
        assert key[style] in urllib.parse.parse_qs(urllib.parse.urlsplit(later).query)
    cursor_urls = []
    url = demo_api.table_url(ACCOUNT, "sales_invoice_lines", f"cursor={encode_cursor(0)}&limit=40")
    while url is not None:
        cursor_urls.append(url)
        url = get_json(url)["links"]["next"]
    assert all("cursor=" in u for u in cursor_urls)
    assert len(cursor_urls) == len(urls) == 23


def test_money_is_exact(demo_api: DemoApi, demo_db: Path) -> None:
    table = TABLES["sales_invoices"]
    rows = db_rows(demo_db, table.query, ACCOUNT)
    names = table.column_names
    money = [f.name for f in table.schema if pa.types.is_decimal(f.type)]
    answer = get(demo_api.table_url(ACCOUNT, "sales_invoices", "limit=500"))
    text = answer.body.decode("utf-8")
    records = answer.json()["data"]
    assert len(records) == len(rows) == 300
    for row, record in zip(rows, records, strict=True):
        for name in money:
            stored = row[names.index(name)]
            assert isinstance(record[name], Decimal)
            assert str(record[name]) == stored  # the very digits, trailing zeros included
            assert f'"{name}": {stored}' in text  # a JSON number, not a string
    # rates and quantities too, three places kept
    lines = get(demo_api.table_url(ACCOUNT, "quote_lines", "limit=3")).json()["data"]
    assert [str(r["quantity"]) for r in lines] == [
        r[TABLES["quote_lines"].column_names.index("quantity")]
        for r in db_rows(demo_db, TABLES["quote_lines"].query, ACCOUNT)[:3]
    ]
    assert str(lines[0]["vat_rate"]) == "20.00"


def test_json_types(demo_api: DemoApi) -> None:
    company = get_json(demo_api.table_url(ACCOUNT, "contacts_companies", "limit=1"))["data"][0]
    assert company["is_customer"] is True and company["is_supplier"] is False
    assert company["address_line2"] is None
    assert isinstance(company["created_at"], str) and company["created_at"].endswith("Z")
    datetime.strptime(company["created_at"], "%Y-%m-%dT%H:%M:%SZ")
    line = get_json(demo_api.table_url(ACCOUNT, "purchase_lines", "limit=1"))["data"][0]
    assert line["position"] == 1 and type(line["position"]) is int
    invoice = get_json(demo_api.table_url(ACCOUNT, "sales_invoices", "limit=1"))["data"][0]
    datetime.strptime(invoice["issue_date"], "%Y-%m-%d")
    # non-ASCII text is UTF-8 JSON
    assert "é" in get(demo_api.url("/accounts")).body.decode("utf-8")


def test_default_and_maximum_limits(demo_api: DemoApi, demo_db: Path) -> None:
    body = get_json(demo_api.table_url(ACCOUNT, "sales_invoice_lines"))
    assert len(body["data"]) == 50
    assert body["meta"] == {
        "total": 909,
        "next_cursor": encode_cursor(50),
        "page": None,
        "offset": 0,
        "limit": 50,
    }
    assert body["links"]["next"] == demo_api.table_url(
        ACCOUNT, "sales_invoice_lines", "offset=50&limit=50"
    )
    body = get_json(demo_api.table_url(ACCOUNT, "sales_invoice_lines", "limit=100000"))
    assert len(body["data"]) == MAX_LIMIT == body["meta"]["limit"]
    body = get_json(demo_api.table_url(ACCOUNT, "sales_invoice_lines", "per_page=7"))
    assert body["meta"]["page"] == 1 and "page=2&per_page=7" in body["links"]["next"]
    body = get_json(demo_api.table_url(ACCOUNT, "sales_invoice_lines", "offset=5000"))
    assert body["data"] == [] and body["links"]["next"] is None
    with DemoApi(demo_db, page_limit_default=7) as small:
        records, metas = read_all(small.table_url(ACCOUNT, "purchases"))
        assert records == expected_records(demo_db, "purchases")
        assert [m["limit"] for m in metas] == [7] * 29


# -- documents -------------------------------------------------------------------------------------
def test_documents_and_files(demo_api: DemoApi, demo_db: Path) -> None:
    root = demo_db.parent / f"{demo_db.stem}-documents"
    for kind, documents in DOCUMENT_SETS.items():
        rows = db_rows(demo_db, documents.query, ACCOUNT)
        records, metas = read_all(demo_api.documents_url(ACCOUNT, kind, "limit=64"))
        assert metas[0]["total"] == len(rows)
        assert [(r["record_id"], r["number"], r["date"], r["party"]) for r in records] == [
            row[:4] for row in rows
        ]
        for record, row in zip(records[:3], rows[:3], strict=True):
            url = record["url"]
            assert url.startswith(demo_api.origin + "/files/")
            assert row[4] not in url and ".pdf" not in url  # opaque
            answer = get(url)
            assert answer.status == 200
            assert answer.headers["Content-Type"] == "application/pdf"
            expected = (root / row[4]).read_bytes()
            assert int(answer.headers["Content-Length"]) == len(expected)
            assert answer.body == expected and expected.startswith(b"%PDF")
    # the same document gets the same URL on every listing
    again, _ = read_all(demo_api.documents_url(ACCOUNT, "quotes", "limit=500"))
    first, _ = read_all(demo_api.documents_url(ACCOUNT, "quotes", "limit=10"))
    assert [r["url"] for r in again] == [r["url"] for r in first]
    assert demo_api.errors == []


def test_missing_file_is_404(demo_api: DemoApi, demo_db: Path) -> None:
    root = demo_db.parent / f"{demo_db.stem}-documents"
    records, _ = read_all(demo_api.documents_url(ACCOUNT, "purchases", "limit=500"))
    rows = {r[0]: r[4] for r in db_rows(demo_db, DOCUMENT_SETS["purchases"].query, ACCOUNT)}
    missing = [r for r in records if not (root / rows[r["record_id"]]).is_file()]
    assert len(missing) == 1  # the demo's deliberately missing purchase document
    answer = get(missing[0]["url"])
    assert answer.status == 404
    assert answer.json()["error"]["status"] == 404


@pytest.mark.parametrize(
    "path", ["/files/", "/files/..%2Fdemo.db", "/files/../demo.db", "/files/purchases"]
)
def test_files_cannot_be_named(demo_api: DemoApi, path: str) -> None:
    assert get(demo_api.origin + path).status == 404


# -- faults ----------------------------------------------------------------------------------------
def test_status_faults(demo_api: DemoApi) -> None:
    url = demo_api.table_url(ACCOUNT, "purchases", "limit=5")
    demo_api.inject(
        "tables/purchases",
        Status(429, retry_after="2"),
        Status(429, retry_after=http_date(120)),
        Status(500),
        Status(502),
        Status(503),
        Status(400),
        Status(404),
    )
    answer = get(url)
    assert answer.status == 429 and answer.headers["Retry-After"] == "2"
    assert answer.json()["error"]["status"] == 429
    answer = get(url)
    assert answer.status == 429
    when = email.utils.parsedate_to_datetime(answer.headers["Retry-After"])
    assert 60 < (when - datetime.now(UTC)).total_seconds() <= 121
    for code in (500, 502, 503, 400, 404):
        answer = get(url)
        assert answer.status == code
        assert answer.headers.get("Retry-After") is None
        assert answer.json() == {"error": {"status": code, "message": "injected fault"}}
    assert len(get_json(url)["data"]) == 5
    assert [r.status for r in demo_api.requests] == [429, 429, 500, 502, 503, 400, 404, 200]
    assert demo_api.requests[0] == Logged(
        "GET", "/api/v1/accounts/acc-0001/tables/purchases?limit=5", 429, Status(429, "2")
    )
    assert demo_api.requests[-1].fault is None


def test_http_date() -> None:
    when = email.utils.parsedate_to_datetime(http_date(30))
    assert http_date(0).endswith(" GMT")
    assert 25 < (when - datetime.now(UTC)).total_seconds() <= 31


def test_reset(demo_api: DemoApi) -> None:
    url = demo_api.url("/accounts")
    demo_api.inject("/accounts$", Reset())
    with pytest.raises(ConnectionResetError):  # RemoteDisconnected is one too
        get(url)
    assert get(url).status == 200
    assert [(r.status, r.fault) for r in demo_api.requests] == [(None, Reset()), (200, None)]


def test_reset_on_a_kept_alive_connection(demo_api: DemoApi) -> None:
    headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
    conn = http.client.HTTPConnection(*demo_api.address, timeout=5)
    try:
        conn.request("GET", "/api/v1/accounts", headers=headers)
        response = conn.getresponse()
        assert response.status == 200 and not response.will_close
        response.read()
        demo_api.inject("accounts", Reset())
        conn.request("GET", "/api/v1/accounts", headers=headers)
        with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected)):
            conn.getresponse()
    finally:
        conn.close()


def test_delay(demo_api: DemoApi) -> None:
    url = demo_api.url("/accounts")
    demo_api.inject("accounts", Delay(3), Delay(0.3))
    began = time.monotonic()
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        get(url, timeout=0.3)
    assert time.monotonic() - began < 2.5
    began = time.monotonic()
    assert get(url, timeout=5).status == 200
    assert time.monotonic() - began >= 0.3
    began = time.monotonic()
    assert get(url, timeout=5).status == 200
    assert time.monotonic() - began < 0.3
    assert demo_api.pending_faults() == 0


def _raw_get(api: DemoApi, path: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection(*api.address, timeout=5)
    conn.request("GET", path, headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"})
    return conn.getresponse()


def test_truncated_length(demo_api: DemoApi) -> None:
    path = "/api/v1/accounts/acc-0001/tables/sales_invoices?limit=100"
    full = get(demo_api.origin + path).body
    demo_api.inject("sales_invoices", TruncatedLength(), TruncatedLength(0.9))
    for _ in range(2):
        response = _raw_get(demo_api, path)
        assert response.status == 200
        assert int(response.headers["Content-Length"]) == len(full)
        with pytest.raises(http.client.IncompleteRead) as info:
            response.read()
        assert 0 < len(info.value.partial) < len(full)
        assert full.startswith(info.value.partial)
    demo_api.inject("sales_invoices", TruncatedLength())
    with pytest.raises(http.client.IncompleteRead):  # urllib passes it through too
        get(demo_api.origin + path)
    assert get(demo_api.origin + path).body == full


def test_truncated_file_download(demo_api: DemoApi) -> None:
    record = get_json(demo_api.documents_url(ACCOUNT, "sales_invoices", "limit=1"))["data"][0]
    full = get(record["url"]).body
    demo_api.inject("^/files/", TruncatedLength(0.25))
    with pytest.raises(http.client.IncompleteRead):
        get(record["url"])
    assert get(record["url"]).body == full


def test_truncated_close(demo_api: DemoApi) -> None:
    path = "/api/v1/accounts/acc-0001/tables/sales_invoices?limit=100"
    full = get(demo_api.origin + path).body
    demo_api.inject("sales_invoices", TruncatedClose())
    response = _raw_get(demo_api, path)
    assert response.status == 200
    assert response.headers["Content-Length"] is None
    assert response.headers["Connection"] == "close"
    partial = response.read()  # HTTP cannot tell the body is cut...
    assert 0 < len(partial) < len(full) and full.startswith(partial)
    with pytest.raises(json.JSONDecodeError):  # ...the JSON can
        json.loads(partial)
    assert get(demo_api.origin + path).body == full


def test_invalid_json(demo_api: DemoApi) -> None:
    url = demo_api.table_url(ACCOUNT, "purchases")
    demo_api.inject("purchases", InvalidJson(), InvalidJson(b"<html>oops</html>", "text/html"))
    answer = get(url)
    assert answer.status == 200 and answer.headers["Content-Type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        answer.json()
    answer = get(url)
    assert answer.headers["Content-Type"] == "text/html" and answer.body == b"<html>oops</html>"
    assert get_json(url)["meta"]["total"] == 200


@pytest.mark.parametrize("style", ["page=2&per_page=20", "offset=20&limit=20", "cursor"])
def test_repeat_and_skip_page(demo_api: DemoApi, style: str) -> None:
    def url(offset: int) -> str:
        if style.startswith("page"):
            query = f"page={offset // 20 + 1}&per_page=20"
        elif style.startswith("offset"):
            query = f"offset={offset}&limit=20"
        else:
            query = f"cursor={encode_cursor(offset)}&limit=20"
        return demo_api.table_url(ACCOUNT, "purchases", query)

    page1, page2, page3 = (get(url(o)).body for o in (0, 20, 40))
    demo_api.inject("purchases", RepeatPage(), SkipPage(), RepeatPage(), SkipPage())
    assert get(url(20)).body == page1  # the previous page again
    assert get(url(20)).body == page3  # the next page instead
    assert get(url(0)).body == page1  # on the first page: the first page
    assert get(url(0)).body == page2
    assert get(url(20)).body == page2  # then normal service
    assert demo_api.pending_faults() == 0


def test_skip_past_the_end(demo_api: DemoApi) -> None:
    url = demo_api.table_url(ACCOUNT, "purchases", "offset=180&limit=20")
    demo_api.inject("purchases", SkipPage())
    body = get_json(url)
    assert body["data"] == [] and body["meta"]["offset"] == 200
    assert body["links"]["next"] is None


def test_repeat_and_skip_on_unpaginated_endpoints_answer_normally(demo_api: DemoApi) -> None:
    url = demo_api.url("/accounts")
    normal = get(url).body
    demo_api.inject("accounts", RepeatPage(), SkipPage())
    assert get(url).body == normal
    assert get(url).body == normal


def test_faults_in_order_then_normal_service(demo_api: DemoApi) -> None:
    purchases = demo_api.table_url(ACCOUNT, "purchases", "limit=10")
    accounts = demo_api.url("/accounts")
    demo_api.inject(r"tables/purchases\?", Status(503), InvalidJson(), Status(429, "1"))
    demo_api.inject(r"tables/purchases\?", Status(502))
    assert demo_api.pending_faults() == 4
    assert get(accounts).status == 200  # does not match: served normally, consumes nothing
    assert get(purchases).status == 503
    assert get(purchases).status == 200  # the invalid JSON
    assert get(accounts).status == 200
    assert get(purchases).status == 429
    assert get(purchases).status == 502  # the second rule, once the first is used up
    assert demo_api.pending_faults() == 0
    assert len(get_json(purchases)["data"]) == 10
    log = demo_api.requests
    assert [(r.path.split("/")[-1], r.status, type(r.fault).__name__) for r in log] == [
        ("accounts", 200, "NoneType"),
        ("purchases?limit=10", 503, "Status"),
        ("purchases?limit=10", 200, "InvalidJson"),
        ("accounts", 200, "NoneType"),
        ("purchases?limit=10", 429, "Status"),
        ("purchases?limit=10", 502, "Status"),
        ("purchases?limit=10", 200, "NoneType"),
    ]
    demo_api.inject("purchases", Status(500))
    demo_api.reset()
    assert demo_api.pending_faults() == 0 and demo_api.requests == []
    assert get(purchases).status == 200


def test_a_retrying_reader_gets_every_record_once(demo_api: DemoApi, demo_db: Path) -> None:
    """What an HTTP source has to do: retry the transient faults and still read exact data."""
    demo_api.inject(
        "sales_invoice_lines",
        Status(429, retry_after="0"),
        Reset(),
        Status(503),
        TruncatedLength(),
        TruncatedClose(),
        InvalidJson(),
        Delay(1.0),
    )
    records: list[dict[str, Any]] = []
    url: str | None = demo_api.table_url(ACCOUNT, "sales_invoice_lines", "limit=200")
    attempts = 0
    while url is not None:
        attempts += 1
        assert attempts < 30
        try:
            answer = get(url, timeout=0.5)
            if answer.status != 200:
                continue
            body = answer.json()
        except (OSError, http.client.HTTPException, json.JSONDecodeError):
            continue
        records.extend(body["data"])
        url = body["links"]["next"]
    assert records == expected_records(demo_db, "sales_invoice_lines")
    assert demo_api.pending_faults() == 0
    assert attempts == 5 + 7


def test_concurrent_clients(demo_api: DemoApi, demo_db: Path) -> None:
    results: dict[str, list[dict[str, Any]]] = {}

    def read(name: str) -> None:
        results[name] = read_all(demo_api.table_url(ACCOUNT, name, "limit=60"))[0]

    threads = [threading.Thread(target=read, args=(name,)) for name in TABLES]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for name in TABLES:
        assert results[name] == expected_records(demo_db, name), name
    assert demo_api.errors == []
