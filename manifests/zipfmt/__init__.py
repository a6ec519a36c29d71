"""Zip files in one canonical, byte-for-byte reproducible layout: writer and strict reader.

The layout is described in :mod:`manifests.zipfmt.records`. :class:`ZipWriter` produces it;
:class:`ZipReader` accepts nothing else, and reports every difference as a typed problem
(:mod:`manifests.problems`) instead of raising.

``ZIP64_THRESHOLD`` here is a copy for reference: the functions read
``manifests.zipfmt.records.ZIP64_THRESHOLD`` (and ``ZIP64_COUNT_LIMIT``) when they run.
"""

from __future__ import annotations

from manifests.zipfmt.directory import Limits
from manifests.zipfmt.reader import CorruptDataError, ZipReader
from manifests.zipfmt.records import ZIP64_COUNT_LIMIT, ZIP64_THRESHOLD, ZipEntry
from manifests.zipfmt.writer import FileChangedError, ZipWriter

__all__ = [
    "ZIP64_COUNT_LIMIT",
    "ZIP64_THRESHOLD",
    "CorruptDataError",
    "FileChangedError",
    "Limits",
    "ZipEntry",
    "ZipReader",
    "ZipWriter",
]
