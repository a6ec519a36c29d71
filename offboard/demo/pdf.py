"""One-page A4 PDFs of the demo documents (invoices, credit notes, quotes, purchases, billing).

The page is drawn with a reportlab canvas and its built-in Helvetica fonts. For speed the text
operators are written straight into the page stream (one ``BT ... ET`` per string, WinAnsi
bytes, widths from reportlab's font metrics) instead of through one ``drawString`` call each:
this renders a few hundred pages per second per core. Output is byte-identical from run to run
(``invariant=1``: fixed creation date and document id). Characters that WinAnsi cannot encode
(emoji, some accents of other languages) are replaced by ``?`` in the PDF only, and line breaks
by spaces.

Sales invoices and credit notes are Factur-X instead (:func:`render_facturx`, when the spec
carries a :class:`~offboard.demo.facturx.FxInvoice`): the same page, drawn with embedded fonts,
written as a PDF/A-3 file by :mod:`offboard.demo.pdfa` (reportlab's open-source canvas embeds no
font as a PDF/A reader expects and writes no output intent), with the invoice's CII XML made by
the ``factur-x`` library attached as ``factur-x.xml``.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from reportlab import rl_config
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas

if TYPE_CHECKING:
    from .facturx import FxInvoice


class DocSpec(NamedTuple):
    """Everything printed on one document (amounts in cents, quantities in thousandths)."""

    path: str  # relative to the documents folder
    title: str  # 'FACTURE', 'AVOIR', 'DEVIS', ...
    number: str
    meta: tuple[tuple[str, str], ...]  # (label, value) under the number
    seller: tuple[str, ...]
    buyer_label: str  # 'Client', 'Facturé à', ...
    buyer: tuple[str, ...]
    lines: tuple[tuple[str, int, str, int, int, int], ...]  # desc, qty, unit, price, rate, total
    vat: tuple[tuple[int, int, int], ...]  # rate bp, base, vat
    totals: tuple[int, int, int]  # HT, TVA, TTC
    notes: tuple[str, ...]
    stamp: str = ""
    #: a Factur-X invoice: the PDF is PDF/A-3 with this invoice's XML attached
    facturx: FxInvoice | None = None


def _tables() -> tuple[dict[int, str], dict[str, dict[str, float]]]:
    trans: dict[int, str] = {9: " ", 10: " ", 13: " ", 40: "\\(", 41: "\\)", 92: "\\\\"}
    for code in range(128, 256):
        try:
            ch = bytes([code]).decode("cp1252")
        except UnicodeDecodeError:
            continue
        trans[ord(ch)] = f"\\{code:03o}"
    widths: dict[str, dict[str, float]] = {}
    for font in ("Helvetica", "Helvetica-Bold"):
        w = pdfmetrics.getFont(font).widths
        table: dict[str, float] = {}
        for code in range(32, 256):
            try:
                ch = bytes([code]).decode("cp1252")
            except UnicodeDecodeError:
                continue
            table[ch] = w[code] / 1000.0
        widths[font] = table
    return trans, widths


_TRANS, _WIDTHS = _tables()
_FONT_KEYS = {"Helvetica": "R", "Helvetica-Bold": "B"}
#: the embedded fonts of the Factur-X invoices, and the fonts of the other documents they stand
#: for (their widths are added to ``_WIDTHS`` when first used)
EMBEDDED = {"Helvetica": "Vera", "Helvetica-Bold": "VeraBd"}


def _load_embedded() -> None:
    from .pdfa import font

    for name in EMBEDDED.values():
        if name not in _WIDTHS:
            f = font(name)
            _WIDTHS[name] = {
                bytes([code]).decode("cp1252"): f.widths[code - 32] / 1000.0
                for code in range(32, 256)
                if bytes([code]).decode("cp1252", "replace") in f.chars
            }


def clean(text: str, font: str = "Helvetica") -> str:
    """The text as the PDF can show it: WinAnsi characters only (those ``font`` has), one line."""
    text = text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ").replace("\t", " ")
    w = _WIDTHS[font]
    if (text.isascii() and text.isprintable()) or all(c in w for c in text):
        return text
    return "".join(c if c in w else "?" for c in text)


def width(text: str, font: str, size: float) -> float:
    """Width in points of ``text`` (already :func:`clean`)."""
    return sum(map(_WIDTHS[font].__getitem__, text)) * size


def fit(text: str, font: str, size: float, max_width: float) -> str:
    """The text, cut with '...' to fit in ``max_width`` points."""
    text = clean(text, font)
    if width(text, font, size) <= max_width:
        return text
    w = _WIDTHS[font]
    room = max_width / size - 3 * w["."]
    used = 0.0
    for i, ch in enumerate(text):
        used += w[ch]
        if used > room:
            return text[:i].rstrip() + "..."
    return text


def eur(cents: int) -> str:
    """'1 234,56 €'."""
    whole, frac = divmod(abs(cents), 100)
    return ("-" if cents < 0 else "") + f"{whole:,}".replace(",", " ") + f",{frac:02d} €"


def qty_fr(milli: int) -> str:
    whole, frac = divmod(abs(milli), 1000)
    s = str(whole) if not frac else f"{whole},{frac:03d}".rstrip("0")
    return ("-" if milli < 0 else "") + s


def rate_fr(bp: int) -> str:
    whole, frac = divmod(bp, 100)
    return f"{whole} %" if not frac else f"{whole},{frac:02d}".rstrip("0") + " %"


class _Page:
    def __init__(self, fonts: dict[str, str], embedded: bool = False) -> None:
        self.ops: list[str] = []
        self.fonts = fonts
        #: the page's fonts: Helvetica, or the embedded fonts standing for it
        self.regular = EMBEDDED["Helvetica"] if embedded else "Helvetica"
        self.bold = EMBEDDED["Helvetica-Bold"] if embedded else "Helvetica-Bold"
        #: the characters drawn in each font (what its embedded subset must hold)
        self.used: dict[str, set[str]] = {self.regular: set(), self.bold: set()}

    def fit(self, text: str, size: float, max_width: float) -> str:
        return fit(text, self.regular, size, max_width)

    def text(
        self,
        x: float,
        y: float,
        s: str,
        *,
        size: float = 8.5,
        bold: bool = False,
        align: str = "l",
        grey: bool = False,
    ) -> None:
        font = self.bold if bold else self.regular
        s = clean(s, font)
        self.used[font].update(s)
        if align != "l":
            w = width(s, font, size)
            x -= w if align == "r" else w / 2
        esc = s.translate(_TRANS)
        color = "0.45 g " if grey else ""
        reset = " 0 g" if grey else ""
        self.ops.append(
            f"{color}BT {self.fonts[font]} {size:g} Tf {x:.2f} {y:.2f} Td ({esc}) Tj ET{reset}"
        )

    def rule(self, x1: float, y1: float, x2: float, y2: float, w: float = 0.5) -> None:
        self.ops.append(f"{w:g} w {x1:.2f} {y1:.2f} m {x2:.2f} {y2:.2f} l S")

    def box(self, x: float, y: float, w: float, h: float, grey: float = 0.92) -> None:
        self.ops.append(f"{grey:g} g {x:.2f} {y:.2f} {w:.2f} {h:.2f} re f 0 g")


_TOP = 800.0
_LEFT = 40.0
_RIGHT = 555.0


def _draw(page: _Page, d: DocSpec) -> None:
    # seller, top left
    y = _TOP
    for i, line in enumerate(d.seller):
        page.text(_LEFT, y, page.fit(line, 8.5, 250), size=11 if i == 0 else 8.5, bold=i == 0)
        y -= 15 if i == 0 else 11
    # title, number and dates, top right
    page.text(_RIGHT, _TOP - 4, d.title, size=20, bold=True, align="r")
    page.text(_RIGHT, _TOP - 24, f"N° {d.number}", size=11, bold=True, align="r")
    y = _TOP - 40
    for label, value in d.meta:
        page.text(_RIGHT - 160, y, f"{label} :", size=8.5, grey=True, align="r")
        page.text(_RIGHT, y, page.fit(value, 8.5, 155), size=8.5, align="r")
        y -= 11
    # buyer box
    top = min(y, _TOP - 95) - 10
    page.rule(320, top, _RIGHT, top, 0.3)
    page.text(324, top - 12, d.buyer_label, size=7.5, grey=True)
    y = top - 25
    for i, line in enumerate(d.buyer):
        page.text(324, y, page.fit(line, 9, 228), size=10 if i == 0 else 8.5, bold=i == 0)
        y -= 13 if i == 0 else 11
    # lines
    y = min(y, 620.0) - 20
    page.box(_LEFT, y - 4, _RIGHT - _LEFT, 16)
    cols = (
        (44, "Désignation", "l"),
        (330, "Qté", "r"),
        (336, "Unité", "l"),
        (440, "PU HT", "r"),
        (482, "TVA", "r"),
        (551, "Total HT", "r"),
    )
    for x, head, align in cols:
        page.text(x, y, head, size=8, bold=True, align=align)
    y -= 17
    for desc, q, unit, price, rate, total in d.lines:
        page.text(44, y, page.fit(desc, 8.5, 245), size=8.5)
        page.text(330, y, qty_fr(q), align="r")
        page.text(336, y, unit)
        page.text(440, y, eur(price), align="r")
        page.text(482, y, rate_fr(rate), align="r")
        page.text(551, y, eur(total), align="r")
        y -= 14
    page.rule(_LEFT, y + 6, _RIGHT, y + 6, 0.3)
    # VAT breakdown (left) and totals (right)
    y -= 14
    yv = y
    page.text(44, yv, "Taux", size=8, bold=True)
    page.text(150, yv, "Base HT", size=8, bold=True, align="r")
    page.text(230, yv, "TVA", size=8, bold=True, align="r")
    for rate, base, vat in d.vat:
        yv -= 12
        page.text(44, yv, rate_fr(rate))
        page.text(150, yv, eur(base), align="r")
        page.text(230, yv, eur(vat), align="r")
    ht, tva, ttc = d.totals
    for label, amount, bold in (
        ("Total HT", ht, False),
        ("TVA", tva, False),
        ("Total TTC", ttc, True),
    ):
        page.text(440, y, label, size=9.5 if bold else 8.5, bold=bold, align="r")
        page.text(551, y, eur(amount), size=9.5 if bold else 8.5, bold=bold, align="r")
        y -= 14
    if d.stamp:
        page.text(_RIGHT, y - 8, d.stamp, size=9, bold=True, align="r", grey=True)
    # notes and footer
    y = min(y, yv) - 40
    y = min(y, 40.0 + 11 * len(d.notes) + 24)
    for note in d.notes:
        page.text(_LEFT, y, page.fit(note, 7.5, _RIGHT - _LEFT), size=7.5)
        y -= 10
    page.rule(_LEFT, 48, _RIGHT, 48, 0.3)
    footer = " · ".join(
        d.seller[:1] + tuple(s for s in d.seller[1:] if s.startswith(("SIREN", "TVA")))
    )
    page.text((_LEFT + _RIGHT) / 2, 36, page.fit(footer, 7, 500), size=7, grey=True, align="c")


def render(d: DocSpec) -> bytes:
    """The PDF bytes of one document."""
    if d.facturx is not None:
        return render_facturx(d, d.facturx)
    buf = io.BytesIO()
    saved = rl_config.useA85
    rl_config.useA85 = 0  # plain deflate streams: smaller and much faster than ASCII85
    try:
        c = Canvas(buf, pagesize=A4, invariant=1, pageCompression=1)
        c.setTitle(clean(f"{d.title.capitalize()} {d.number}"))
        c.setAuthor(clean(d.seller[0]) if d.seller else "")
        c.setSubject(clean(f"{d.title.capitalize()} {d.number}"))
        c.setCreator("offboard demo")
        fonts = {f: c._doc.getInternalFontName(f) for f in _FONT_KEYS}
        page = _Page(fonts)
        _draw(page, d)
        c.addLiteral("\n".join(page.ops))
        c.showPage()
        c.save()
    finally:
        rl_config.useA85 = saved
    return buf.getvalue()


def render_facturx(d: DocSpec, inv: FxInvoice) -> bytes:
    """The PDF/A-3 bytes of a Factur-X invoice: the page of :func:`render` with embedded fonts,
    an sRGB output intent, XMP metadata and the invoice's XML attached (``/AFRelationship
    /Data``). The same spec always gives the same bytes."""
    from . import facturx as fx
    from .pdfa import PdfWriter, font, pdf_name, pdf_string, subset

    _load_embedded()
    w = PdfWriter()
    catalog, pages, page_obj = w.reserve(), w.reserve(), w.reserve()
    names = {"Vera": "F1", "VeraBd": "F2"}
    page = _Page({f: f"/{n}" for f, n in names.items()}, embedded=True)
    _draw(page, d)
    fonts = []
    for name, key in names.items():
        f = font(name)
        sub = subset(f, page.used[name])
        program = w.add(
            b"<</Length1 %d/Filter/FlateDecode/Length %d>>\nstream\n"
            % (sub.length1, len(sub.program))
            + sub.program
            + b"\nendstream"
        )
        descriptor = w.add(
            b"<</Type/FontDescriptor/FontName%s/Flags %d/FontBBox[%d %d %d %d]/ItalicAngle %d"
            b"/Ascent %d/Descent %d/CapHeight %d/StemV %d/FontFile2 %d 0 R>>"
            % (
                pdf_name(sub.name),
                f.flags,
                *f.bbox,
                round(f.italic_angle),
                f.ascent,
                f.descent,
                f.cap_height,
                f.stem_v,
                program,
            )
        )
        widths = b" ".join(b"%d" % v for v in f.widths)
        fonts.append(
            b"/%s %d 0 R"
            % (
                key.encode(),
                w.add(
                    b"<</Type/Font/Subtype/TrueType/BaseFont%s/FirstChar 32/LastChar 255/Widths[%s]"
                    b"/Encoding/WinAnsiEncoding/FontDescriptor %d 0 R>>"
                    % (pdf_name(sub.name), widths, descriptor)
                ),
            )
        )
    content = w.stream(b"", "\n".join(page.ops).encode("latin-1"))
    w.put(
        page_obj,
        b"<</Type/Page/Parent %d 0 R/MediaBox[0 0 %s %s]/Resources<</Font<<%s>>>>/Contents %d 0 R>>"
        % (pages, _num(A4[0]), _num(A4[1]), b"".join(fonts), content),
    )
    w.put(pages, b"<</Type/Pages/Kids[%d 0 R]/Count 1>>" % page_obj)
    icc = _deflated_profile()
    profile = w.add(
        b"<</N 3/Filter/FlateDecode/Length %d>>\nstream\n" % len(icc) + icc + b"\nendstream"
    )
    intent = (
        b"<</Type/OutputIntent/S/GTS_PDFA1/OutputConditionIdentifier(sRGB IEC61966-2.1)"
        b"/Info(sRGB IEC61966-2.1)/DestOutputProfile %d 0 R>>" % profile
    )
    xml = fx.cii_xml(inv)
    when = fx.pdf_date(inv.created)
    embedded = w.stream(
        b"/Type/EmbeddedFile/Subtype%s/Params<</Size %d/ModDate%s/CheckSum<%s>>>"
        % (
            pdf_name("text/xml"),
            len(xml),
            pdf_string(when),
            hashlib.md5(xml, usedforsecurity=False).hexdigest().encode(),
        ),
        xml,
    )
    xml_name = pdf_string(fx.XML_NAME)
    filespec = w.add(
        b"<</Type/Filespec/F%s/UF%s/Desc(Factur-X XML file)/AFRelationship/Data"
        b"/EF<</F %d 0 R/UF %d 0 R>>>>" % (xml_name, xml_name, embedded, embedded)
    )
    title = clean(f"{d.title.capitalize()} {d.number}", page.regular)
    author = d.seller[0] if d.seller else ""
    metadata = w.stream(b"/Type/Metadata/Subtype/XML", fx.xmp(inv, title, author, title))
    info = w.add(
        b"<</Title%s/Author%s/Subject%s/Creator%s/Producer%s/CreationDate%s/ModDate%s>>"
        % (
            pdf_string(title),
            pdf_string(author),
            pdf_string(title),
            pdf_string(fx.CREATOR),
            pdf_string(fx.PRODUCER),
            pdf_string(when),
            pdf_string(when),
        )
    )
    w.put(
        catalog,
        b"<</Type/Catalog/Pages %d 0 R/Metadata %d 0 R/OutputIntents[%s]/AF[%d 0 R]"
        b"/Names<</EmbeddedFiles<</Names[%s %d 0 R]>>>>/Lang(fr-FR)"
        b"/ViewerPreferences<</DisplayDocTitle true>>>>"
        % (pages, metadata, intent, filespec, xml_name, filespec),
    )
    return w.write(catalog, info)


@cache
def _deflated_profile() -> bytes:
    from isal import isal_zlib

    from .pdfa import LEVEL, srgb_profile

    return bytes(isal_zlib.compress(srgb_profile(), LEVEL))


def _num(v: float) -> bytes:
    return (b"%.4f" % v).rstrip(b"0").rstrip(b".")


def render_batch(root: str, specs: Sequence[DocSpec]) -> int:
    """Render ``specs`` under the folder ``root``; return how many were written."""
    base = Path(root)
    made: set[Path] = set()
    for d in specs:
        target = base / d.path
        if target.parent not in made:
            target.parent.mkdir(parents=True, exist_ok=True)
            made.add(target.parent)
        target.write_bytes(render(d))
    return len(specs)
