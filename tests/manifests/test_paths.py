"""The shortcut for plain paths never accepts a path the full checks refuse."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from manifests.bag import full_check_relative
from manifests.paths import is_plain
from manifests.zipfmt.records import full_name_problem, name_problem

SEGMENT = st.text(alphabet="abAB09._-~/\\:%\x00\n é", min_size=0, max_size=12)


@settings(max_examples=3000)
@given(st.lists(SEGMENT, min_size=1, max_size=5).map("/".join))
def test_plain_paths_pass_the_full_checks(path: str) -> None:
    if is_plain(path):
        assert full_check_relative(path) is None
        assert full_name_problem(path) is None


def test_examples() -> None:
    assert is_plain("data/documents/sales_invoices/FA-2025-00001.pdf")
    for bad in ("", "/abs", "a//b", "a/./b", "../a", "a/..", "a\\b", "é", "a b", "a/"):
        assert not is_plain(bad), bad
    assert name_problem("a" * 2000, max_bytes=1024) is not None


@settings(max_examples=2000)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a" * 64, "b" * 64, "0123456789abcdef" * 4, "A" * 64, "a" * 63]),
            st.lists(SEGMENT, min_size=1, max_size=3).map("/".join),
        ),
        max_size=6,
    )
)
def test_the_manifest_shortcut_agrees_with_the_full_parse(lines: list[tuple[str, str]]) -> None:
    from manifests.bag import _plain_manifest, parse_manifest_lines

    text = "".join(f"{digest}  {path}\n" for digest, path in lines if "\n" not in path)
    plain = _plain_manifest(text)
    if plain is not None:
        assert parse_manifest_lines(text) == (plain, [])
