"""Document numbering: series, first and last numbers, and gaps, seen while a table is written.

French invoices must be numbered in one continuous sequence per series (CGI art. 242 nonies A):
an archive records, per series, the first and last number and every hole between them, so that
an auditor can see at a glance whether invoices are missing, and the termination gate can tell
whether invoices were issued after the export.

A number is split into a *series* (everything before its last run of digits, plus the width of
that run: ``FA-2025-00042`` is series ``FA-2025-`` of width 5, number 42). Numbers without a
final run of digits are counted, not sequenced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from offboard.arrowutil import string_scalar

#: gap ranges listed per series; the count of missing numbers is always complete
MAX_LISTED_GAPS = 100
_PATTERN = r"^(?P<prefix>.*?)(?P<digits>[0-9]{1,18})$"


@dataclass
class Series:
    prefix: str
    width: int
    first: int
    last: int
    count: int
    distinct: int
    #: (first missing, last missing) ranges, at most :data:`MAX_LISTED_GAPS`
    gaps: list[tuple[int, int]] = field(default_factory=list)
    missing: int = 0
    gap_ranges: int = 0

    def number(self, n: int) -> str:
        return f"{self.prefix}{n:0{self.width}d}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "series": self.prefix,
            "width": self.width,
            "first": self.number(self.first),
            "last": self.number(self.last),
            "count": self.count,
            "duplicates": self.count - self.distinct,
            "missing": self.missing,
            "gaps": [[self.number(a), self.number(b)] for a, b in self.gaps[:MAX_LISTED_GAPS]],
            "gap_ranges": self.gap_ranges,
        }


class NumberTracker:
    """Collect a table's document numbers batch by batch; summarise them at the end.

    Each batch is split into series as it comes, and only each series' numbers are kept, as
    64-bit integers (8 bytes a number, in buffers of their own): the batch's strings are let go
    with the batch. A million invoice numbers take 8 MB.
    """

    def __init__(self) -> None:
        self._count = 0
        self._matched = 0
        #: per ``prefix NUL width``: the batches' numbers of that series
        self._series: dict[str, list[pa.Array]] = {}

    def add(self, numbers: pa.Array) -> None:
        present = pc.drop_null(numbers.cast(pa.string()))
        self._count += len(present)
        parts = pc.drop_null(pc.extract_regex(present, _PATTERN))
        self._matched += len(parts)
        if not len(parts):
            return
        digits = pc.struct_field(parts, "digits")
        n = digits.cast(pa.int64())
        keys = pc.binary_join_element_wise(
            pc.struct_field(parts, "prefix"),
            pc.utf8_length(digits).cast(pa.string()),
            string_scalar("\x00"),
        )
        distinct = pc.unique(keys).to_pylist()
        if len(distinct) == 1:
            self._series.setdefault(distinct[0], []).append(n)
            return
        for key in distinct:
            self._series.setdefault(key, []).append(n.filter(pc.equal(keys, string_scalar(key))))

    def summary(self) -> dict[str, Any]:
        """``{"count": n, "series": [...], "unsequenced": n}``, series sorted by prefix.

        Gives up the numbers it kept (each series' are sorted in one array of their own)."""
        series = []
        for key in list(self._series):
            prefix, _, width = key.rpartition("\x00")
            series.append(_series(prefix, int(width), self._series.pop(key)))
        series.sort(key=lambda s: (s.prefix, s.width))
        return {
            "count": self._count,
            "series": [s.to_dict() for s in series],
            "unsequenced": self._count - self._matched,
        }


#: numbers compared at a time when counting and listing gaps (bounds the temporary arrays)
_WINDOW = 1 << 16


def _series(prefix: str, width: int, chunks: list[pa.Array]) -> Series:
    """The series of the numbers in ``chunks`` (emptied as they are copied): sorted in place in
    one array, 8 bytes a number, then walked a window at a time (a hash table of a million
    numbers took 60 MB at once)."""
    import numpy as np

    chunks[:] = [pc.drop_null(c) if c.null_count else c for c in chunks]  # none, by add()
    values = np.empty(sum(len(c) for c in chunks), dtype=np.int64)
    at = 0
    while chunks:
        chunk = chunks.pop()  # int64, no nulls: its buffer read as is (to_numpy imports pandas)
        data = chunk.buffers()[1]
        if data is not None and len(chunk):
            values[at : at + len(chunk)] = np.frombuffer(
                data, dtype=np.int64, count=len(chunk), offset=chunk.offset * 8
            )
        at += len(chunk)
    values.sort()
    steps = 0
    gaps: list[tuple[int, int]] = []
    ranges = 0
    for start in range(0, len(values) - 1, _WINDOW):
        window = values[start : start + _WINDOW + 1]
        step = np.diff(window)
        steps += int(np.count_nonzero(step))
        holes = np.flatnonzero(step > 1)
        ranges += len(holes)
        for i in holes[: MAX_LISTED_GAPS + 1 - len(gaps)]:
            gaps.append((int(window[i]) + 1, int(window[i + 1]) - 1))
    s = Series(
        prefix=prefix,
        width=width,
        first=int(values[0]),
        last=int(values[-1]),
        count=len(values),
        distinct=steps + 1,
    )
    s.missing = (s.last - s.first + 1) - s.distinct
    s.gaps, s.gap_ranges = gaps, ranges
    return s
