"""Mapping files: how a SQL source produces the canonical tables from a vendor's own schema.

A mapping is a TOML file (``docs/mappings.md`` explains how to write one)::

    [mapping]
    format = 1
    name = "Acme Invoicing 4.2"

    [accounts]
    list = "SELECT id, name FROM tenants ORDER BY id"      # every account: id, name
    one = "SELECT id, name FROM tenants WHERE id = ?"      # one account (optional)

    [tables.sales_invoices]
    query = "SELECT ... FROM bills WHERE tenant = ? ORDER BY ..."
    cents = ["total_ht", "total_vat", "total_ttc", "amount_paid"]

    [documents.sales_invoices]
    query = "SELECT id AS record_id, ... , file AS locator FROM bills WHERE tenant = ? ..."

Each ``query`` takes the account as its one parameter (``?``) and returns columns by their
canonical names (``offboard kinds`` and ``docs/reference-schema.md`` list them): a column the
canonical table does not have is refused, naming the table and the column; an optional column
left out is empty in every row; a required one left out is refused. ``cents`` lists money
columns the query returns as whole cents (an integer), converted exactly. Tables and document
kinds the mapping does not name are read with the exporters' own queries (the reference schema).

A mapping never changes what an export writes: only where the source reads it from.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from offboard.errors import MappingError

if TYPE_CHECKING:
    from exporters.base import DocumentSet, Table

FORMAT = 1
#: what a document query returns, in order
DOCUMENT_COLUMNS = ("record_id", "number", "date", "party", "locator")
_TOP = {"mapping", "accounts", "tables", "documents", "http"}


@dataclass(frozen=True)
class TableMapping:
    query: str
    cents: tuple[str, ...] = ()


@dataclass(frozen=True)
class Mapping:
    """A loaded mapping (or :meth:`reference`, which maps nothing: the exporters' queries)."""

    path: Path | None = None
    name: str = "reference schema"
    accounts_list: str | None = None
    accounts_one: str | None = None
    tables: dict[str, TableMapping] = field(default_factory=dict)
    documents: dict[str, str] = field(default_factory=dict)
    #: per document kind kept as bytes in the database: the query of one document's bytes
    contents: dict[str, str] = field(default_factory=dict)
    #: per document kind kept in S3: (bucket, key prefix)
    s3: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: the whole file, for an HTTP source (a mapping with an [http] section; see
    #: :mod:`offboard.sources.http.spec`), else None
    http: dict[str, Any] | None = None

    @classmethod
    def reference(cls) -> Mapping:
        return cls()

    @property
    def label(self) -> str:
        return str(self.path) if self.path is not None else self.name

    @classmethod
    def load(cls, path: Path) -> Mapping:
        """Read and check ``path``; MappingError naming what is wrong."""
        where = str(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise MappingError(f"mapping {where!r}: no such file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise MappingError(f"mapping {where!r}: cannot be read: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise MappingError(f"mapping {where!r}: not valid TOML: {exc}") from None
        return _parse(data, path)

    def table(self, table: Table) -> tuple[str, tuple[str, ...]] | None:
        """The mapped query of ``table`` and its cents columns, or None to use its own."""
        if self.http is not None:
            raise MappingError(f"mapping {self.label} is for an HTTP source ([http]), not SQL")
        mapped = self.tables.get(table.name)
        return None if mapped is None else (mapped.query, mapped.cents)

    def document_query(self, documents: DocumentSet) -> str:
        return self.documents.get(documents.kind, documents.query)

    def content_query(self, kind: str) -> str | None:
        """The query of one document's bytes (its locator the parameter), for kinds whose
        documents are kept in the database; None for files."""
        return None if self.http is not None else self.contents.get(kind)

    def s3_location(self, kind: str) -> tuple[str, str] | None:
        """(bucket, prefix) for kinds whose documents are S3 objects, the locator their key."""
        return None if self.http is not None else self.s3.get(kind)


def _parse(data: dict[str, Any], path: Path) -> Mapping:
    from exporters import select

    where = f"mapping {str(path)!r}"
    unknown = sorted(set(data) - _TOP)
    if unknown:
        raise MappingError(f"{where}: unknown section [{unknown[0]}] (sections: {_TOP_LIST})")
    head = _section(data, "mapping", where)
    if head.get("format") != FORMAT:
        raise MappingError(f"{where}: [mapping] format must be {FORMAT}")
    name = head.get("name", path.stem)
    if not isinstance(name, str):
        raise MappingError(f"{where}: [mapping] name must be text")
    if "http" in data:  # checked by the HTTP source, which alone reads it
        return Mapping(path=path, name=name, http=data)
    accounts = _section(data, "accounts", where, required=False)
    _only(accounts, {"list", "one"}, f"{where}: [accounts]")
    tables_by_name = {t.name: t for e in select(None) for t in e.tables}
    kinds = {e.name for e in select(None) if e.documents is not None}
    tables: dict[str, TableMapping] = {}
    for table_name, spec in _section(data, "tables", where, required=False).items():
        at = f"{where}: [tables.{table_name}]"
        canonical = tables_by_name.get(table_name)
        if canonical is None:
            known = ", ".join(sorted(tables_by_name))
            raise MappingError(f"{at}: no exporter has a table {table_name!r} (tables: {known})")
        if not isinstance(spec, dict):
            raise MappingError(f"{at}: must be a table of keys")
        _only(spec, {"query", "cents"}, at)
        cents = spec.get("cents", [])
        if not isinstance(cents, list) or not all(isinstance(c, str) for c in cents):
            raise MappingError(f"{at}: cents must be a list of column names")
        money = set(canonical.money_columns)
        for column in cents:
            if column not in money:
                raise MappingError(
                    f"{at}: cents names {column!r}, not a money column of {table_name} "
                    f"(money columns: {', '.join(canonical.money_columns) or 'none'})"
                )
        tables[table_name] = TableMapping(_query(spec, at), tuple(cents))
    documents: dict[str, str] = {}
    contents: dict[str, str] = {}
    s3: dict[str, tuple[str, str]] = {}
    for kind, spec in _section(data, "documents", where, required=False).items():
        at = f"{where}: [documents.{kind}]"
        if kind not in kinds:
            raise MappingError(f"{at}: no exporter has documents of kind {kind!r}")
        if not isinstance(spec, dict):
            raise MappingError(f"{at}: must be a table of keys")
        _only(spec, {"query", "content", "s3"}, at)
        documents[kind] = _query(spec, at)
        if "content" in spec:
            content = spec["content"]
            if not isinstance(content, str) or content.count("?") != 1:
                raise MappingError(
                    f"{at}: content must be a query of one document's bytes, as a column "
                    "named content, taking the locator as its one parameter, ?"
                )
            contents[kind] = content
        if "s3" in spec:
            s3[kind] = _s3(spec["s3"], at)
            if kind in contents:
                raise MappingError(f"{at}: content and s3 exclude each other")
    return Mapping(
        path=path,
        name=name,
        accounts_list=_optional_text(accounts, "list", f"{where}: [accounts]"),
        accounts_one=_optional_text(accounts, "one", f"{where}: [accounts]"),
        tables=tables,
        documents=documents,
        contents=contents,
        s3=s3,
    )


_TOP_LIST = ", ".join(f"[{s}]" for s in sorted(_TOP))


def _section(
    data: dict[str, Any], name: str, where: str, *, required: bool = True
) -> dict[str, Any]:
    value = data.get(name)
    if value is None:
        if required:
            raise MappingError(f"{where}: the [{name}] section is missing")
        return {}
    if not isinstance(value, dict):
        raise MappingError(f"{where}: [{name}] must be a section")
    return value


def _only(spec: dict[str, Any], allowed: set[str], at: str) -> None:
    for key in spec:
        if key not in allowed:
            raise MappingError(f"{at}: unknown key {key!r} (keys: {', '.join(sorted(allowed))})")


def _query(spec: dict[str, Any], at: str) -> str:
    query = spec.get("query")
    if not isinstance(query, str) or not query.strip():
        raise MappingError(f"{at}: query missing")
    if query.count("?") != 1:
        raise MappingError(f"{at}: the query must take the account as its one parameter, ?")
    return query


def _s3(value: Any, at: str) -> tuple[str, str]:
    if not isinstance(value, dict) or set(value) - {"bucket", "prefix"}:
        raise MappingError(f'{at}: s3 must be {{ bucket = "...", prefix = "..." }}')
    bucket, prefix = value.get("bucket"), value.get("prefix", "")
    if not isinstance(bucket, str) or not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket):
        raise MappingError(f"{at}: s3 bucket must be an S3 bucket name")
    if not isinstance(prefix, str):
        raise MappingError(f"{at}: s3 prefix must be text")
    return bucket, prefix


def _optional_text(spec: dict[str, Any], key: str, at: str) -> str | None:
    value = spec.get(key)
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise MappingError(f"{at}: {key} must be a query")
    if key == "one" and value is not None and value.count("?") != 1:
        raise MappingError(f"{at}: one must take the account as its one parameter, ?")
    return value


def canonical_query(
    mapping: Mapping,
    table: Table,
    returned: list[str],
    cents_sql: Any,
) -> str:
    """The mapped query of ``table`` wrapped to return exactly its canonical columns, in order.

    ``returned`` are the columns the mapped query returns; ``cents_sql(expr)`` is the source's
    SQL for the exact decimal text of whole cents. Raises SchemaError naming the mapping, the
    table and the column when a column is unknown or a required one is missing.
    """
    from offboard.errors import SchemaError

    mapped = mapping.table(table)
    assert mapped is not None
    query, cents = mapped
    at = f"mapping {mapping.label}: table {table.name}"
    canonical = table.column_names
    seen: set[str] = set()
    for name in returned:
        if name not in canonical:
            raise SchemaError(
                f"{at}: the query returns {name!r}, not a column of {table.name} "
                f"(columns: {', '.join(canonical)})"
            )
        if name in seen:
            raise SchemaError(f"{at}: the query returns {name!r} twice")
        seen.add(name)
    required = [c.name for c in table.columns if not c.nullable and c.name not in seen]
    if required:
        raise SchemaError(f"{at}: the query does not return the required column {required[0]!r}")
    columns = []
    for column in table.columns:
        name = column.name
        if name not in seen:
            columns.append(f'NULL AS "{name}"')
        elif name in cents:
            columns.append(f'{cents_sql(f"m.{_quoted(name)}")} AS "{name}"')
        else:
            columns.append(f'm.{_quoted(name)} AS "{name}"')
    return f"SELECT {', '.join(columns)} FROM ({query}) AS m"


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def reference_toml() -> str:
    """The mapping that maps nothing away: every table and document query of the registered
    exporters, as a mapping file (the worked example; ``offboard mapping reference``)."""
    from exporters import select

    out = [
        "# The reference schema's mapping: every query offboard runs when no mapping is given",
        "# (made by `offboard mapping reference`; docs/mappings.md starts from it).",
        "",
        "[mapping]",
        f"format = {FORMAT}",
        'name = "reference schema"',
        "",
        "[accounts]",
        'list = "SELECT id, name FROM accounts ORDER BY id"',
        'one = "SELECT id, name FROM accounts WHERE id = ?"',
    ]
    for exporter in select(None):
        for table in exporter.tables:
            out += ["", f"[tables.{table.name}]", f'query = """\n{_dedent(table.query)}\n"""']
        if exporter.documents is not None:
            query = _dedent(exporter.documents.query)
            out += ["", f"[documents.{exporter.documents.kind}]", f'query = """\n{query}\n"""']
    return "\n".join(out) + "\n"


def _dedent(query: str) -> str:
    import textwrap

    return textwrap.dedent(query).strip()
