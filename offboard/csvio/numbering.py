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

from offboard.arrowutil import int_scalar, string_scalar

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
        """``{"count": n, "series": [...], "unsequenced": n}``, series sorted by prefix."""
        series = []
        for key, chunks in self._series.items():
            prefix, _, width = key.rpartition("\x00")
            series.append(_series(prefix, int(width), pa.chunked_array(chunks, pa.int64())))
        series.sort(key=lambda s: (s.prefix, s.width))
        return {
            "count": self._count,
            "series": [s.to_dict() for s in series],
            "unsequenced": self._count - self._matched,
        }


def _series(prefix: str, width: int, n: pa.ChunkedArray) -> Series:
    s = Series(
        prefix=prefix,
        width=width,
        first=pc.min(n).as_py(),
        last=pc.max(n).as_py(),
        count=len(n),
        distinct=pc.count_distinct(n).as_py(),
    )
    s.missing = (s.last - s.first + 1) - s.distinct
    if s.missing:
        values = pc.unique(n.combine_chunks())
        ordered = pc.take(values, pc.sort_indices(values))
        steps = pc.subtract(ordered.slice(1), ordered.slice(0, len(ordered) - 1))
        holes = pc.indices_nonzero(pc.greater(steps, int_scalar(1, pa.int64()))).to_pylist()
        s.gaps = [
            (ordered[i].as_py() + 1, ordered[i + 1].as_py() - 1)
            for i in holes[: MAX_LISTED_GAPS + 1]
        ]
        s.gap_ranges = len(holes)
    return s
