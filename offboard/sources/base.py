"""The source contract: where an account's records and documents are read from."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from offboard.sources.mapping import Mapping

if TYPE_CHECKING:
    import pyarrow as pa

    from exporters.base import DocumentSet, Table
    from offboard.backup.fingerprint import TableFingerprint


@dataclass(frozen=True)
class DocumentRef:
    """One business document as the source describes it (nothing is read yet)."""

    kind: str
    record_id: str
    number: str
    date: str
    party: str
    #: where the source keeps the bytes (for SQL sources: a path under the documents root)
    locator: str | None


@dataclass(frozen=True)
class AccountInfo:
    id: str
    name: str


class Source(ABC):
    """A place holding accounts: opened from a URL, read table by table."""

    #: URL schemes this source answers to (``sqlite`` for ``sqlite:///path``)
    schemes: ClassVar[tuple[str, ...]]

    @classmethod
    @abstractmethod
    def from_url(cls, url: str) -> Source:
        """Open the source named by ``url``; raise SourceError if it cannot be opened."""

    @abstractmethod
    def describe(self) -> str:
        """A one-line description of the source, without secrets."""

    @abstractmethod
    def accounts(self) -> list[AccountInfo]:
        """Every account in the source."""

    @abstractmethod
    def check_account(self, account: str) -> AccountInfo:
        """Return the account or raise UnknownAccount."""

    @abstractmethod
    def read_table(
        self, table: Table, account: str, *, batch_rows: int = 65536
    ) -> Iterator[pa.RecordBatch]:
        """Yield ``table``'s rows for ``account`` as batches typed exactly as ``table.schema``.

        Raises RecordError naming the table and record when a value does not fit its type.
        """

    @abstractmethod
    def read_documents(self, documents: DocumentSet, account: str) -> Iterator[DocumentRef]:
        """Yield the account's documents of one kind, in a stable order."""

    @abstractmethod
    def document_path(self, ref: DocumentRef) -> Path:
        """A local path to the document's bytes; raise DocumentUnavailable if there is none.

        The path is always inside the source's documents root: locators that escape it are
        refused.
        """

    #: where each table is read from: the reference schema, unless a mapping file says otherwise
    mapping: Mapping = Mapping.reference()
    #: documents larger than this are reported, not loaded (``--max-document-size``)
    max_document_bytes: int = 50 * 1000 * 1000

    def table_fingerprint(self, table: Table, account: str) -> TableFingerprint:
        """What ``table`` holds for ``account`` now, for ``offboard backup`` to tell whether it
        changed: record count, money totals, last change and a digest of every value.

        The default reads the table through :meth:`read_table` (no CSV file, no document, no
        archive) and digests the typed batches; a source that can have the database compute
        the same figures (:class:`~offboard.sources.postgres.PostgresSource`) overrides it.
        Two fingerprints of one source are equal when the records are.
        """
        from offboard.backup.fingerprint import fingerprint_batches

        return fingerprint_batches(table, self.read_table(table, account))

    def document_size(self, ref: DocumentRef) -> int | None:
        """The size in bytes of the document's bytes as the source lists them, without reading
        them (a file's size, an object's HEAD, a BLOB's length); None when the source cannot
        tell cheaply (the default). Raises DocumentUnavailable when it knows there is none."""
        return None

    def account_in_list(self, account: str) -> AccountInfo:
        """``account`` from :meth:`accounts` (for mappings that only say how to list them)."""
        from offboard.errors import UnknownAccount

        known = self.accounts()
        for found in known:
            if found.id == account:
                return found
        raise UnknownAccount(account, [a.id for a in known])

    def clone(self) -> Source:
        """A new handle on the same source (and mapping), for use from another thread."""
        other = type(self).from_url(self.url)
        other.mapping = self.mapping
        other.max_document_bytes = self.max_document_bytes
        return other

    url: str

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


class DocumentUnavailable(Exception):
    """The document's bytes cannot be had; ``reason`` says why (missing, escapes root...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
