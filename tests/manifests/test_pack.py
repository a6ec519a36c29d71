"""The tables pack: CSV files deflated as they are written, the zip writer's bytes exactly."""

from __future__ import annotations

import hashlib
import io
import itertools
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from isal import isal_zlib

from manifests.pack import Pack
from manifests.zipfmt import ZipWriter
from manifests.zipfmt import records as R
from manifests.zipfmt.filedata import FileMember, SpoolChangedError, SpooledMember
from offboard.errors import OutputError
from tests.manifests.zipfmt.support import WHEN

FEED = R.DEFLATE_FEED
LINES = b"".join(
    b"%d,FA-2025-%05d,%d.%02d,EUR\n" % (i, i, i % 997, i % 100) for i in range(200_000)
)
#: empty, small, around one deflate feed piece (1 MiB), several pieces
TABLES = {
    "csv/empty.csv": b"",
    "csv/small.csv": LINES[:5000],
    "csv/feed.csv": LINES[:FEED],
    "csv/feed-plus-one.csv": LINES[: FEED + 1],
    "csv/large.csv": LINES,
}


@pytest.fixture
def pack(tmp_path: Path) -> Iterator[Pack]:
    made = Pack.create(tmp_path / ".pack", 2)
    yield made
    made.close()


def written(tmp_path: Path) -> dict[str, Path]:
    paths = {}
    for rel, data in TABLES.items():
        path = tmp_path / rel.replace("/", "_")
        path.write_bytes(data)
        paths[rel] = path
    return paths


def as_member(pack: Pack, rel: str) -> SpooledMember:
    p = pack.members[rel]
    return SpooledMember(
        rel, pack.fd, p.offset, p.size, p.crc32, rel, R.DEFLATED, p.stored_size, p.stored_crc
    )


def zipped(members: list[FileMember | SpooledMember], chunk_size: int) -> bytes:
    fh = io.BytesIO()
    zw = ZipWriter(fh, when=WHEN, level=2)
    zw.add_files(members, chunk_size=chunk_size)
    zw.close()
    return fh.getvalue()


@pytest.mark.parametrize("chunk_size", [4096, 1 << 20])
def test_the_same_members_as_the_files_deflated_by_the_writer(
    tmp_path: Path, pack: Pack, chunk_size: int
) -> None:
    paths = written(tmp_path)
    files: list[FileMember | SpooledMember] = [
        FileMember(rel, path, True, len(TABLES[rel])) for rel, path in paths.items()
    ]
    expected = zipped(files, chunk_size)
    for rel, path in paths.items():
        packed = pack.add(path, rel)
        assert not path.exists()  # packed, then removed
        data = TABLES[rel]
        assert (packed.size, packed.crc32) == (len(data), isal_zlib.crc32(data))
        assert packed.sha256 == hashlib.sha256(data).hexdigest()
        stream = os.pread(pack.fd, packed.stored_size, packed.offset)
        assert isal_zlib.crc32(stream) == packed.stored_crc
        assert isal_zlib.decompress(stream, -15) == data
    assert zipped([as_member(pack, rel) for rel in TABLES], chunk_size) == expected
    assert pack.seconds > 0


def test_tables_packed_at_once_each_get_a_stretch_of_their_own(tmp_path: Path, pack: Pack) -> None:
    paths = written(tmp_path)
    threads = [threading.Thread(target=pack.add, args=(path, rel)) for rel, path in paths.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stretches = sorted((p.offset, p.offset + p.stored_size) for p in pack.members.values())
    assert stretches[0][0] == 0
    assert all(a[1] == b[0] for a, b in itertools.pairwise(stretches))
    for rel in TABLES:
        p = pack.members[rel]
        assert isal_zlib.decompress(os.pread(pack.fd, p.stored_size, p.offset), -15) == TABLES[rel]


def test_a_pack_changed_before_it_is_archived_is_named(tmp_path: Path, pack: Pack) -> None:
    paths = written(tmp_path)
    for rel, path in paths.items():
        pack.add(path, rel)
    for rel, chunk_size in (("csv/small.csv", 1 << 20), ("csv/large.csv", 4096)):
        p = pack.members[rel]
        at = p.offset + p.stored_size // 2
        os.pwrite(pack.fd, bytes([os.pread(pack.fd, 1, at)[0] ^ 0xFF]), at)
        with pytest.raises(SpoolChangedError, match=f"^{rel}: its spooled copy changed"):
            zipped([as_member(pack, rel)], chunk_size)


def test_the_pack_has_no_name_and_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    path = tmp_path / ".pack"
    pack = Pack.create(path, 2)
    try:
        assert not path.exists()
        missing = tmp_path / "gone.csv"
        with pytest.raises(OutputError) as caught:
            pack.add(missing, "csv/gone.csv")
        assert str(caught.value) == (
            f"cannot pack csv/gone.csv for the archive: {missing}: No such file or directory"
        )
        assert pack.members == {}
    finally:
        pack.close()
    with pytest.raises(ValueError, match="closed"):
        _ = pack.fd
