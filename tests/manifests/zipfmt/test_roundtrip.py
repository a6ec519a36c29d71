"""Archives written by the writer read back cleanly, here and with standard tools."""

from __future__ import annotations

import hashlib
import os
import random
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest

from manifests.zipfmt import CorruptDataError, ZipReader, ZipWriter
from manifests.zipfmt import records as R
from tests.manifests.zipfmt.support import WHEN, python_zip_read, unzip_test, write

# a 3 MB file: random bytes (incompressible) and CSV-like text
_rng = random.Random(7)
BIG = _rng.randbytes(1 << 20) + b"".join(
    b"%d,Invoice %d,%d.%02d,EUR\n" % (i, i * 7, i % 997, i % 100) for i in range(80_000)
)


def sample(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    """An archive with stored, deflated, empty and non-ASCII members and a 3 MB file."""
    big = tmp_path / "big.bin"
    big.write_bytes(BIG)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    expected = {
        "acc/bagit.txt": b"BagIt-Version: 1.0\n",
        "acc/data/empty-stored": b"",
        "acc/data/empty-deflated": b"",
        "acc/data/d\u00e9j\u00e0 vu/\u65e5\u672c.txt": "\u00e9t\u00e9\n".encode() * 50,
        "acc/data/big.csv": BIG,
        "acc/data/big.pdf": BIG,
        "acc/data/empty-file": b"",
    }
    path = tmp_path / "a.zip"
    with open(path, "wb") as fh:
        zw = ZipWriter(fh, when=WHEN)
        zw.add_bytes("acc/bagit.txt", expected["acc/bagit.txt"], compress=True)
        zw.add_bytes("acc/data/empty-stored", b"", compress=False)
        zw.add_bytes("acc/data/empty-deflated", b"", compress=True)
        name = "acc/data/d\u00e9j\u00e0 vu/\u65e5\u672c.txt"
        zw.add_bytes(name, expected[name], compress=True)
        zw.add_file("acc/data/big.csv", big, compress=True)
        zw.add_file("acc/data/big.pdf", big, compress=False)
        zw.add_file("acc/data/empty-file", empty, compress=True)
        total = zw.close()
        assert [e.name for e in zw.entries] == list(expected)
    assert total == path.stat().st_size
    return path, expected


def test_round_trip(tmp_path: Path) -> None:
    path, expected = sample(tmp_path)
    with ZipReader(path) as zr:
        assert zr.problems == []
        assert [e.name for e in zr.entries] == list(expected)
        assert zr.when == WHEN.replace(tzinfo=None)
        for e in zr.entries:
            assert b"".join(zr.iter_data(e, chunk_size=65536)) == expected[e.name]
            assert zr.read(e, len(expected[e.name])) == expected[e.name]
        methods = {e.name: e.method for e in zr.entries}
        assert methods["acc/data/big.csv"] == R.DEFLATED
        assert methods["acc/data/big.pdf"] == R.STORED


def test_standard_tools_read_it(tmp_path: Path) -> None:
    path, expected = sample(tmp_path)
    assert python_zip_read(path) == expected
    unzip_test(path)


def test_header_fields_are_the_canonical_ones(tmp_path: Path) -> None:
    import zipfile

    path, _ = sample(tmp_path)
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            assert info.date_time == (2026, 1, 31, 12, 0, 0)
            assert info.external_attr == 0o100644 << 16
            assert info.create_system == 3
            assert info.create_version == 20
            assert info.extract_version == 20
            assert info.extra == b""
            assert info.comment == b""
            assert info.flag_bits == (0 if info.filename.isascii() else 0x800)
        assert zf.comment == b""


def test_on_data_sees_every_uncompressed_chunk(tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.write_bytes(BIG)
    chunks: list[bytes] = []
    with open(tmp_path / "a.zip", "wb") as fh:
        zw = ZipWriter(fh, when=WHEN)
        entry = zw.add_file("x/big", big, compress=True, on_data=chunks.append, chunk_size=100_000)
        zw.close()
    assert b"".join(chunks) == BIG
    assert max(len(c) for c in chunks) == 100_000
    assert entry.size == len(BIG)


def test_iter_data_chunks_are_bounded(tmp_path: Path) -> None:
    path, expected = sample(tmp_path)
    with ZipReader(path) as zr:
        for e in zr.entries:
            chunks = list(zr.iter_data(e, chunk_size=4096))
            assert all(len(c) <= 4096 for c in chunks)
            assert b"".join(chunks) == expected[e.name]
            tiny = list(zr.iter_data(e, chunk_size=1)) if e.size < 2000 else None
            assert tiny is None or b"".join(tiny) == expected[e.name]


def test_threads_read_members_at_once(tmp_path: Path) -> None:
    path, expected = sample(tmp_path)
    with ZipReader(path) as zr:

        def digest(name: str) -> str:
            entry = next(e for e in zr.entries if e.name == name)
            h = hashlib.sha256()
            for chunk in zr.iter_data(entry, chunk_size=8192):
                h.update(chunk)
            return h.hexdigest()

        names = [n for n in expected for _ in range(3)]
        with ThreadPoolExecutor(max_workers=6) as pool:
            found = list(pool.map(digest, names))
    assert found == [hashlib.sha256(expected[n]).hexdigest() for n in names]


def test_window_over_a_stored_member(tmp_path: Path) -> None:
    path, _ = sample(tmp_path)
    with ZipReader(path) as zr:
        stored = next(e for e in zr.entries if e.name == "acc/data/big.pdf")
        deflated = next(e for e in zr.entries if e.name == "acc/data/big.csv")
        with pytest.raises(ValueError):
            zr.window(deflated)
        window = zr.window(stored)
    with window:  # usable after the reader is closed: it has its own descriptor
        assert window.read(10) == BIG[:10]
        window.seek(-5, os.SEEK_END)
        assert window.read() == BIG[-5:]
        window.seek(1000)
        assert window.tell() == 1000
        assert window.read(3) == BIG[1000:1003]
        window.seek(0)
        assert window.read() == BIG


def test_read_refuses_a_member_larger_than_asked(tmp_path: Path) -> None:
    path, _ = sample(tmp_path)
    with ZipReader(path) as zr:
        big = next(e for e in zr.entries if e.name == "acc/data/big.csv")
        with pytest.raises(ValueError):
            zr.read(big, 1000)


def test_an_empty_archive(tmp_path: Path) -> None:
    path = write(tmp_path / "e.zip", [])
    assert path.stat().st_size == 22
    with ZipReader(path) as zr:
        assert zr.problems == []
        assert zr.entries == []
        assert zr.when is None
    python_zip_read(path)


# -- determinism -------------------------------------------------------------------------------
MEMBERS = [
    ("t/bagit.txt", b"BagIt-Version: 1.0\n", True),
    ("t/data/a.csv", b"id,amount\n" + b"1,2.50\n" * 5000, True),
    ("t/data/b.pdf", bytes(range(256)) * 40, False),
    ("t/data/\u00e9.txt", b"", True),
]


def test_same_inputs_same_bytes(tmp_path: Path) -> None:
    a = write(tmp_path / "a.zip", MEMBERS).read_bytes()
    b = write(tmp_path / "b.zip", MEMBERS).read_bytes()
    assert a == b


def test_another_time_other_bytes(tmp_path: Path) -> None:
    a = write(tmp_path / "a.zip", MEMBERS).read_bytes()
    b = write(tmp_path / "b.zip", MEMBERS, when=datetime(2026, 1, 31, 12, 0, 2)).read_bytes()
    assert a != b
    assert len(a) == len(b)
    # seconds are rounded down to even: 12:00:01 is 12:00:00
    c = write(tmp_path / "c.zip", MEMBERS, when=datetime(2026, 1, 31, 12, 0, 1)).read_bytes()
    assert a == c


def test_files_and_bytes_give_the_same_member(tmp_path: Path) -> None:
    """The deflate stream depends on the data only, not on how the file was read."""
    src = tmp_path / "big"
    src.write_bytes(BIG)
    outs = []
    for how in ("bytes", 1 << 20, 65536, 12345):
        path = tmp_path / f"{how}.zip"
        with open(path, "wb") as fh:
            zw = ZipWriter(fh, when=WHEN)
            if how == "bytes":
                zw.add_bytes("x/big", BIG, compress=True)
            else:
                assert isinstance(how, int)
                zw.add_file("x/big", src, compress=True, chunk_size=how)
            zw.close()
        outs.append(path.read_bytes())
    assert len(set(outs)) == 1


def test_a_changed_member_fails_its_crc(tmp_path: Path) -> None:
    """Sanity check of the byte-flip test's premise on a large stored member."""
    path, _ = sample(tmp_path)
    with ZipReader(path) as zr:
        pdf = next(e for e in zr.entries if e.name == "acc/data/big.pdf")
    data = bytearray(path.read_bytes())
    data[pdf.data_offset + 2_000_000] ^= 0xFF
    path.write_bytes(bytes(data))
    with ZipReader(path) as zr:
        assert zr.problems == []
        pdf = next(e for e in zr.entries if e.name == "acc/data/big.pdf")
        with pytest.raises(CorruptDataError) as caught:
            b"".join(zr.iter_data(pdf))
    assert caught.value.problem.code == "corrupt-data"
    assert caught.value.problem.path == "acc/data/big.pdf"
