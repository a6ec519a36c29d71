"""ZipWriter.add_files: the bytes of the one-by-one writer, from several threads, bounded memory."""

from __future__ import annotations

import hashlib
import io
import random
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from isal import isal_zlib

from manifests.zipfmt import FileChangedError, ZipWriter
from manifests.zipfmt import ahead as A
from manifests.zipfmt import records as R
from manifests.zipfmt import writer as W
from manifests.zipfmt.filedata import FileMember
from tests.manifests.zipfmt.support import DOS, WHEN, read_all

_rng = random.Random(11)
CSV = b"".join(b"%d,Invoice %d,%d.%02d,EUR\n" % (i, i * 7, i % 997, i % 100) for i in range(90_000))
NOISE = _rng.randbytes(1_200_000)
FEED = R.DEFLATE_FEED
#: (name, content, compress): empty, tiny, around the chunk sizes used below, and past one
#: deflate feed piece (1 MiB), compressible or not
FILES = [
    ("a/empty.csv", b"", True),
    ("a/empty.pdf", b"", False),
    ("a/tiny.csv", b"id,total\n1,2.00\n", True),
    ("a/b-4095.pdf", NOISE[:4095], False),
    ("a/b-4096.csv", CSV[:4096], True),
    ("a/b-4097.csv", CSV[:4097], True),
    ("a/c-feed.csv", CSV[:FEED], True),
    ("a/c-feed+1.pdf", NOISE[: FEED + 1], False),
    ("a/d-big.csv", CSV, True),
    ("a/d-noise.csv", NOISE, True),
    ("a/e-small.pdf", NOISE[:2600], False),
    ("a/\u00e9t\u00e9.txt", "\u00e9t\u00e9\n".encode() * 300, True),
]
LEAD = [("a/0-bagit.txt", b"BagIt-Version: 1.0\n", True), ("a/0-x.pdf", b"%PDF", False)]


def reference(members: list[tuple[str, bytes, bool]]) -> bytes:
    """The canonical zip of ``members``, from the layout rules alone (records.py)."""
    out = bytearray()
    central = bytearray()
    for name, data, compress in members:
        raw = name.encode()
        method = R.DEFLATED if compress else R.STORED
        body = data
        if compress:
            c = isal_zlib.compressobj(2, isal_zlib.DEFLATED, -15)
            body = b"".join(c.compress(data[i : i + FEED]) for i in range(0, len(data), FEED))
            body += c.flush()
        crc = isal_zlib.crc32(data)
        central += R.central_header(raw, method, crc, len(body), len(data), len(out), DOS)
        out += R.local_header(raw, method, crc, len(body), len(data), DOS) + body
    return bytes(out + central + R.end_records(len(members), len(out), len(central)))


def on_disk(tmp_path: Path) -> list[FileMember]:
    folder = tmp_path / "src"
    folder.mkdir(exist_ok=True)
    members = []
    for i, (name, data, compress) in enumerate(FILES):
        path = folder / f"{i}.bin"
        path.write_bytes(data)
        members.append(FileMember(name, path, compress, len(data)))
    return members


def with_add_files(members: list[FileMember], **kwargs: int) -> bytes:
    fh = io.BytesIO()
    zw = ZipWriter(fh, when=WHEN)
    zw.add_files(members, lead=lambda: LEAD, **kwargs)
    zw.close()
    return fh.getvalue()


@pytest.mark.parametrize("chunk_size", [4096, 1 << 20, 4 << 20])
def test_the_same_bytes_as_one_by_one_and_as_the_layout(tmp_path: Path, chunk_size: int) -> None:
    members = on_disk(tmp_path)
    fh = io.BytesIO()
    zw = ZipWriter(fh, when=WHEN)
    for name, data, compress in LEAD:
        zw.add_bytes(name, data, compress=compress)
    for m in members:
        zw.add_file(m.name, m.path, compress=m.compress, chunk_size=chunk_size)
    zw.close()
    one_by_one = fh.getvalue()
    assert one_by_one == reference(LEAD + FILES)
    assert with_add_files(members, chunk_size=chunk_size) == one_by_one
    # sizes unknown to the caller: the writer takes them from the files
    unsized = [m._replace(size=None) for m in members]
    assert with_add_files(unsized, chunk_size=chunk_size) == one_by_one


@pytest.mark.parametrize("ahead", [1, 64 * 1024, 3 << 20])
def test_any_bound_on_memory_gives_the_same_bytes(tmp_path: Path, ahead: int) -> None:
    members = on_disk(tmp_path)
    assert with_add_files(members, chunk_size=4096, ahead=ahead) == reference(LEAD + FILES)


def test_the_work_held_ahead_stays_within_its_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued: list[tuple[int, int]] = []
    held: list[tuple[int, int]] = []

    class Handoff(A.Handoff):
        def put(self, batch: list[A.Item], size: int) -> bool:
            done = super().put(batch, size)
            queued.append((self._queued, size))
            return done

    class ReadAhead(A.ReadAhead):
        def _put(self, piece: A._Piece) -> bool:
            done = super()._put(piece)
            held.append((self._held, len(piece) if isinstance(piece, bytes) else 0))
            return done

    monkeypatch.setattr(W, "Handoff", Handoff)
    monkeypatch.setattr(W, "ReadAhead", ReadAhead)
    ahead = 200_000
    members = on_disk(tmp_path)
    out = with_add_files(members, chunk_size=4096, ahead=ahead)
    assert out == reference(LEAD + FILES)
    assert queued and held
    # a batch or a piece larger than the bound passes alone, else the bound holds
    assert all(q <= ahead - ahead // 5 or q == size for q, size in queued)
    assert all(h <= ahead // 5 or h == size for h, size in held if size)


def test_on_data_sees_each_file_whole_in_order(tmp_path: Path) -> None:
    members = on_disk(tmp_path)
    hashes = [hashlib.sha256() for _ in members]
    threads: list[set[str]] = [set() for _ in members]

    def feeder(i: int) -> W.OnData:
        def on_data(data: bytes | memoryview) -> None:
            threads[i].add(threading.current_thread().name)
            hashes[i].update(data)

        return on_data

    fed = [m._replace(on_data=feeder(i)) for i, m in enumerate(members)]
    with_add_files(fed, chunk_size=4096)
    for (_, data, _), h, seen in zip(FILES, hashes, threads, strict=True):
        assert h.hexdigest() == hashlib.sha256(data).hexdigest()
        assert len(seen) <= 1  # one thread per file
    assert all(seen for (_, data, _), seen in zip(FILES, threads, strict=True) if data)


def test_it_reads_back_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "a.zip"
    with open(path, "wb") as fh:
        zw = ZipWriter(fh, when=WHEN)
        entries = zw.add_files(on_disk(tmp_path), lead=lambda: LEAD, chunk_size=4096)
        zw.close()
    assert [e.name for e in entries] == [n for n, _, _ in LEAD + FILES]
    problems, data = read_all(path)
    assert problems == []
    assert data == {n: d for n, d, _ in LEAD + FILES}


def grows_when_read(path: Path) -> W.OnData:
    def on_data(data: bytes | memoryview) -> None:
        with open(path, "ab") as fh:
            fh.write(b"more")

    return on_data


def shrinks_when_read(path: Path) -> W.OnData:
    def on_data(data: bytes | memoryview) -> None:
        with open(path, "r+b") as fh:
            fh.truncate(100)

    return on_data


@pytest.mark.parametrize("change", [grows_when_read, shrinks_when_read])
def test_a_large_file_changing_while_read(
    tmp_path: Path, change: Callable[[Path], W.OnData]
) -> None:
    members = on_disk(tmp_path)
    big = next(i for i, m in enumerate(members) if m.name == "a/d-big.csv")
    path = Path(members[big].path)
    members[big] = members[big]._replace(on_data=change(path))
    before = threading.active_count()
    zw = ZipWriter(io.BytesIO(), when=WHEN)
    with pytest.raises(FileChangedError) as caught:
        zw.add_files(members, chunk_size=4096)
    assert str(path) in str(caught.value)
    assert threading.active_count() == before
    with pytest.raises(ValueError):  # the output is unusable now
        zw.add_bytes("x/other", b"", compress=False)


def test_a_small_file_changed_since_it_was_listed(tmp_path: Path) -> None:
    members = on_disk(tmp_path)
    small = next(i for i, m in enumerate(members) if m.name == "a/e-small.pdf")
    Path(members[small].path).write_bytes(b"%PDF-1.7 another one")
    zw = ZipWriter(io.BytesIO(), when=WHEN)
    with pytest.raises(FileChangedError, match="size 2600 bytes, now 20") as caught:
        zw.add_files(members)
    assert caught.value.filename == str(members[small].path)


def test_the_first_error_in_member_order_is_raised(tmp_path: Path) -> None:
    """A large file that shrinks comes before a missing small one: its error wins, although
    the missing file is met first (the small files are read ahead of the large ones)."""
    members = on_disk(tmp_path)
    big = next(i for i, m in enumerate(members) if m.name == "a/d-big.csv")
    path = Path(members[big].path)
    members[big] = members[big]._replace(on_data=shrinks_when_read(path))
    members.append(FileMember("a/z-missing.pdf", tmp_path / "missing.pdf", False, 10))
    with pytest.raises(FileChangedError) as caught:
        ZipWriter(io.BytesIO(), when=WHEN).add_files(members, chunk_size=4096)
    assert caught.value.filename == str(path)


def test_refused_names_and_files(tmp_path: Path) -> None:
    members = on_disk(tmp_path)
    twin = members[2]._replace(name=members[2].name.upper())
    with pytest.raises(ValueError, match="twin"):
        ZipWriter(io.BytesIO(), when=WHEN).add_files([*members, twin])
    with pytest.raises(OSError, match="not a regular file"):
        ZipWriter(io.BytesIO(), when=WHEN).add_files([FileMember("a/dir", tmp_path, False, 0)])
    zw = ZipWriter(io.BytesIO(), when=WHEN)
    zw.add_bytes("a/first", b"", compress=False)
    with pytest.raises(ValueError, match="twin"):
        zw.add_files([], lead=lambda: [("A/FIRST", b"", False)])


def test_an_error_making_the_lead_members_is_raised(tmp_path: Path) -> None:
    def lead() -> list[tuple[str, bytes, bool]]:
        raise KeyError("no metadata")

    before = threading.active_count()
    with pytest.raises(KeyError, match="no metadata"):
        ZipWriter(io.BytesIO(), when=WHEN).add_files(on_disk(tmp_path), lead=lead, chunk_size=4096)
    assert threading.active_count() == before


def test_the_switch_interval_is_restored(tmp_path: Path) -> None:
    saved = sys.getswitchinterval()
    try:
        sys.setswitchinterval(0.004)
        with_add_files(on_disk(tmp_path), chunk_size=4096)
        assert sys.getswitchinterval() == pytest.approx(0.004)
    finally:
        sys.setswitchinterval(saved)
