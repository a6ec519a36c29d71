"""``offboard restore``: a verified archive back into a database in the reference schema.

The steps, in order; a failure at any one of them leaves nothing behind::

    verify     the whole archive (every part), through descriptors opened once; an archive
               that does not verify is refused (RestoreRefused, exit 1) before anything else
    plan       its tables against the exporters' (kinds, columns, types) and its documents
               against its payload: where each table and each document goes
    begin      the target opened: a new database created with the reference schema, or an
               existing one in a transaction; an account already there is refused (exit 20)
    documents  written into hidden folders under the documents root, each checked again
               against the archive's manifest
    tables     the account row, then every table, referenced tables first, streamed: CSV
               blocks decoded exactly (and checked to re-encode to the same bytes), joined
               columns checked against the companies, rows appended in bulk
    publish    the documents' folders renamed into place, then the database committed (a
               rename of the new file, or COMMIT)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from offboard.errors import ArchiveError, ConfigError

if TYPE_CHECKING:
    import pyarrow as pa

    from manifests.signing import PublicKey
    from offboard.restore.documents import DocumentPlan
    from offboard.restore.joins import JoinChecker
    from offboard.restore.members import VerifiedArchive
    from offboard.restore.plan import RestorePlan, TablePlan
    from offboard.restore.target import Target

#: called as progress(step, items done): a table name, or :data:`DOCUMENTS`
ProgressFn = Callable[[str, int], None]
DOCUMENTS = "documents"


@dataclass(frozen=True)
class RestoreRequest:
    archive: Path
    into: str
    pubkey: PublicKey | None
    allow_unsigned: bool = False


@dataclass
class TableRestored:
    table: str
    into: str
    records: int
    seconds: float


@dataclass
class RestoreResult:
    account: str
    account_name: str
    archive: str
    into: str
    documents_root: str | None = None
    tables: list[TableRestored] = field(default_factory=list)
    documents: int = 0
    document_bytes: int = 0
    #: problems the archive lists (documents the export could not include)
    problems: list[dict[str, Any]] = field(default_factory=list)
    #: restored records whose document the archive did not hold (their locator is missing)
    without_bytes: int = 0
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def records(self) -> int:
        return sum(t.records for t in self.tables)

    def to_dict(self) -> dict[str, Any]:
        return {
            "account": {"id": self.account, "name": self.account_name},
            "archive": self.archive,
            "into": self.into,
            "documents_root": self.documents_root,
            "tables": [
                {"table": t.table, "into": t.into, "records": t.records, "seconds": t.seconds}
                for t in self.tables
            ],
            "records": self.records,
            "documents": self.documents,
            "document_bytes": self.document_bytes,
            "problems": self.problems,
            "without_bytes": self.without_bytes,
            "notes": self.notes,
            "seconds": round(self.seconds, 3),
        }


def restore(request: RestoreRequest, progress: ProgressFn | None = None) -> RestoreResult:
    """Restore ``request.archive`` into ``request.into``; raise on any refusal or failure."""
    from offboard.arrowutil import lean_memory_pool
    from offboard.restore.members import VerifiedArchive
    from offboard.restore.plan import make_plan
    from offboard.restore.target import open_target

    started = time.perf_counter()
    lean_memory_pool()
    target = open_target(request.into)
    with VerifiedArchive(
        request.archive, request.pubkey, allow_unsigned=request.allow_unsigned
    ) as archive:
        try:
            plan = make_plan(archive.metadata)
            documents = _documents(archive, plan, target)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ArchiveError(
                f"archive {request.archive.name!r}: offboard.json is not one offboard wrote "
                f"({type(exc).__name__}: {exc})"
            ) from exc
        result = RestoreResult(
            account=plan.account,
            account_name=plan.account_name,
            archive=request.archive.name,
            into=target.description,
            documents_root=None if target.documents_root is None else str(target.documents_root),
            problems=list(archive.metadata.get("problems") or []),
            notes=list(documents.notes),
        )
        result.without_bytes = sum(1 for p in documents.placed if p.member is None)
        _write(archive, plan, documents, target, result, progress)
    result.seconds = time.perf_counter() - started
    return result


def _documents(archive: VerifiedArchive, plan: RestorePlan, target: Target) -> DocumentPlan:
    from offboard.restore.documents import plan_documents

    kinds = {kind for t in plan.tables if (kind := t.destination.documents) is not None}
    placed = plan_documents(
        archive.documents,
        list(archive.metadata.get("problems") or []),
        archive.payload(),
        plan.account,
        kinds,
        target.documents_root,
    )
    if placed.files and target.documents_root is None:
        raise ConfigError(
            f"the archive holds {len(placed.files)} document(s): add ?documents=PATH to the "
            "--into URL, the folder to restore them into"
        )
    return placed


def _write(
    archive: VerifiedArchive,
    plan: RestorePlan,
    documents: DocumentPlan,
    target: Target,
    result: RestoreResult,
    progress: ProgressFn | None,
) -> None:
    from offboard.restore.documents import DocumentWriter
    from offboard.restore.joins import JoinChecker
    from offboard.restore.target import account_row

    writer = None
    try:
        target.begin(plan.account)
        if target.documents_root is not None:
            writer = DocumentWriter(target.documents_root, documents)
            writer.write(archive, None if progress is None else lambda n: progress(DOCUMENTS, n))
            result.documents, result.document_bytes = writer.written, writer.bytes
        row = account_row(plan.account, plan.account_name, plan.created_at)
        target.insert("accounts", row.schema, iter([row]))
        joins = JoinChecker()
        for table in plan.tables:
            result.tables.append(_table(archive, plan, table, documents, target, joins, progress))
        target.prepare()
        if writer is not None:
            writer.publish()
        target.commit()
    except BaseException:
        target.abort()
        if writer is not None:
            writer.rollback()
        raise


def _table(
    archive: VerifiedArchive,
    plan: RestorePlan,
    table: TablePlan,
    documents: DocumentPlan,
    target: Target,
    joins: JoinChecker,
    progress: ProgressFn | None,
) -> TableRestored:
    from offboard.csvio.dialects import get_dialect
    from offboard.restore.target import Rows
    from offboard.restore.values import Decoder, read_csv

    started = time.perf_counter()
    kind = table.destination.documents
    rows = Rows(table, plan.account, documents.locators(kind) if kind else {})
    decoder = Decoder(table.spec, get_dialect(plan.dialect), table.path)
    stream = archive.open(table.path)

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            for raw in read_csv(stream, table.spec, decoder.dialect, table.path):
                offset = decoder.records
                batch = decoder.decode(raw)
                joins.check(table.name, batch, table.path, offset)
                joins.add(table.name, batch)
                if progress is not None:
                    progress(table.name, batch.num_rows)
                yield rows.of(batch)
        except Exception:
            if stream.error is not None:  # the archive's bytes, not the CSV, are at fault
                stream.finish()
            raise

    count = target.insert(table.destination.table, rows.schema, batches())
    stream.finish()
    if decoder.records != table.records or count not in (decoder.records, 0):
        from offboard.restore.members import ArchiveChanged

        raise ArchiveChanged(
            f"{table.path}: {decoder.records} record(s) read, {table.records} verified"
        )
    rows.check_all_found()
    return TableRestored(
        table.name, table.destination.table, decoder.records, time.perf_counter() - started
    )
