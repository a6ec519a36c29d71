"""The HTTP part of a mapping file: where each table's records are in a JSON API.

::

    [http]
    token_env = "ACME_API_TOKEN"   # the environment variable holding the API token
    auth = "bearer"                # "bearer": Authorization: Bearer <token>; "header": see header
    header = "X-API-Key"           # the header that carries the token with auth = "header"
    timeout = 30                   # seconds per request
    attempts = 5                   # attempts per request (429, 5xx, resets, timeouts)
    max_wait = 60                  # longest pause before another attempt, Retry-After included
    # list defaults, for every [tables.*] and [documents.*] below:
    records = "data"               # the JSON path of the records in a page
    total = "meta.total"           # the JSON path of the record count the API reports
    pagination = "next"            # next | cursor | page | offset | none
    next = "links.next"            # next: the URL of the next page
    cursor_param = "cursor"        # cursor: the query parameter...
    cursor_field = "meta.next_cursor"  # ...and the path of the next cursor
    page_param = "page"            # page: numbered from first_page (1)
    size_param = "per_page"        # page: the page size parameter (offset: limit_param)
    offset_param = "offset"
    limit_param = "limit"
    page_size = 100

    [accounts]
    endpoint = "/accounts"         # id and name of every account

    [tables.sales_invoices]
    endpoint = "/tenants/{account}/invoices"
    fields = { total_ttc = "totals.gross" }   # canonical column = JSON path (default: its name)
    cents = ["total_ttc"]

    [documents.sales_invoices]
    endpoint = "/tenants/{account}/invoices"
    fields = { record_id = "id", date = "issue_date", party = "customer.name", locator = "pdf" }
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from offboard.errors import MappingError

STYLES = ("next", "cursor", "page", "offset", "none")
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PATH = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
_LIST_KEYS: dict[str, Any] = {
    "records": "data",
    "total": None,
    "pagination": "none",
    "next": "links.next",
    "cursor_param": "cursor",
    "cursor_field": "meta.next_cursor",
    "page_param": "page",
    "size_param": "per_page",
    "first_page": 1,
    "offset_param": "offset",
    "limit_param": "limit",
    "page_size": 100,
}
_CLIENT_KEYS: dict[str, Any] = {
    "token_env": None,
    "auth": "bearer",
    "header": "Authorization",
    "timeout": 30.0,
    "attempts": 5,
    "backoff": 0.5,
    "max_wait": 60.0,
    "max_page_bytes": 64 * 1024 * 1024,
}


@dataclass(frozen=True)
class ListSpec:
    """One paginated list: where it is, where its records are, how it pages."""

    endpoint: str
    records: str
    total: str | None
    pagination: str
    options: dict[str, Any]
    fields: dict[str, str] = field(default_factory=dict)
    cents: tuple[str, ...] = ()

    def path_of(self, column: str) -> str:
        return self.fields.get(column, column)


@dataclass(frozen=True)
class HttpSpec:
    client: dict[str, Any]
    accounts: ListSpec
    tables: dict[str, ListSpec]
    documents: dict[str, ListSpec]


def parse_http(data: dict[str, Any], where: str) -> HttpSpec:
    """The HTTP specification of a mapping's TOML ``data``; MappingError naming the key."""
    raw = data.get("http")
    if not isinstance(raw, dict):
        raise MappingError(f"{where}: an HTTP source needs an [http] section")
    known = set(_CLIENT_KEYS) | set(_LIST_KEYS)
    for key in raw:
        if key not in known:
            raise MappingError(f"{where}: [http] unknown key {key!r}")
    client = {k: raw.get(k, v) for k, v in _CLIENT_KEYS.items()}
    if client["token_env"] is not None and (
        not isinstance(client["token_env"], str) or not _ENV.match(client["token_env"])
    ):
        raise MappingError(f"{where}: [http] token_env must name an environment variable")
    if client["auth"] not in ("bearer", "header"):
        raise MappingError(f"{where}: [http] auth must be 'bearer' or 'header'")
    for key in ("timeout", "backoff", "max_wait"):
        if not isinstance(client[key], (int, float)) or client[key] < 0:
            raise MappingError(f"{where}: [http] {key} must be a number of seconds")
    for key in ("attempts", "max_page_bytes"):
        if type(client[key]) is not int or client[key] < 1:
            raise MappingError(f"{where}: [http] {key} must be a whole number, 1 or more")
    defaults = {k: raw.get(k, v) for k, v in _LIST_KEYS.items()}
    accounts_raw = data.get("accounts", {"endpoint": "/accounts"})
    accounts = _list(
        accounts_raw, defaults | {"pagination": "none", "total": None}, f"{where}: [accounts]"
    )
    tables = {
        name: _list(spec, defaults, f"{where}: [tables.{name}]")
        for name, spec in _mapping(data, "tables", where).items()
    }
    documents = {
        kind: _list(spec, defaults, f"{where}: [documents.{kind}]")
        for kind, spec in _mapping(data, "documents", where).items()
    }
    return HttpSpec(client, accounts, tables, documents)


def _mapping(data: dict[str, Any], name: str, where: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise MappingError(f"{where}: [{name}] must be a section")
    return value


def _list(spec: Any, defaults: dict[str, Any], at: str) -> ListSpec:
    if not isinstance(spec, dict):
        raise MappingError(f"{at}: must be a table of keys")
    allowed = set(_LIST_KEYS) | {"endpoint", "fields", "cents"}
    for key in spec:
        if key not in allowed:
            raise MappingError(f"{at}: unknown key {key!r} (keys: {', '.join(sorted(allowed))})")
    merged = defaults | spec
    endpoint = merged.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint.startswith("/"):
        raise MappingError(f"{at}: endpoint must be a path starting with /")
    if merged["pagination"] not in STYLES:
        raise MappingError(f"{at}: pagination must be one of {', '.join(STYLES)}")
    for key in ("records", "next", "cursor_field"):
        if not isinstance(merged[key], str) or not _PATH.match(merged[key]):
            raise MappingError(f"{at}: {key} must be a JSON path such as data or meta.total")
    total = merged["total"]
    if total is not None and (not isinstance(total, str) or not _PATH.match(total)):
        raise MappingError(f"{at}: total must be a JSON path such as meta.total")
    size = merged["page_size"]
    if type(size) is not int or not 1 <= size <= 100_000:
        raise MappingError(f"{at}: page_size must be a whole number from 1 to 100000")
    fields = spec.get("fields", {})
    if not isinstance(fields, dict) or not all(
        isinstance(v, str) and _PATH.match(v) for v in fields.values()
    ):
        raise MappingError(f"{at}: fields maps column names to JSON paths")
    cents = spec.get("cents", [])
    if not isinstance(cents, list) or not all(isinstance(c, str) for c in cents):
        raise MappingError(f"{at}: cents must be a list of column names")
    options = {k: merged[k] for k in _LIST_KEYS if k not in ("records", "total", "pagination")}
    return ListSpec(
        endpoint,
        merged["records"],
        total,
        merged["pagination"],
        options,
        dict(fields),
        tuple(cents),
    )


def at_path(value: Any, path: str) -> Any:
    """The value at the dotted ``path`` of a JSON value, or None when a step is missing."""
    for step in path.split("."):
        if not isinstance(value, dict) or step not in value:
            return None
        value = value[step]
    return value
