"""What each exporter would get from a source: the engine of ``offboard mapping check``.

Every table query (the mapping's, or the exporter's own) runs on one account and is read to
the end, through the same conversion as an export: its row count, first row and problem (the
error an export would stop with: an unknown or missing column, a value that does not fit its
type, a failing query). Every document query runs too, and each document's file is looked for.
Nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from offboard.errors import OffboardError

if TYPE_CHECKING:
    from offboard.sources.base import Source

#: characters of a sample value shown
SAMPLE_WIDTH = 40


@dataclass
class TableCheck:
    kind: str
    table: str
    mapped: bool
    rows: int = 0
    sample: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None


@dataclass
class DocumentsCheck:
    kind: str
    mapped: bool
    documents: int = 0
    found: int = 0
    unavailable: dict[str, int] = field(default_factory=dict)
    problem: str | None = None


@dataclass
class MappingCheck:
    mapping: str
    account: str
    tables: list[TableCheck] = field(default_factory=list)
    documents: list[DocumentsCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(t.problem is None for t in self.tables) and all(
            d.problem is None for d in self.documents
        )

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {**asdict(self), "ok": self.ok}


def check_source(source: Source, account: str, kinds: list[str] | None = None) -> MappingCheck:
    from exporters import select
    from offboard.sources.base import DocumentUnavailable

    source.check_account(account)
    mapping = source.mapping
    result = MappingCheck(mapping.label, account)
    for exporter in select(kinds):
        for table in exporter.tables:
            check = TableCheck(exporter.name, table.name, _mapped(mapping, "tables", table.name))
            try:
                for batch in source.read_table(table, account):
                    if not check.rows and batch.num_rows:
                        check.sample = {
                            k: _short(v) for k, v in batch.slice(0, 1).to_pylist()[0].items()
                        }
                    check.rows += batch.num_rows
            except OffboardError as exc:
                check.problem = str(exc)
            result.tables.append(check)
        documents = exporter.documents
        if documents is None:
            continue
        docs = DocumentsCheck(exporter.name, _mapped(mapping, "documents", documents.kind))
        try:
            for ref in source.read_documents(documents, account):
                if ref.locator is None:
                    continue
                docs.documents += 1
                try:
                    source.document_path(ref)
                    docs.found += 1
                except DocumentUnavailable as exc:
                    docs.unavailable[exc.reason] = docs.unavailable.get(exc.reason, 0) + 1
        except OffboardError as exc:
            docs.problem = str(exc)
        result.documents.append(docs)
    return result


def _mapped(mapping: Any, section: str, name: str) -> bool:
    """Whether the mapping names this table (or document kind), for SQL or HTTP sources."""
    if mapping.http is not None:
        return name in mapping.http.get(section, {})
    return name in (mapping.tables if section == "tables" else mapping.documents)


def _short(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int)):
        return value
    text = str(value)
    return text if len(text) <= SAMPLE_WIDTH else text[: SAMPLE_WIDTH - 1] + "…"
