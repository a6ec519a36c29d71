"""Document numbers are untrusted: the file names made from them are safe and unique."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offboard.documents import NameAllocator, export_documents, safe_file_name
from offboard.documents.names import MAX_STEM
from tests.offboard.documents.docs_support import MakePdf, files_under, ref, resolve

SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
RESERVED = {
    "CON",
    "PRN",
    "AUX",
    "NUL",
    *(f"COM{i}" for i in range(10)),
    *(f"LPT{i}" for i in range(10)),
}
HOSTILE = [
    "../../etc/passwd",
    "a/b\\c",
    "CON",
    "con.2025",
    "..",
    ".",
    "",
    "   ",
    "FA 2025/001",
    "Facture n°É12",
    "請求書-7",
    "🧾🧾",
    "x" * 300,
    "fa-1",
    "FA-1",
    "FA-1",
    "-rf",
    ".hidden",
    "nul",
    "C:\\Windows\\system32",
    "/absolute/path",
    "a\x00b\nc",
    "_problems",
]


def check_safe(stem: str) -> None:
    assert SAFE.fullmatch(stem), stem
    assert len(stem) <= MAX_STEM
    assert stem.split(".")[0].upper() not in RESERVED


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("FA-2025-00042", "FA-2025-00042"),
        ("Facture n°É12", "Facture_noE12"),
        ("Rechnung Nr. 5–Ü", "Rechnung_Nr._5_U"),
        ("請求書-7", "7"),
        ("FA 2025/001", "FA_2025_001"),
        ("../../etc/passwd", "etc_passwd"),
        ("a/b\\c", "a_b_c"),
        ("CON", "CON_"),
        ("con.2025", "con_.2025"),
        ("COM1", "COM1_"),
        ("COM10", "COM10"),
        ("..", "document"),
        ("", "document"),
        ("🧾", "document"),
        ("Straße–Œuvre", "Strasse_OEuvre"),
        ("FA--1__2", "FA--1_2"),
        ("v1...2", "v1.2"),
        ("-rf", "rf"),
    ],
)
def test_safe_file_name(number: str, expected: str) -> None:
    assert safe_file_name(number) == expected


def test_safe_file_name_caps_length() -> None:
    assert safe_file_name("x" * 300) == "x" * MAX_STEM
    assert len(safe_file_name("ab." * 100)) <= MAX_STEM
    check_safe(safe_file_name("ab." * 100))


@given(st.text(max_size=400))
def test_any_number_gives_a_safe_stem(number: str) -> None:
    check_safe(safe_file_name(number))


def test_allocator_resolves_collisions_in_order_ignoring_case() -> None:
    names = NameAllocator()
    got = [names.allocate(n) for n in ["FA-1", "FA-1", "fa-1", "FA/1", "FA-1~2", "FA-1", "FA_1"]]
    assert got == ["FA-1", "FA-1~2", "fa-1~3", "FA_1", "FA-1_2", "FA-1~4", "FA_1~2"]
    assert len({g.lower() for g in got}) == len(got)
    assert "fa-1~2" in names and "FA-9" not in names


def test_allocator_is_deterministic() -> None:
    first, second = NameAllocator(), NameAllocator()
    assert [first.allocate(n) for n in HOSTILE] == [second.allocate(n) for n in HOSTILE]


def test_hostile_numbers_stay_inside_the_kind_folder(tmp_path: Path, make_pdf: MakePdf) -> None:
    pdf = make_pdf("one")
    root = tmp_path / "export"
    refs = [ref(n, pdf, record_id=str(i)) for i, n in enumerate(HOSTILE)]
    result = export_documents(refs, resolve, root, "sales_invoices")
    assert not result.problems
    assert len(result.documents) == len(HOSTILE)
    folder = (root / "documents" / "sales_invoices").resolve()
    stems = []
    for doc in result.documents:
        path = (root / doc.path).resolve()
        assert path.parent == folder
        assert path.is_file()
        stems.append(path.stem)
        check_safe(path.stem.split("~")[0])
    assert len({s.lower() for s in stems}) == len(stems)
    # nothing anywhere else: only the documents and the bundle
    assert set(files_under(root)) == {d.path for d in result.documents} | set(result.bundles)


def test_kind_must_be_a_plain_folder_name(out: Path) -> None:
    for kind in ["../x", "a/b", "", "_problems", "CON"]:
        with pytest.raises(ValueError):
            export_documents([], resolve, out, kind)
