"""What the SQL sources (SQLite, PostgreSQL) do alike, whatever their dialect.

:class:`SqlSource` lists and finds accounts (the mapping's queries, or the reference schema's)
and finds each document's bytes: an S3 object, a BLOB the mapping's ``content`` query reads
(its size asked first), or a file under the documents folder. A dialect supplies
:meth:`SqlSource._run`, which runs a query taking at most one parameter (``?``).
"""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from offboard.errors import UnknownAccount

from .base import AccountInfo, DocumentRef, DocumentUnavailable, Source
from .records import Materialized, document_under, stored_document


class SqlSource(Source):
    #: every account, when no mapping says how to list them
    accounts_sql: ClassVar[str] = "SELECT id, name FROM accounts ORDER BY id"
    #: the dialect's function giving a BLOB's size in bytes
    length_function: ClassVar[str] = "length"
    #: the folder document locators are relative to (None: documents are not files)
    documents_root: Path | None
    _materialized: Materialized

    @abstractmethod
    def _run(self, sql: str, parameter: str | None, what: str) -> list[dict[str, Any]]:
        """The rows of ``sql``, its one ``?`` (if ``parameter`` is given) bound to it."""

    # -- accounts -----------------------------------------------------------------------------
    def accounts(self) -> list[AccountInfo]:
        query = self.mapping.accounts_list or self.accounts_sql
        rows = self._run(_accounts_query(query), None, "accounts")
        return [AccountInfo(str(r["id"]), str(r["name"])) for r in rows]

    def check_account(self, account: str) -> AccountInfo:
        if self.mapping.accounts_list is not None and self.mapping.accounts_one is None:
            return self.account_in_list(account)
        query = self.mapping.accounts_one or "SELECT id, name FROM accounts WHERE id = ?"
        rows = self._run(_accounts_query(query), account, f"account {account!r}")
        if not rows:
            raise UnknownAccount(account, [a.id for a in self.accounts()])
        return AccountInfo(str(rows[0]["id"]), str(rows[0]["name"]))

    # -- documents ----------------------------------------------------------------------------
    def document_path(self, ref: DocumentRef) -> Path:
        s3 = self.mapping.s3_location(ref.kind)
        if s3 is not None:
            from offboard.sources.s3docs import s3_document

            return s3_document(ref, *s3, self.max_document_bytes, self._materialized)
        content = self.mapping.content_query(ref.kind)
        if content is not None:
            return self._stored_document(ref, content)
        if self.documents_root is None:
            raise DocumentUnavailable("no documents folder: add ?documents=PATH to the source URL")
        return document_under(self.documents_root, ref)

    def document_size(self, ref: DocumentRef) -> int | None:
        """The file's size, the S3 object's (HEAD) or the BLOB's length; nothing is read."""
        s3 = self.mapping.s3_location(ref.kind)
        if s3 is not None:
            from offboard.sources.s3docs import s3_document_size

            return s3_document_size(ref, *s3)
        content = self.mapping.content_query(ref.kind)
        if content is not None:
            if not ref.locator:
                raise DocumentUnavailable("no document")
            size = self._blob(ref, content, f"{self.length_function}(b.content)")
            if size is None:
                raise DocumentUnavailable("missing")
            return int(size)
        if self.documents_root is None:
            raise DocumentUnavailable("no documents folder: add ?documents=PATH to the source URL")
        try:
            return document_under(self.documents_root, ref).stat().st_size
        except OSError:
            raise DocumentUnavailable("missing") from None

    def _blob(self, ref: DocumentRef, content: str, expr: str) -> Any:
        """``expr`` of the document's row ``b`` of the mapping's ``content`` query (or None)."""
        what = f"document {ref.kind} {ref.number}"
        rows = self._run(f"SELECT {expr} AS v FROM ({content}) AS b", ref.locator or "", what)
        return rows[0]["v"] if rows else None

    def _stored_document(self, ref: DocumentRef, content: str) -> Path:
        """A document kept as bytes in the database, written to a private file."""
        return stored_document(
            ref,
            lambda: self._blob(ref, content, f"{self.length_function}(b.content)"),
            lambda: self._blob(ref, content, "b.content"),
            self.max_document_bytes,
            self._materialized,
        )


def _accounts_query(query: str) -> str:
    """An accounts query's ``id`` and ``name`` as text."""
    return (
        f'SELECT CAST(a."id" AS TEXT) AS "id", CAST(a."name" AS TEXT) AS "name" FROM ({query}) AS a'
    )
