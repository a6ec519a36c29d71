"""The demo's sales invoices are Factur-X: PDF/A-3 files carrying a valid EN 16931 XML that
matches their rows, the same bytes from run to run."""

from __future__ import annotations

import hashlib
import io
import sqlite3
from pathlib import Path

import pikepdf

from offboard.demo import generate_demo
from offboard.demo.pdfa import srgb_profile
from offboard.facturx.checks import compare_row, inspect

ROWS = """
    SELECT id, number, kind, issue_date, total_ht, total_vat, total_ttc, currency, pdf_path
    FROM invoices WHERE pdf_path IS NOT NULL ORDER BY id
"""


def invoices(db: Path) -> list[tuple[str, ...]]:
    con = sqlite3.connect(db)
    try:
        return con.execute(ROWS).fetchall()
    finally:
        con.close()


def documents(db: Path) -> Path:
    return db.with_name(f"{db.stem}-documents")


def test_every_invoice_xml_is_valid_and_matches_its_row(demo_db: Path) -> None:
    rows = invoices(demo_db)
    assert len(rows) >= 600
    kinds = set()
    for _rid, number, kind, day, ht, tva, ttc, currency, path in rows:
        with pikepdf.open(documents(demo_db) / path) as pdf:
            found = inspect(pdf, required=True)
        assert found.issues == [], (number, found.issues)
        assert found.profile == "en16931"
        assert found.values is not None
        row = {
            "number": number,
            "kind": kind,
            "issue_date": day,
            "total_ht": ht,
            "total_vat": tva,
            "total_ttc": ttc,
            "currency": currency,
        }
        assert compare_row(found.values, row) == [], number
        assert found.values["type_code"] == ("381" if kind == "credit_note" else "380")
        kinds.add(kind)
    assert kinds == {"invoice", "credit_note"}


def test_the_factur_x_library_reads_and_validates_them(demo_db: Path) -> None:
    import facturx

    for *_, path in invoices(demo_db)[:40]:
        data = (documents(demo_db) / path).read_bytes()
        name, xml = facturx.get_facturx_xml_from_pdf(data, check_xsd=True)
        assert name == "factur-x.xml"
        assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")
        assert facturx.get_level(__import__("lxml.etree").etree.fromstring(xml)) == "en16931"


def test_the_xsd_table_is_the_librarys() -> None:
    from facturx.facturx import FACTURX_LEVEL2xsd

    from offboard.facturx.xml import PROFILE_XSD, xsd_folder

    for profile, path in PROFILE_XSD.items():
        assert FACTURX_LEVEL2xsd[profile] == path
        assert (xsd_folder() / path).is_file()


def test_seller_buyer_lines_and_vat_are_in_the_xml(demo_db: Path) -> None:
    from lxml import etree

    con = sqlite3.connect(demo_db)
    rid, _number, path = con.execute(
        "SELECT id, number, pdf_path FROM invoices WHERE kind = 'invoice' AND pdf_path IS NOT NULL"
        " ORDER BY id LIMIT 1"
    ).fetchone()
    seller = con.execute(
        "SELECT a.name, a.siren, a.vat_number, a.address_line1, a.postal_code, a.city"
        " FROM accounts a JOIN invoices i ON i.account_id = a.id WHERE i.id = ?",
        (rid,),
    ).fetchone()
    buyer = con.execute(
        "SELECT c.siren, c.vat_number, c.address_line1, c.postal_code, c.city"
        " FROM companies c JOIN invoices i ON i.customer_id = c.id WHERE i.id = ?",
        (rid,),
    ).fetchone()
    vat = con.execute(
        "SELECT vat_rate, base_ht, vat_amount FROM invoice_vat WHERE invoice_id = ?"
        " ORDER BY CAST(vat_rate AS REAL)",
        (rid,),
    ).fetchall()
    lines = con.execute(
        "SELECT COUNT(*) FROM invoice_lines WHERE invoice_id = ?", (rid,)
    ).fetchone()[0]
    con.close()
    with pikepdf.open(documents(demo_db) / path) as pdf:
        xml = inspect(pdf, required=True).xml
    assert xml is not None
    root = etree.fromstring(xml)
    ns = {
        "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
        "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    }

    def texts(xpath: str) -> list[str]:
        return [str(t) for t in root.xpath(xpath, namespaces=ns)]

    agreement = "//ram:ApplicableHeaderTradeAgreement"
    assert texts(f"{agreement}/ram:SellerTradeParty/ram:Name/text()") == [seller[0]]
    assert seller[1] in texts(
        f"{agreement}/ram:SellerTradeParty/ram:SpecifiedLegalOrganization/ram:ID/text()"
    )
    assert seller[2] in texts(f"{agreement}/ram:SellerTradeParty//ram:ID/text()")
    address = f"{agreement}/ram:SellerTradeParty/ram:PostalTradeAddress"
    assert texts(f"{address}/ram:LineOne/text()") == [seller[3]]
    assert texts(f"{address}/ram:PostcodeCode/text()") == [seller[4]]
    assert texts(f"{address}/ram:CityName/text()") == [seller[5]]
    buyer_ids = texts(f"{agreement}/ram:BuyerTradeParty//ram:ID/text()")
    for value in buyer[:2]:
        if value:
            assert value in buyer_ids
    assert texts(f"{agreement}/ram:BuyerTradeParty//ram:CityName/text()") == [buyer[4]]
    breakdown = [
        (r, b, a)
        for r, b, a in zip(
            texts(
                "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax"
                "/ram:RateApplicablePercent/text()"
            ),
            texts(
                "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax"
                "/ram:BasisAmount/text()"
            ),
            texts(
                "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax"
                "/ram:CalculatedAmount/text()"
            ),
            strict=True,
        )
    ]
    assert breakdown == [tuple(v) for v in vat]
    assert len(root.xpath("//ram:IncludedSupplyChainTradeLineItem", namespaces=ns)) == lines
    assert texts("//ram:InvoiceCurrencyCode/text()") == ["EUR"]


def test_the_pdf_is_pdf_a_3_as_far_as_checkable(demo_db: Path) -> None:
    """What can be checked without veraPDF (see docs/facturx.md for what is not)."""
    *_, path = invoices(demo_db)[0]
    data = (documents(demo_db) / path).read_bytes()
    assert data.startswith(b"%PDF-1.7\n%") and all(b > 127 for b in data[10:14])
    assert data.endswith(b"%%EOF\n")
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert pdf.trailer.ID[0] == pdf.trailer.ID[1]
        root = pdf.Root
        xmp = root.Metadata.read_bytes().decode("utf-8")
        assert "<pdfaid:part>3</pdfaid:part>" in xmp
        assert "<pdfaid:conformance>B</pdfaid:conformance>" in xmp
        assert "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#" in xmp
        assert "<fx:ConformanceLevel>EN 16931</fx:ConformanceLevel>" in xmp
        assert "<fx:DocumentFileName>factur-x.xml</fx:DocumentFileName>" in xmp
        assert "pdfaExtension:schemas" in xmp
        with pdf.open_metadata() as meta:  # XMP and the info dictionary agree
            info = pdf.docinfo
            assert meta["dc:title"] == str(info.Title)
            assert meta["pdf:Producer"] == str(info.Producer)
            assert meta["xmp:CreatorTool"] == str(info.Creator)
        assert "/Keywords" not in info and "/Trapped" not in info
        (intent,) = root.OutputIntents
        assert intent.S == "/GTS_PDFA1"
        profile = intent.DestOutputProfile.read_bytes()
        assert profile == srgb_profile()
        assert profile[12:20] == b"mntrRGB " and profile[36:40] == b"acsp"
        assert profile[8] == 2 and intent.DestOutputProfile.N == 3
        (spec,) = root.AF
        assert spec.AFRelationship == "/Data"
        assert str(spec.F) == str(spec.UF) == "factur-x.xml"
        assert spec.EF.F.Subtype == "/text/xml"
        names = root.Names.EmbeddedFiles.Names
        assert str(names[0]) == "factur-x.xml" and names[1].objgen == spec.objgen
        xml = spec.EF.F.read_bytes()
        params = spec.EF.F.Params
        assert int(params.Size) == len(xml)
        assert bytes(params.CheckSum) == hashlib.md5(xml).digest()
        fonts = root.Pages.Kids[0].Resources.Font
        assert len(fonts.keys()) == 2
        for key in fonts:
            f = fonts[key]
            assert f.Subtype == "/TrueType" and f.Encoding == "/WinAnsiEncoding"
            assert "/FontFile2" in f.FontDescriptor
            assert str(f.BaseFont)[7:8] == "+" and str(f.BaseFont) == str(f.FontDescriptor.FontName)


def test_the_embedded_fonts_are_whole_truetype_programs(demo_db: Path) -> None:
    import fontTools.ttLib as fonttools  # the test extra installs fonttools

    *_, path = invoices(demo_db)[0]
    with pikepdf.open(documents(demo_db) / path) as pdf:
        fonts = pdf.Root.Pages.Kids[0].Resources.Font
        for key in fonts:
            program = fonts[key].FontDescriptor.FontFile2.read_bytes()
            font = fonttools.TTFont(io.BytesIO(program))
            assert "fpgm" not in font and "glyf" in font
            widths = list(fonts[key].Widths)
            scale = 1000 / font["head"].unitsPerEm
            cmap = font.getBestCmap()
            for code in range(65, 91):
                glyph = cmap[code]
                assert abs(widths[code - 32] - font["hmtx"][glyph][0] * scale) <= 1


def test_pikepdf_pdfa_validator_finds_only_the_factur_x_extension_schema(demo_db: Path) -> None:
    """pikepdf's allowlist PDF/A validator (``pikepdf[pdfa]``, not a dependency: skipped
    without it) does not implement XMP extension schemas, which Factur-X requires: those are
    the only findings it may report."""
    import fontTools  # noqa: F401 - pikepdf's PDF/A validator needs them (the test extra)
    import jsonschema  # noqa: F401
    from pikepdf import pdfa

    for *_, path in invoices(demo_db)[:3]:
        with pikepdf.open(documents(demo_db) / path) as pdf:
            report = pdfa.check(pdf, "3b")
        rules = {str(f).split()[1] for f in report.findings}
        assert rules <= {"ISO_19005_3:6.6.2.3.1-1"}, [str(f) for f in report.findings]


def test_two_generations_are_byte_identical(tmp_path: Path) -> None:
    a, b = tmp_path / "a" / "d.db", tmp_path / "b" / "d.db"
    generate_demo(a, accounts=1, scale="small", seed=11, jobs=1)
    generate_demo(b, accounts=1, scale="small", seed=11, jobs=2)
    first = sorted(documents(a).rglob("*.pdf"))
    assert len(first) > 300
    for pdf in first:
        twin = documents(b) / pdf.relative_to(documents(a))
        assert twin.read_bytes() == pdf.read_bytes(), pdf.name
