"""The export pipeline: source → exporters → CSV writer and documents → export folder.

The export is built in a hidden staging folder beside ``out`` and renamed into place only when
every table and document set has been written: ``out`` holds a whole export or nothing new.
Tables run as independent tasks on a small thread pool (Arrow, the SQLite driver and qpdf
release the interpreter lock), each task with its own source connection; the document kinds run
one after another in a single task, so that only one bundle part is in memory at a time; an
exporter that writes files of its own (a FEC) runs them as one more task
(:mod:`offboard.filetasks`).
Nothing is held whole in memory: tables stream batch by batch, documents one at a time.

An export to an archive stages only the bundles: the documents go into one spool file beside
the archive (:mod:`offboard.documents.spool`), each CSV file is hashed and deflated into a pack
file beside it as soon as it is written (:mod:`manifests.pack`), and the archive writer copies
both into the archive (:func:`manifests.build.build_archive`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from offboard import staging
from offboard.csvio.dialects import STANDARD, Dialect
from offboard.errors import DocumentsIncomplete, OffboardError, OutputError
from offboard.options import BUNDLE_CAP_MIB
from offboard.summary import ExportSummary, KindResult, TableResult

if TYPE_CHECKING:
    from exporters.base import Exporter, Table
    from manifests.build import ArchiveOptions
    from manifests.pack import Pack
    from offboard.documents import DocumentProblem, KindDocuments
    from offboard.documents.sandbox import DocumentEngine, DocumentLimits
    from offboard.documents.spool import DocumentSpool
    from offboard.resume import ResumeState
    from offboard.sources.base import Source

#: called as progress(kind, records_or_documents_done, kind_finished)
ProgressFn = Callable[[str, int, bool], None]
#: called as report(kind, records_or_documents_done) by the tasks
_ReportFn = Callable[[str, int], None]
SUMMARY_NAME = "export-summary.json"
#: the pseudo-kind progress reports while the archive is written
ARCHIVE_STAGE = "archive"


@dataclass(frozen=True)
class ExportOptions:
    kinds: list[str] | None = None
    dialect: Dialect = STANDARD
    documents: bool = True
    allow_missing_documents: bool = False
    overwrite: bool = False
    jobs: int = 2
    bundle_cap_bytes: int = BUNDLE_CAP_MIB * 1024**2
    #: documents larger than this are reported (``--max-document-size``), not loaded
    max_document_bytes: int = 50 * 1000 * 1000
    #: per kind, the options of the files it writes of its own (``--fec-encoding`` gives
    #: ``{"fec": {"encoding": ...}}``; see ``Exporter.files``)
    file_options: dict[str, dict[str, str]] = field(default_factory=dict)
    #: ``--factur-x``: the Factur-X policy of every kind whose documents are Factur-X invoices
    #: (``required``, ``optional``, ``off``), instead of the exporter's (docs/facturx.md)
    facturx: str | None = None
    #: ``--document-memory``, ``--document-timeout``, ``--max-document-pages``: what one
    #: document may cost the worker that opens it (:mod:`offboard.documents.sandbox`)
    document_limits: DocumentLimits = field(default_factory=lambda: _default_limits())


def _default_limits() -> DocumentLimits:
    from offboard.documents.sandbox import DocumentLimits

    return DocumentLimits()


class _Cancelled(Exception):
    pass


def export_account(
    source: Source,
    account: str,
    out: Path,
    options: ExportOptions = ExportOptions(),
    progress: ProgressFn | None = None,
    archive: ArchiveOptions | None = None,
    resume: ResumeState | None = None,
) -> ExportSummary:
    """Export every selected kind of ``account`` from ``source`` into ``out``.

    ``out`` is a folder, or, with ``archive`` options, a signed archive ``NAME.zip`` (split
    into ``NAME-part-001.zip``... when larger than the split size; ``summary.archive`` then
    tells what was written). Returns the summary. Raises :class:`DocumentsIncomplete` (after
    writing the export) when a document was missing or unreadable and
    ``allow_missing_documents`` is false; the summary is then attached as ``error.summary``.
    With ``resume`` (:mod:`offboard.resume`), the work goes in its folder, the tasks a killed
    run finished are reused, and the folder is removed once the output is in place.
    """
    from exporters import select
    from offboard.arrowutil import lean_memory_pool
    from offboard.memory import hold_mmap_threshold

    lean_memory_pool()
    hold_mmap_threshold()  # freed large blocks go back to the system, not to a growing heap
    exporters = [cls() for cls in select(options.kinds)]
    info = source.check_account(account)
    started = time.perf_counter()
    summary = ExportSummary(
        source=source.describe(),
        account=account,
        account_name=info.name,
        out=str(out),
        dialect=options.dialect.name,
        started_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        kinds=[KindResult(e.name, e.title) for e in exporters],
    )
    if archive is None:
        staging.check_out(out, options.overwrite)
    else:
        staging.check_archive_out(out, options.overwrite)
    if resume is None:
        staging.clean_stale_stages(out)
        stage = out.parent / f".{out.name}.partial-{os.getpid()}"
        shutil.rmtree(stage, ignore_errors=True)
        try:
            (stage / "csv").mkdir(parents=True)
        except OSError as exc:
            raise OutputError(f"cannot create {str(stage)!r}: {exc.strerror or exc}") from exc
    else:
        stage = resume.stage
        if archive is not None:  # every file in the folder, where a rerun finds it
            archive = dataclasses.replace(archive, spool_documents=False, pack_tables=False)
    spool = pack = None
    try:
        with_documents = options.documents and any(e.documents for e in exporters)
        if archive is not None and archive.spool_documents and with_documents:
            spool = staging.create_spool(out)
        if archive is not None and archive.pack_tables:
            pack = staging.create_pack(out, archive.level)
        _run_tasks(
            source, account, exporters, stage, options, summary, progress, spool, pack, resume
        )
        if options.documents:
            from offboard.documents.facturx import check_rows

            check_rows(stage, pack, summary, options.dialect)
        summary.seconds = time.perf_counter() - started
        if archive is None:
            _write_summary(stage, summary)
            staging.publish(stage, out)
        else:
            from manifests.build import build_archive

            if progress is not None:
                progress(ARCHIVE_STAGE, 0, False)
            summary.archive = build_archive(
                stage, summary, exporters, options.dialect, out, archive, spool, pack
            )
            summary.seconds = time.perf_counter() - started
            if progress is not None:
                progress(ARCHIVE_STAGE, 0, True)
            shutil.rmtree(stage, ignore_errors=True)
        if resume is not None:
            resume.close()
    except BaseException:
        if resume is None:  # a resumable run keeps its work for the next
            shutil.rmtree(stage, ignore_errors=True)
        raise
    finally:
        for opened in (spool, pack):
            if opened is not None:
                opened.close()
    summary.out = str(out)
    if summary.problems and not options.allow_missing_documents:
        err = DocumentsIncomplete(
            f"{len(summary.problems)} document(s) missing or unreadable in account {account!r} "
            f"(first: {_describe(summary.problems[0])}); the rest was exported to {out}. "
            "Use --allow-missing-documents to accept this."
        )
        err.summary = summary  # type: ignore[attr-defined]
        raise err
    return summary


def _describe(problem: DocumentProblem) -> str:
    return f"{problem.kind} {problem.number!r}: {problem.reason}"


def _write_summary(stage: Path, summary: ExportSummary) -> None:
    from offboard.fsutil import write_atomic

    path = stage / SUMMARY_NAME
    text = json.dumps(summary.to_dict(), indent=2, ensure_ascii=False) + "\n"
    try:
        write_atomic(path, text.encode("utf-8"))
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _run_tasks(
    source: Source,
    account: str,
    exporters: list[Exporter],
    stage: Path,
    options: ExportOptions,
    summary: ExportSummary,
    progress: ProgressFn | None,
    spool: DocumentSpool | None,
    pack: Pack | None,
    resume: ResumeState | None = None,
) -> None:
    cancel = threading.Event()
    lock = threading.Lock()
    by_kind = {k.kind: k for k in summary.kinds}
    remaining = {
        e.name: len(e.tables)
        + (1 if options.documents and e.documents else 0)
        + (1 if e.writes_files else 0)
        for e in exporters
    }

    def report(kind: str, n: int) -> None:
        if cancel.is_set():
            raise _Cancelled()
        if progress is not None:
            with lock:
                progress(kind, n, False)

    def task_done(kind: str) -> None:
        with lock:
            remaining[kind] -= 1
            if remaining[kind] == 0 and progress is not None:
                progress(kind, 0, True)

    def table_task(exporter: Exporter, table: Table) -> None:
        result = None if resume is None else resume.table(table.name)
        if result is None:
            result = _export_table(source, exporter, table, account, stage, options.dialect, report)
            if resume is not None:
                resume.record_table(result)
        if pack is not None:  # while the other tasks run, not in the archive stage
            pack.add(stage / result.path, result.path)
        with lock:
            by_kind[exporter.name].tables.append(result)
        task_done(exporter.name)

    def documents_task(exporters: list[Exporter]) -> None:
        from offboard.documents.sandbox import DocumentEngine

        # one kind after another: a bundle part is the largest thing in memory, so only one is
        # built at a time (by one document worker) while the other workers export tables
        spool_fd = None if spool is None else spool.fd
        with DocumentEngine(options.document_limits, spool_fd) as engine:
            for exporter in exporters:
                result = None if resume is None else resume.documents(exporter.name)
                if result is None:
                    result = _export_documents(
                        source, exporter, account, stage, options, report, spool, engine
                    )
                    if resume is not None:
                        resume.record_documents(exporter.name, result)
                with lock:
                    by_kind[exporter.name].documents = result
                task_done(exporter.name)

    def files_task(exporter: Exporter) -> None:
        from offboard.filetasks import export_files

        result = None if resume is None else resume.files(exporter.name)
        if result is None:
            opts = options.file_options.get(exporter.name, {})
            result = export_files(source, exporter, account, stage, opts, report)
            if resume is not None:
                resume.record_files(exporter.name, result)
        with lock:
            by_kind[exporter.name].files = result
        task_done(exporter.name)

    pool = ThreadPoolExecutor(max_workers=max(1, options.jobs), thread_name_prefix="offboard")
    futures: list[Future[None]] = []
    try:
        # documents first: they are the longest task and overlap best with the tables
        with_documents = [e for e in exporters if e.documents is not None]
        if options.documents and with_documents:
            futures.append(pool.submit(documents_task, with_documents))
        # then the files of their own (a FEC: long, they read a whole table again)
        futures += [pool.submit(files_task, e) for e in exporters if e.writes_files]
        for e in exporters:
            for t in e.tables:
                futures.append(pool.submit(table_task, e, t))
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        for f in done:
            exc = f.exception()
            if exc is not None:
                cancel.set()
                raise exc
    except BaseException:
        cancel.set()
        for f in futures:
            f.cancel()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    order = {t.name: i for e in exporters for i, t in enumerate(e.tables)}
    for k in summary.kinds:
        k.tables.sort(key=lambda r: order[r.table])


def _export_table(
    source: Source,
    exporter: Exporter,
    table: Table,
    account: str,
    stage: Path,
    dialect: Dialect,
    report: _ReportFn,
) -> TableResult:
    from offboard.csvio.writer import CsvTableWriter

    started = time.perf_counter()
    path = stage / "csv" / f"{table.name}.csv"
    conn = source.clone()
    try:
        with CsvTableWriter(path, table, dialect) as writer:
            writer.write_header()
            for batch in exporter.get_batches(conn, account, table):
                writer.write_batch(batch)
                report(exporter.name, batch.num_rows)
    except OffboardError:
        raise
    except OSError as exc:
        raise OutputError(f"writing {table.name}.csv failed: {exc.strerror or exc}") from exc
    finally:
        conn.close()
    return TableResult(
        kind=exporter.name,
        table=table.name,
        path=f"csv/{table.name}.csv",
        rows=writer.rows,
        bytes=writer.bytes,
        seconds=time.perf_counter() - started,
        totals=writer.totals,
        numbering=writer.numbers.summary() if writer.numbers is not None else None,
        period=writer.period,
        last_change=writer.last_change,
    )


def _export_documents(
    source: Source,
    exporter: Exporter,
    account: str,
    stage: Path,
    options: ExportOptions,
    report: _ReportFn,
    spool: DocumentSpool | None,
    engine: DocumentEngine,
) -> KindDocuments:
    from offboard.documents import export_documents
    from offboard.sources.base import DocumentRef, DocumentUnavailable

    assert exporter.documents is not None
    conn = source.clone()
    conn.max_document_bytes = options.max_document_bytes

    def resolve(ref: DocumentRef) -> Path:
        path = conn.document_path(ref)
        try:
            size = path.stat().st_size
        except OSError:
            return path  # the copy reports why it cannot be read
        if size > options.max_document_bytes:
            raise DocumentUnavailable(f"larger than {options.max_document_bytes:,} bytes")
        return path

    try:
        return export_documents(
            exporter.get_documents(conn, account),
            resolve,
            stage,
            exporter.documents.kind,
            bundle_cap_bytes=options.bundle_cap_bytes,
            progress=lambda n: report(exporter.name, n),
            spool=spool,
            facturx=options.facturx or exporter.documents.facturx,
            engine=engine,
        )
    finally:
        conn.close()
