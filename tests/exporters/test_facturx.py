"""The sales-invoice exporter extracts each Factur-X XML beside its PDF, checks it against the
XSD and against the invoice's CSV row, and reports every bad or hostile attachment as a
document problem, never crashing."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from pikepdf import Array, Dictionary, Name, String

from offboard.demo.facturx import FxInvoice, FxParty
from offboard.demo.pdf import DocSpec, render
from offboard.pipeline import ExportOptions, export_account
from offboard.sources import open_source
from tests.tinydb import ACCOUNT

INVOICE = Path("tiny-documents/invoices/FA-2025-00001.pdf")
PARTY = FxParty("Tiny SARL", "732829320", "FR44732829320", "1 rue A", None, "75001", "Paris", "FR")


def facturx_pdf(number: str = "FA-2025-00001", ttc: int = 24238, **changes: Any) -> bytes:
    """A Factur-X PDF of the tiny database's invoice in-1 (205.00 + 37.38 = 242.38)."""
    inv = FxInvoice(
        number=number,
        type_code="380",
        issue_date="2025-01-01",
        due_date="2025-01-31",
        terms="30 jours",
        currency="EUR",
        seller=PARTY,
        buyer=PARTY._replace(name="Client SA"),
        lines=(("Conseil", 1000, "jour", 20500, 2000, 20500),),
        vat=((2000, 20500, 3738),),
        totals=(20500, 3738, ttc),
        preceding=None,
        notes=(),
        iban=None,
        bic=None,
        created="2025-01-01T10:00:00Z",
    )._replace(**changes)
    spec = DocSpec(
        "x.pdf",
        "FACTURE",
        number,
        (),
        ("Tiny SARL",),
        "Client",
        ("Client SA",),
        (),
        (),
        (20500, 3738, ttc),
        (),
        facturx=inv,
    )
    return render(spec)


def plain_pdf(attachment: bytes | None = None, *, raw_flate: bytes | None = None) -> bytes:
    """A one-page PDF, with ``attachment`` as factur-x.xml (stored), or ``raw_flate`` as its
    deflated bytes."""
    pdf = pikepdf.new()
    pdf.add_blank_page()
    if attachment is not None or raw_flate is not None:
        stream = pikepdf.Stream(pdf, attachment or b"")
        if raw_flate is not None:
            stream.write(raw_flate, filter=Name.FlateDecode)
        stream.Type = Name.EmbeddedFile
        spec = pdf.make_indirect(
            Dictionary(
                Type=Name.Filespec,
                F=String("factur-x.xml"),
                UF=String("factur-x.xml"),
                EF=Dictionary(F=stream),
                AFRelationship=Name.Data,
            )
        )
        pdf.Root.Names = Dictionary(
            EmbeddedFiles=Dictionary(Names=Array([String("factur-x.xml"), spec]))
        )
    import io

    out = io.BytesIO()
    pdf.save(out, deterministic_id=True)
    return out.getvalue()


def export(db: Path, out: Path, **options: Any) -> Any:
    src = open_source(str(db))
    try:
        return export_account(
            src, ACCOUNT, out, ExportOptions(allow_missing_documents=True, jobs=1, **options)
        )
    finally:
        src.close()


def facturx_problems(summary: Any) -> list[str]:
    return [p.reason for p in summary.problems if p.reason.startswith("factur-x:")]


def test_a_valid_invoice_is_extracted_and_matches(tiny_db: Path, tmp_path: Path) -> None:
    (tmp_path / INVOICE).write_bytes(facturx_pdf())
    summary = export(tiny_db, tmp_path / "out")
    assert facturx_problems(summary) == []
    folder = tmp_path / "out" / "documents" / "sales_invoices"
    xml = (folder / "FA-2025-00001.xml").read_bytes()
    assert xml.startswith(b"<?xml") and b"FA-2025-00001" in xml
    (doc,) = [d for k in summary.kinds if k.documents for d in k.documents.documents]
    assert doc.facturx["xml"] == "documents/sales_invoices/FA-2025-00001.xml"
    assert doc.facturx["profile"] == "en16931"
    assert doc.facturx["checked"] == "FA-2025-00001|2025-01-01|380|EUR|205.00|37.38|242.38"
    assert "issues" not in doc.facturx


@pytest.mark.parametrize(
    ("pdf", "reason"),
    [
        (
            lambda: facturx_pdf(ttc=24239),
            "factur-x: total mismatch: total_ttc XML 242.39, CSV 242.38",
        ),
        (lambda: facturx_pdf(number="FA-2025-00099"), "factur-x: number mismatch"),
        (lambda: facturx_pdf(issue_date="2025-01-02"), "factur-x: date mismatch"),
        (lambda: facturx_pdf(type_code="381"), "factur-x: type mismatch"),
        (lambda: facturx_pdf(currency="USD"), "factur-x: currency mismatch"),
    ],
    ids=["total", "number", "date", "type", "currency"],
)
def test_an_xml_that_differs_from_its_row_is_reported(
    tiny_db: Path, tmp_path: Path, pdf: Any, reason: str
) -> None:
    (tmp_path / INVOICE).write_bytes(pdf())
    summary = export(tiny_db, tmp_path / "out")
    found = facturx_problems(summary)
    assert any(r.startswith(reason) for r in found), found
    assert (tmp_path / "out/documents/sales_invoices/FA-2025-00001.xml").is_file()


XXE = (
    b'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n'
    b'<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:'
    b'CrossIndustryInvoice:100">&e;</rsm:CrossIndustryInvoice>'
)
LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">'
        % (i, b"".join(b"&lol%s;" % (b"" if i == 1 else b"%d" % (i - 1)) for _ in range(10)))
        for i in range(1, 10)
    )
    + b"]>\n<lolz>&lol9;</lolz>"
)


@pytest.mark.parametrize(
    ("pdf", "reason"),
    [
        (lambda: plain_pdf(), "factur-x: no XML attachment"),
        (lambda: plain_pdf(b"<rsm:CrossIndustryInvoice"), "factur-x: invalid XML:"),
        (lambda: plain_pdf(b"<a/>"), "factur-x: not a Factur-X CII invoice"),
        (lambda: plain_pdf(XXE), "factur-x: refused XML: DTD or entity declarations"),
        (lambda: plain_pdf(LAUGHS), "factur-x: refused XML: DTD or entity declarations"),
        (
            lambda: plain_pdf(raw_flate=zlib.compress(b"<a>" + b" " * (64 << 20) + b"</a>", 9)),
            "factur-x: attachment inflates past",
        ),
        (
            lambda: plain_pdf(raw_flate=b"not deflate at all"),
            "factur-x: the attachment does not inflate",
        ),
        (
            lambda: plain_pdf(facturx_xml().replace(b"<ram:TypeCode>380</ram:TypeCode>", b"")),
            "factur-x: invalid XML: not valid against the en16931 XSD",
        ),
        (lambda: plain_pdf(b"<a>" + b"<b/>" * 200_000 + b"</a>"), "factur-x: XML with more than"),
    ],
    ids=[
        "none",
        "malformed",
        "not-cii",
        "xxe",
        "billion-laughs",
        "bomb",
        "corrupt",
        "xsd",
        "elements",
    ],
)
def test_bad_or_hostile_attachments_are_reported_never_crash(
    tiny_db: Path, tmp_path: Path, pdf: Any, reason: str
) -> None:
    (tmp_path / INVOICE).write_bytes(pdf())
    summary = export(tiny_db, tmp_path / "out")
    found = facturx_problems(summary)
    assert len(found) == 1 and found[0].startswith(reason), found
    # the document itself is exported: the problem is about its XML
    assert (tmp_path / "out/documents/sales_invoices/FA-2025-00001.pdf").is_file()
    xml = tmp_path / "out/documents/sales_invoices/FA-2025-00001.xml"
    if "refused" in reason or "inflate" in reason or "no XML" in reason:
        assert not xml.exists()


def facturx_xml() -> bytes:
    with pikepdf.open(__import__("io").BytesIO(facturx_pdf())) as pdf:
        return bytes(pdf.Root.Names.EmbeddedFiles.Names[1].EF.F.read_bytes())


def test_plain_pdfs_are_fine_when_factur_x_is_optional(tiny_db: Path, tmp_path: Path) -> None:
    (tmp_path / INVOICE).write_bytes(plain_pdf())
    summary = export(tiny_db, tmp_path / "out", facturx="optional")
    assert facturx_problems(summary) == []
    summary = export(tiny_db, tmp_path / "off", facturx="off")
    assert facturx_problems(summary) == []
    (tmp_path / INVOICE).write_bytes(facturx_pdf(ttc=1))
    summary = export(tiny_db, tmp_path / "optional", facturx="optional")
    assert [r[:31] for r in facturx_problems(summary)] == ["factur-x: total mismatch: total"]


def test_the_archive_records_the_xml_files(tiny_db: Path, tmp_path: Path) -> None:
    from manifests.build import ArchiveOptions
    from tests.manifests.conftest import CREATED

    (tmp_path / INVOICE).write_bytes(facturx_pdf(ttc=24239))
    src = open_source(str(tiny_db))
    try:
        export_account(
            src,
            ACCOUNT,
            tmp_path / "a.zip",
            ExportOptions(allow_missing_documents=True, jobs=2),
            archive=ArchiveOptions(created_at=CREATED, sign_key=None),
        )
    finally:
        src.close()
    import zipfile

    with zipfile.ZipFile(tmp_path / "a.zip") as zf:
        names = zf.namelist()
        meta = json.loads(zf.read("a/offboard.json"))
        xml = zf.read("a/data/documents/sales_invoices/FA-2025-00001.xml")
    assert "a/data/documents/sales_invoices/FA-2025-00001.pdf" in names
    (doc,) = [d for d in meta["documents"] if d["kind"] == "sales_invoices"]
    entry = doc["facturx"]
    assert entry["xml"] == "data/documents/sales_invoices/FA-2025-00001.xml"
    assert entry["issues"] == "total-mismatch"
    assert entry["sha256"] == __import__("hashlib").sha256(xml).hexdigest()
    assert any(p["reason"].startswith("factur-x: total mismatch") for p in meta["problems"])
