"""Tampering: every named structural change and every byte flip is detected; clean passes.

The archives are small (one account of the tiny test database, signed), so that hundreds of
full verifications stay fast.
"""

from __future__ import annotations

import random
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from manifests.verify import verify_archive
from tests.manifests.conftest import Keys, make_archive, make_keys

TOP = "acc-t001"


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Keys, Path]:
    """(archive, keys, database) for the tiny database's first account."""
    from tests.tinydb import make_tiny_db

    folder = tmp_path_factory.mktemp("tamper")
    db = make_tiny_db(folder / "tiny.db", with_documents=True)
    keys = make_keys(folder / "keys")
    out = folder / f"{TOP}.zip"
    make_archive(db, out, keys, TOP)
    return out, keys, db


def check(path: Path, keys: Keys, **kw: bool) -> list[str]:
    from manifests.signing import PublicKey

    report = verify_archive(path, PublicKey.load(keys.pub), **kw)
    return [p.code for p in report.problems]


def rewrite(
    src: Path, dst: Path, edit: Callable[[list[tuple[zipfile.ZipInfo, bytes]]], None]
) -> Path:
    """Rewrite ``src`` with Python's zipfile after ``edit`` changed the member list."""
    with zipfile.ZipFile(src) as zf:
        items = [(i, zf.read(i)) for i in zf.infolist()]
    edit(items)
    with zipfile.ZipFile(dst, "w") as out:
        for info, data in items:
            out.writestr(info, data)
    return dst


def member(items: list[tuple[zipfile.ZipInfo, bytes]], suffix: str) -> int:
    return next(i for i, (info, _) in enumerate(items) if info.filename.endswith(suffix))


def test_clean_archive_passes(signed: tuple[Path, Keys, Path]) -> None:
    path, keys, _ = signed
    assert check(path, keys) == []
    assert check(path, keys, fast=True) == []


def test_zipfile_rewrite_of_the_same_members_stays_valid(
    signed: tuple[Path, Keys, Path], tmp_path: Path
) -> None:
    """The tamper cases below rewrite archives with Python's zipfile; untouched, such a rewrite
    (same names, data and header fields, other deflate bytes) is valid, so each case is caught
    for the change it makes, not for the rewrite."""
    path, keys, _ = signed
    copy = rewrite(path, tmp_path / f"{TOP}.zip", lambda items: None)
    assert copy.read_bytes() != path.read_bytes()
    assert check(copy, keys) == []


# -- structural cases, each a named tamper --------------------------------------------------------
def _add(items: list, name: str, data: bytes = b"x") -> None:  # type: ignore[type-arg]
    items.insert(len(items) - 3, (zipfile.ZipInfo(f"{TOP}/{name}", (2026, 1, 31, 12, 0, 0)), data))


def _drop(items: list, suffix: str) -> None:  # type: ignore[type-arg]
    del items[member(items, suffix)]


def _rename(items: list, suffix: str, new: str) -> None:  # type: ignore[type-arg]
    i = member(items, suffix)
    info, data = items[i]
    clone = zipfile.ZipInfo(new, info.date_time)
    clone.compress_type = info.compress_type
    items[i] = (clone, data)


def _dup(items: list, suffix: str, first: bool) -> None:  # type: ignore[type-arg]
    i = member(items, suffix)
    info, data = items[i]
    fake = (info, data.replace(b"a", b"b", 1) or b"x")
    items.insert(i if first else i + 1, fake)


def _edit(items: list, suffix: str, change: Callable[[bytes], bytes]) -> None:  # type: ignore[type-arg]
    i = member(items, suffix)
    info, data = items[i]
    items[i] = (info, change(data))


def _symlink(items: list) -> None:  # type: ignore[type-arg]
    info = zipfile.ZipInfo(f"{TOP}/data/link.csv", (2026, 1, 31, 12, 0, 0))
    info.create_system = 3
    info.external_attr = 0o120777 << 16
    items.insert(3, (info, b"/etc/passwd"))


CASES: dict[str, Callable[[list], None]] = {  # type: ignore[type-arg]
    "payload-added": lambda it: _add(it, "data/csv/extra.csv", b"a,b\n"),
    "payload-removed": lambda it: _drop(it, "data/csv/contacts_people.csv"),
    "payload-renamed": lambda it: _rename(it, "contacts_people.csv", f"{TOP}/data/csv/people.csv"),
    "payload-duplicated-first": lambda it: _dup(it, "contacts_people.csv", True),
    "payload-duplicated-last": lambda it: _dup(it, "contacts_people.csv", False),
    "tag-file-added": lambda it: _add(it, "extra-tag.txt"),
    "bag-info-removed": lambda it: _drop(it, "bag-info.txt"),
    "bagit-txt-removed": lambda it: _drop(it, "bagit.txt"),
    "metadata-removed": lambda it: _drop(it, "offboard.json"),
    "browser-removed": lambda it: _drop(it, "/index.html"),
    "browser-edited": lambda it: _edit(
        it, "/index.html", lambda d: d.replace(b"</body>", b"<p>All is well.</p></body>")
    ),
    "manifest-removed": lambda it: _drop(it, "/manifest-sha256.txt"),
    "signature-removed": lambda it: _drop(it, ".minisig"),
    "tagmanifest-removed-and-bag-info-edited": lambda it: (
        _drop(it, "tagmanifest-sha256.txt"),
        _edit(it, "bag-info.txt", lambda d: d.replace(b"acc-t001", b"acc-t002")),
    ),
    "manifest-line-duplicated": lambda it: _edit(
        it, "/manifest-sha256.txt", lambda d: d + d.splitlines(keepends=True)[0]
    ),
    "manifest-line-removed": lambda it: _edit(
        it, "/manifest-sha256.txt", lambda d: b"".join(d.splitlines(keepends=True)[1:])
    ),
    "dotdot-path": lambda it: _add(it, "data/../../evil.csv"),
    "absolute-path": lambda it: it.insert(3, (zipfile.ZipInfo("/etc/evil"), b"x")),
    "backslash-path": lambda it: _add(it, "data\\evil.csv"),
    "second-top-folder": lambda it: it.insert(3, (zipfile.ZipInfo("other/x.csv"), b"x")),
    "symlink-member": _symlink,
    "directory-member": lambda it: it.insert(3, (zipfile.ZipInfo(f"{TOP}/data/dir/"), b"")),
    "nfd-twin": lambda it: _add(it, "data/csv/Cafe\u0301.csv"),
    "csv-cell-edited": lambda it: _edit(it, "contacts_people.csv", lambda d: d[:-3] + b"zz\n"),
    "csv-row-dropped": lambda it: _edit(
        it, "contacts_people.csv", lambda d: b"".join(d.splitlines(keepends=True)[:-1])
    ),
    "pdf-replaced": lambda it: _edit(it, ".pdf", lambda d: d.replace(b"%%EOF", b"%%EOF\n%x")),
    "metadata-count-edited": lambda it: _edit(
        it, "offboard.json", lambda d: d.replace(b'"records": ', b'"records": 1', 1)
    ),
    "bag-info-account-edited": lambda it: _edit(
        it, "bag-info.txt", lambda d: d.replace(b"acc-t001", b"acc-t009")
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_structural_tamper_is_detected(
    case: str, signed: tuple[Path, Keys, Path], tmp_path: Path
) -> None:
    path, keys, _ = signed
    bad = rewrite(path, tmp_path / f"{TOP}.zip", CASES[case])
    codes = check(bad, keys)
    assert codes, case
    # the container rewrite alone is non-canonical: each case must also be caught for what it is
    assert set(codes) - {"non-canonical", "header-mismatch"}, (case, codes)


def _raw(signed: tuple[Path, Keys, Path]) -> bytes:
    return signed[0].read_bytes()


RAW_CASES: dict[str, Callable[[bytes], bytes]] = {
    "bytes-appended": lambda b: b + b"\0garbage",
    "bytes-prepended": lambda b: b"MZ\0\0" + b,
    "empty-file": lambda b: b"",
    "not-a-zip": lambda b: b"%PDF-1.7\n" + b[100:],
    "eocd-comment": lambda b: b[:-2] + struct.pack("<H", 4) + b"evil",
    "false-member-count": lambda b: b[:-12] + struct.pack("<H", 60000) + b[-10:],
}


@pytest.mark.parametrize("case", sorted(RAW_CASES))
def test_raw_tamper_is_detected(case: str, signed: tuple[Path, Keys, Path], tmp_path: Path) -> None:
    bad = tmp_path / f"{TOP}.zip"
    bad.write_bytes(RAW_CASES[case](_raw(signed)))
    assert check(bad, signed[1])


@pytest.mark.parametrize("tenth", range(1, 10))
def test_truncation_at_every_tenth_is_detected(
    tenth: int, signed: tuple[Path, Keys, Path], tmp_path: Path
) -> None:
    data = _raw(signed)
    bad = tmp_path / f"{TOP}.zip"
    bad.write_bytes(data[: len(data) * tenth // 10])
    assert check(bad, signed[1])


def test_overlapping_entries_are_refused(signed: tuple[Path, Keys, Path], tmp_path: Path) -> None:
    """Point the second central-directory entry at the first member's local header."""
    data = bytearray(_raw(signed))
    cd = data.rfind(b"PK\x01\x02", 0, data.rfind(b"PK\x05\x06"))
    first = data.find(b"PK\x01\x02")
    second = data.find(b"PK\x01\x02", first + 4)
    assert first < second <= cd
    data[second + 42 : second + 46] = struct.pack("<I", 0)
    bad = tmp_path / f"{TOP}.zip"
    bad.write_bytes(bytes(data))
    codes = check(bad, signed[1])
    assert codes


def test_false_sizes_are_refused(signed: tuple[Path, Keys, Path], tmp_path: Path) -> None:
    data = bytearray(_raw(signed))
    first = data.find(b"PK\x01\x02")
    size = struct.unpack_from("<I", data, first + 24)[0]
    struct.pack_into("<I", data, first + 24, size + 1)  # central uncompressed size
    bad = tmp_path / f"{TOP}.zip"
    bad.write_bytes(bytes(data))
    assert check(bad, signed[1])


def test_signature_from_another_archive_is_refused(
    signed: tuple[Path, Keys, Path], tmp_path: Path
) -> None:
    from datetime import timedelta

    from tests.manifests.conftest import CREATED

    path, keys, db = signed
    other = make_archive(
        db, tmp_path / "o" / f"{TOP}.zip", keys, TOP, created=CREATED + timedelta(days=1)
    )
    with zipfile.ZipFile(other) as zf:
        foreign = zf.read(f"{TOP}/tagmanifest-sha256.txt.minisig")
    bad = rewrite(
        path, tmp_path / f"{TOP}.zip", lambda it: _edit(it, ".minisig", lambda d: foreign)
    )
    assert "signature-invalid" in check(bad, keys)


def test_signature_and_tagmanifest_from_another_archive_are_refused(
    signed: tuple[Path, Keys, Path], tmp_path: Path
) -> None:
    """A consistent (signature, tag manifest) pair from another archive: the tag files differ."""
    from datetime import timedelta

    from tests.manifests.conftest import CREATED

    path, keys, db = signed
    other = make_archive(
        db, tmp_path / "o" / f"{TOP}.zip", keys, TOP, created=CREATED + timedelta(days=1)
    )
    with zipfile.ZipFile(other) as zf:
        sig = zf.read(f"{TOP}/tagmanifest-sha256.txt.minisig")
        tags = zf.read(f"{TOP}/tagmanifest-sha256.txt")
    bad = rewrite(
        path,
        tmp_path / f"{TOP}.zip",
        lambda it: (
            _edit(it, ".minisig", lambda d: sig),
            _edit(it, "tagmanifest-sha256.txt", lambda d: tags),
        ),
    )
    assert "checksum-mismatch" in check(bad, keys)


def test_wrong_key_is_refused(signed: tuple[Path, Keys, Path], tmp_path: Path) -> None:
    other = make_keys(tmp_path / "k", "other")
    assert check(signed[0], other) == ["signature-invalid"]


# -- byte flips -----------------------------------------------------------------------------------
def flip_positions(data: bytes, count: int, seed: int) -> list[int]:
    """``count`` positions including the first and last byte, every tag member, the signature
    and the central directory."""
    n = len(data)
    eocd = data.rfind(b"PK\x05\x06")
    cd = data.find(b"PK\x01\x02")
    must = {0, n - 1, eocd, eocd + 10, cd, cd + 20, (cd + eocd) // 2}
    with zipfile.ZipFile(signed_path_cache[data]) as zf:
        for info in zf.infolist():
            if not info.filename.split("/", 1)[1].startswith("data/"):
                start = info.header_offset
                must.update({start, start + 30, start + 30 + len(info.filename) + 1})
    rng = random.Random(seed)
    rest = rng.sample(range(n), min(n, count))
    return sorted(must | set(rest))


signed_path_cache: dict[bytes, Path] = {}


@pytest.fixture(scope="module")
def flip_archives(
    signed: tuple[Path, Keys, Path], tmp_path_factory: pytest.TempPathFactory
) -> list[tuple[Path, Keys]]:
    """Three different signed archives: two dialects of one account, and another account."""
    path, keys, db = signed
    folder = tmp_path_factory.mktemp("flips")
    fr = make_archive(db, folder / "fr" / f"{TOP}.zip", keys, TOP, dialect="excel-fr")
    nodocs = folder / "b" / f"{TOP}.zip"
    make_archive(db, nodocs, keys, TOP, split_size=10**9)
    return [(path, keys), (fr, keys), (nodocs, keys)]


@pytest.mark.parametrize("which", [0, 1, 2])
def test_every_byte_flip_is_detected(
    which: int, flip_archives: list[tuple[Path, Keys]], tmp_path: Path
) -> None:
    path, keys = flip_archives[which]
    data = path.read_bytes()
    signed_path_cache[data] = path
    positions = flip_positions(data, 220, seed=which)
    assert len(positions) >= 200 and 0 in positions and len(data) - 1 in positions
    missed = []
    bad = tmp_path / path.name
    for pos in positions:
        mutated = bytearray(data)
        mutated[pos] ^= 0xFF
        bad.write_bytes(bytes(mutated))
        if not check(bad, keys):
            missed.append(pos)
    assert missed == [], f"{len(missed)} of {len(positions)} flips undetected: {missed[:20]}"
