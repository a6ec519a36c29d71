from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from offboard.csvio.cells import TRIGGERS, neutralise, neutralise_cell, restore_cell


@settings(max_examples=1000)
@given(st.text())
def test_neutralise_round_trips_and_is_never_a_formula(value: str) -> None:
    safe = neutralise_cell(value)
    assert restore_cell(safe) == value
    assert not safe.startswith(("=", "+", "-", "@", "\t", "\r", "\n"))


@settings(max_examples=300)
@given(st.lists(st.one_of(st.none(), st.text())))
def test_array_neutralise_matches_the_cell_rule(values: list[str | None]) -> None:
    out = neutralise(pa.array(values, pa.string())).to_pylist()
    assert out == [None if v is None else neutralise_cell(v) for v in values]


def test_every_trigger_is_neutralised() -> None:
    for t in TRIGGERS:
        assert neutralise_cell(t + "x") == "'" + t + "x"
    assert neutralise_cell("plain") == "plain"
    assert neutralise_cell("") == ""
