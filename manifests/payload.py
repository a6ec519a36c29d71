"""The payload of an archive: which files, where they are, which part each goes in.

The payload is the export folder's files (``csv/...``, the bundles) and, for an export that
went through a documents spool, the documents in it; each gets its path in the bag,
``data/<path in the export>``. Parts are planned in path order.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from manifests import bag
from manifests.metadata import DATA, PartPlan
from offboard.errors import OutputError

if TYPE_CHECKING:
    from offboard.documents.spool import DocumentSpool, SpoolEntry

#: files compressed in the archive; everything else (PDFs: compressed already) is stored
COMPRESSED_SUFFIXES = (".csv", ".json", ".txt", ".xml")
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


@dataclass(frozen=True)
class Payload:
    """Where the payload files are: the export folder, or the spool (read through ``fd``)."""

    stage: Path
    sizes: dict[str, int]
    spooled: dict[str, SpoolEntry]
    fd: int | None


def plan_parts(sizes: dict[str, int], split_size: int) -> PartPlan:
    """Assign files to parts in path order; a part closes before it would pass ``split_size``.

    A single file larger than ``split_size`` gets a part of its own (files are never cut).
    """
    if split_size < 1:
        raise ValueError("split size must be positive")
    files: dict[str, int] = {}
    part, used = 1, 0
    for path in sorted(sizes, key=lambda p: p.encode("utf-8")):
        size = sizes[path]
        if used and used + size > split_size:
            part, used = part + 1, 0
        files[path] = part
        used += size
    return PartPlan(files=files, sizes=dict(sizes), count=part)
