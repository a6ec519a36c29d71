"""The bounds a verifier applies to each part, so that its memory stays bounded.

A part holds at most :data:`~manifests.metadata.MAX_PART_FILES` payload files; what a part may
hold besides (names, tag files, ``offboard.json``) is bounded in proportion, before anything is
read. ``docs/archive-format.md`` (section 6) lists the figures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from manifests import bag
from manifests.metadata import MAX_PART_FILES

if TYPE_CHECKING:
    from manifests.zipfmt import Limits

#: most memory ``offboard.json`` may take once parsed, as :func:`parse_cost` bounds it: a
#: full part (25,000 files) with 30,000 listed problems fits
METADATA_BUDGET = 96 * 1000**2
#: bytes per structural character (``{ [ , :``) that one JSON value can take once parsed, at
#: most (measured in CPython 3.11: 81, for ``{"a":"b"},`` repeated)
_VALUE_COST = 96


#: largest tag file read (into memory) for a part of the format's most files; offboard.json
#: may be larger, up to what :data:`METADATA_BUDGET` allows
TAG_FILE_LIMIT = 16 << 20
#: members of a part besides its payload files: the tag files, and room to report strays
TAG_MEMBERS = 16
#: central directory bytes per member: a 46-byte record and a name of up to ~600 bytes
DIRECTORY_PER_MEMBER = 640


def part_limits(max_files: int = MAX_PART_FILES) -> Limits:
    """The bounds applied to each part: ``max_files`` payload files (the format's most, by
    default), their names, their tag files. More files allow more memory, in proportion."""
    from manifests.zipfmt import Limits

    members = max_files + TAG_MEMBERS
    return Limits(max_members=members, max_directory_size=members * DIRECTORY_PER_MEMBER)


def scale(limits: Limits) -> int:
    """How many full parts' worth of files ``limits`` allow (at least 1)."""
    return max(1, -(-limits.max_members // (MAX_PART_FILES + TAG_MEMBERS)))


def tag_limit(limits: Limits, rel: str) -> int:
    # the archive browser shows what offboard.json holds, so it is allowed as much
    if rel in (bag.METADATA, bag.BROWSER):
        return scale(limits) * METADATA_BUDGET // 2
    return scale(limits) * TAG_FILE_LIMIT


def parse_cost(data: bytes) -> int:
    """An upper bound of the memory ``json.loads(data)`` takes (the text, decoded, plus the
    values made from it): every value made is delimited by a structural character."""
    marks = data.count(b"{") + data.count(b"[") + data.count(b",") + data.count(b":")
    return 2 * len(data) + _VALUE_COST * (marks + 1)
