"""Spooled members: stretches of an open file written as the files of the same bytes would be."""

from __future__ import annotations

import io
import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from isal import isal_zlib

from manifests.zipfmt import ZipWriter
from manifests.zipfmt import filedata as F
from manifests.zipfmt.filedata import FileMember, SpoolChangedError, SpooledMember
from tests.manifests.zipfmt.support import WHEN, read_all

_rng = random.Random(5)
#: (name, content): documents of the sizes an export meets, around the chunk sizes used below
DOCS = [
    ("a/doc-empty.pdf", b""),
    ("a/doc-small.pdf", _rng.randbytes(2600)),
    ("a/doc-4096.pdf", _rng.randbytes(4096)),
    ("a/doc-4097.pdf", _rng.randbytes(4097)),
    ("a/doc-large.pdf", _rng.randbytes(300_000)),
    ("a/doc-tiny.pdf", b"%PDF-1.7\n%%EOF\n"),
]
CSV = [("a/b-table.csv", b"id,total\n" + b"".join(b"%d,%d.00\n" % (i, i) for i in range(5000)))]


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[int]:
    fd = os.open(tmp_path / "spool", os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    yield fd
    os.close(fd)


def spooled(fd: int, docs: list[tuple[str, bytes]], order: list[int]) -> list[SpooledMember]:
    """``docs`` written to the spool in the order ``order``, as members in their own order."""
    at = os.lseek(fd, 0, os.SEEK_END)
    where = {}
    for i in order:
        data = docs[i][1]
        os.pwrite(fd, data, at)
        where[i] = at
        at += len(data)
    return [
        SpooledMember.stored(name, fd, where[i], len(data), isal_zlib.crc32(data), f"label {name}")
        for i, (name, data) in enumerate(docs)
    ]


def as_files(tmp_path: Path, members: list[tuple[str, bytes]], compress: bool) -> list[FileMember]:
    folder = tmp_path / "files"
    folder.mkdir(exist_ok=True)
    out = []
    for name, data in members:
        path = folder / name.replace("/", "_")
        path.write_bytes(data)
        out.append(FileMember(name, path, compress, len(data)))
    return out


def zipped(members: list[FileMember | SpooledMember], chunk_size: int) -> bytes:
    fh = io.BytesIO()
    zw = ZipWriter(fh, when=WHEN)
    zw.add_files(members, chunk_size=chunk_size)
    zw.close()
    return fh.getvalue()


@pytest.mark.parametrize("chunk_size", [4096, 1 << 20])
@pytest.mark.parametrize("order", ["same", "reversed", "shuffled"])
def test_the_same_bytes_as_files_of_the_same_content(
    tmp_path: Path, spool: int, chunk_size: int, order: str
) -> None:
    indexes = list(range(len(DOCS)))
    if order == "reversed":
        indexes.reverse()
    elif order == "shuffled":
        random.Random(3).shuffle(indexes)
    os.pwrite(spool, b"bytes of a document that failed halfway", 0)
    docs = spooled(spool, DOCS, indexes)
    csv = as_files(tmp_path, CSV, compress=True)
    expected = zipped(csv + as_files(tmp_path, DOCS, compress=False), chunk_size)
    assert zipped([*csv, *docs], chunk_size) == expected
    problems, data = read_all_bytes(tmp_path, expected)
    assert problems == [] and data == dict(CSV + DOCS)


def read_all_bytes(tmp_path: Path, archive: bytes) -> tuple[list[object], dict[str, bytes]]:
    path = tmp_path / "out.zip"
    path.write_bytes(archive)
    return read_all(path)


def test_back_to_back_members_are_read_in_one_call(
    spool: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = [(f"a/{i:03d}.pdf", _rng.randbytes(1000 + i)) for i in range(50)]
    calls: list[int] = []
    real = os.pread

    def pread(fd: int, n: int, offset: int) -> bytes:
        calls.append(n)
        return real(fd, n, offset)

    monkeypatch.setattr(F.os, "pread", pread)
    in_order = spooled(spool, small, list(range(50)))
    blocks = F.SpoolBlocks(in_order, 20_000)
    assert [bytes(blocks.read(m)) for m in in_order] == [d for _, d in small]
    # 1000 to 1049 bytes each: 19 fit in 20,000 bytes, then 19, then the last 12
    assert calls == [19_171, 19_532, 12_522]
    with pytest.raises(RuntimeError, match="out of order"):
        blocks.read(in_order[0])
    calls.clear()
    reversed_ = spooled(spool, small, list(range(49, -1, -1)))
    blocks = F.SpoolBlocks(reversed_, 20_000)
    assert [bytes(blocks.read(m)) for m in reversed_] == [d for _, d in small]
    assert calls == [len(d) for _, d in small]  # none back to back: one read each


def test_a_spooled_member_changed_is_named(spool: int) -> None:
    members = spooled(spool, DOCS, list(range(len(DOCS))))
    small = next(m for m in members if m.name == "a/doc-small.pdf")
    os.pwrite(spool, b"X", small.offset + 10)
    with pytest.raises(SpoolChangedError, match=r"^label a/doc-small\.pdf: .* \(CRC-32 "):
        zipped(list(members), 1 << 20)
    large = next(m for m in members if m.name == "a/doc-large.pdf")
    os.pwrite(spool, b"X", large.offset + 200_000)
    with pytest.raises(SpoolChangedError, match=r"^label a/doc-large\.pdf: .* \(CRC-32 "):
        zipped([large], 4096)


@pytest.mark.parametrize("chunk_size", [4096, 1 << 20])
def test_a_spool_cut_short_is_named(spool: int, chunk_size: int) -> None:
    members = spooled(spool, DOCS, [0, 1, 2, 3, 5, 4])  # the large document last
    large = next(m for m in members if m.name == "a/doc-large.pdf")
    os.ftruncate(spool, large.offset + large.size - 1)
    with pytest.raises(SpoolChangedError) as caught:
        zipped([large], chunk_size)
    assert str(caught.value) == (
        "label a/doc-large.pdf: its spooled copy changed before it was archived "
        "(1 of 300000 bytes missing)"
    )


@pytest.mark.parametrize("chunk_size", [4096, 1 << 20])
def test_zip64_sizes_and_offsets_as_for_files(
    tmp_path: Path, spool: int, monkeypatch: pytest.MonkeyPatch, chunk_size: int
) -> None:
    """Lowered thresholds: spooled members past them carry the zip64 fields files would."""
    from manifests.zipfmt import records as R

    monkeypatch.setattr(R, "ZIP64_THRESHOLD", 10_000)
    docs = [(f"z/{n}", d) for n, d in [("a.pdf", DOCS[1][1]), ("b.pdf", _rng.randbytes(20_000))]]
    docs += [("z/c.pdf", DOCS[5][1])]  # after the threshold: its offset in zip64
    expected = zipped(list(as_files(tmp_path, docs, compress=False)), chunk_size)
    assert zipped(list(spooled(spool, docs, [2, 0, 1])), chunk_size) == expected
    problems, data = read_all_bytes(tmp_path, expected)
    assert problems == [] and data == dict(docs)
