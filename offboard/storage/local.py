"""A local folder of archives."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from manifests.targets import LocalParts
from offboard.errors import OutputError
from offboard.fsutil import write_atomic
from offboard.storage import (
    STATE_DIR,
    Destination,
    StoredArchive,
    StoredPart,
    check_state_name,
    group_parts,
    is_archive_file,
)


class LocalDestination(Destination):
    """Archives as files directly in ``folder`` (made when the first archive is written)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.url = str(folder)

    def list_archives(self) -> list[StoredArchive]:
        parts: list[StoredPart] = []
        try:
            entries = list(os.scandir(self.folder))
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise OutputError(f"cannot list {self.url!r}: {exc.strerror}") from exc
        for entry in entries:
            if not is_archive_file(entry.name):
                continue
            st = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(st.st_mode):
                continue  # a link or a folder is not an archive this destination wrote
            modified = datetime.fromtimestamp(st.st_mtime, UTC)
            parts.append(StoredPart(entry.name, st.st_size, modified))
        archives = group_parts(parts)
        for archive in archives:
            _read_retention(self.folder / archive.first.name, archive)
        return archives

    def target(self, name: str, **options: Any) -> LocalParts:
        if options:
            raise OutputError(f"{', '.join(sorted(options))}: only for an s3:// destination")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create {self.url!r}: {exc.strerror}") from exc
        return LocalParts()

    def path(self, name: str) -> Path:
        return self.folder / name

    @contextmanager
    def local_copy(self, archive: StoredArchive) -> Iterator[Path]:
        yield self.folder / archive.first.name

    def delete(self, archive: StoredArchive, *, now: datetime) -> None:
        self.check_deletable(archive, now)
        for part in archive.parts:
            try:
                (self.folder / part.name).unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise OutputError(
                    f"cannot delete {self.describe(part.name)}: {exc.strerror}"
                ) from None

    def read_state(self, name: str) -> bytes | None:
        path = self.folder / STATE_DIR / check_state_name(name)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise OutputError(f"cannot read {str(path)!r}: {exc.strerror}") from exc

    def write_state(self, name: str, data: bytes) -> None:
        folder = self.folder / STATE_DIR
        try:
            folder.mkdir(parents=True, exist_ok=True)
            write_atomic(folder / check_state_name(name), data)
        except OSError as exc:
            raise OutputError(f"cannot write {str(folder / name)!r}: {exc.strerror}") from exc


def _read_retention(path: Path, archive: StoredArchive) -> None:
    from offboard.storage.retained import Unreadable, end_of, read_retain_until

    try:
        until = read_retain_until(path)
    except Unreadable as exc:
        archive.retention_unreadable = str(exc)
        return
    if until is not None:
        archive.retain_to(end_of(until))
