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
    """Collect a table's document numbers batch by batch; summarise them at the end."""

    def __init__(self) -> None:
        self._chunks: list[pa.Array] = []

    def add(self, numbers: pa.Array) -> None:
        self._chunks.append(numbers.cast(pa.string()))

    def summary(self) -> dict[str, Any]:
        """``{"count": n, "series": [...], "unsequenced": n}``, series sorted by prefix."""
        if not self._chunks:
            return {"count": 0, "series": [], "unsequenced": 0}
        numbers = pc.drop_null(pa.chunked_array(self._chunks, pa.string()).combine_chunks())
        parts = pc.extract_regex(numbers, _PATTERN)
        matched = pc.is_valid(parts)
        parts = pc.drop_null(parts)
        prefix = pc.struct_field(parts, "prefix")
        digits = pc.struct_field(parts, "digits")
        table = pa.table(
            {"prefix": prefix, "width": pc.utf8_length(digits), "n": digits.cast(pa.int64())}
        )
        series = [_series(table, row) for row in _groups(table)]
        series.sort(key=lambda s: (s.prefix, s.width))
        return {
            "count": len(numbers),
            "series": [s.to_dict() for s in series],
            "unsequenced": len(numbers) - (pc.sum(matched).as_py() or 0),
        }


def _groups(table: pa.Table) -> list[dict[str, Any]]:
    """min, max, count and distinct count of ``n`` per (prefix, width).

    Written with plain compute functions (a handful of series per table): Arrow's ``group_by``
    imports pandas, which an export never needs.
    """
    if table.num_rows == 0:
        return []
    sep = string_scalar("\x00")
    keys = pc.binary_join_element_wise(table["prefix"], table["width"].cast(pa.string()), sep)
    rows = []
    for key in pc.unique(keys).to_pylist():
        prefix, _, width = key.rpartition("\x00")
        n = table["n"].filter(pc.equal(keys, string_scalar(key)))
        rows.append(
            {
                "prefix": prefix,
                "width": int(width),
                "n_min": pc.min(n).as_py(),
                "n_max": pc.max(n).as_py(),
                "n_count": len(n),
                "n_count_distinct": pc.count_distinct(n).as_py(),
            }
        )
    return rows


def _series(table: pa.Table, row: dict[str, Any]) -> Series:
    s = Series(
        prefix=row["prefix"],
        width=row["width"],
        first=row["n_min"],
        last=row["n_max"],
        count=row["n_count"],
        distinct=row["n_count_distinct"],
    )
    s.missing = (s.last - s.first + 1) - s.distinct
    if s.missing:
        mask = pc.and_(
            pc.equal(table["prefix"], string_scalar(s.prefix)),
            pc.equal(table["width"], int_scalar(s.width, table.schema.field("width").type)),
        )
        values = pc.unique(table.filter(mask)["n"].combine_chunks())
        ordered = pc.take(values, pc.sort_indices(values))
        steps = pc.subtract(ordered.slice(1), ordered.slice(0, len(ordered) - 1))
        holes = pc.indices_nonzero(pc.greater(steps, int_scalar(1, pa.int64()))).to_pylist()
        s.gaps = [
            (ordered[i].as_py() + 1, ordered[i + 1].as_py() - 1)
            for i in holes[: MAX_LISTED_GAPS + 1]
        ]
        s.gap_ranges = len(holes)
    return s
