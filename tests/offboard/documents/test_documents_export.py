"""Copying documents into the export: bytes, hashes, pages, problems, nothing half-written."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import pikepdf
import pytest

from offboard.documents import DocumentProblem, KindDocuments, export_documents
from offboard.documents import copying as copying_module
from offboard.documents.export import TRUNCATED
from offboard.errors import OutputError
from tests.offboard.documents.docs_support import (
    ENCRYPTED_SCAN,
    SCAN_PAGES,
    SCANS,
    UNAVAILABLE,
    MakePdf,
    files_under,
    ref,
    resolve,
)

KIND = "sales_invoices"


def export(refs: list[Any], root: Path, **kwargs: Any) -> KindDocuments:
    return export_documents(iter(refs), resolve, root, KIND, **kwargs)


def leftovers(root: Path) -> list[str]:
    """Temporary files left anywhere below ``root``."""
    return [f for f in files_under(root) if Path(f).name.startswith(".")]


def test_copies_bytes_hash_and_pages(make_pdf: MakePdf, out: Path) -> None:
    sources = [make_pdf("a", 1), make_pdf("b", 3), make_pdf("c", 2)]
    refs = [
        ref("FA-2025-00042", sources[0], record_id="r1", date="2025-01-02", party="Acme"),
        ref("FA-2025-00043", sources[1], record_id="r2", date="2025-01-03", party="Bobco"),
        ref("FA-2025-00044", sources[2], record_id="r3", date="2025-01-04", party="Cy"),
    ]
    calls: list[int] = []
    result = export(refs, out, progress=calls.append)
    assert result.kind == KIND and not result.problems
    assert calls == [1, 1, 1]
    assert [d.pages for d in result.documents] == [1, 3, 2]
    first = result.documents[0]
    assert first.path == "documents/sales_invoices/FA-2025-00042.pdf"
    assert (first.kind, first.record_id, first.number, first.date, first.party) == (
        KIND,
        "r1",
        "FA-2025-00042",
        "2025-01-02",
        "Acme",
    )
    for doc, source in zip(result.documents, sources, strict=True):
        data = source.read_bytes()
        assert (out / doc.path).read_bytes() == data
        assert doc.bytes == len(data)
        assert doc.sha256 == hashlib.sha256(data).hexdigest()
    assert result.bytes == sum(s.stat().st_size for s in sources)
    assert result.bundles == ["documents/sales_invoices-bundle-001.pdf"]
    assert result.bundle_pages == 6
    assert result.seconds > 0
    assert not leftovers(out)


def test_real_world_pdfs_export_and_bundle_except_the_encrypted_one(out: Path) -> None:
    names = sorted([*SCAN_PAGES, ENCRYPTED_SCAN])
    refs = [ref(Path(n).stem, SCANS / n) for n in names]
    result = export(refs, out)
    assert result.problems == [
        DocumentProblem(
            KIND, f"rec-{Path(ENCRYPTED_SCAN).stem}", Path(ENCRYPTED_SCAN).stem, "encrypted"
        )
    ]
    assert {Path(d.path).name: d.pages for d in result.documents} == SCAN_PAGES
    assert result.bundle_pages == sum(SCAN_PAGES.values())
    with pikepdf.open(out / result.bundles[0]) as bundle:
        assert len(bundle.pages) == sum(SCAN_PAGES.values())
    # the encrypted document's bytes are kept aside, not under its final name
    kept = out / "documents" / KIND / "_problems" / ENCRYPTED_SCAN
    assert kept.read_bytes() == (SCANS / ENCRYPTED_SCAN).read_bytes()
    assert not (out / "documents" / KIND / ENCRYPTED_SCAN).exists()


def test_pdf_with_an_owner_password_only_is_readable(tmp_path: Path, out: Path) -> None:
    locked = tmp_path / "locked.pdf"
    with pikepdf.open(SCANS / "minimal-document.pdf") as pdf:
        pdf.save(locked, encryption=pikepdf.Encryption(owner="secret", user=""))
    result = export([ref("FA-1", locked)], out)
    assert not result.problems and result.documents[0].pages == 1


def test_problems_are_reported_and_the_export_goes_on(
    make_pdf: MakePdf, tmp_path: Path, out: Path
) -> None:
    good = make_pdf("good", 2)
    not_pdf = tmp_path / "notes.pdf"
    not_pdf.write_text("these are not the PDFs you are looking for\n" * 50)
    truncated = tmp_path / "cut.pdf"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size * 2 // 3])
    garbage = tmp_path / "garbage.pdf"
    garbage.write_bytes(b"%PDF-1.7\n" + b"\x00\xff nonsense " * 100 + b"\n%%EOF\n")
    refs = [
        ref("FA-1", good),
        ref("FA-2", tmp_path / "nowhere.pdf"),
        ref("FA-3", not_pdf),
        ref("FA-4", truncated),
        ref("FA-5", garbage),
        ref("FA-6", f"{UNAVAILABLE}unsafe locator"),
        ref("FA-7", None),  # no document for this record: not a problem
        ref("FA-8", good),
    ]
    calls: list[int] = []
    result = export(refs, out, progress=calls.append)
    assert [d.number for d in result.documents] == ["FA-1", "FA-8"]
    reasons = {p.number: p.reason for p in result.problems}
    assert reasons.keys() == {"FA-2", "FA-3", "FA-4", "FA-5", "FA-6"}
    assert reasons["FA-2"] == "missing"
    assert reasons["FA-3"] == "not a PDF"
    assert reasons["FA-4"] == TRUNCATED
    assert reasons["FA-5"].startswith("unreadable: ")
    assert "\n" not in reasons["FA-5"] and str(out) not in reasons["FA-5"]
    assert reasons["FA-6"] == "unsafe locator"
    assert len(calls) == 7
    assert result.problems[0].to_dict() == {
        "kind": KIND,
        "record_id": "rec-FA-2",
        "number": "FA-2",
        "reason": "missing",
    }
    # bytes of the documents that had bytes are kept aside; missing ones have nothing to keep
    problems = out / "documents" / KIND / "_problems"
    assert sorted(p.name for p in problems.iterdir()) == ["FA-3.pdf", "FA-4.pdf", "FA-5.pdf"]
    assert (problems / "FA-4.pdf").read_bytes() == truncated.read_bytes()
    assert result.bundle_pages == 4
    assert not leftovers(out)


def test_truncated_pdf_is_unreadable_even_when_qpdf_could_repair_it(
    make_pdf: MakePdf, tmp_path: Path, out: Path
) -> None:
    """qpdf "repairs" a PDF cut after its last page object and counts its pages; we refuse it."""
    source = (SCANS / "imagemagick-images.pdf").read_bytes()
    cut = tmp_path / "cut.pdf"
    cut.write_bytes(source[: len(source) * 9 // 10])
    with pikepdf.open(cut) as repaired:  # qpdf alone would accept it
        assert len(repaired.pages) > 0
    result = export([ref("FA-1", cut)], out)
    assert [p.reason for p in result.problems] == [TRUNCATED]
    assert not result.documents and not result.bundles


def test_damaged_but_complete_pdf_is_repaired_and_counted(make_pdf: MakePdf, out: Path) -> None:
    """A wrong cross-reference table (a common producer bug) is repaired by qpdf: exported."""
    source = make_pdf("a", 2)
    data = bytearray(source.read_bytes())
    xref = data.rindex(b"startxref")
    data[xref + 10 : xref + 14] = b"9999"  # startxref now points nowhere
    source.write_bytes(bytes(data))
    result = export([ref("FA-1", source)], out)
    assert not result.problems
    assert result.documents[0].pages == 2
    assert (out / result.documents[0].path).read_bytes() == bytes(data)  # copied unchanged


def test_a_directory_is_not_a_document(tmp_path: Path, out: Path) -> None:
    folder = tmp_path / "folder.pdf"
    folder.mkdir()
    result = export([ref("FA-1", folder)], out)
    assert [p.reason for p in result.problems] == ["unreadable: not a regular file"]
    assert files_under(out / "documents") == []


def test_read_failure_mid_copy_leaves_nothing(
    make_pdf: MakePdf, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = make_pdf("big", 40)
    assert source.stat().st_size > 2 * copying_module.HEADER_WINDOW
    real_read = copying_module._HashingReader.read

    def failing_read(self: Any, n: int = -1) -> bytes:
        if self.size >= copying_module.HEADER_WINDOW:
            raise copying_module._ReadFailed("Input/output error")
        data: bytes = real_read(self, n)
        return data

    monkeypatch.setattr(copying_module._HashingReader, "read", failing_read)
    result = export([ref("FA-1", source)], out)
    assert [p.reason for p in result.problems] == ["unreadable: Input/output error"]
    assert files_under(out / "documents") == []


def test_write_failure_mid_copy_raises_and_leaves_nothing(
    make_pdf: MakePdf, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = make_pdf("big", 40)

    def half_copy(src: Any, dst: Any, length: int = 0) -> None:
        dst.write(src.read(100))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(copying_module.shutil, "copyfileobj", half_copy)
    with pytest.raises(OutputError, match="No space left on device"):
        export([ref("FA-0", make_pdf("ok")), ref("FA-1", source)], out)
    assert files_under(out / "documents") == []


def test_interrupt_leaves_no_final_or_temporary_file(make_pdf: MakePdf, out: Path) -> None:
    source = make_pdf("a", 1)

    def progress(n: int) -> None:
        raise KeyboardInterrupt

    refs = [ref("FA-1", source), ref("FA-2", source)]
    with pytest.raises(KeyboardInterrupt):
        export(refs, out, progress=progress)
    # FA-1 was copied, but its bundle part was never written, so it never got its final name
    assert files_under(out / "documents") == []


def test_documents_of_written_parts_keep_their_names_after_a_failure(
    make_pdf: MakePdf, out: Path
) -> None:
    a, b = make_pdf("a", 1), make_pdf("b", 1)
    seen: list[int] = []

    def progress(n: int) -> None:
        seen.append(n)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        export([ref("FA-1", a), ref("FA-2", b)], out, progress=progress, bundle_cap_bytes=1)
    # FA-1's part was written when FA-2 arrived; FA-2 was still waiting for its part
    assert files_under(out / "documents") == [
        "sales_invoices-bundle-001.pdf",
        "sales_invoices/FA-1.pdf",
    ]


def test_existing_export_folder_is_reused(make_pdf: MakePdf, out: Path) -> None:
    source = make_pdf("a")
    export([ref("FA-1", source)], out)
    again = export([ref("FA-1", source)], out)
    assert [d.path for d in again.documents] == ["documents/sales_invoices/FA-1.pdf"]
    assert not leftovers(out)


def test_unwritable_output_is_an_output_error(make_pdf: MakePdf, tmp_path: Path) -> None:
    blocker = tmp_path / "export"
    blocker.write_text("a file where the export folder should be")
    with pytest.raises(OutputError):
        export([ref("FA-1", make_pdf("a"))], blocker)


def test_source_copy_is_independent_of_the_original(make_pdf: MakePdf, out: Path) -> None:
    source = make_pdf("a")
    result = export([ref("FA-1", source)], out)
    shutil.rmtree(source.parent)
    with pikepdf.open(out / result.documents[0].path) as pdf:
        assert len(pdf.pages) == 1
