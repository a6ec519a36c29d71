"""Hostile PDFs end as problems within their limits; strange but sound ones are bundled.

Each case of :mod:`tests.offboard.documents.hostile_pdfs` goes through the documents stage as
an export runs it (the sandboxed document worker, its default limits: 1 GiB of address space,
60 s per document); then a real export of the demo with hostile purchases in place of real
ones, its archive verified.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from offboard.documents import KindDocuments, export_documents
from offboard.documents.sandbox import DocumentEngine, DocumentLimits
from tests.offboard.documents.docs_support import ENCRYPTED_SCAN, SCANS, files_under, ref, resolve
from tests.offboard.documents.hostile_pdfs import CASES, OK, PROBLEM, write_case

#: the reason each problem case is reported with (its start: some reasons go on with qpdf's
#: own words; ``{file}`` is the document's file name in the export)
REASONS = {
    "cyclic-page-tree": "unreadable: {file} (object 2 0): Loop detected in /Pages",
    "page-parent-loop": "unreadable: page 1's /Parent chain loops back on itself",
    "page-tree-dag-2m": "unreadable: {file} (object 5 0): Loop detected in /Pages",
    "huge-page-count-2m": "unreadable: needs more than 1 GiB of memory (the limit, "
    "--document-memory)",
    "kids-array-1m": "unreadable: needs more than 1 GiB of memory (the limit, --document-memory)",
    "no-pages": "unreadable: no pages",
    "no-catalog": "unreadable: unable to find /Root dictionary",
    "truncated": "unreadable: truncated (no %%EOF at the end)",
    "nul-filled-middle": "unreadable: damaged: object 8 0 is missing",
    "deep-nested-arrays": "unreadable: no pages",
    "deep-nested-dicts": "unreadable: no pages",
    "indirect-reference-loop": "unreadable: damaged: a page's resources are missing or invalid",
    "objstm-contains-itself": "unreadable: no pages",
    "flate-bomb-content": "decompression bomb: a stream (object 5) inflates past 256 MiB",
    "flate-bomb-filter-array": "decompression bomb: a stream (object 5) inflates past 256 MiB",
    "flate-bomb-image": "decompression bomb: an image of 65,536 x 65,536 pixels",
    "flate-bomb-double-filter": "decompression bomb: a stream (object 5) inflates past 256 MiB",
    "facturx-attachment-bomb": "decompression bomb: a stream (object 7) inflates past 256 MiB",
    "image-1e6x1e6": "decompression bomb: an image of 1,000,000 x 1,000,000 pixels",
    "javascript-openaction": "active content: JavaScript (the document's open action)",
    "javascript-additional-actions": "active content: JavaScript (the document's open action)",
    "launch-action": "active content: Launch (the document's open action)",
    "outline-cycle": "unreadable: the outline loops back on itself",
    "names-tree-cycle": "unreadable: the name tree /Dests loops back on itself",
    "encrypted-rc4-user": "encrypted",
    "encrypted-aes256-user": "encrypted",
    "not-pdf-png": "not a PDF",
    "not-pdf-zip": "not a PDF",
    "not-pdf-html": "not a PDF",
    "empty-file": "not a PDF",
    "single-byte": "not a PDF",
    "pdf-header-random-bytes": "unreadable: unable to find trailer dictionary",
    "pdf-header-only": "unreadable: unable to find trailer dictionary",
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    for case in CASES:
        write_case(case, folder)
    return folder


@pytest.fixture(scope="module")
def exported(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, KindDocuments]:
    out = tmp_path_factory.mktemp("hostile-export")
    refs = [ref(c.name, corpus / f"{c.name}.pdf") for c in CASES]
    with DocumentEngine(DocumentLimits()) as engine:
        # Factur-X looked for, as for sales invoices: the attachment bomb is read too
        result = export_documents(
            refs, resolve, out, "sales_invoices", facturx="optional", engine=engine
        )
    return out, result


def test_the_corpus_has_enough_hostile_cases() -> None:
    assert sum(c.expect == PROBLEM for c in CASES) >= 20
    assert set(REASONS) == {c.name for c in CASES if c.expect == PROBLEM}


def test_every_hostile_case_is_a_problem_with_its_reason(
    exported: tuple[Path, KindDocuments],
) -> None:
    _out, result = exported
    found: dict[str, list[str]] = {}
    for problem in result.problems:
        found.setdefault(problem.number, []).append(problem.reason)
    assert set(found) == set(REASONS)
    for name, reason in REASONS.items():
        expected = reason.format(file=f"{name}.pdf")
        assert len(found[name]) == 1 and found[name][0].startswith(expected), (name, found[name])


def test_sound_cases_are_bundled(exported: tuple[Path, KindDocuments]) -> None:
    _out, result = exported
    bundled = {d.number for d in result.documents}
    assert bundled == {c.name for c in CASES if c.expect == OK}
    assert result.bundle_pages == sum(d.pages for d in result.documents)


def test_problem_bytes_are_kept_as_they_came(
    corpus: Path, exported: tuple[Path, KindDocuments]
) -> None:
    out, _result = exported
    kept = out / "documents" / "sales_invoices" / "_problems"
    for name in REASONS:
        assert (kept / f"{name}.pdf").read_bytes() == (corpus / f"{name}.pdf").read_bytes()
    assert not [f for f in files_under(out) if ".tmp" in f or "partial" in f]


def test_the_real_world_pdfs_all_export_and_bundle(tmp_path: Path) -> None:
    sources = sorted(SCANS.glob("*.pdf"))
    assert len(sources) == 9
    result = export_documents([ref(p.stem, p) for p in sources], resolve, tmp_path, "purchases")
    assert [(p.number, p.reason) for p in result.problems] == [
        (Path(ENCRYPTED_SCAN).stem, "encrypted")
    ]
    assert len(result.documents) == 8 and result.bundle_pages == 19


def test_an_export_with_hostile_purchases_finishes_and_verifies(
    corpus: Path, tmp_path: Path
) -> None:
    """Hostile files in place of a demo account's purchases: the export writes its archive,
    exits 6 naming the first problem, lists every hostile file, and the archive verifies."""
    offboard = [sys.executable, "-m", "offboard"]
    db = tmp_path / "demo.db"
    subprocess.run(
        [*offboard, "demo", str(db), "--accounts", "1", "--scale", "small", "--seed", "3"],
        check=True,
        capture_output=True,
    )
    with sqlite3.connect(db) as con:
        rows = con.execute(
            "SELECT number, pdf_path FROM purchases WHERE pdf_path IS NOT NULL ORDER BY number"
        ).fetchall()
    hostile = [c for c in CASES if c.expect == PROBLEM]
    assert len(rows) > len(hostile)
    docs = tmp_path / "demo-documents"
    replaced = {}
    for (number, rel), case in zip(rows, hostile, strict=False):
        shutil.copy(corpus / f"{case.name}.pdf", docs / rel)
        replaced[number] = case.name
    key = tmp_path / "k"
    subprocess.run([*offboard, "keygen", str(key), "--no-passphrase"], check=True)
    archive = tmp_path / "acc.zip"
    run = subprocess.run(
        [
            *offboard,
            "export",
            str(db),
            "-a",
            "acc-0001",
            "--out",
            str(archive),
            "--json",
            "--sign-key",
            f"{key}.key",
            "--created-at",
            "2026-03-01T00:00:00Z",
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 6, run.stderr
    assert "Traceback" not in run.stderr and len(run.stderr.strip().splitlines()) == 1
    summary = json.loads(run.stdout)
    purchases = {p["number"]: p["reason"] for p in summary["problems"] if p["kind"] == "purchases"}
    for number, name in replaced.items():
        expected = REASONS[name].format(file=f"{number}.pdf")
        assert purchases[number].startswith(expected), (number, name, purchases[number])
    verify = subprocess.run(
        [*offboard, "verify", str(archive), "--pubkey", f"{key}.pub"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
