"""Any byte of an archive changed is noticed: the reader's problems, corrupt data, or new names.

Each byte of small archives is XOR-ed with 0xFF in turn. A change must show as a problem when
the archive is opened, as a :class:`CorruptDataError` when the members are read, or as other
member names (which the manifest then misses): the last only for bytes inside a file name.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from manifests.zipfmt import CorruptDataError, ZipReader
from manifests.zipfmt import records as R
from tests.manifests.zipfmt.support import write

MEMBERS = [
    ("t/bagit.txt", b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n" * 3, True),
    ("t/data/a.pdf", b"%PDF-1.4 stored bytes", False),
    ("t/data/empty", b"", False),
    ("t/data/\u00e9", b"", True),
]


def name_ranges(path: Path) -> list[range]:
    """Where the member names are, in the local and the central headers."""
    out = []
    with ZipReader(path) as zr:
        entries = zr.entries
    data = path.read_bytes()
    for e in entries:
        n = len(e.name.encode())
        out.append(range(e.header_offset + 30, e.header_offset + 30 + n))
        at = data.find(b"PK\x01\x02" + data[e.header_offset + 4 : e.header_offset + 6])
        while at >= 0 and data[at + 46 : at + 46 + n] != e.name.encode():
            at = data.find(b"PK\x01\x02", at + 1)
        out.append(range(at + 46, at + 46 + n))
    return out


def outcome(path: Path, original: list[R.ZipEntry]) -> str:
    with ZipReader(path) as zr:
        if zr.problems:
            return "problem"
        try:
            for e in zr.entries:
                for _ in zr.iter_data(e):
                    pass
        except CorruptDataError:
            return "corrupt"
        if zr.entries != original:
            return "renamed"
    return "unnoticed"


@pytest.mark.parametrize("zip64", [False, True], ids=["plain", "zip64"])
def test_every_byte_flip_is_noticed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, zip64: bool
) -> None:
    if zip64:  # zip64 extra fields in every header, and the zip64 end records
        monkeypatch.setattr(R, "ZIP64_THRESHOLD", 1)
        monkeypatch.setattr(R, "ZIP64_COUNT_LIMIT", 1)
    good = write(tmp_path / "good.zip", MEMBERS)
    with ZipReader(good) as zr:
        assert zr.problems == []
        original = zr.entries
    names = name_ranges(good)
    data = good.read_bytes()
    bad = tmp_path / "bad.zip"
    in_data = {i for e in original for i in range(e.data_offset, e.data_offset + e.compressed_size)}
    counts: dict[str, int] = {}
    unnoticed = []
    renamed_outside_names = []
    misplaced = []  # header bytes seen only when reading, or data bytes when opening
    for i in range(len(data)):
        flipped = bytearray(data)
        flipped[i] ^= 0xFF
        bad.write_bytes(flipped)
        result = outcome(bad, original)
        counts[result] = counts.get(result, 0) + 1
        if result == "unnoticed":
            unnoticed.append(i)
        elif result == "renamed" and not any(i in r for r in names):
            renamed_outside_names.append(i)
        elif (result == "corrupt") != (i in in_data):
            misplaced.append((i, result))
    assert unnoticed == []
    assert renamed_outside_names == []
    assert sum(counts.values()) == len(data)
    assert counts["problem"] + counts.get("corrupt", 0) + counts.get("renamed", 0) == len(data)
    assert misplaced == []
    assert counts["corrupt"] == len(in_data)
