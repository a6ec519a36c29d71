"""HTTP source: an account read from a vendor's JSON API, as a mapping file describes it.

``offboard export https://api.vendor.example/v1 --mapping vendor.toml --account ID``. The
mapping's ``[http]`` section (:mod:`offboard.sources.http.spec`) says where each table's
records are, how the API pages, where it reports its record count, which environment variable
holds the token (never the command line; never logged, never sent to another host) and the
retry policy; :mod:`offboard.sources.http.pages` fetches and checks every page.

Values are taken from the JSON exactly: numbers are read as decimals (never binary floats),
then every value is cast to its column's type as for the SQL sources, so a value that does not
fit names its record. Documents are downloaded, with the same retries, into a private folder
that :meth:`HttpSource.close` removes; a document larger than ``--max-document-size`` (50 MB
by default) is reported, not loaded.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa

from offboard.errors import MappingError, RecordError, SourceError
from offboard.sources.base import AccountInfo, DocumentRef, DocumentUnavailable, Source
from offboard.sources.http.pages import Client, Pager
from offboard.sources.http.spec import HttpSpec, ListSpec, at_path, parse_http
from offboard.sources.records import DOCUMENT_COLUMNS, Materialized, to_schema

if TYPE_CHECKING:
    from exporters.base import DocumentSet, Table


class HttpSource(Source):
    schemes: ClassVar[tuple[str, ...]] = ("http", "https")

    def __init__(self, url: str) -> None:
        from offboard.transport import Endpoint

        Endpoint.parse(url, "HTTP source")  # refuses credentials and other schemes at once
        self.url = url
        self._spec: HttpSpec | None = None
        self._client: Client | None = None
        self._downloads = Materialized()

    @classmethod
    def from_url(cls, url: str) -> HttpSource:
        return cls(url)

    def describe(self) -> str:
        parts = urllib.parse.urlsplit(self.url)
        port = f":{parts.port}" if parts.port else ""
        return f"HTTP API {parts.scheme}://{parts.hostname}{port}{parts.path}"

    # -- set up -------------------------------------------------------------------------------
    @property
    def spec(self) -> HttpSpec:
        if self._spec is None:
            if self.mapping.http is None:
                raise MappingError(
                    f"{self.describe()}: an HTTP source needs --mapping FILE with an [http] "
                    "section (docs/mappings.md)"
                )
            self._spec = _checked(parse_http(self.mapping.http, f"mapping {self.mapping.label}"))
        return self._spec

    @property
    def client(self) -> Client:
        if self._client is None:
            options = self.spec.client
            token = None
            name = options["token_env"]
            if name is not None:
                token = os.environ.get(name)
                if not token:
                    raise SourceError(
                        f"{self.describe()}: the API token is read from the environment "
                        f"variable {name}, which is not set"
                    )
            self._client = Client(self.url, options, token)
        return self._client

    def close(self) -> None:
        self._downloads.close()

    # -- accounts -----------------------------------------------------------------------------
    def accounts(self) -> list[AccountInfo]:
        spec = self.spec.accounts
        out = []
        for page in Pager(self.client, spec, None, "accounts").records():
            for record in page:
                account, name = (
                    at_path(record, spec.path_of("id")),
                    at_path(record, spec.path_of("name")),
                )
                if not isinstance(account, (str, int)) or not isinstance(name, str):
                    raise SourceError(f"{self.describe()}: an account without an id or a name")
                out.append(AccountInfo(str(account), name))
        return out

    def check_account(self, account: str) -> AccountInfo:
        return self.account_in_list(account)

    # -- tables -------------------------------------------------------------------------------
    def read_table(
        self, table: Table, account: str, *, batch_rows: int = 65536
    ) -> Iterator[pa.RecordBatch]:
        spec = self.spec.tables.get(table.name)
        if spec is None:
            raise SourceError(
                f"mapping {self.mapping.label}: no [tables.{table.name}]: an HTTP source reads "
                "only the tables its mapping names"
            )
        offset = 0
        pager = Pager(self.client, spec, account, f"table {table.name!r}")
        for records in pager.records():
            if not records:
                continue
            yield to_schema(_batch(records, table, spec, offset), table.schema, table, offset)
            offset += len(records)

    # -- documents ----------------------------------------------------------------------------
    def read_documents(self, documents: DocumentSet, account: str) -> Iterator[DocumentRef]:
        spec = self.spec.documents.get(documents.kind)
        if spec is None:
            return
        pager = Pager(self.client, spec, account, f"documents {documents.kind!r}")
        for records in pager.records():
            for record in records:
                values = {c: at_path(record, spec.path_of(c)) for c in DOCUMENT_COLUMNS}
                yield DocumentRef(
                    kind=documents.kind,
                    record_id=_text(values["record_id"]),
                    number=_text(values["number"]),
                    date=_text(values["date"]),
                    party=_text(values["party"]),
                    locator=None if values["locator"] is None else _text(values["locator"]),
                )

    def document_path(self, ref: DocumentRef) -> Path:
        if not ref.locator:
            raise DocumentUnavailable("no document")
        client = self.client
        try:
            target = client.target_of(urllib.parse.urljoin(client.url("/"), ref.locator))
        except SourceError:
            raise DocumentUnavailable("its URL is on another host") from None
        most = self.max_document_bytes
        try:
            answer = client.get(target, f"document {ref.kind} {ref.number}", most)
        except SourceError as exc:
            if "larger than" in str(exc):
                raise DocumentUnavailable(f"larger than {most:,} bytes") from None
            raise DocumentUnavailable(f"cannot be downloaded: {exc}") from None
        return self._downloads.write(answer.body)


def _checked(http: HttpSpec) -> HttpSpec:
    """Every table, kind, field and cents column of ``spec`` is one the exporters know."""
    from exporters import select

    tables = {t.name: t for e in select(None) for t in e.tables}
    kinds = {e.documents.kind for e in select(None) if e.documents is not None}
    for name, spec in http.tables.items():
        table = tables.get(name)
        if table is None:
            raise MappingError(f"[tables.{name}]: no exporter has a table {name!r}")
        for column in spec.fields:
            if column not in table.column_names:
                raise MappingError(
                    f"[tables.{name}] fields: {column!r} is not a column of {name} "
                    f"(columns: {', '.join(table.column_names)})"
                )
        for column in spec.cents:
            if column not in table.money_columns:
                raise MappingError(f"[tables.{name}] cents: {column!r} is not a money column")
    for kind, spec in http.documents.items():
        if kind not in kinds:
            raise MappingError(f"[documents.{kind}]: no exporter has documents of that kind")
        for column in spec.fields:
            if column not in DOCUMENT_COLUMNS:
                raise MappingError(
                    f"[documents.{kind}] fields: {column!r} is not one of "
                    f"{', '.join(DOCUMENT_COLUMNS)}"
                )
    return http


def _batch(
    records: list[dict[str, Any]], table: Table, spec: ListSpec, offset: int
) -> pa.RecordBatch:
    """One page's records as text (booleans as booleans) in the table's columns, for the
    exact casts of :func:`to_schema`."""
    arrays = []
    for column in table.columns:
        path = spec.path_of(column.name)
        if "." in path:
            raw = [at_path(record, path) for record in records]
        else:
            raw = [record.get(path) for record in records]
        boolean = pa.types.is_boolean(column.type)
        convert = _bool if boolean else _cents if column.name in spec.cents else _plain
        try:
            values = [None if v is None else convert(v) for v in raw]
        except ValueError:  # again one by one, to name the record
            for row, value in enumerate(raw):
                try:
                    _value(value, column.type, column.name in spec.cents)
                except ValueError as exc:
                    record = records[row]
                    key = ", ".join(
                        f"{k}={at_path(record, spec.path_of(k))!r}" for k in table.primary_key
                    )
                    raise RecordError(
                        f"table {table.name!r}, record {key} (row {offset + row + 1}): column "
                        f"{column.name!r} (JSON {path}): {exc}"
                    ) from None
            raise
        arrays.append(pa.array(values, pa.bool_() if boolean else pa.string()))
    return pa.RecordBatch.from_arrays(arrays, names=table.column_names)


def _plain(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if kind is Decimal:
        return format(value, "f")
    if kind is int:
        return str(value)
    raise ValueError(f"not a value: {value!r}")


def _bool(value: Any) -> bool:
    if type(value) is bool:
        return value  # type: ignore[no-any-return]
    raise ValueError(f"not true or false: {value!r}")


def _cents(value: Any) -> str:
    if type(value) is int or (type(value) is Decimal and value == value.to_integral_value()):
        n = int(value)
        return f"{'-' if n < 0 else ''}{abs(n) // 100}.{abs(n) % 100:02d}"
    raise ValueError(f"not whole cents: {value!r}")


def _value(value: Any, type_: pa.DataType, cents: bool) -> Any:
    """One value as :func:`_batch` converts it, or ValueError saying why it cannot be."""
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        raise ValueError(f"a JSON {'object' if isinstance(value, dict) else 'list'}, not a value")
    if pa.types.is_boolean(type_):
        if isinstance(value, bool):
            return value
        raise ValueError(f"{value!r} is not true or false")
    if isinstance(value, bool):
        raise ValueError(f"{value!r} where a {type_} is expected")
    if cents:
        if isinstance(value, int) or (
            isinstance(value, Decimal) and value == value.to_integral_value()
        ):
            return _cents(value)
        raise ValueError(f"{value!r} is not a whole number of cents")
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _text(value: Any) -> str:
    return "" if value is None else str(value)
