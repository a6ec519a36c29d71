"""Hostile containers, lying headers and bombs: reported, never raised, never over-read."""

from __future__ import annotations

import io
import struct
import tracemalloc
import zipfile
from datetime import datetime
from pathlib import Path

import pytest
from isal.isal_zlib import crc32

from manifests.zipfmt import CorruptDataError, Limits, ZipReader
from manifests.zipfmt import records as R
from tests.manifests.zipfmt.support import (
    DOS,
    Raw,
    build,
    codes,
    deflate,
    open_bytes,
    problems_of,
    python_zip_read,
    read_error,
    write,
)


def test_the_hand_builder_makes_canonical_archives(tmp_path: Path) -> None:
    data = build([Raw("t/a", b"abc"), Raw("t/b", deflate(b"x" * 100), R.DEFLATED, b"x" * 100)])
    written = write(tmp_path / "w.zip", [("t/a", b"abc", False), ("t/b", b"x" * 100, True)])
    assert data == written.read_bytes()


# -- the container -----------------------------------------------------------------------------
GOOD = [Raw("t/a.txt", b"alpha"), Raw("t/b.txt", deflate(b"beta" * 50), R.DEFLATED, b"beta" * 50)]


def test_prepended_bytes(tmp_path: Path) -> None:
    with open_bytes(tmp_path, b"MZ junk " * 8 + build(GOOD)) as zr:
        assert codes(zr.problems) == ["zip-structure"]
        assert "prepended" in zr.problems[0].detail
        assert zr.entries == []


def test_prepended_bytes_with_offsets_adjusted(tmp_path: Path) -> None:
    with open_bytes(tmp_path, build(GOOD, start=b"#!/bin/sh\nexit 0\n")) as zr:
        assert codes(zr.problems) == ["zip-structure"]
        assert "before the first member" in zr.problems[0].detail


def test_appended_bytes(tmp_path: Path) -> None:
    with open_bytes(tmp_path, build(GOOD, after=b"trailing")) as zr:
        assert codes(zr.problems) == ["zip-structure"]
        assert "after the end" in zr.problems[0].detail
        assert [e.name for e in zr.entries] == ["t/a.txt", "t/b.txt"]


def test_archive_comment(tmp_path: Path) -> None:
    with open_bytes(tmp_path, build(GOOD, comment=b"hello")) as zr:
        assert codes(zr.problems) == ["zip-structure"]
        assert "comment" in zr.problems[0].detail
    path = write(tmp_path / "w.zip", [("t/a", b"x", False)])
    with zipfile.ZipFile(path, "a") as zf:
        zf.comment = b"added"
    with ZipReader(path) as zr:
        assert codes(zr.problems) == ["zip-structure"]


def test_same_local_header_twice(tmp_path: Path) -> None:
    data = build([Raw("t/a", b"payload"), Raw("t/a", b"payload", offset=0, local=False)])
    with open_bytes(tmp_path, data) as zr:
        assert sorted(codes(zr.problems)) == ["duplicate-name", "overlap"]
        assert len(zr.entries) == 1


def test_quoted_overlap_bomb(tmp_path: Path) -> None:
    """A member's data holds the next member's local header (the overlapped zip bomb)."""
    kernel = deflate(b"\0" * 100_000)
    inner = R.local_header(b"t/b", R.DEFLATED, crc32(b"\0" * 100_000), len(kernel), 100_000, DOS)
    outer = inner + kernel
    data = build(
        [
            Raw("t/a", outer),
            Raw("t/b", kernel, R.DEFLATED, b"\0" * 100_000, offset=30 + 3, local=False),
        ]
    )
    with open_bytes(tmp_path, data) as zr:
        assert codes(zr.problems) == ["overlap"]
        assert zr.problems[0].path == "t/b"
        assert [e.name for e in zr.entries] == ["t/a"]


def test_gap_between_members(tmp_path: Path) -> None:
    data = build([GOOD[0], Raw("t/b.txt", b"b", before=b"hidden")])
    with open_bytes(tmp_path, data) as zr:
        assert codes(zr.problems) == ["overlap"]
        assert zr.problems[0].path == "t/b.txt"
        assert [e.name for e in zr.entries] == ["t/a.txt", "t/b.txt"]


def test_gap_before_the_central_directory(tmp_path: Path) -> None:
    raw = build(GOOD)
    cd = raw.index(R.CENTRAL_SIG)
    spliced = raw[:cd] + b"xx" + raw[cd:]
    end = bytearray(spliced[-22:])
    struct.pack_into("<I", end, 16, cd + 2)
    found = problems_of(tmp_path, spliced[:-22] + bytes(end))
    assert codes(found) == ["overlap"]


def test_data_descriptor_flag(tmp_path: Path) -> None:
    found = problems_of(tmp_path, build([Raw("t/a", b"abc", flags=0x08)]))
    assert sorted(codes(found)) == ["header-mismatch", "non-canonical"]
    assert all("flags" in p.detail for p in found)


def test_data_descriptors_written_by_zipfile(tmp_path: Path) -> None:
    class Unseekable(io.RawIOBase):
        def __init__(self) -> None:
            self.data = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, b: bytes) -> int:  # type: ignore[override]
            self.data += b
            return len(b)

    sink = Unseekable()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("t/a.txt", b"alpha" * 100)
        zf.writestr("t/b.txt", b"beta" * 100)
    found = problems_of(tmp_path, bytes(sink.data))
    assert "non-canonical" in codes(found)
    assert "overlap" in codes(found)  # the descriptors lie between the members


# -- lying sizes and checksums -----------------------------------------------------------------
TEXT = b"id,name\n" + b"1,alpha\n" * 2000


@pytest.mark.parametrize("size", [len(TEXT) - 1, len(TEXT) + 1, 10])
def test_false_size(tmp_path: Path, size: int) -> None:
    data = build([Raw("t/a.csv", deflate(TEXT), R.DEFLATED, TEXT, size=size)])
    with open_bytes(tmp_path, data) as zr:
        assert zr.problems == []
        error = read_error(zr, "t/a.csv")
    assert "declared size" in error.problem.detail


def test_false_size_stored(tmp_path: Path) -> None:
    data = build([Raw("t/a", b"abcdef", size=5, csize=6)])
    with open_bytes(tmp_path, data) as zr:
        assert codes(zr.problems) == ["non-canonical"]
        assert zr.entries == []


def test_output_stops_at_the_declared_size(tmp_path: Path) -> None:
    """A small size claimed for a big stream: inflating stops right after it."""
    stream = deflate(b"\0" * (20 << 20))
    data = build([Raw("t/a", stream, R.DEFLATED, b"\0" * 1000)])
    with open_bytes(tmp_path, data) as zr:
        entry = zr.entries[0]
        produced = 0
        with pytest.raises(CorruptDataError):
            for chunk in zr.iter_data(entry):
                produced += len(chunk)
        assert produced <= 1000


def test_compressed_size_too_large(tmp_path: Path) -> None:
    stream = deflate(TEXT)
    data = build([Raw("t/a.csv", stream + b"extra bytes", R.DEFLATED, TEXT)])
    with open_bytes(tmp_path, data) as zr:
        assert zr.problems == []
        assert "ends before" in read_error(zr, "t/a.csv").problem.detail


def test_compressed_size_too_small(tmp_path: Path) -> None:
    stream = deflate(TEXT)
    data = build([Raw("t/a.csv", stream[:-3], R.DEFLATED, TEXT)])
    with open_bytes(tmp_path, data) as zr:
        assert zr.problems == []
        read_error(zr, "t/a.csv")


def test_invalid_deflate_stream(tmp_path: Path) -> None:
    data = build([Raw("t/a", b"\xff" * 40, R.DEFLATED, b"whatever")])
    with open_bytes(tmp_path, data) as zr:
        assert zr.problems == []
        assert "invalid deflate" in read_error(zr, "t/a").problem.detail


def test_wrong_crc(tmp_path: Path) -> None:
    data = build([Raw("t/a", b"abc", crc=1234), Raw("t/b", deflate(TEXT), R.DEFLATED, TEXT, crc=1)])
    with open_bytes(tmp_path, data) as zr:
        assert zr.problems == []
        for name in ("t/a", "t/b"):
            assert "CRC-32" in read_error(zr, name).problem.detail


def test_other_time_on_one_member(tmp_path: Path) -> None:
    other = R.dos_time(datetime(2020, 5, 5, 5, 5, 4))
    found = problems_of(tmp_path, build([Raw("t/a", b"1"), Raw("t/b", b"2", dos=other)]))
    assert codes(found) == ["non-canonical"]
    assert found[0].found == "2020-05-05T05:05:04"


def test_unknown_method(tmp_path: Path) -> None:
    with open_bytes(tmp_path, build([Raw("t/a", b"abc", method=12)])) as zr:
        assert codes(zr.problems) == ["non-canonical"]
        assert zr.entries == []


# -- bombs -------------------------------------------------------------------------------------
def test_ten_gib_from_one_mib_is_refused_before_inflating(tmp_path: Path) -> None:
    data = build([Raw("t/bomb.csv", b"\0" * (1 << 20), R.DEFLATED, b"", size=10 << 30, crc=0)])
    with open_bytes(tmp_path, data) as zr:
        assert codes(zr.problems) == ["bomb"]
        assert zr.problems[0].path == "t/bomb.csv"
        assert zr.entries == []


def test_ratio_rule(tmp_path: Path) -> None:
    zeros = b"\0" * (4 << 20)
    data = build([Raw("t/z", deflate(zeros), R.DEFLATED, zeros)])
    assert problems_of(tmp_path, data) == []  # small enough to be exempt
    tight = Limits(ratio_free_size=1 << 20)
    assert codes(problems_of(tmp_path, data, tight)) == ["bomb"]
    lenient = Limits(ratio_free_size=1 << 20, max_ratio=2000)
    assert problems_of(tmp_path, data, lenient) == []


def test_member_and_total_size_limits(tmp_path: Path) -> None:
    data = build([Raw("t/a", b"a" * 1000), Raw("t/b", b"b" * 1000), Raw("t/c", b"c" * 10)])
    with open_bytes(tmp_path, data, Limits(max_member_size=999)) as zr:
        assert codes(zr.problems) == ["bomb", "bomb"]
        assert [e.name for e in zr.entries] == ["t/c"]
    with open_bytes(tmp_path, data, Limits(max_total_size=1500)) as zr:
        assert codes(zr.problems) == ["bomb"]
        assert [e.name for e in zr.entries] == ["t/a"]


def test_member_count_limit(tmp_path: Path) -> None:
    data = build([Raw(f"t/{i}", b"") for i in range(5)])
    with open_bytes(tmp_path, data, Limits(max_members=4)) as zr:
        assert codes(zr.problems) == ["bomb"]
        assert zr.entries == []


def test_ten_million_members_refused_at_once(tmp_path: Path) -> None:
    count = 10_000_000
    tail = (
        struct.pack(
            "<4sQHHIIQQQQ", R.ZIP64_END_SIG, 44, 0x032D, 45, 0, 0, count, count, 46 * count, 0
        )
        + struct.pack("<4sIQI", R.ZIP64_LOCATOR_SIG, 0, 0, 1)
        + struct.pack("<4sHHHHIIH", R.END_SIG, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    )
    path = tmp_path / "many.zip"
    path.write_bytes(tail)
    # refused from the end records alone: no member parsed, almost nothing allocated (the
    # bytes read and members parsed are counted in tests/manifests/test_bombs.py)
    tracemalloc.start()
    with ZipReader(path) as zr:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert codes(zr.problems) == ["bomb"]
        assert zr.problems[0].found == str(count)
    assert peak < 1 << 20


def test_a_count_the_directory_cannot_hold(tmp_path: Path) -> None:
    data = bytearray(build(GOOD))
    struct.pack_into("<HH", data, len(data) - 22 + 8, 60_000, 60_000)
    found = problems_of(tmp_path, bytes(data))
    assert codes(found) == ["zip-structure"]


# -- not zip files -----------------------------------------------------------------------------
@pytest.mark.parametrize("cut", [1, 4, 29, 45, 100, -60, -23, -22, -21, -1])
def test_truncated(tmp_path: Path, cut: int) -> None:
    data = build(GOOD)
    with open_bytes(tmp_path, data[:cut]) as zr:
        assert "zip-structure" in codes(zr.problems)
        assert len(zr.entries) < 2


def test_truncated_inside_data_of_a_zip64_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(R, "ZIP64_THRESHOLD", 1)
    data = build(GOOD)
    for cut in (len(data) - 1, len(data) - 30, len(data) - 97, 60):
        assert problems_of(tmp_path, data[:cut])


def test_empty_file(tmp_path: Path) -> None:
    with open_bytes(tmp_path, b"") as zr:
        assert codes(zr.problems) == ["zip-structure"]
        assert "empty" in zr.problems[0].detail
        assert zr.entries == []
        assert zr.when is None


@pytest.mark.parametrize("data", [b"%PDF-1.7\n" + b"x" * 5000, b"PK", b"PK\x05\x06" + b"\0" * 10])
def test_not_a_zip_file(tmp_path: Path, data: bytes) -> None:
    with open_bytes(tmp_path, data) as zr:
        assert codes(zr.problems) == ["zip-structure"]
        assert zr.entries == []


def test_a_folder_cannot_be_opened(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        ZipReader(tmp_path)
    with pytest.raises(OSError):
        ZipReader(tmp_path / "absent.zip")


def test_python_zipfile_archives_are_not_canonical(tmp_path: Path) -> None:
    path = tmp_path / "py.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("t/a.txt", b"alpha" * 100)
    with ZipReader(path) as zr:
        assert "non-canonical" in codes(zr.problems)
        assert b"".join(zr.iter_data(zr.entries[0])) == b"alpha" * 100
    assert python_zip_read(path) == {"t/a.txt": b"alpha" * 100}
