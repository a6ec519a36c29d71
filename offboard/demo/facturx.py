"""The Factur-X XML and XMP metadata of a demo invoice, made with the ``factur-x`` library.

Profile **EN 16931**: the full core invoice of the European norm, which every French
e-invoicing platform must accept (the September 2026 reform takes BASIC, EN 16931 and EXTENDED;
MINIMUM and BASIC WL are not invoices). BASIC is a subset of it that drops no field the demo
has; the library's XML generator (``facturx.generate_cii_xml``) makes EN 16931, BASIC WL and
EXTENDED but not BASIC, and EN 16931 is what a buyer's software checks best (its schematron
holds every business rule of the norm).

What goes in, from the demo's records (the invoice and its rows in ``invoices``,
``invoice_lines``, ``invoice_vat``, the tenant's ``accounts`` row and the customer's
``companies`` row): number (BT-1), type (380 invoice, 381 credit note: BT-3), issue date (BT-2),
due date and payment terms (BT-9, BT-20), currency (BT-5), the seller and the buyer with their
names, SIREN (legal identifier, scheme 0002), VAT number and postal address (BG-4, BG-7), one
line per invoice line (quantity with its UN/ECE Recommendation 20 unit, net price, VAT rate,
net amount: BG-25), the VAT breakdown per rate (BG-23), the totals (BT-106, BT-109, BT-110,
BT-112, BT-115), the credited invoice of a credit note (BT-25), the late-payment terms the PDF
prints (BT-22, subject PMD) and the tenant's IBAN and BIC for a transfer (BT-81 = 30, BT-84,
BT-86). Amounts are positive on a credit note (its type says it is one): the demo's database
stores them negative. The delivery date (BT-72) is the issue date: the demo has no deliveries.
"""

from __future__ import annotations

import datetime
from functools import cache
from typing import NamedTuple

from .common import money, qty_text, rate_text

#: the attachment's name (Factur-X 1.0)
XML_NAME = "factur-x.xml"
PROFILE = "en16931"
#: the PDF's /Creator and /Producer (and their XMP twins)
CREATOR = "offboard demo"
PRODUCER = "offboard demo (PDF/A-3, Factur-X XML and XMP by the factur-x library)"
#: UN/ECE Recommendation 20 codes of the demo's units
UNIT_CODES = {
    "pièce": "C62",
    "lot": "LO",
    "forfait": "LS",
    "heure": "HUR",
    "jour": "DAY",
    "kg": "KGM",
    "m²": "MTK",
}


class FxParty(NamedTuple):
    name: str
    siren: str | None
    vat: str | None
    line1: str
    line2: str | None
    postcode: str
    city: str
    country: str


class FxInvoice(NamedTuple):
    """An invoice as its XML states it (amounts in cents, positive on a credit note)."""

    number: str
    type_code: str
    issue_date: str  # ISO
    due_date: str | None
    terms: str
    currency: str
    seller: FxParty
    buyer: FxParty
    #: (description, quantity thousandths, unit, net price, VAT rate bp, net amount)
    lines: tuple[tuple[str, int, str, int, int, int], ...]
    #: (VAT rate bp, base, VAT)
    vat: tuple[tuple[int, int, int], ...]
    totals: tuple[int, int, int]  # net, VAT, gross
    preceding: str | None
    notes: tuple[tuple[str, str], ...]
    iban: str | None
    bic: str | None
    #: the invoice's creation time (``YYYY-MM-DDTHH:MM:SSZ``): the PDF's and the XML's dates
    created: str


def _party(p: FxParty) -> dict[str, object]:
    out: dict[str, object] = {
        "name": p.name,
        "addr_l1": p.line1,
        "postcode": p.postcode,
        "city": p.city,
        "country_code": p.country,
    }
    if p.line2:
        out["addr_l2"] = p.line2
    if p.siren:
        out["legal_identifier"] = p.siren
        out["legal_identifier_schemeid"] = "0002"  # SIREN
    if p.vat:
        out["vat_identifier"] = p.vat
    return out


def data_dict(inv: FxInvoice) -> dict[str, object]:
    """The invoice as the ``factur-x`` library's ``generate_cii_xml`` takes it (EN 16931 keys)."""
    day = datetime.date.fromisoformat(inv.issue_date)
    net, vat, gross = inv.totals
    data: dict[str, object] = {
        "BT-1": inv.number,
        "BT-2": day,
        "BT-3": inv.type_code,
        "BT-5": inv.currency,
        "BT-20": inv.terms,
        "BT-72": day,
        "BG-1": [{"BT-21": code, "BT-22": text} for code, text in inv.notes],
        "BG-4": _party(inv.seller),
        "BG-7": _party(inv.buyer),
        "BG-25": [
            {
                "BT-126": str(i),
                "BT-153": desc,
                "BT-129": qty_text(q),
                "BT-130": UNIT_CODES.get(unit, "C62"),
                "BT-146": money(price),
                "BT-131": money(total),
                "BT-151": "S",
                "BT-152": rate_text(rate),
            }
            for i, (desc, q, unit, price, rate, total) in enumerate(inv.lines, 1)
        ],
        "BG-23": [
            {"BT-116": money(base), "BT-117": money(amount), "BT-118": "S", "BT-119": rate_text(r)}
            for r, base, amount in inv.vat
        ],
        "BT-106": money(net),
        "BT-109": money(net),
        "BT-110": money(vat),
        "BT-112": money(gross),
        "BT-115": money(gross),
    }
    if inv.due_date:
        data["BT-9"] = datetime.date.fromisoformat(inv.due_date)
    if inv.preceding:
        data["BG-3"] = [{"BT-25": inv.preceding}]
    if inv.iban:
        data["BT-81"] = "30"  # credit transfer
        data["BT-84"] = inv.iban
        if inv.bic:
            data["BT-86"] = inv.bic
    return data


def cii_xml(inv: FxInvoice) -> bytes:
    """The invoice's Factur-X XML (EN 16931), as the ``factur-x`` library writes it.

    Not checked against the XSD here (the tests check every demo invoice); the library's
    schematron check needs a Saxon server, which is not run.
    """
    import facturx

    return bytes(
        facturx.generate_cii_xml(
            data_dict(inv), level=PROFILE, check_xsd=False, check_schematron=False
        )
    )


def xmp(inv: FxInvoice, title: str, author: str, subject: str) -> bytes:
    """The PDF's XMP metadata: PDF/A-3 B identification and the Factur-X extension schema
    (the ``factur-x`` library's ``generate_xmp_object``), dated like the PDF's info."""
    from xml.sax.saxutils import escape

    packet = _xmp_template()
    for mark, value in (
        (_MARKS[0], title),
        (_MARKS[1], author),
        (_MARKS[2], subject),
        (_MARKS[3], xmp_date(inv.created)),
    ):
        packet = packet.replace(mark, escape(value))
    return packet.encode("utf-8")


#: placeholders of the XMP template, replaced by each document's values
_MARKS = ("@@title@@", "@@author@@", "@@subject@@", "@@date@@")


@cache
def _xmp_template() -> str:
    """The XMP packet the library makes, with :data:`_MARKS` for the values (made once per
    process: the library's lxml objectify tree costs 1.5 ms a document)."""
    import facturx
    from lxml import etree

    root = facturx.generate_xmp_object(
        {
            "pdfa3_flavor": "B",
            "title": _MARKS[0],
            "author": _MARKS[1],
            "subject": _MARKS[2],
            "producer": PRODUCER,
            "creator_tool": CREATOR,
            "timestamp": _MARKS[3],
            "version": "1.0",
            "documenttype": "INVOICE",
            "xml_filename": XML_NAME,
            "xmp_level": "EN 16931",
            "urn": "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#",
        }
    )
    rdf = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
    for description in root.iter(f"{{{rdf}}}Description"):  # the XMP spec requires rdf:about
        description.set(f"{{{rdf}}}about", "")
    body = etree.tostring(root, pretty_print=True).decode("utf-8").strip()
    head = '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    return "\n".join([head, body, '<?xpacket end="w"?>'])


def xmp_date(stamp: str) -> str:
    """``2025-03-31T10:00:00Z`` -> ``2025-03-31T10:00:00+00:00``."""
    return stamp.removesuffix("Z") + "+00:00"


def pdf_date(stamp: str) -> str:
    """``2025-03-31T10:00:00Z`` -> ``D:20250331100000+00'00'``."""
    digits = stamp.removesuffix("Z").replace("-", "").replace(":", "").replace("T", "")
    return f"D:{digits}+00'00'"
