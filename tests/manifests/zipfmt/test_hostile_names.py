"""Hostile member names and special members: each reported with the member it concerns."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from manifests.zipfmt import ZipReader
from tests.manifests.zipfmt.support import Raw, build, codes, open_bytes, problems_of


# -- names -------------------------------------------------------------------------------------
@pytest.mark.parametrize("order", ["first", "second"])
def test_duplicate_names(tmp_path: Path, order: str) -> None:
    members = [Raw("t/a.csv", b"good"), Raw("t/a.csv", b"evil")]
    if order == "second":
        members.reverse()
    with open_bytes(tmp_path, build(members)) as zr:
        assert codes(zr.problems) == ["duplicate-name"]
        assert zr.problems[0].path == "t/a.csv"
        assert [e.name for e in zr.entries] == ["t/a.csv", "t/a.csv"]
    with zipfile.ZipFile(tmp_path / "hostile.zip") as zf:  # what zipfile would hand out
        assert len(zf.namelist()) == 2


@pytest.mark.parametrize("nfc_first", [True, False])
def test_nfc_nfd_twins(tmp_path: Path, nfc_first: bool) -> None:
    nfc, nfd = "t/\u00e9t\u00e9.txt", "t/e\u0301te\u0301.txt"
    names = [nfc, nfd] if nfc_first else [nfd, nfc]
    found = problems_of(tmp_path, build([Raw(n, b"x") for n in names]))
    assert sorted(codes(found)) == ["name-twin", "unsafe-name"]
    twin = next(p for p in found if p.code == "name-twin")
    assert (twin.path, twin.found) == (names[1], names[0])
    assert next(p for p in found if p.code == "unsafe-name").path == nfd


def test_case_twins(tmp_path: Path) -> None:
    found = problems_of(tmp_path, build([Raw("t/README.txt", b"a"), Raw("t/readme.TXT", b"b")]))
    assert codes(found) == ["name-twin"]
    assert found[0].path == "t/readme.TXT"


@pytest.mark.parametrize(
    "name", ["../x", "t/../../x", "/abs", "t/a\\b", "t/a\x00b", "t/a\x1bb", "t//x", "t/./x"]
)
def test_unsafe_names(tmp_path: Path, name: str) -> None:
    with open_bytes(tmp_path, build([Raw("t/ok", b"1"), Raw(name, b"2")])) as zr:
        assert codes(zr.problems) == ["unsafe-name"]
        assert zr.problems[0].path == name
        # listed, with its problem, so that the caller can report it precisely
        assert [e.name for e in zr.entries] == ["t/ok", name]


def test_a_name_that_is_not_utf8(tmp_path: Path) -> None:
    found = problems_of(tmp_path, build([Raw(b"t/\xff\xfe", b"1")]))
    assert codes(found) == ["unsafe-name"]
    assert "UTF-8" in found[0].detail


def test_a_name_too_long(tmp_path: Path) -> None:
    found = problems_of(tmp_path, build([Raw("t/" + "x" * 2000, b"1")]))
    assert codes(found) == ["unsafe-name"]


# -- special members ---------------------------------------------------------------------------
def test_symlink_member(tmp_path: Path) -> None:
    found = problems_of(tmp_path, build([Raw("t/link", b"/etc/passwd", attrs=0o120777 << 16)]))
    assert codes(found) == ["special-member"]
    assert "symbolic link" in found[0].detail


def test_directory_entry(tmp_path: Path) -> None:
    found = problems_of(tmp_path, build([Raw("t/dir/", attrs=0o040755 << 16), Raw("t/dir/a")]))
    assert codes(found) == ["special-member"]
    assert found[0].path == "t/dir/"


def test_directory_entry_from_zipfile(tmp_path: Path) -> None:
    path = tmp_path / "py.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.mkdir("t/dir")
        zf.writestr("t/dir/a.txt", "hello")
    with ZipReader(path) as zr:
        assert "special-member" in codes(zr.problems)
        assert "non-canonical" in codes(zr.problems)  # attributes, versions of another writer


def test_other_permissions_are_non_canonical(tmp_path: Path) -> None:
    found = problems_of(tmp_path, build([Raw("t/run.sh", b"#!", attrs=0o100755 << 16)]))
    assert codes(found) == ["non-canonical"]
    assert "external attributes" in found[0].detail
