"""Resumable exports: ``--resume`` keeps the work of a run that was killed, and reuses it.

A resumable export works in a folder of its own that outlives the process (by default
``.NAME.resume`` beside the output; for an S3 destination, under the user's state folder)::

    run.json            what the run is: source, account, kinds, dialect, documents, bundle
                        size, archive time, split and key; another run starts over
    stage/              the export folder (CSV files, documents, bundles) as it is written
    journal/            one record per finished task (a table, a kind's documents, a kind's
                        own files such as a FEC), written (atomically) only once the task's
                        files are complete and synced: its result and the size and SHA-256 of
                        each of its files

A rerun with ``--resume`` and the same options skips every task whose record is there and
whose files still have their recorded sizes and SHA-256, and runs the others again (a table
from the start, a document kind whole, its leftover files removed first). The archive is made
from the folder, so it is byte for byte the archive an uninterrupted run makes at the same
``--created-at``; the folder is removed once the archive is in place. Nothing is ever written
under a final name before it is complete (the archive stage's own guarantee).

The tasks reused were exported when the killed run made them: a resumed export is a snapshot
of each table as of the run that exported it. Use it for the same source state (an export
interrupted by a crash or a deploy), not across changes to the account.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import asdict
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from offboard.errors import OutputError
from offboard.fsutil import write_atomic

if TYPE_CHECKING:
    from manifests.build import ArchiveOptions
    from offboard.documents import KindDocuments
    from offboard.pipeline import ExportOptions
    from offboard.summary import FilesResult, TableResult

__all__ = ["ResumeState", "prepare", "resume_folder", "run_identity", "work_folder"]

RUN = "run.json"
FORMAT = 1


def resume_folder(out: Path) -> Path:
    """The default resume folder of the output ``out`` (beside it, hidden)."""
    return out.parent / f".{out.name}.resume"


def run_identity(
    out: Path, source: str, account: str, options: ExportOptions, archive: ArchiveOptions | None
) -> dict[str, Any]:
    """What must be the same for a run to reuse another's work."""
    from exporters import select

    run: dict[str, Any] = {
        "out": out.name,
        "source": source,
        "account": account,
        "kinds": [e.name for e in select(options.kinds)],
        "dialect": options.dialect.name,
        "documents": options.documents,
        "bundle_cap_bytes": options.bundle_cap_bytes,
        "max_document_bytes": options.max_document_bytes,
        "archive": None,
    }
    if options.facturx is not None:
        run["facturx"] = options.facturx
    if options.file_options:
        run["file_options"] = options.file_options
    if archive is not None:
        key = archive.sign_key
        run["archive"] = {
            "created_at": archive.created_at.isoformat(),
            "split_size": archive.split_size,
            "split_files": archive.split_files,
            "level": archive.level,
            "key": None if key is None else key.public_key.key_id_hex,
        }
    return run


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else f"%{ord(c):02x}" for c in name)


class ResumeState:
    """The resume folder of one run (see the module doc)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.stage = folder / "stage"
        self.journal = folder / "journal"
        #: tasks found done (skipped), for the summary of the run
        self.reused: list[str] = []
        #: the folder held the work of an earlier run of the same export
        self.resumed = False

    @classmethod
    def open(cls, folder: Path, run: dict[str, Any]) -> ResumeState:
        """The state in ``folder`` if it is of this very run, else a fresh one."""
        state = cls(folder)
        wanted = {"format": FORMAT, **run}
        try:
            found = json.loads((folder / RUN).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            found = None
        if found != wanted:
            shutil.rmtree(folder, ignore_errors=True)
        try:
            (state.stage / "csv").mkdir(parents=True, exist_ok=True)
            state.journal.mkdir(exist_ok=True)
            if found != wanted:
                write_atomic(folder / RUN, json.dumps(wanted, sort_keys=True).encode("utf-8"))
        except OSError as exc:
            raise OutputError(
                f"cannot use the resume folder {str(folder)!r}: {exc.strerror}"
            ) from exc
        state.resumed = found == wanted
        return state

    def close(self) -> None:
        """The export is complete: the folder goes."""
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- tables --------------------------------------------------------------------------------
    def table(self, name: str) -> TableResult | None:
        """The result of table ``name`` if a run finished it and its file is intact."""
        from offboard.summary import TableResult

        data = self._load(f"table-{_safe(name)}")
        if data is None:
            return None
        result = data["result"]
        result["totals"] = {
            col: {cur: Decimal(v) for cur, v in by.items()} for col, by in result["totals"].items()
        }
        if result["period"] is not None:
            result["period"] = tuple(result["period"])
        self.reused.append(f"table {name}")
        return TableResult(**result)

    def record_table(self, result: TableResult) -> None:
        data = asdict(result)
        data["totals"] = {
            col: {cur: str(v) for cur, v in by.items()} for col, by in result.totals.items()
        }
        self._record(f"table-{_safe(result.table)}", data, [result.path])

    # -- documents -----------------------------------------------------------------------------
    def documents(self, kind: str) -> KindDocuments | None:
        from offboard.documents import DocumentProblem, DocumentResult, KindDocuments

        data = self._load(f"documents-{_safe(kind)}")
        if data is None:
            self.clear_documents(kind)
            return None
        result = data["result"]
        result["documents"] = [DocumentResult(**d) for d in result["documents"]]
        result["problems"] = [DocumentProblem(**p) for p in result["problems"]]
        self.reused.append(f"documents {kind}")
        return KindDocuments(**result)

    def record_documents(self, kind: str, result: KindDocuments) -> None:
        self._record(f"documents-{_safe(kind)}", asdict(result), self._document_files(kind))

    def clear_documents(self, kind: str) -> None:
        """Remove what an unfinished run left of a kind's documents."""
        for rel in self._document_files(kind):
            (self.stage / rel).unlink(missing_ok=True)

    def _document_files(self, kind: str) -> list[str]:
        root = self.stage / "documents"
        found = []
        if (root / kind).is_dir():
            for path in sorted((root / kind).rglob("*")):
                if path.is_file():
                    found.append(path.relative_to(self.stage).as_posix())
        found += sorted(
            p.relative_to(self.stage).as_posix() for p in root.glob(f"{kind}-bundle-*.pdf")
        )
        return found

    # -- files of their own (a FEC) -----------------------------------------------------------
    def files(self, kind: str) -> FilesResult | None:
        """The files kind ``kind`` wrote of its own, if a run finished them and they are intact."""
        from exporters.base import ProducedFile
        from offboard.summary import FilesResult

        data = self._load(f"files-{_safe(kind)}")
        if data is None:
            return None
        result = data["result"]
        self.reused.append(f"files {kind}")
        return FilesResult([ProducedFile(**f) for f in result["files"]], result["seconds"])

    def record_files(self, kind: str, result: FilesResult) -> None:
        data = {"files": [asdict(f) for f in result.files], "seconds": result.seconds}
        self._record(f"files-{_safe(kind)}", data, [f.path for f in result.files])

    # -- records -------------------------------------------------------------------------------
    def _record(self, name: str, result: dict[str, Any], files: list[str]) -> None:
        listed = {}
        journal = self.journal / f"{name}.json"
        try:
            for rel in files:
                path = self.stage / rel
                with open(path, "rb") as fh:
                    os.fsync(fh.fileno())
                listed[rel] = {"size": path.stat().st_size, "sha256": _sha256(path)}
            record = {"result": result, "files": listed}
            write_atomic(journal, json.dumps(record).encode("utf-8"))
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise OutputError(f"cannot record the finished task in {journal}: {reason}") from exc

    def _load(self, name: str) -> dict[str, Any] | None:
        path = self.journal / f"{name}.json"
        try:
            record: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            path.unlink(missing_ok=True)
            return None
        for rel, want in record["files"].items():
            file = self.stage / rel
            try:
                if file.stat().st_size != want["size"] or _sha256(file) != want["sha256"]:
                    raise OSError("changed")
            except OSError:
                path.unlink(missing_ok=True)  # the record no longer describes the files
                return None
        return record


def state_home() -> Path:
    """``$XDG_STATE_HOME/offboard`` (default ``~/.local/state/offboard``)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "offboard"


def work_folder(out_text: str, out: Path) -> Path:
    """The resume folder of an export to ``out_text``: beside a path, under
    :func:`state_home` for an S3 URL."""
    if out_text.startswith("s3://"):
        digest = hashlib.sha256(out_text.encode("utf-8")).hexdigest()[:32]
        return state_home() / "resume" / digest
    return resume_folder(out)


def prepare(
    out_text: str,
    out: Path,
    source: str,
    account: str,
    options: ExportOptions,
    archive: ArchiveOptions | None,
) -> tuple[ResumeState, ExportOptions, ArchiveOptions | None]:
    """The resume state of an export to ``out_text`` (a path, or an S3 URL whose work is
    kept under :func:`state_home`); when it holds an earlier run's work, that run may have
    put the output in place already: it is replaced (by the same bytes)."""
    import dataclasses

    folder = work_folder(out_text, out)
    folder.parent.mkdir(parents=True, exist_ok=True)
    state = ResumeState.open(folder, run_identity(out, source, account, options, archive))
    if state.resumed:
        options = dataclasses.replace(options, overwrite=True)
        if archive is not None:
            archive = dataclasses.replace(archive, overwrite=True)
    return state, options, archive
