"""What the writer refuses: unsafe names, twins, impossible times, files that change."""

from __future__ import annotations

import io
import os
import zipfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from manifests.zipfmt import FileChangedError, ZipWriter, filedata
from manifests.zipfmt import records as R
from manifests.zipfmt.filedata import read_exactly
from tests.manifests.zipfmt.support import WHEN

BAD_NAMES = [
    "",
    "/abs",
    "../x",
    "a/../x",
    "a/./x",
    "./x",
    "a//b",
    "a/",
    "a\\b",
    "a\x00b",
    "a\nb",
    "a\x7fb",
    "e\u0301.txt",  # NFD
    "x" * 1025,
    "\udcff",  # not encodable
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_unsafe_names_are_refused(name: str) -> None:
    zw = ZipWriter(io.BytesIO(), when=WHEN)
    with pytest.raises(ValueError):
        zw.add_bytes(name, b"x", compress=False)
    assert R.name_problem(name) is not None


@pytest.mark.parametrize(
    "name", ["a", "a/b.txt", "d\u00e9j\u00e0/\u65e5\u672c", "x" * 1024, "a b/.c"]
)
def test_safe_names(name: str) -> None:
    assert R.name_problem(name) is None
    ZipWriter(io.BytesIO(), when=WHEN).add_bytes(name, b"", compress=True)


@pytest.mark.parametrize("second", ["a/B.txt", "a/b.txt", "A/b.TXT"])
def test_duplicates_and_case_twins_are_refused(second: str) -> None:
    zw = ZipWriter(io.BytesIO(), when=WHEN)
    zw.add_bytes("a/b.txt", b"", compress=False)
    with pytest.raises(ValueError):
        zw.add_bytes(second, b"", compress=False)


@pytest.mark.parametrize(
    "when",
    [
        datetime(1979, 12, 31, 23, 59, 58),
        datetime(2108, 1, 1),
        datetime(1980, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))),
    ],
)
def test_times_outside_dos_dates_are_refused(when: datetime) -> None:
    with pytest.raises(ValueError):
        ZipWriter(io.BytesIO(), when=when)


def test_aware_times_are_taken_in_utc() -> None:
    paris = datetime(2026, 1, 31, 13, 0, 0, tzinfo=timezone(timedelta(hours=1)))
    assert R.dos_time(paris) == R.dos_time(datetime(2026, 1, 31, 12, 0, 0, tzinfo=UTC))
    assert R.dos_time(paris) == R.dos_time(datetime(2026, 1, 31, 12, 0, 1))


@pytest.mark.parametrize("level", [0, 4, -1])
def test_levels_outside_1_to_3_are_refused(level: int) -> None:
    with pytest.raises(ValueError):
        ZipWriter(io.BytesIO(), when=WHEN, level=level)


def test_the_file_must_start_empty() -> None:
    fh = io.BytesIO()
    fh.write(b"junk")
    with pytest.raises(ValueError):
        ZipWriter(fh, when=WHEN)


def test_a_file_that_grows_while_read(tmp_path: Path) -> None:
    src = tmp_path / "grows"
    src.write_bytes(b"a" * 10_000)

    def grow(chunk: bytes) -> None:
        with open(src, "ab") as fh:
            fh.write(b"more")

    zw = ZipWriter(io.BytesIO(), when=WHEN)
    with pytest.raises(FileChangedError) as caught:
        zw.add_file("x/grows", src, compress=True, on_data=grow, chunk_size=1000)
    assert isinstance(caught.value, OSError)
    assert str(src) in str(caught.value)
    with pytest.raises(ValueError):  # the output is unusable now
        zw.add_bytes("x/other", b"", compress=False)


def test_a_file_that_shrinks_while_read(tmp_path: Path) -> None:
    src = tmp_path / "shrinks"
    src.write_bytes(b"a" * 10_000)

    def shrink(chunk: bytes) -> None:
        with open(src, "r+b") as fh:
            fh.truncate(2000)

    zw = ZipWriter(io.BytesIO(), when=WHEN)
    with pytest.raises(FileChangedError, match="shrinks"):
        zw.add_file("x/shrinks", src, compress=False, on_data=shrink, chunk_size=1000)


def test_not_a_regular_file(tmp_path: Path) -> None:
    zw = ZipWriter(io.BytesIO(), when=WHEN)
    with pytest.raises(OSError):
        zw.add_file("x/dir", tmp_path, compress=False)


def test_closed_writer(tmp_path: Path) -> None:
    fh = io.BytesIO()
    zw = ZipWriter(fh, when=WHEN)
    zw.add_bytes("a", b"x", compress=False)
    size = zw.close()
    assert zw.close() == size == len(fh.getvalue())
    assert not fh.closed
    with pytest.raises(ValueError):
        zw.add_bytes("b", b"x", compress=False)


def test_dos_time_round_trip() -> None:
    assert R.datetime_from_dos(*R.dos_time(datetime(2107, 12, 31, 23, 59, 59))) == datetime(
        2107, 12, 31, 23, 59, 58
    )
    assert R.datetime_from_dos(0, 0) is None  # month 0


# -- the small-file path: read whole, written without a seek ----------------------------------
@pytest.mark.parametrize(("size", "found"), [(99, "read or more 100"), (101, "read 100")])
def test_a_small_file_read_whole_with_another_size(tmp_path: Path, size: int, found: str) -> None:
    src = tmp_path / "small"
    src.write_bytes(b"a" * 100)
    fd = os.open(src, os.O_RDONLY)
    try:
        with pytest.raises(FileChangedError, match=f"size {size} bytes, {found}") as caught:
            read_exactly(fd, size, src)
    finally:
        os.close(fd)
    assert caught.value.filename == str(src)
    assert str(src) in str(caught.value)


def test_a_small_file_read_in_short_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "small"
    src.write_bytes(bytes(range(256)) * 40)
    real = os.read
    monkeypatch.setattr(filedata.os, "read", lambda fd, n: real(fd, min(n, 1000)))
    fd = os.open(src, os.O_RDONLY)
    try:
        assert read_exactly(fd, 10_240, src) == src.read_bytes()
    finally:
        os.close(fd)


def test_a_file_not_of_the_size_listed(tmp_path: Path) -> None:
    src = tmp_path / "listed"
    src.write_bytes(b"a" * 100)
    zw = ZipWriter(io.BytesIO(), when=WHEN)
    with pytest.raises(FileChangedError, match="size 90 bytes, now 100"):
        zw.add_file("x/listed", src, compress=False, size=90)
    zw.add_file("x/listed", src, compress=False, size=100)  # refused before any byte: usable


@pytest.mark.parametrize("compress", [True, False])
def test_small_and_streamed_files_give_the_same_bytes(tmp_path: Path, compress: bool) -> None:
    src = tmp_path / "f"
    data = b"".join(b"%d,%d.%02d\n" % (i, i % 991, i % 100) for i in range(120_000))
    src.write_bytes(data)
    outs = []
    for chunk_size in (len(data), len(data) - 1, 65536):
        seen: list[bytes | memoryview] = []
        fh = io.BytesIO()
        zw = ZipWriter(fh, when=WHEN)
        zw.add_file("x/f.csv", src, compress=compress, on_data=seen.append, chunk_size=chunk_size)
        zw.close()
        outs.append(fh.getvalue())
        assert b"".join(seen) == data
        assert len(seen) == (1 if chunk_size >= len(data) else -(-len(data) // chunk_size))
    assert len(set(outs)) == 1
    ref = io.BytesIO()
    zw = ZipWriter(ref, when=WHEN)
    zw.add_bytes("x/f.csv", data, compress=compress)
    zw.close()
    assert ref.getvalue() == outs[0]


def test_a_small_file_is_written_without_a_seek(tmp_path: Path) -> None:
    src = tmp_path / "small.pdf"
    src.write_bytes(b"%PDF-1.7 " * 300)

    class NoSeek(io.BytesIO):
        def seek(self, *args: int) -> int:
            raise AssertionError("seek")

    fh = NoSeek()
    zw = ZipWriter(fh, when=WHEN)
    zw.add_file("x/small.pdf", src, compress=False)
    zw.add_file("x/small.csv", src, compress=True)
    zw.close()
    with zipfile.ZipFile(io.BytesIO(fh.getvalue())) as zf:
        assert zf.read("x/small.pdf") == zf.read("x/small.csv") == src.read_bytes()
