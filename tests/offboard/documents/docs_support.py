"""Helpers for the documents stage tests: small PDFs made with reportlab, refs, a resolver."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from offboard.sources.base import DocumentRef, DocumentUnavailable

SCANS = Path(__file__).resolve().parents[3] / "offboard" / "demo" / "scans"
#: page counts of the real-world PDFs (see NOTICE.md there)
SCAN_PAGES = {
    "002-trivial-libre-office-writer.pdf": 1,
    "crazyones-pdfa.pdf": 1,
    "google-doc-document.pdf": 1,
    "imagemagick-images.pdf": 6,
    "minimal-document.pdf": 1,
    "pdflatex-4-pages.pdf": 4,
    "pdflatex-outline.pdf": 4,
    "with-attachment.pdf": 1,
}
ENCRYPTED_SCAN = "libreoffice-writer-password.pdf"
UNAVAILABLE = "unavailable:"

MakePdf = Callable[..., Path]


def write_pdf(path: Path, pages: int = 1, label: str = "") -> Path:
    """A small PDF with ``pages`` pages, each saying which page it is."""
    c = canvas.Canvas(str(path), pagesize=A4, invariant=True)
    for n in range(pages):
        c.drawString(72, 770, f"{label or path.stem} page {n + 1} of {pages}")
        c.showPage()
    c.save()
    return path


def ref(
    number: str,
    locator: Path | str | None,
    *,
    record_id: str | None = None,
    date: str = "2025-01-31",
    party: str = "Acme SARL",
    kind: str = "sales_invoices",
) -> DocumentRef:
    return DocumentRef(
        kind=kind,
        record_id=record_id or f"rec-{number}",
        number=number,
        date=date,
        party=party,
        locator=None if locator is None else str(locator),
    )


def resolve(r: DocumentRef) -> Path:
    """Locators are paths; ``unavailable:<reason>`` makes the source refuse with that reason."""
    assert r.locator is not None
    if r.locator.startswith(UNAVAILABLE):
        raise DocumentUnavailable(r.locator[len(UNAVAILABLE) :])
    return Path(r.locator)


def files_under(root: Path) -> list[str]:
    """Every file below ``root``, relative, with ``/``, sorted (hidden files included)."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
