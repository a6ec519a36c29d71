"""Every zip64 path, reached with lowered thresholds, reads back here and with standard tools."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from manifests.zipfmt import ZipReader
from manifests.zipfmt import records as R
from tests.manifests.zipfmt.support import python_zip_read, unzip_test, write


def central_extras(path: Path) -> dict[str, bytes]:
    """Each member's central directory extra field, parsed with nothing of ours."""
    import zipfile

    with zipfile.ZipFile(path) as zf:
        return {i.filename: i.extra for i in zf.infolist()}


def local_extra(path: Path, offset: int) -> bytes:
    data = path.read_bytes()
    name_len, extra_len = struct.unpack_from("<HH", data, offset + 26)
    return data[offset + 30 + name_len : offset + 30 + name_len + extra_len]


def has_zip64_end(path: Path) -> bool:
    return path.read_bytes()[-42:-38] == b"PK\x06\x07"


def check(path: Path, expected: dict[str, bytes]) -> list[R.ZipEntry]:
    with ZipReader(path) as zr:
        assert zr.problems == []
        assert {e.name: b"".join(zr.iter_data(e)) for e in zr.entries} == expected
        entries = zr.entries
    assert python_zip_read(path) == expected
    unzip_test(path)
    return entries


def test_sizes_and_offsets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(R, "ZIP64_THRESHOLD", 10_000)
    members = [
        ("z/small", b"s" * 100, False),  # no zip64
        ("z/big-deflated", b"abc" * 3000, True),  # 9000 bytes, may deflate to 10_000+: zip64
        ("z/big-stored", bytes(range(256)) * 80, False),  # 20480 bytes: sizes in zip64
        ("z/late", b"l" * 10, True),  # offset >= threshold: offset in zip64
        ("z/\u00e9mpty", b"", False),
    ]
    path = write(tmp_path / "a.zip", members)
    entries = check(path, {n: d for n, d, _ in members})
    extras = central_extras(path)
    by_name = {e.name: e for e in entries}
    assert extras["z/small"] == b""
    assert local_extra(path, by_name["z/small"].header_offset) == b""
    for name in ("z/big-stored", "z/big-deflated"):
        e = by_name[name]
        assert e.header_offset < 10_000
        assert extras[name] == struct.pack("<HHQQ", 1, 16, e.size, e.compressed_size)
        assert local_extra(path, e.header_offset) == extras[name]
    for name in ("z/late", "z/\u00e9mpty"):
        e = by_name[name]
        assert e.header_offset >= 10_000
        assert extras[name] == struct.pack("<HHQ", 1, 8, e.header_offset)
        assert local_extra(path, e.header_offset) == b""
    assert has_zip64_end(path)  # the central directory's offset passes the threshold


def test_member_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(R, "ZIP64_COUNT_LIMIT", 3)
    members = [(f"c/{i}", b"%d" % i, i % 2 == 0) for i in range(5)]
    path = write(tmp_path / "a.zip", members)
    check(path, {n: d for n, d, _ in members})
    assert has_zip64_end(path)
    assert set(central_extras(path).values()) == {b""}
    fewer = write(tmp_path / "b.zip", members[:2])
    assert not has_zip64_end(fewer)


def test_central_directory_size_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(R, "ZIP64_THRESHOLD", 2000)
    members = [(f"d/{i:02d}-" + "n" * 145, b"x", False) for i in range(11)]
    path = write(tmp_path / "a.zip", members)
    entries = check(path, {n: d for n, d, _ in members})
    cd_offset = entries[-1].data_offset + entries[-1].compressed_size
    assert cd_offset < 2000
    assert path.stat().st_size - 98 - cd_offset >= 2000  # the central directory's size
    assert has_zip64_end(path)
    assert set(central_extras(path).values()) == {b""}


def test_everything_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Threshold 1: every offset but the first and every non-empty member in zip64."""
    monkeypatch.setattr(R, "ZIP64_THRESHOLD", 1)
    monkeypatch.setattr(R, "ZIP64_COUNT_LIMIT", 1)
    members = [
        ("e/a.csv", b"a,b\n1,2\n" * 100, True),
        ("e/b.pdf", b"%PDF-1.7 not really", False),
        ("e/c", b"", False),
        ("e/d", b"", True),
    ]
    path = write(tmp_path / "a.zip", members)
    check(path, {n: d for n, d, _ in members})
    assert has_zip64_end(path)


def test_the_writer_and_reader_agree_on_the_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    assert R.ZIP64_THRESHOLD == 0xFFFF_0000
    assert not R.local_zip64(0xFFFF_0000 - 1, R.STORED)
    assert R.local_zip64(0xFFFF_0000, R.STORED)
    # deflated members switch early enough that even 12.5 % expansion fits in 32 bits
    n = max(s for s in range(0xE000_0000, 0xFFFF_0000, 4096) if not R.local_zip64(s, R.DEFLATED))
    assert R.max_compressed_size(n, R.DEFLATED) < 0xFFFF_FFFF
    assert n + n // 8 < 0xFFFF_FFFF
    monkeypatch.setattr(R, "ZIP64_THRESHOLD", 100)
    assert R.local_zip64(100, R.STORED)
