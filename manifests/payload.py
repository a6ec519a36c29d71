"""The payload of an archive: which files, where they are, which part each goes in.

The payload is the export folder's files (the bundles, and the CSV files unless they were
packed), the documents of the export's documents spool and the CSV files of its tables pack;
each gets its path in the bag, ``data/<path in the export>``. Parts are planned in path order.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from manifests import bag
from manifests.metadata import DATA, PartPlan
from manifests.zipfmt.filedata import FileMember, SpooledMember
from manifests.zipfmt.records import DEFLATED
from offboard.errors import OutputError

if TYPE_CHECKING:
    from manifests.pack import Pack, Packed
    from offboard.documents.spool import DocumentSpool, SpoolEntry

#: files compressed in the archive; everything else (PDFs: compressed already) is stored
COMPRESSED_SUFFIXES = (".csv", ".json", ".txt", ".xml", ".html")
#: files of the export folder that are not payload (their content is in offboard.json)
NOT_PAYLOAD = frozenset({"export-summary.json"})


def compressed(name: str) -> bool:
    """Whether the member ``name`` is deflated in the archive (else stored)."""
    return name.endswith(COMPRESSED_SUFFIXES)


def payload_files(stage: Path) -> dict[str, int]:
    """Every regular file of the export folder (``data/`` + relative POSIX path -> size).

    Links and other non-regular files are refused. The folder is read with ``os.scandir``:
    the entry types come with the listing, one ``lstat`` per file gives its size.
    """
    files: dict[str, int] = {}
    folders = [("", os.fspath(stage))]
    while folders:
        prefix, folder = folders.pop()
        with os.scandir(folder) as listing:
            for entry in listing:
                rel = prefix + entry.name
                if entry.is_dir(follow_symlinks=False):
                    folders.append((rel + "/", entry.path))
                    continue
                if entry.is_symlink():
                    raise OutputError(f"export folder holds a link {entry.path!r}")
                if not entry.is_file(follow_symlinks=False):
                    raise OutputError(f"export folder holds a non-regular file {entry.path!r}")
                name = entry.name
                if rel in NOT_PAYLOAD or (name.startswith(".") and ".tmp-" in name):
                    continue
                why = bag.check_relative(rel)
                if why:
                    raise OutputError(f"export file {rel!r} cannot go in an archive: {why}")
                files[f"{DATA}/{rel}"] = entry.stat(follow_symlinks=False).st_size
    return files


def spooled_files(spool: DocumentSpool, sizes: dict[str, int]) -> dict[str, SpoolEntry]:
    """The documents of ``spool`` as payload files (``data/`` + path -> entry), their sizes
    added to ``sizes`` (the export folder's files, none of which may have the same path)."""
    spooled: dict[str, SpoolEntry] = {}
    for rel, entry in spool.members.items():
        why = bag.check_relative(rel)
        if why:
            raise OutputError(f"export file {rel!r} cannot go in an archive: {why}")
        path = f"{DATA}/{rel}"
        if path in sizes:
            raise OutputError(f"export file {rel!r} is both spooled and in the export folder")
        if compressed(path):
            raise OutputError(f"export file {rel!r} is spooled but must be compressed")
        sizes[path] = entry.size
        spooled[path] = entry
    return spooled


def packed_files(pack: Pack, sizes: dict[str, int]) -> dict[str, Packed]:
    """The files of ``pack`` as payload files (``data/`` + path -> what was packed), their
    sizes added to ``sizes`` (none of which may have the same path)."""
    packed: dict[str, Packed] = {}
    for rel, entry in pack.members.items():
        why = bag.check_relative(rel)
        if why:
            raise OutputError(f"export file {rel!r} cannot go in an archive: {why}")
        path = f"{DATA}/{rel}"
        if path in sizes:
            raise OutputError(f"export file {rel!r} is both packed and elsewhere")
        if not compressed(path):
            raise OutputError(f"export file {rel!r} is packed but must be stored")
        sizes[path] = entry.size
        packed[path] = entry
    return packed


@dataclass(frozen=True)
class Payload:
    """Where the payload files are: the export folder, the documents spool (read through
    ``fd``) or the tables pack (read through ``pack_fd``)."""

    stage: Path
    sizes: dict[str, int]
    spooled: dict[str, SpoolEntry]
    fd: int | None
    packed: dict[str, Packed]
    pack_fd: int | None

    def zip_members(
        self, members: list[str], member_name: Callable[[str], str]
    ) -> tuple[list[FileMember | SpooledMember], dict[str, str], dict[str, hashlib._Hash]]:
        """The zip members of the payload files ``members`` (named ``member_name(path)``); the
        SHA-256 of the spooled and packed ones (computed when they were made), and the hashes
        the others feed as they are read."""
        root = os.fspath(self.stage)
        skip = len(DATA) + 1
        files: list[FileMember | SpooledMember] = []
        known: dict[str, str] = {}
        hashing: dict[str, hashlib._Hash] = {}
        for rel in members:
            name = member_name(rel)
            entry = self.spooled.get(rel)
            packed = self.packed.get(rel)
            if entry is not None and self.fd is not None:
                offset, size, crc, known[rel] = entry
                files.append(SpooledMember.stored(name, self.fd, offset, size, crc, rel))
            elif packed is not None and self.pack_fd is not None:
                offset, size, crc, known[rel], stored, stored_crc = packed
                files.append(
                    SpooledMember(
                        name, self.pack_fd, offset, size, crc, rel, DEFLATED, stored, stored_crc
                    )
                )
            else:
                h = hashing[rel] = hashlib.sha256()
                path = f"{root}/{rel[skip:]}"
                files.append(FileMember(name, path, compressed(rel), self.sizes[rel], h.update))
        return files, known, hashing


def plan_parts(sizes: dict[str, int], split_size: int, split_files: int) -> PartPlan:
    """Assign files to parts in path order; a part closes before it would pass ``split_size``
    bytes or ``split_files`` files.

    A single file larger than ``split_size`` gets a part of its own (files are never cut). The
    order matters to a verifier: every path of part N sorts (by its UTF-8 bytes) before every
    path of part N+1, so that one file in two parts shows without a list of all files.
    """
    if split_size < 1:
        raise ValueError("split size must be positive")
    if split_files < 1:
        raise ValueError("files per part must be positive")
    files: dict[str, int] = {}
    part, used, count = 1, 0, 0
    for path in sorted(sizes, key=lambda p: p.encode("utf-8")):
        size = sizes[path]
        if count and (used + size > split_size or count >= split_files):
            part, used, count = part + 1, 0, 0
        files[path] = part
        used += size
        count += 1
    return PartPlan(files=files, sizes=dict(sizes), count=part)
