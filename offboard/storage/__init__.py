"""Where archives are kept: a local folder, or a bucket and prefix of S3 (or an S3-compatible
store).

A *destination* is named by a URL: a folder path (``/srv/backups``, ``file:///srv/backups``)
or ``s3://BUCKET/PREFIX``. It lists the archives it holds, writes new ones (the archive stage
writes each part straight into it, :meth:`Destination.target`), gives a local copy of one to
check it, and deletes one, never before its retain-until date or while it is under legal hold.

An archive is stored as one file per part: ``NAME.zip``, or ``NAME-part-001.zip``... The
public API is :func:`open_destination`, :class:`Destination`, :class:`StoredArchive` and
:func:`split_archive_url`; the S3 specifics are in :mod:`offboard.storage.s3`.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from offboard.errors import ConfigError

if TYPE_CHECKING:
    from manifests.targets import PartTarget

__all__ = [
    "Destination",
    "StoredArchive",
    "StoredPart",
    "is_s3_url",
    "open_destination",
    "split_archive_url",
]

#: the folder (or key prefix) under the destination where state files are kept
STATE_DIR = ".offboard-state"
_STATE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,119}")
_PART = re.compile(r"(?P<stem>.+)-part-(?P<n>[0-9]{3})(?P<ext>\.zip(?:\.age)?)")
#: the file names an archive is stored as: parts, encrypted parts and their signatures
ARCHIVE_FILE = re.compile(r"[^/]+\.zip(?:\.age(?:\.minisig)?)?")


@dataclass(frozen=True)
class StoredPart:
    """One file of a stored archive."""

    name: str
    size: int
    modified: datetime
    #: the S3 version (None in a folder)
    version_id: str | None = None


@dataclass
class StoredArchive:
    """An archive a destination holds: its name (``NAME.zip``) and its part files."""

    name: str
    parts: list[StoredPart] = field(default_factory=list)
    #: the latest of its parts' Object Lock date and its own retention date (the archive's
    #: ``Offboard-Retain-Until``, kept through that day), if any
    retain_until: datetime | None = None
    legal_hold: bool = False
    #: why its own retention date could not be read (it is then never deleted)
    retention_unreadable: str | None = None

    def retain_to(self, until: datetime | None) -> None:
        """Keep it at least until ``until``."""
        if until is not None and (self.retain_until is None or until > self.retain_until):
            self.retain_until = until

    @property
    def size(self) -> int:
        return sum(p.size for p in self.parts)

    @property
    def modified(self) -> datetime:
        return max(p.modified for p in self.parts)

    @property
    def stem(self) -> str:
        return self.name.removesuffix(".age").removesuffix(".zip")

    @property
    def encrypted(self) -> bool:
        return self.name.endswith(".zip.age")

    @property
    def first(self) -> StoredPart:
        """The part to name when verifying (the first part file, not a signature)."""
        return next(p for p in self.parts if not p.name.endswith(".minisig"))


def archive_name(part_name: str) -> str:
    """The archive a file belongs to: ``NAME-part-001.zip`` -> ``NAME.zip``;
    ``NAME-part-001.zip.age.minisig`` -> ``NAME.zip.age``."""
    name = (
        part_name.removesuffix(".minisig") if part_name.endswith(".zip.age.minisig") else part_name
    )
    match = _PART.fullmatch(name)
    return name if match is None else f"{match['stem']}{match['ext']}"


def is_archive_file(name: str) -> bool:
    return not name.startswith(".") and ARCHIVE_FILE.fullmatch(name) is not None


def group_parts(parts: list[StoredPart]) -> list[StoredArchive]:
    """The archives made of these part files, sorted by name."""
    found: dict[str, StoredArchive] = {}
    for part in sorted(parts, key=lambda p: p.name):
        name = archive_name(part.name)
        found.setdefault(name, StoredArchive(name)).parts.append(part)
    return [found[n] for n in sorted(found)]


class Destination(ABC):
    """A place archives are written to and read from (see the module doc)."""

    #: what the destination is, for messages and reports (a path, or s3://bucket/prefix)
    url: str

    @abstractmethod
    def list_archives(self) -> list[StoredArchive]:
        """Every archive held (files ending in .zip directly under the folder or prefix)."""

    @abstractmethod
    def target(self, name: str, **options: Any) -> PartTarget:
        """Where the archive stage writes the archive ``name`` (``NAME.zip``)."""

    @abstractmethod
    def local_copy(self, archive: StoredArchive) -> AbstractContextManager[Path]:
        """A context giving the path of a local copy of the archive's first part (its other
        parts beside it), made from the stored bytes themselves; removed after the block."""

    @abstractmethod
    def delete(self, archive: StoredArchive, *, now: datetime) -> None:
        """Delete the archive's parts; refused (OutputError) while it is retained or on hold."""

    @abstractmethod
    def read_state(self, name: str) -> bytes | None:
        """A small state file this destination keeps for offboard (``name`` is a plain file
        name, e.g. an account's last fingerprint), or None when there is none."""

    @abstractmethod
    def write_state(self, name: str, data: bytes) -> None:
        """Replace the state file ``name`` atomically."""

    def abandoned_uploads(self, before: datetime, *, abort: bool) -> list[str]:
        """The unfinished uploads started before ``before`` (an object store's: a folder has
        none), aborted when ``abort``; their names."""
        return []

    def check_deletable(self, archive: StoredArchive, now: datetime) -> None:
        """Refuse (OutputError) to delete an archive under legal hold or still retained."""
        from offboard.errors import OutputError

        if archive.legal_hold:
            raise OutputError(f"{self.describe(archive.name)} is under legal hold")
        if archive.retention_unreadable is not None:
            raise OutputError(
                f"{self.describe(archive.name)}: its retention date cannot be read "
                f"({archive.retention_unreadable})"
            )
        if archive.retain_until is not None and archive.retain_until > now:
            raise OutputError(
                f"{self.describe(archive.name)} is retained until {archive.retain_until:%Y-%m-%d}"
            )

    def describe(self, name: str) -> str:
        """The location of the archive ``name`` in this destination."""
        return f"{self.url.rstrip('/')}/{name}"


def is_s3_url(text: str) -> bool:
    return text.startswith("s3://")


def split_archive_url(text: str) -> tuple[str, str]:
    """``s3://bucket/prefix/NAME.zip`` -> (``s3://bucket/prefix``, ``NAME.zip``); a path
    -> (its folder, its name)."""
    if is_s3_url(text):
        head, _, name = text.rpartition("/")
        if head in ("s3:/", "s3:") or not name:
            raise ConfigError(f"{text!r}: give s3://BUCKET/[PREFIX/]NAME.zip")
        return head, name
    path = Path(text)
    return str(path.parent), path.name


def open_destination(url: str) -> Destination:
    """The destination named by ``url`` (a folder, ``file://`` path or ``s3://`` URL)."""
    if is_s3_url(url):
        from offboard.storage.s3 import S3Destination

        return S3Destination.from_url(url)
    if url.startswith("file://"):
        url = url[len("file://") :]
    elif "://" in url:
        raise ConfigError(f"destination {url!r}: give a folder or s3://BUCKET/PREFIX")
    from offboard.storage.local import LocalDestination

    return LocalDestination(Path(url))


def check_state_name(name: str) -> str:
    """``name`` if it is a plain, safe state file name (else ValueError)."""
    if not _STATE_NAME.fullmatch(name):
        raise ValueError(f"unsafe state file name {name!r}")
    return name
