"""The export's output: checks before an export, the staging folder, the work files beside an
archive (documents spool, tables pack), publication."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from offboard.errors import OutputError, OutputExists
from offboard.fsutil import fsync_dir

if TYPE_CHECKING:
    from manifests.pack import Pack
    from offboard.documents.spool import DocumentSpool

__all__ = [
    "check_archive_out",
    "check_out",
    "clean_stale_stages",
    "create_pack",
    "create_spool",
    "publish",
]


def check_out(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise OutputError(f"output {str(out)!r} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise OutputExists(
            f"output folder {str(out)!r} is not empty; choose another --out or pass --overwrite"
        )
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {str(out.parent)!r}: {exc.strerror}") from exc


def clean_stale_stages(out: Path) -> None:
    """Remove the staging folders that killed runs left beside ``out`` (their process is
    gone: a staging folder's name ends with its pid)."""
    prefix = f".{out.name}.partial-"
    try:
        entries = list(out.parent.iterdir())
    except OSError:
        return
    for entry in entries:
        pid = entry.name[len(prefix) :] if entry.name.startswith(prefix) else ""
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
            continue  # still running
        except ProcessLookupError:
            shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            continue


def check_archive_out(out: Path, overwrite: bool) -> None:
    if not out.name.endswith(".zip"):
        raise OutputError(f"archive name {str(out)!r} must end with .zip")
    if out.is_dir():
        raise OutputError(f"output {str(out)!r} is a folder, not an archive name")
    if out.exists() and not overwrite:
        raise OutputExists(
            f"archive {str(out)!r} already exists; choose another --out or pass --overwrite"
        )
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {str(out.parent)!r}: {exc.strerror}") from exc


def publish(stage: Path, out: Path) -> None:
    """Put the finished staging folder in place of ``out``.

    Everything written so far is flushed to disk first (one ``sync`` rather than one ``fsync``
    per document: an export has thousands), so that after a power cut ``out`` is either the
    previous state or the whole new export.
    """
    os.sync()
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        os.replace(out, old)
    os.replace(stage, out)
    fsync_dir(out.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def create_spool(out: Path) -> DocumentSpool:
    """The documents spool of an export to the archive ``out``, beside it (already unlinked)."""
    from offboard.documents.spool import DocumentSpool

    path = out.parent / f".{out.name}.spool-{os.getpid()}"
    path.unlink(missing_ok=True)  # left by a process of the same id killed while creating it
    return DocumentSpool.create(path)


def create_pack(out: Path, level: int) -> Pack:
    """The tables pack of an export to the archive ``out``, beside it (already unlinked)."""
    from manifests.pack import Pack

    path = out.parent / f".{out.name}.tables-{os.getpid()}"
    path.unlink(missing_ok=True)  # left by a process of the same id killed while creating it
    return Pack.create(path, level)
