"""The document lane's checks on single members: pages from PDFium, qpdf when it disagrees."""

from __future__ import annotations

import io
from pathlib import Path

import pikepdf

from manifests.verify.docs import DocItem, check_item, prepare, problem_from_wire
from manifests.verify.pdfpages import pdfium_pages, qpdf_pages
from manifests.zipfmt import ZipReader
from tests.manifests.zipfmt.support import write


def two_pages(count_claimed: int | None = None) -> bytes:
    """A two-page PDF, its page tree root claiming ``count_claimed`` pages if given."""
    pdf = pikepdf.new()
    for _ in range(2):
        pdf.add_blank_page()
    out = io.BytesIO()
    pdf.save(out, object_stream_mode=pikepdf.ObjectStreamMode.disable, compress_streams=False)
    data = out.getvalue()
    if count_claimed is not None:
        assert data.count(b"/Count 2") == 1
        data = data.replace(b"/Count 2", f"/Count {count_claimed}".encode())
    return data


def item_of(tmp_path: Path, data: bytes, pages: int | None, sha: str | None = None) -> DocItem:
    import hashlib

    path = write(tmp_path / "a.zip", [("b/data/documents/x.pdf", data, False)])
    with ZipReader(path) as zr:
        (entry,) = zr.entries
    return DocItem("data/documents/x.pdf", entry, sha or hashlib.sha256(data).hexdigest(), pages)


def run(tmp_path: Path, item: DocItem) -> list[str]:
    with ZipReader(tmp_path / "a.zip") as zr:
        return [f"{p.code}: {p.detail}" for p in check_item(zr, item)]


def test_a_sound_pdf_passes(tmp_path: Path) -> None:
    assert run(tmp_path, item_of(tmp_path, two_pages(), 2)) == []


def test_a_page_count_other_than_recorded_is_reported(tmp_path: Path) -> None:
    found = run(tmp_path, item_of(tmp_path, two_pages(), 3))
    assert found == ["document-mismatch: page count differs from offboard.json"]


def test_pdfium_trusting_a_false_count_is_overruled_by_qpdf(tmp_path: Path) -> None:
    data = two_pages(count_claimed=5)
    assert pdfium_pages(data) == 5  # PDFium reads /Count of the page tree's root
    assert qpdf_pages(data) == 2  # qpdf walks the tree, as the export did
    assert run(tmp_path, item_of(tmp_path, data, 2)) == []
    # agreeing with PDFium is enough: the file opens in one full PDF engine with that count
    assert run(tmp_path, item_of(tmp_path, data, 5)) == []
    assert run(tmp_path, item_of(tmp_path, data, 3)) == [
        "document-mismatch: page count differs from offboard.json"
    ]


def test_garbage_does_not_open(tmp_path: Path) -> None:
    found = run(tmp_path, item_of(tmp_path, b"%PDF-1.7\nnot really\n%%EOF\n", 1))
    assert len(found) == 1 and found[0].startswith("document-mismatch: does not open as a PDF")


def test_a_changed_file_is_reported_with_both_checksums(tmp_path: Path) -> None:
    import hashlib

    data = two_pages()
    item = item_of(tmp_path, data, 2, sha="0" * 64)
    with ZipReader(tmp_path / "a.zip") as zr:
        (problem,) = check_item(zr, item)
        assert prepare(zr, item.entry, open_pdf=False).digest == hashlib.sha256(data).hexdigest()
    assert problem.code == "checksum-mismatch"
    assert problem.expected == "0" * 64 and problem.found == hashlib.sha256(data).hexdigest()


def test_problems_from_a_worker_are_checked() -> None:
    ok = problem_from_wire({"code": "checksum-mismatch", "path": "p", "detail": "d"})
    assert ok.code == "checksum-mismatch" and ok.path == "p"
    for bad in (
        [],
        {"code": "no-such-code", "path": "p", "detail": "d"},
        {"code": "checksum-mismatch", "path": 3, "detail": "d"},
    ):
        try:
            problem_from_wire(bad)
        except ValueError:
            continue
        raise AssertionError(f"accepted {bad!r}")
    long = problem_from_wire({"code": "corrupt-data", "path": "p", "detail": "x" * 10**6})
    assert len(long.detail) <= 2000
