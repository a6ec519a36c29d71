"""Where the archive stage writes an archive's part files: :class:`PartTarget`.

The default, :class:`LocalParts`, writes each part under a temporary name beside its final
name, fsyncs it, and renames every part only once all are written, so no half-written archive
is ever under a final name. :mod:`offboard.storage.s3` writes them into S3 multipart uploads,
completed together in the same way.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import BinaryIO, Protocol

from offboard.errors import OutputError, OutputExists
from offboard.fsutil import fsync_dir, temp_name

#: bytes gathered before each write to the archive file (small members are a few KB each)
WRITE_BUFFER = 1 << 20


class PartTarget(Protocol):
    """Where an archive's part files go: the archive stage opens each part, writes it whole,
    finishes it, and commits once every part is finished (or aborts)."""

    def check(self, out: Path, finals: list[Path], overwrite: bool) -> None:
        """Raise OutputExists when a final name is taken (and ``overwrite`` is false)."""

    def open(self, final: Path, expected_size: int) -> BinaryIO:
        """A new writable file object for the part ``final`` (seekable backwards only over
        what :meth:`ZipWriter` patches; see :mod:`offboard.storage.sink`)."""

    def finish(self, final: Path, fh: BinaryIO) -> None:
        """The part ``final`` is written whole: make it durable (not yet under its name)."""

    def add_small(self, final: Path, data: bytes) -> None:
        """A small file to publish with the parts (a detached signature), under ``final``."""

    def commit(self) -> list[str]:
        """Put every finished part under its final name; return their locations."""

    def abort(self) -> None:
        """Remove whatever was written (called on any error, before raising it)."""


class LocalParts:
    """Parts written under temporary names beside ``out``, fsynced, and renamed together."""

    def __init__(self) -> None:
        self._temps: list[tuple[Path, Path]] = []
        self._small: set[Path] = set()
        #: the final names a failed :meth:`commit` had already given (removed by :meth:`abort`)
        self._renamed: list[Path] = []

    def check(self, out: Path, finals: list[Path], overwrite: bool) -> None:
        check_targets(out, finals, overwrite)
        for final in finals:
            remove_stale_temps(final)

    def open(self, final: Path, expected_size: int) -> BinaryIO:
        temp = temp_name(final)
        try:
            fh = open(temp, "xb", buffering=WRITE_BUFFER)  # noqa: SIM115 - closed by the caller
        except FileExistsError:
            raise OutputError(f"temporary file {str(temp)!r} exists") from None
        self._temps.append((temp, final))
        return fh

    def finish(self, final: Path, fh: BinaryIO) -> None:
        fh.flush()
        os.fsync(fh.fileno())
        fh.close()

    def add_small(self, final: Path, data: bytes) -> None:
        temp = temp_name(final)
        self._temps.append((temp, final))
        self._small.add(final)
        try:
            with open(temp, "xb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise OutputError(f"cannot write {str(final)!r}: {reason}") from exc

    def commit(self) -> list[str]:
        """Rename every part into place; if one rename fails (a folder that must grow on a
        full disk), :meth:`abort` removes those already renamed: all parts or none."""
        for temp, final in self._temps:
            os.replace(temp, final)
            self._renamed.append(final)
        self._renamed = []  # all in place: the archive is whole, nothing to take back
        if self._temps:
            fsync_dir(self._temps[0][1].parent)
        return [str(final) for _, final in self._temps if final not in self._small]

    def abort(self) -> None:
        for temp, _ in self._temps:
            temp.unlink(missing_ok=True)
        for final in self._renamed:
            final.unlink(missing_ok=True)


def check_targets(out: Path, finals: list[Path], overwrite: bool) -> None:
    ext = ".zip.age" if out.name.endswith(".zip.age") else ".zip"
    if not out.name.endswith(ext):
        raise OutputError(f"archive name {str(out)!r} must end with .zip")
    stem = out.name[: -len(ext)]
    existing = [p for p in finals if p.exists()]
    existing += sorted(out.parent.glob(f"{glob.escape(stem)}-part-[0-9][0-9][0-9]{ext}"))
    if out.exists():
        existing.append(out)
    if existing and not overwrite:
        raise OutputExists(
            f"archive {str(existing[0])!r} already exists; choose another --out or pass --overwrite"
        )
    if overwrite:
        for p in set(existing) - set(finals):
            p.unlink()  # parts of an older archive of the same name would be mistaken for ours
            if ext == ".zip.age":
                p.with_name(p.name + ".minisig").unlink(missing_ok=True)


def remove_stale_temps(final: Path) -> None:
    """Remove the temporary files a killed run left for ``final`` (their names end with the
    pid of their process, which is gone; see :func:`offboard.fsutil.temp_name`)."""
    prefix = f".{final.name}.tmp-"
    for path in final.parent.glob(f"{glob.escape(prefix)}*"):
        pid = path.name[len(prefix) :].partition("-")[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            path.unlink(missing_ok=True)
        except OSError:
            continue
