"""The documents stage: copy each document of one kind into the export, check it, bundle it."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from offboard.documents.bundle import bookmark_title
from offboard.documents.copying import (
    DocumentFault,
    Held,
    copy_to_temp,
    os_reason,
    remove_quietly,
)
from offboard.documents.model import DocumentProblem, DocumentResult, KindDocuments
from offboard.documents.names import NameAllocator, safe_file_name
from offboard.documents.sandbox import DocumentEngine, DocumentLimits, SandboxBundler
from offboard.errors import OutputError
from offboard.facturx import OPTIONAL, REQUIRED
from offboard.facturx.checks import Finding
from offboard.facturx.checks import record as facturx_record
from offboard.fsutil import temp_name
from offboard.options import BUNDLE_CAP_MIB
from offboard.sources.base import DocumentRef, DocumentUnavailable

if TYPE_CHECKING:
    from offboard.documents.spool import DocumentSpool

#: holds a document's bytes: hold(source file, final path) -> the held copy
HoldFn = Callable[[Path, Path], Held]

#: the folder of a kind's documents, relative to the export root
DOCUMENTS_DIR = "documents"
#: where a kind's unusable documents are kept, inside its folder
PROBLEMS_DIR = "_problems"
#: the reason given for a PDF cut short (no ``%%EOF`` near its end)
TRUNCATED = "unreadable: truncated (no %%EOF at the end)"


def export_documents(
    refs: Iterable[DocumentRef],
    resolve: Callable[[DocumentRef], Path],
    root: Path,
    kind: str,
    *,
    bundle_cap_bytes: int = BUNDLE_CAP_MIB * 1024**2,
    progress: Callable[[int], None] | None = None,
    spool: DocumentSpool | None = None,
    facturx: str | None = None,
    engine: DocumentEngine | None = None,
) -> KindDocuments:
    """Export the documents ``refs`` of ``kind`` into ``root/documents/<kind>/`` and bundle them.

    ``refs`` is consumed one at a time. For each ref with a locator, ``resolve(ref)`` gives the
    source file (or raises :class:`DocumentUnavailable`, whose reason becomes the problem's);
    the file is copied to ``<safe number>.pdf`` (see :class:`NameAllocator`) under a temporary
    name while its SHA-256 and size are computed, opened with qpdf (which counts its pages) and
    appended to the bundle ``root/documents/<kind>-bundle-NNN.pdf`` with a bookmark
    ``"<number> — <date> — <party>"`` on its first page; once that bundle part is written, the
    copy is renamed to its final name. A part is closed when the next document would take the
    sum of its documents' sizes over ``bundle_cap_bytes`` (a bigger document gets a part of its
    own) or when it holds :data:`~offboard.documents.bundle.MAX_PART_PAGES` pages, which bounds
    memory: qpdf holds one part's page tree at a time. Each document is opened once.

    A ref without a locator has no document and is skipped. A document that cannot be had is a
    problem: ``missing`` (or the source's reason) when there are no bytes, and nothing is kept;
    ``not a PDF``, ``encrypted`` (a password is needed) or ``unreadable: <reason>`` when there
    are bytes, which are then kept unchanged under ``documents/<kind>/_problems/<name>.pdf`` so
    nothing the source held is lost. Problem documents are not bundled.

    A PDF cut short (no ``%%EOF`` in its last 1024 bytes) is unreadable (:data:`TRUNCATED`),
    even when qpdf could "repair" it: the repair silently loses what was cut. A complete PDF
    with a damaged cross-reference table that qpdf repairs on opening counts as readable and
    is exported as is (many producers write slightly wrong offsets).

    ``progress(1)`` is called after each document (exported or not). Raises
    :class:`OutputError` when the export folder cannot be written; no file is ever left
    half-written under its final name.

    With a ``spool`` (an export to an archive), the documents and the problem documents' bytes
    are not written under ``root`` but appended to the spool, each named there by the path it
    would have had (:class:`~offboard.documents.spool.DocumentSpool`); only the bundles are
    written as files. The outcome is the same.

    With ``facturx`` (``"required"`` or ``"optional"``, see :mod:`offboard.facturx`), each
    readable document's Factur-X attachment is read while qpdf has it open, checked, and
    written beside it as ``<name>.xml`` (a file of the folder, with a spool too); its outcome
    is the document's ``facturx`` entry, and each issue found a problem (``factur-x: ...``) of
    a document that is exported all the same. The comparison with the CSV rows comes after
    the tables are written (:func:`offboard.documents.facturx.check_rows`).

    Every PDF is opened, checked and bundled in the document worker of ``engine``
    (:mod:`offboard.documents.sandbox`), under its memory, time and page limits; a document
    that crashes it or goes past a limit is a problem like any unreadable one. Without an
    ``engine``, one with the default limits is started for this call.
    """
    if engine is None:
        with DocumentEngine(DocumentLimits(), None if spool is None else spool.fd) as own:
            return export_documents(
                refs,
                resolve,
                root,
                kind,
                bundle_cap_bytes=bundle_cap_bytes,
                progress=progress,
                spool=spool,
                facturx=facturx,
                engine=own,
            )
    started = time.perf_counter()
    if safe_file_name(kind) != kind or kind.startswith("_"):
        raise ValueError(f"kind {kind!r} is not usable as a folder name")
    documents_dir = root / DOCUMENTS_DIR
    folder = documents_dir / kind
    hold: HoldFn = copy_to_temp
    if spool is not None:

        def hold(source: Path, final: Path) -> Held:
            return spool.append(source, final, root)

    made = folder if spool is None else documents_dir  # no document is a file with a spool
    try:
        made.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {made}: {os_reason(exc)}") from exc
    outcome = KindDocuments(kind=kind, documents=[], problems=[], bundles=[])
    bundler = SandboxBundler(engine, documents_dir, kind, bundle_cap_bytes)
    stage = _KindStage(kind, folder, bundler, hold)
    stage.facturx = facturx if facturx in (REQUIRED, OPTIONAL) else None
    try:
        for ref in refs:
            if ref.locator is None:
                continue
            stage.export_one(ref, resolve, outcome)
            if progress is not None:
                progress(1)
        stage.bundler.close()
    except BaseException:
        stage.bundler.abort()
        raise
    outcome.bundles = [_relative(DOCUMENTS_DIR, p.name) for p in stage.bundler.parts]
    outcome.bundle_pages = stage.bundler.pages
    outcome.bundle_part_pages = list(stage.bundler.part_pages)
    outcome.seconds = time.perf_counter() - started
    return outcome


class _KindStage:
    """The state of one kind's export: its folder, its names, its bundle."""

    def __init__(self, kind: str, folder: Path, bundler: SandboxBundler, hold: HoldFn) -> None:
        self.kind = kind
        self.folder = folder
        self.bundler = bundler
        self.hold = hold
        self.names = NameAllocator()
        #: the Factur-X policy of the kind (None: no XML looked for)
        self.facturx: str | None = None

    def export_one(
        self,
        ref: DocumentRef,
        resolve: Callable[[DocumentRef], Path],
        outcome: KindDocuments,
    ) -> None:
        def problem(reason: str) -> None:
            # the answer about the document in flight first: problems stay in document order
            self.bundler.settle()
            outcome.problems.append(DocumentProblem(self.kind, ref.record_id, ref.number, reason))

        try:
            source = resolve(ref)
        except DocumentUnavailable as exc:
            problem(exc.reason)
            return
        stem = self.names.allocate(ref.number)
        final = self.folder / f"{stem}.pdf"
        if final.parent != self.folder:  # cannot happen with safe_file_name; never trust it
            raise ValueError(f"document name {stem!r} leaves {self.folder}")
        try:
            copied = self.hold(source, final)
        except DocumentFault as fault:
            problem(fault.reason)
            return
        title = bookmark_title(ref.number, ref.date, ref.party)
        if not copied.has_pdf_header or not copied.has_eof_marker:
            copied.set_aside(self._problem_path(final))
            problem("not a PDF" if not copied.has_pdf_header else TRUNCATED)
            return

        def failed(reason: str) -> None:
            copied.set_aside(self._problem_path(final))
            outcome.problems.append(DocumentProblem(self.kind, ref.record_id, ref.number, reason))

        def done(pages: int, finding: Finding | None) -> None:
            entry = None
            if finding is not None and (finding.xml is not None or finding.issues):
                entry = self._facturx(finding, final)
                for issue in finding.issues:
                    outcome.problems.append(
                        DocumentProblem(self.kind, ref.record_id, ref.number, issue.problem)
                    )
            outcome.documents.append(
                DocumentResult(
                    kind=self.kind,
                    record_id=ref.record_id,
                    number=ref.number,
                    date=ref.date,
                    party=ref.party,
                    path=_relative(DOCUMENTS_DIR, self.kind, final.name),
                    pages=pages,
                    bytes=copied.size,
                    sha256=copied.sha256,
                    facturx=entry,
                )
            )
            outcome.bytes += copied.size

        try:
            # given its final name by the bundler once its part is written
            self.bundler.submit(copied, title, self.facturx, done, failed)
        except BaseException:
            copied.discard()
            raise

    def _facturx(self, finding: Finding, final: Path) -> dict[str, Any]:
        """Write the XML beside its PDF (when it is kept); the document's ``facturx`` entry."""
        xml_path = None
        if finding.keeps_xml and finding.xml is not None:
            target = final.with_suffix(".xml")
            write_file(target, finding.xml)
            xml_path = _relative(DOCUMENTS_DIR, self.kind, target.name)
        return facturx_record(finding, xml_path)

    def _problem_path(self, final: Path) -> Path:
        return self.folder / PROBLEMS_DIR / final.name


def _relative(*parts: str) -> str:
    return str(PurePosixPath(*parts))


def write_file(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` under a temporary name, then rename it (its folder is made)."""
    temp = temp_name(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(temp, "xb") as fh:
            fh.write(data)
        os.replace(temp, target)
    except OSError as exc:
        remove_quietly(temp)
        raise OutputError(f"cannot write {target}: {os_reason(exc)}") from exc
