"""Bundles: every page, one bookmark per document, parts at the cap, same bytes every time."""

from __future__ import annotations

from pathlib import Path

import pikepdf
from pypdf import PdfReader

from offboard.documents import KindDocuments, export_documents
from offboard.documents.bundle import BundleWriter, bookmark_title
from tests.offboard.documents.docs_support import (
    SCAN_PAGES,
    SCANS,
    MakePdf,
    files_under,
    ref,
    resolve,
)

KIND = "quotes"


def bookmarks(path: Path) -> list[tuple[str, int]]:
    """(title, 0-based target page) of each top-level outline item, read back with pypdf."""
    reader = PdfReader(path)
    found = []
    for item in reader.outline:
        assert not isinstance(item, list), "no nested bookmarks expected"
        page = reader.get_destination_page_number(item)
        found.append((str(item.title), page))
    return found


def page_texts(path: Path) -> list[str]:
    return [(page.extract_text() or "").strip() for page in PdfReader(path).pages]


def test_bundle_has_every_page_and_one_bookmark_per_document(make_pdf: MakePdf, out: Path) -> None:
    refs = [
        ref("DE-1", make_pdf("one", 2), date="2025-02-01", party="Acme"),
        ref("DE-2", make_pdf("two", 1), date="2025-02-02", party="Bobco & Fils"),
        ref("DE-3", make_pdf("three", 3), date="2025-02-03", party=""),
    ]
    result = export_documents(refs, resolve, out, KIND)
    assert result.bundles == ["documents/quotes-bundle-001.pdf"]
    bundle = out / result.bundles[0]
    assert result.bundle_pages == 6 == len(PdfReader(bundle).pages)
    assert bookmarks(bundle) == [
        ("DE-1 — 2025-02-01 — Acme", 0),
        ("DE-2 — 2025-02-02 — Bobco & Fils", 2),
        ("DE-3 — 2025-02-03", 3),
    ]
    texts = page_texts(bundle)
    assert texts[0] == "one page 1 of 2" and texts[2] == "two page 1 of 1"
    assert texts[5] == "three page 3 of 3"
    with pikepdf.open(bundle) as pdf:
        assert pdf.Root.PageMode == pikepdf.Name.UseOutlines
        assert pikepdf.Name.Info not in pdf.trailer or not pdf.docinfo.get("/CreationDate")


def test_bookmark_titles() -> None:
    assert bookmark_title("FA-1", "2025-01-02", "Acme") == "FA-1 — 2025-01-02 — Acme"
    assert bookmark_title("FA-1", "", "Acme") == "FA-1 — Acme"
    assert bookmark_title("FA\n1", "2025-01-02", "A\x00B") == "FA 1 — 2025-01-02 — A B"
    assert bookmark_title("", "", "") == "document"
    assert len(bookmark_title("x" * 1000, "", "")) <= 250


def test_unicode_titles_read_back(make_pdf: MakePdf, out: Path) -> None:
    refs = [ref("Facture n°É12", make_pdf("a"), party="Société Générale — 株式会社")]
    result = export_documents(refs, resolve, out, KIND)
    assert bookmarks(out / result.bundles[0]) == [
        ("Facture n°É12 — 2025-01-31 — Société Générale — 株式会社", 0)
    ]


def test_parts_split_at_the_cap(make_pdf: MakePdf, out: Path) -> None:
    sources = [make_pdf(f"d{i}", 1 + i % 2) for i in range(5)]
    size = max(s.stat().st_size for s in sources)
    refs = [ref(f"DE-{i}", s) for i, s in enumerate(sources)]
    result = export_documents(refs, resolve, out, KIND, bundle_cap_bytes=2 * size + size // 2)
    assert result.bundles == [f"documents/quotes-bundle-00{n}.pdf" for n in (1, 2, 3)]
    parts = [bookmarks(out / b) for b in result.bundles]
    assert [[t.split(" — ")[0] for t, _ in p] for p in parts] == [
        ["DE-0", "DE-1"],
        ["DE-2", "DE-3"],
        ["DE-4"],
    ]
    assert [[page for _, page in p] for p in parts] == [[0, 1], [0, 1], [0]]
    pages = [len(PdfReader(out / b).pages) for b in result.bundles]
    assert pages == [3, 3, 1] and result.bundle_pages == 7


def test_a_document_bigger_than_the_cap_gets_its_own_part(make_pdf: MakePdf, out: Path) -> None:
    refs = [ref(f"DE-{i}", make_pdf(f"d{i}", 2)) for i in range(3)]
    result = export_documents(refs, resolve, out, KIND, bundle_cap_bytes=1)
    assert len(result.bundles) == 3
    assert [len(PdfReader(out / b).pages) for b in result.bundles] == [2, 2, 2]


def test_parts_also_split_at_the_page_limit(make_pdf: MakePdf, tmp_path: Path) -> None:
    writer = BundleWriter(tmp_path, "k", 10**9, max_pages=3)
    for i in range(4):
        pdf = make_pdf(f"d{i}", 2)
        writer.add(pdf, tmp_path / f"final-{i}.pdf", pdf.stat().st_size, f"D{i}")
    writer.close()
    assert [p.name for p in writer.parts] == ["k-bundle-001.pdf", "k-bundle-002.pdf"]
    assert [len(PdfReader(p).pages) for p in writer.parts] == [4, 4]
    assert writer.pages == 8
    assert sorted(p.name for p in tmp_path.glob("final-*.pdf")) == [
        f"final-{i}.pdf" for i in range(4)
    ]


def test_no_documents_no_bundle(out: Path) -> None:
    result = export_documents([ref("DE-1", None)], resolve, out, KIND)
    assert result == KindDocuments(KIND, [], [], [], 0, [], 0, result.seconds)
    assert files_under(out) == []


def run_twice(tmp_path: Path, make: MakePdf, **kwargs: int) -> tuple[KindDocuments, ...]:
    sources = [make(f"d{i}", 1 + i % 3) for i in range(6)]
    sources += [SCANS / name for name in sorted(SCAN_PAGES)]
    refs = [ref(f"DE-{i}", s, party=f"Client {i}") for i, s in enumerate(sources)]
    results = []
    for run in ("first", "second"):
        root = tmp_path / run
        results.append(export_documents(refs, resolve, root, KIND, **kwargs))
    return tuple(results)


def test_bundles_are_byte_identical_across_runs(make_pdf: MakePdf, tmp_path: Path) -> None:
    first, second = run_twice(tmp_path, make_pdf, bundle_cap_bytes=60_000)
    assert len(first.bundles) > 1
    assert first.bundles == second.bundles
    for bundle in first.bundles:
        assert (tmp_path / "first" / bundle).read_bytes() == (
            tmp_path / "second" / bundle
        ).read_bytes()
    assert [d.sha256 for d in first.documents] == [d.sha256 for d in second.documents]


def test_bundle_bytes_do_not_depend_on_how_sources_are_opened(
    make_pdf: MakePdf, tmp_path: Path
) -> None:
    """Past the open-file budget sources are read from memory: the output must not change."""
    sources = [make_pdf(f"d{i}", 1 + i % 2) for i in range(4)] + [SCANS / "pdflatex-outline.pdf"]
    written = []
    for budget in (100, 0):
        folder = tmp_path / f"budget-{budget}"
        folder.mkdir()
        writer = BundleWriter(folder, "k", 10**9, max_open=budget)
        for i, s in enumerate(sources):
            writer.add(s, s, s.stat().st_size, f"D{i}")
        writer.close()
        written.append(writer.parts[0].read_bytes())
    assert written[0] == written[1]


def test_real_world_bundle_reads_back(out: Path) -> None:
    refs = [ref(Path(n).stem, SCANS / n) for n in sorted(SCAN_PAGES)]
    result = export_documents(refs, resolve, out, KIND)
    bundle = out / result.bundles[0]
    marks = bookmarks(bundle)
    starts = []
    page = 0
    for name in sorted(SCAN_PAGES):
        starts.append(page)
        page += SCAN_PAGES[name]
    assert [p for _, p in marks] == starts
    assert [t.split(" — ")[0] for t, _ in marks] == [Path(n).stem for n in sorted(SCAN_PAGES)]
    with pikepdf.open(bundle) as pdf:
        assert len(pdf.pages) == sum(SCAN_PAGES.values())
        for p in pdf.pages:
            assert "/MediaBox" in p.obj or "/MediaBox" in p.obj.Parent
            assert p.obj.Parent.objgen == pdf.Root.Pages.objgen


def test_inherited_page_attributes_survive_bundling(make_pdf: MakePdf, out: Path) -> None:
    """Page size, rotation and resources set on the source's page tree reach the bundle."""
    source = make_pdf("inherit", 2)
    with pikepdf.open(source, inherit_page_attributes=False, allow_overwriting_input=True) as pdf:
        box = pdf.pages[0].obj.MediaBox
        pdf.Root.Pages.MediaBox = box
        pdf.Root.Pages.Rotate = 90
        for page in pdf.pages:
            del page.obj.MediaBox
            if "/Rotate" in page.obj:
                del page.obj.Rotate
        pdf.save()
    result = export_documents([ref("DE-1", source)], resolve, out, KIND)
    with pikepdf.open(out / result.bundles[0]) as bundle:
        assert "/MediaBox" not in bundle.Root.Pages and "/Rotate" not in bundle.Root.Pages
        for page in bundle.pages:
            assert list(page.obj.MediaBox) == list(box)
            assert page.obj.Rotate == 90
