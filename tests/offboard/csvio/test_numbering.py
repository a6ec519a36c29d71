"""Document numbering: series, first/last, duplicates, gaps, against a plain-Python reference."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from offboard.csvio.numbering import MAX_LISTED_GAPS, NumberTracker


def reference(batches: list[list[str | None]]) -> dict[str, Any]:
    """What the summary must be, computed the obvious way."""
    numbers = [n for b in batches for n in b if n is not None]
    series: dict[tuple[str, int], list[int]] = {}
    matched = 0
    for text in numbers:
        m = re.fullmatch(r"(.*?)([0-9]{1,18})", text)  # as RE2: "." takes no line feed
        if m is None:
            continue
        matched += 1
        series.setdefault((m[1], len(m[2])), []).append(int(m[2]))
    out = []
    for (prefix, width), values in sorted(series.items()):
        distinct = sorted(set(values))
        gaps = [(a + 1, b - 1) for a, b in itertools.pairwise(distinct) if b - a > 1]

        def fmt(n: int, prefix: str = prefix, width: int = width) -> str:
            return f"{prefix}{n:0{width}d}"

        out.append(
            {
                "series": prefix,
                "width": width,
                "first": fmt(distinct[0]),
                "last": fmt(distinct[-1]),
                "count": len(values),
                "duplicates": len(values) - len(distinct),
                "missing": distinct[-1] - distinct[0] + 1 - len(distinct),
                "gaps": [[fmt(a), fmt(b)] for a, b in gaps[:MAX_LISTED_GAPS]],
                "gap_ranges": len(gaps),
            }
        )
    return {"count": len(numbers), "series": out, "unsequenced": len(numbers) - matched}


def summarise(batches: list[list[str | None]]) -> dict[str, Any]:
    tracker = NumberTracker()
    for b in batches:
        tracker.add(pa.array(b, pa.string()))
    return tracker.summary()


def test_series_gaps_and_duplicates() -> None:
    batches: list[list[str | None]] = [
        ["FA-2025-00001", "FA-2025-00002", None, "AV-2025-00001", "FA-2025-00005"],
        ["FA-2025-00005", "FA-2026-00001", "LIBRE", "FA-2025-00009", "FA-2025-0010"],
    ]
    got = summarise(batches)
    assert got == reference(batches)
    fa25 = next(s for s in got["series"] if s["series"] == "FA-2025-" and s["width"] == 5)
    assert fa25["first"] == "FA-2025-00001" and fa25["last"] == "FA-2025-00009"
    assert fa25["duplicates"] == 1 and fa25["missing"] == 5
    assert fa25["gaps"] == [["FA-2025-00003", "FA-2025-00004"], ["FA-2025-00006", "FA-2025-00008"]]
    assert got["unsequenced"] == 1 and got["count"] == 9


def test_nothing_and_only_nulls() -> None:
    empty = {"count": 0, "series": [], "unsequenced": 0}
    assert summarise([]) == empty
    assert summarise([[None, None]]) == empty


def test_many_gaps_are_counted_but_listed_up_to_the_limit() -> None:
    batch: list[str | None] = [f"Q{n:04d}" for n in range(0, 1000, 3)]
    (series,) = summarise([batch])["series"]
    assert series["gap_ranges"] == 333 and len(series["gaps"]) == MAX_LISTED_GAPS
    assert series["missing"] == 666 and series["count"] == 334


numbers = st.one_of(
    st.none(),
    st.builds(
        lambda p, n, w: f"{p}{n:0{w}d}",
        st.sampled_from(["FA-2025-", "AV-", "", "é-", "0"]),
        st.integers(0, 120),
        st.integers(1, 4),
    ),
    st.text(max_size=6),
    st.sampled_from(["7\n12", "A\n", "1234567890123456789012", "x0"]),
)


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.lists(numbers, max_size=30), max_size=5))
def test_the_summary_is_the_reference_for_any_numbers(batches: list[list[str | None]]) -> None:
    assert summarise(batches) == reference(batches)


def test_gaps_and_duplicates_across_the_counting_windows() -> None:
    """The sorted numbers are walked a window at a time: holes and repeats that straddle a
    window's edge are each counted once, whatever the order the numbers came in."""
    from offboard.csvio.numbering import _WINDOW

    edges = [_WINDOW * k + d for k in (1, 2, 3) for d in (-1, 0, 1)]
    values = [n for n in range(1, 3 * _WINDOW + 500) if n not in set(edges[1::3])]
    values += edges[::3]  # repeated: duplicates at the edges
    values.reverse()  # out of order, in several batches of several sizes
    texts: list[str | None] = [f"FA-{n:07d}" for n in values]
    batches = [texts[i : i + 70_001] for i in range(0, len(texts), 70_001)]
    got = summarise(batches)
    assert got == reference(batches)
    (series,) = got["series"]
    assert series["gap_ranges"] == 3 and series["missing"] == 3 and series["duplicates"] == 3
