"""Zip bombs are refused, and refused before the work they ask for: counted, never timed.

Each case is a real signed archive with one thing changed, as anyone can change it without the
key: a member that inflates to 10 GiB, one that inflates past its declared size, a zip64 size
of 4 EiB, 10 million members (claimed, and a real file of them), overlapping members, many
members each just under the ratio-free size, a zip inside the archive. What the reader did is
counted (:mod:`tests.manifests.bombsupport`): bytes read, bytes inflated, members parsed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from isal import isal_zlib

from manifests.signing import PublicKey
from manifests.verify import VerifyReport, verify_archive
from manifests.verify.bounds import part_limits
from manifests.zipfmt import Limits, ZipReader
from manifests.zipfmt import records as R
from tests.manifests.bombsupport import (
    MiB,
    Reads,
    claimed_members,
    counting,
    rebuild,
    write_many_members,
    zeros_stream,
)
from tests.manifests.conftest import Made, make_archive, make_keys
from tests.manifests.zipfmt.support import Raw, build, deflate
from tests.tinydb import make_tiny_db

TEN_GIB = 10 << 30
CSV = "data/csv/quotes.csv"
PDF = "data/documents/sales_invoices/FA-2025-00001.pdf"


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> Made:
    """A small signed archive (the tiny database's account: 20 payload files, one PDF)."""
    folder = tmp_path_factory.mktemp("bombs")
    db = make_tiny_db(folder / "tiny.db", with_documents=True)
    keys = make_keys(folder / "keys")
    return Made(make_archive(db, folder / "t.zip", keys, "acc-t001"), keys, "acc-t001")


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Reads:
    return counting(monkeypatch)


def crafted(signed: Made, folder: Path, members: list[Raw]) -> Path:
    """``members`` written as an archive named like the original (its bag folder is ``t``)."""
    folder.mkdir(exist_ok=True)
    path = folder / signed.path.name
    path.write_bytes(build(members))
    return path


def replaced(signed: Made, folder: Path, rel: str, change: Callable[[Raw], Raw]) -> Path:
    return crafted(signed, folder, rebuild(signed.path, {rel: change}))


def verify(path: Path, signed: Made, reads: Reads | None = None, **options: object) -> VerifyReport:
    """``verify_archive`` in this process; ``reads`` counts from here on."""
    pub = PublicKey.load(signed.keys.pub)
    if reads is not None:
        reads.reset()
    return verify_archive(path, pub, doc_worker=False, **options)  # type: ignore[arg-type]


def bombs(report: VerifyReport) -> list[tuple[str, str]]:
    return [(p.path, p.detail) for p in report.problems if p.code == "bomb"]


def test_the_rebuilt_archive_is_the_original_and_reading_it_is_counted(
    signed: Made, tmp_path: Path, reads: Reads
) -> None:
    """The control: unchanged, the builder gives the same file, which verifies; the counters
    see every byte of it and every member."""
    path = crafted(signed, tmp_path, rebuild(signed.path))
    assert path.read_bytes() == signed.path.read_bytes()
    report = verify(path, signed, reads)
    assert report.valid, report.problems
    size = path.stat().st_size
    payload = sum(e.size for e in ZipReader(path).entries if e.method == R.DEFLATED)
    assert reads.read >= size and reads.inflated >= payload
    assert reads.members >= 27 and set(reads.parsed) == {size}


def test_ten_gib_of_zeros_is_refused_before_a_byte_is_inflated(
    signed: Made, tmp_path: Path, reads: Reads
) -> None:
    stream = zeros_stream(10 * 1024)
    assert len(stream) < 11 * MiB  # a ratio of about 1,000 (deflate's most: 1,032)

    def bomb(raw: Raw) -> Raw:
        return dataclasses.replace(raw, data=stream, content=b"", size=TEN_GIB, crc=0)

    path = replaced(signed, tmp_path, CSV, bomb)
    report = verify(path, signed, reads)
    assert bombs(report) == [(f"t/{CSV}", "compression ratio above the limit")]
    assert reads.inflated < MiB  # the other members only
    assert reads.read < path.stat().st_size // 10  # the stream is never read


def test_a_stream_that_inflates_past_its_declared_size_stops_there(
    signed: Made, tmp_path: Path, reads: Reads
) -> None:
    """10 GiB of zeros declared as the 162 bytes (and CRC-32) of the member it replaced: the
    ratio cannot tell, the output stops one byte past the declared size."""
    stream = zeros_stream(10 * 1024)

    def liar(raw: Raw) -> Raw:
        return dataclasses.replace(raw, data=stream)

    path = replaced(signed, tmp_path, CSV, liar)
    declared = sum(e.size for e in ZipReader(path).entries if e.method == R.DEFLATED)
    report = verify(path, signed, reads)
    assert [(p.code, p.path, p.detail) for p in report.problems] == [
        ("corrupt-data", f"t/{CSV}", "more data than its declared size")
    ]
    assert reads.inflated <= declared + 1
    assert reads.read < 2 * MiB < len(stream)  # the stream is read 1 MiB at a time


@pytest.mark.parametrize("method", [R.DEFLATED, R.STORED], ids=["deflated", "stored"])
def test_a_zip64_size_of_4_eib_is_refused_from_the_directory(
    signed: Made, tmp_path: Path, reads: Reads, method: int
) -> None:
    huge = 1 << 62

    def claim(raw: Raw) -> Raw:
        return dataclasses.replace(raw, size=huge, csize=huge if method == R.STORED else None)

    path = replaced(signed, tmp_path, CSV if method == R.DEFLATED else PDF, claim)
    assert R.local_zip64(huge, method)  # the headers carry zip64 extra fields
    report = verify(path, signed, reads)
    found = {(p.code, p.detail) for p in report.problems}
    if method == R.DEFLATED:
        assert ("bomb", "member larger than the limit") in found
    else:  # its data would run past the end of the file
        assert ("overlap", "runs into the central directory") in found
    assert reads.inflated < MiB and reads.read < 4 * path.stat().st_size


def test_ten_million_members_claimed_are_refused_from_the_end_records(
    tmp_path: Path, reads: Reads
) -> None:
    path = tmp_path / "t.zip"
    path.write_bytes(claimed_members(10_000_000))
    with ZipReader(path, limits=part_limits()) as zr:
        assert [(p.code, p.found) for p in zr.problems] == [("bomb", "10000000")]
        assert zr.entries == []
    assert reads.members == 0 and reads.read < 1024


def ram_folder(tmp_path: Path) -> Path:
    """Where to write a file of about 1 GB quickly: /dev/shm when there is room, else tmp."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        st = os.statvfs(shm)
        if st.f_bavail * st.f_frsize > 4 << 30:
            return shm
    return tmp_path


def test_a_real_archive_of_ten_million_members_is_refused_from_its_count(
    tmp_path: Path, reads: Reads
) -> None:
    control = tmp_path / "small.zip"
    write_many_members(control, 1000)
    with ZipReader(control) as zr:  # the generator makes canonical archives
        assert zr.problems == [] and len(zr.entries) == 1000
        assert zr.entries[-1].name == "t/0000999"
    path = ram_folder(tmp_path) / f"offboard-test-{os.getpid()}-10m.zip"
    try:
        size = write_many_members(path, 10_000_000)
        assert size == 940_000_098  # 10M local headers and central headers of 9-byte names
        before = reads.read
        for most in (part_limits(), part_limits(100 * 25_000), Limits()):
            with ZipReader(path, limits=most) as zr:
                assert [p.code for p in zr.problems] == ["bomb"] and zr.entries == []
        assert reads.members == 1000 and reads.read - before < 64 * 1024
    finally:
        path.unlink(missing_ok=True)


def test_overlapping_members_are_refused_and_nothing_is_read_twice(
    signed: Made, tmp_path: Path, reads: Reads
) -> None:
    """The overlapped zip bomb: 5,000 central headers more, each naming the local header (and
    so the data) of one member. Each is refused; no member's data is inflated twice."""
    path = overlapped(signed, tmp_path)
    with ZipReader(path) as zr:
        codes = [p.code for p in zr.problems]  # each also has a name its local header lacks
        assert codes.count("overlap") == 5000 and set(codes) == {"overlap", "header-mismatch"}
        assert len(zr.entries) == len(ZipReader(signed.path).entries)
    report = verify(path, signed, reads)
    assert not report.valid
    assert reads.inflated <= deflated_sizes(signed.path)


def overlapped(signed: Made, folder: Path, ghosts: int = 5000) -> Path:
    members = rebuild(signed.path)
    at = next(i for i, m in enumerate(members) if m.name == f"t/{CSV}")
    offset = next(e.header_offset for e in ZipReader(signed.path).entries if e.name == f"t/{CSV}")
    extra = [
        # names as long as the member's: each claims exactly its bytes
        dataclasses.replace(
            members[at], name=f"t/data/csv/qu{i:04d}.csv", offset=offset, local=False
        )
        for i in range(ghosts)
    ]
    return crafted(signed, folder, [*members[: at + 1], *extra, *members[at + 1 :]])


def deflated_sizes(path: Path) -> int:
    with ZipReader(path) as zr:
        return sum(e.size for e in zr.entries if e.method == R.DEFLATED)


def test_many_members_under_the_ratio_free_size_are_bounded_together(
    tmp_path: Path, reads: Reads
) -> None:
    """20 members of 64 MiB of zeros each (66 KB apiece): each alone is exempt from the ratio
    rule, together they are refused once their sizes pass 1 GiB, from the 17th."""
    path = tmp_path / "t.zip"
    path.write_bytes(build(many_zeros(20, 64)))
    with ZipReader(path, limits=part_limits()) as zr:
        assert [(p.code, p.detail) for p in zr.problems] == [
            ("bomb", "the deflated members together pass the compression ratio limit at member 17")
        ]
        assert len(zr.entries) == 16
    assert reads.inflated == 0 and reads.members == 20


def many_zeros(count: int, mib: int) -> list[Raw]:
    stream = zeros_stream(mib)
    crc = isal_zlib.crc32(b"\0" * (mib * MiB))
    return [
        Raw(f"t/data/z{i:02d}.csv", stream, R.DEFLATED, b"", size=mib * MiB, crc=crc)
        for i in range(count)
    ]


@pytest.mark.parametrize("bounded", [True, False], ids=["bounded", "unbounded"])
def test_what_many_small_bombs_make_a_verifier_inflate_is_bounded(
    signed: Made, tmp_path: Path, reads: Reads, bounded: bool
) -> None:
    """The same with the verifier, its bounds scaled down (members of 1 MiB exempt alone, 8 MiB
    together): 64 such members listed in the manifest, as anyone can list them (the signature
    then fails; the files are read all the same). Unbounded, all 64 MiB are inflated."""
    extra = many_zeros(64, 1)
    members = rebuild(signed.path)
    at = next(i for i, m in enumerate(members) if m.name == "t/manifest-sha256.txt")
    digest = hashlib.sha256(b"\0" * MiB).hexdigest()
    text = (members[at].content or b"") + b"".join(
        f"{digest}  {str(m.name)[2:]}\n".encode() for m in extra
    )
    members[at] = dataclasses.replace(members[at], data=deflate(text), content=text)
    path = crafted(signed, tmp_path, [*members[:at], *extra, *members[at:]])
    most = 8 * MiB if bounded else 1 << 40
    small = dataclasses.replace(part_limits(), ratio_free_size=2 * MiB, ratio_free_total=most)
    report = verify(path, signed, reads, limits=small)
    together = [p for p in report.problems if "together" in p.detail]
    if bounded:
        assert len(together) == 1 and together[0].code == "bomb"
        assert reads.inflated <= 8 * MiB
    else:
        assert together == [] and reads.inflated > 64 * MiB


def test_a_zip_inside_the_archive_is_bytes_never_opened(
    signed: Made, tmp_path: Path, reads: Reads
) -> None:
    """A document replaced by a zip of 10 GiB of zeros: it is hashed and found not to be a
    PDF; no zip but the archive is parsed, nothing of the inner one inflated."""
    inner = build([Raw("z/zeros", zeros_stream(10 * 1024), R.DEFLATED, b"", size=TEN_GIB, crc=0)])

    def nest(raw: Raw) -> Raw:
        return dataclasses.replace(raw, data=inner, content=None)

    path = replaced(signed, tmp_path, PDF, nest)
    report = verify(path, signed, reads)
    assert PDF in {p.path for p in report.problems if p.code == "document-mismatch"}
    assert set(reads.parsed) == {path.stat().st_size}
    assert reads.inflated <= deflated_sizes(path)


# -- through the command line ------------------------------------------------------------------
def _ratio(signed: Made, folder: Path) -> Path:
    stream = zeros_stream(10 * 1024)
    return replaced(
        signed,
        folder,
        CSV,
        lambda raw: dataclasses.replace(raw, data=stream, content=b"", size=TEN_GIB, crc=0),
    )


def _liar(signed: Made, folder: Path) -> Path:
    stream = zeros_stream(10 * 1024)
    return replaced(signed, folder, CSV, lambda raw: dataclasses.replace(raw, data=stream))


def _zip64(signed: Made, folder: Path) -> Path:
    return replaced(signed, folder, CSV, lambda raw: dataclasses.replace(raw, size=1 << 62))


def _claimed(signed: Made, folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / signed.path.name
    path.write_bytes(claimed_members(10_000_000))
    return path


def _together(signed: Made, folder: Path) -> Path:
    members = rebuild(signed.path)
    return crafted(signed, folder, [*members[:5], *many_zeros(20, 64), *members[5:]])


CLI_CASES = {
    "ratio": (
        _ratio,
        f"t/{CSV}: compression ratio above the limit (limit: at most 200:1; found: "
        "10,737,418,240 bytes from 10,6",
    ),
    "past-its-size": (
        _liar,
        f"t/{CSV}: more data than its declared size (expected: 162; found: more)",
    ),
    "zip64-size": (
        _zip64,
        f"t/{CSV}: member larger than the limit (limit: 1,099,511,627,776; found: "
        "4,611,686,018,427,387,904)",
    ),
    "ten-million": (
        _claimed,
        "a part holds more than 25,000 files: `--max-files N` checks larger parts of an archive "
        "you have reason to trust (memory grows with N) (limit: 25,016; found: 10,000,000)",
    ),
    "overlap": (overlapped, "t/data/csv/qu0000.csv: starts inside the member before it"),
    "together": (
        _together,
        "the deflated members together pass the compression ratio limit at member 21",
    ),
}


@pytest.mark.parametrize("case", list(CLI_CASES))
def test_the_command_line_refuses_each_in_one_line(signed: Made, tmp_path: Path, case: str) -> None:
    make, says = CLI_CASES[case]
    path = make(signed, tmp_path / case)
    done = subprocess.run(
        [sys.executable, "-m", "offboard", "verify", str(path), "-p", str(signed.keys.pub), "-q"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "300"},
    )
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("offboard: error: t.zip: refused as a possible zip bomb: ")
    assert says in lines[0]
    assert "Traceback" not in done.stderr
