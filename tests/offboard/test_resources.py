"""Memory stays under the 256 MB bound: `offboard export` and `offboard verify`, each process
and each command with its worker at once.

The input is the one the default settings make costliest for memory: documents that fill
bundle parts to the default 32 MiB bundle cap as far as they can (six of 12.6 MB, two a part:
25 MB, a third would not fit), plus the demo
account's tables and other documents. The export bundles in a worker process that holds a
part's pages in memory until it writes the part, so this is where the worker's memory peaks
whatever the size of the account. Documents larger than the cap (five of 46 MB, just under
`--max-document-size`'s 50 MB) are parts of their own, written from the document itself, and
the verifier reads them through windows on the archive (they are past its 32 MiB in-memory
size).

Each command runs in a process of its own; each process's own peak (VmHWM, see
bench/peaks.py: not ``ru_maxrss``, which Linux starts at the parent's peak, here pytest's), and
what the command and its worker use at once (bench/peaks.py's bound by windows), must stay
under 256 MB. The CSV side (a 1 GB account) and a 5.4 GB archive are measured by `make bench`
(bench/resources.py), not here.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.pdfgen import replace_billing_pdfs
from bench.peaks import Peaks, measure
from offboard.options import BUNDLE_CAP_MIB

BOUND_MB = 256
#: a part's documents in memory at most, by the default bundle cap
PART_MB = BUNDLE_CAP_MIB * 1.048576


@pytest.fixture(scope="module")
def heavy(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A copy of the demo database whose acc-0001 has five 46 MB billing PDFs."""
    folder = tmp_path_factory.mktemp("heavy")
    db = folder / "heavy.db"
    shutil.copy(demo_db, db)
    shutil.copytree(demo_db.parent / f"{demo_db.stem}-documents", folder / "heavy-documents")
    written = replace_billing_pdfs(db, count=5, pages=11)
    assert 5 * 45e6 < written < 5 * 50e6
    yield db
    shutil.rmtree(folder, ignore_errors=True)  # 250 MB, not kept to the end of the run


@pytest.fixture(scope="module")
def filled(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A copy of the demo database whose acc-0001 has six 12.6 MB billing PDFs: two fill a
    part of the default bundle cap (a third would not fit)."""
    folder = tmp_path_factory.mktemp("filled")
    db = folder / "filled.db"
    shutil.copy(demo_db, db)
    shutil.copytree(demo_db.parent / f"{demo_db.stem}-documents", folder / "filled-documents")
    written = replace_billing_pdfs(db, count=6, pages=3)
    assert 2 * written / 6 < PART_MB * 1e6 < 3 * written / 6
    yield db
    shutil.rmtree(folder, ignore_errors=True)


def offboard(*args: str, work: Path) -> Peaks:
    done = measure([sys.executable, "-m", "offboard", *args], work)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def within_bound(done: Peaks) -> None:
    assert done.main_mb is not None
    assert done.main_mb < BOUND_MB, f"the command itself: {done.main_mb:.0f} MB"
    assert done.child_mb < BOUND_MB, f"its largest worker: {done.child_mb:.0f} MB"
    assert done.bound_mb is not None
    assert done.bound_mb < BOUND_MB, f"the command and its worker at once: {done.bound_mb:.0f} MB"


def test_export_and_verify_stay_under_the_bound(filled: Path, tmp_path: Path) -> None:
    from tests.manifests.conftest import make_keys

    keys = make_keys(tmp_path / "keys")
    common = ["export", str(filled), "--account", "acc-0001", "--allow-missing-documents", "-q"]
    try:
        folder = offboard(*common, "--out", str(tmp_path / "folder"), work=tmp_path)
        bundles = sorted((tmp_path / "folder" / "documents").glob("billing_history-bundle-*"))
        # the worst case: parts as full as these documents fill them, each held by the worker
        sizes = [b.stat().st_size / 1e6 for b in bundles][:3]
        assert all(PART_MB * 0.7 < size < PART_MB for size in sizes), sizes
        shutil.rmtree(tmp_path / "folder")
        archive = tmp_path / "a.zip"
        signed = ["--out", str(archive), "--sign-key", str(keys.key)]
        exported = offboard(*common, *signed, work=tmp_path)
        assert archive.stat().st_size > 100 * 10**6
        verified = offboard("verify", str(archive), "-p", str(keys.pub), "-q", work=tmp_path)
    finally:
        shutil.rmtree(tmp_path / "folder", ignore_errors=True)
        (tmp_path / "a.zip").unlink(missing_ok=True)
    for done in (folder, exported):
        assert done.children >= 1  # the document worker was measured: it bundles every PDF
        # it held a whole part: the figure is the part's size over the worker's own start
        assert done.child_mb > 30 + PART_MB * 0.7
        within_bound(done)
    within_bound(verified)
    print(
        f"export to a folder {folder.main_mb:.0f} MB + worker {folder.child_mb:.0f} MB "
        f"({folder.bound_mb:.0f} at once); to an archive {exported.main_mb:.0f} + "
        f"{exported.child_mb:.0f} MB ({exported.bound_mb:.0f}); verify {verified.main_mb:.0f} MB "
        f"({verified.bound_mb:.0f})"
    )


def test_the_invoice_rows_reader_hands_the_csv_parser_small_pieces() -> None:
    """Chunks of any size (the export inflates 5-10 MiB at a time) reach the CSV parser in
    pieces of at most 256 KiB, byte for byte, the byte-order mark skipped: the parser keeps some
    thirty reads at a time, so their size is what its memory grows with."""
    from offboard.facturx.rows import PIECE, _Chunks

    text = (
        b"\xef\xbb\xbf"
        + b'"id","x"\n'
        + b"".join(b'"i%07d","%s"\n' % (i, b"v" * 90) for i in range(100_000))
    )
    chunks = [text[: 7 << 20], b"", text[7 << 20 :]]  # 7 MiB, none, then 2.9 MiB
    assert len(chunks[2]) > 2 << 20
    stream = _Chunks(iter(chunks), skip_bom=True)
    pieces = []
    while piece := stream.read(4 << 20):
        pieces.append(piece)
    assert max(map(len, pieces)) == PIECE == 256 << 10
    assert b"".join(pieces) == text[3:]
    assert len(_Chunks(iter(chunks), skip_bom=False).read()) == PIECE


def test_a_document_alone_in_its_part_is_not_held_in_memory(heavy: Path, tmp_path: Path) -> None:
    """A part of one document is written from the document itself (qpdf reads its streams as
    it writes): with the default bundle cap, below one document, every 46 MB document gets a
    part of its own, and the worker's peak stays below the size of one of them over its own
    start."""
    common = ["export", str(heavy), "--account", "acc-0001", "--allow-missing-documents", "-q"]
    out = tmp_path / "folder"
    done = offboard(*common, "-k", "billing_history", "--out", str(out), work=tmp_path)
    try:
        bundles = sorted((out / "documents").glob("billing_history-bundle-*"))
        sizes = [b.stat().st_size // 10**6 for b in bundles]
        assert sizes[:5] == [46] * 5, sizes  # one document a part
        import pikepdf

        with pikepdf.open(bundles[0]) as pdf:
            assert len(pdf.pages) == 11 and len(pdf.open_outline().root) == 1
    finally:
        shutil.rmtree(out, ignore_errors=True)
    assert done.children >= 1
    # the worker's own start (python, pikepdf) is about 30 MB; holding a document, 80 or more
    assert done.child_mb < 30 + 46 / 2, f"the worker: {done.child_mb:.0f} MB"
    within_bound(done)
    print(f"one document a part: worker {done.child_mb:.0f} MB")
