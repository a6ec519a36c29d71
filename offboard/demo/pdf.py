"""One-page A4 PDFs of the demo documents (invoices, credit notes, quotes, purchases, billing).

The page is drawn with a reportlab canvas and its built-in Helvetica fonts. For speed the text
operators are written straight into the page stream (one ``BT ... ET`` per string, WinAnsi
bytes, widths from reportlab's font metrics) instead of through one ``drawString`` call each:
this renders a few hundred pages per second per core. Output is byte-identical from run to run
(``invariant=1``: fixed creation date and document id). Characters that WinAnsi cannot encode
(emoji, some accents of other languages) are replaced by ``?`` in the PDF only, and line breaks
by spaces.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from reportlab import rl_config
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas


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


def clean(text: str) -> str:
    """The text as the PDF can show it: WinAnsi characters only, one line."""
    text = text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ").replace("\t", " ")
    w = _WIDTHS["Helvetica"]
    if text.isascii() or all(c in w for c in text):
        return text
    return "".join(c if c in w else "?" for c in text)


def width(text: str, font: str, size: float) -> float:
    """Width in points of ``text`` (already :func:`clean`)."""
    return sum(map(_WIDTHS[font].__getitem__, text)) * size


def fit(text: str, font: str, size: float, max_width: float) -> str:
    """The text, cut with '...' to fit in ``max_width`` points."""
    text = clean(text)
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
    def __init__(self, fonts: dict[str, str]) -> None:
        self.ops: list[str] = []
        self.fonts = fonts

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
        font = "Helvetica-Bold" if bold else "Helvetica"
        s = clean(s)
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
        page.text(
            _LEFT, y, fit(line, "Helvetica", 8.5, 250), size=11 if i == 0 else 8.5, bold=i == 0
        )
        y -= 15 if i == 0 else 11
    # title, number and dates, top right
    page.text(_RIGHT, _TOP - 4, d.title, size=20, bold=True, align="r")
    page.text(_RIGHT, _TOP - 24, f"N° {d.number}", size=11, bold=True, align="r")
    y = _TOP - 40
    for label, value in d.meta:
        page.text(_RIGHT - 160, y, f"{label} :", size=8.5, grey=True, align="r")
        page.text(_RIGHT, y, fit(value, "Helvetica", 8.5, 155), size=8.5, align="r")
        y -= 11
    # buyer box
    top = min(y, _TOP - 95) - 10
    page.rule(320, top, _RIGHT, top, 0.3)
    page.text(324, top - 12, d.buyer_label, size=7.5, grey=True)
    y = top - 25
    for i, line in enumerate(d.buyer):
        page.text(324, y, fit(line, "Helvetica", 9, 228), size=10 if i == 0 else 8.5, bold=i == 0)
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
        page.text(44, y, fit(desc, "Helvetica", 8.5, 245), size=8.5)
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
        page.text(_LEFT, y, fit(note, "Helvetica", 7.5, _RIGHT - _LEFT), size=7.5)
        y -= 10
    page.rule(_LEFT, 48, _RIGHT, 48, 0.3)
    footer = " · ".join(
        d.seller[:1] + tuple(s for s in d.seller[1:] if s.startswith(("SIREN", "TVA")))
    )
    page.text(
        (_LEFT + _RIGHT) / 2, 36, fit(footer, "Helvetica", 7, 500), size=7, grey=True, align="c"
    )


def render(d: DocSpec) -> bytes:
    """The PDF bytes of one document."""
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
