"""What a PDF/A-3 page of the demo needs that reportlab's open-source canvas does not give.

* **Fonts.** PDF/A forbids the standard fonts the other demo documents use without embedding
  them. The Factur-X invoices embed Bitstream Vera Sans and Sans Bold, the TrueType fonts
  reportlab ships (``reportlab/fonts/Vera*.ttf``, a license that allows embedding), as simple
  TrueType fonts in WinAnsi encoding, so the text operators stay those of the other documents.
  Each font is embedded whole (every glyph: nothing to subset per document) but without its
  hinting (``fpgm``, ``prep``, ``cvt`` and the glyphs' instructions, which only tune rendering
  at small sizes on screens) and without the tables a PDF reader does not use: 21 KB of font
  program per font instead of 65 KB, made once per process and embedded compressed.
* **Colour.** An output intent (``GTS_PDFA1``) with an sRGB ICC profile: a v2 display profile
  (sRGB primaries adapted to D50, the sRGB tone curve sampled at 1024 points) written here byte
  for byte, so that no profile file has to be shipped.
* **The file.** :class:`PdfWriter` writes the objects, the cross-reference table and the
  trailer (with an ``/ID`` derived from the content) of a one-page PDF 1.7 file: the same
  document always gives the same bytes.
"""

from __future__ import annotations

import hashlib
import math
import os
import struct
from array import array
from functools import cache
from typing import NamedTuple

from isal import isal_zlib

#: deflate level of the streams (ISA-L, as the archive: several times faster than zlib)
LEVEL = 2

#: tables kept in the embedded fonts; every other one (hinting, kerning, device metrics) goes
_KEEP = (b"OS/2", b"cmap", b"glyf", b"head", b"hhea", b"hmtx", b"loca", b"maxp", b"name", b"post")


class Subset(NamedTuple):
    """One document's copy of a font: its PostScript name (``ABCDEF+Name``) and program."""

    name: str
    #: the font program, deflated, and its length inflated
    program: bytes
    length1: int


class EmbeddedFont(NamedTuple):
    """A TrueType font ready to embed: its program and the figures its PDF objects carry."""

    base_font: str
    source: FontSource
    #: glyph id of each WinAnsi character the font has
    gids: dict[str, int]
    #: widths of the WinAnsi codes 32..255, in thousandths of the size (PDF glyph space)
    widths: tuple[int, ...]
    #: the WinAnsi characters the font has a glyph for
    chars: frozenset[str]
    bbox: tuple[int, int, int, int]
    ascent: int
    descent: int
    cap_height: int
    italic_angle: float
    flags: int
    stem_v: int


def _u16(data: bytes | bytearray, at: int) -> int:
    return int.from_bytes(data[at : at + 2], "big")


def _i16(data: bytes | bytearray, at: int) -> int:
    return int.from_bytes(data[at : at + 2], "big", signed=True)


def _checksum(data: bytes) -> int:
    padded = data + b"\0" * (-len(data) % 4)
    words = array("I", padded)
    if struct.pack("=I", 1) == struct.pack("<I", 1):
        words.byteswap()
    return sum(words) & 0xFFFFFFFF


def _tables(data: bytes) -> dict[bytes, bytes]:
    count = _u16(data, 4)
    out = {}
    for i in range(count):
        tag, _sum, offset, length = struct.unpack(">4sIII", data[12 + 16 * i : 28 + 16 * i])
        out[tag] = data[offset : offset + length]
    return out


def _strip_glyph(glyph: bytes) -> bytes:
    """A glyph's outline without its TrueType instructions."""
    if not glyph:
        return glyph
    contours = _i16(glyph, 0)
    if contours >= 0:
        at = 10 + 2 * contours
        skip = _u16(glyph, at)
        outline = glyph[at + 2 + skip :]
        points = _u16(glyph, at - 2) + 1 if contours else 0
        return glyph[:at] + b"\0\0" + outline[: _outline_size(outline, points)]
    at, flags, last = 10, 0, 10
    while True:  # composite: components, then (if flagged) instructions
        last = at
        flags = _u16(glyph, at)
        at += 4 + (4 if flags & 0x0001 else 2)
        at += 8 if flags & 0x0080 else 4 if flags & 0x0040 else 2 if flags & 0x0008 else 0
        if not flags & 0x0020:
            break
    if flags & 0x0100:
        glyph = glyph[:last] + struct.pack(">H", flags & ~0x0100) + glyph[last + 2 : at]
    return glyph[:at]


def _outline_size(data: bytes, points: int) -> int:
    """Bytes of a simple glyph's flags and coordinates for ``points`` points (the rest of a
    glyph's data is padding)."""
    at, sizes, n = 0, 0, 0
    while n < points:
        flag = data[at]
        at += 1
        repeat = 1
        if flag & 0x08:
            repeat += data[at]
            at += 1
        x = 1 if flag & 0x02 else 0 if flag & 0x10 else 2
        y = 1 if flag & 0x04 else 0 if flag & 0x20 else 2
        sizes += (x + y) * repeat
        n += repeat
    return at + sizes


def _components(glyph: bytes) -> list[int]:
    """The glyphs a composite glyph is made of (none for a simple glyph)."""
    if not glyph or _i16(glyph, 0) >= 0:
        return []
    out, at = [], 10
    while True:
        flags = _u16(glyph, at)
        out.append(_u16(glyph, at + 2))
        at += 4 + (4 if flags & 0x0001 else 2)
        at += 8 if flags & 0x0080 else 4 if flags & 0x0040 else 2 if flags & 0x0008 else 0
        if not flags & 0x0020:
            return out


class FontSource:
    """A TrueType font, hinting stripped, from which each document's subset is made."""

    def __init__(self, data: bytes) -> None:
        tables = _tables(data)
        head = bytearray(tables[b"head"])
        count = _u16(tables[b"maxp"], 4)
        loca = tables[b"loca"]
        if _i16(head, 50) == 1:
            offsets = list(struct.unpack(f">{count + 1}I", loca[: 4 * (count + 1)]))
        else:
            offsets = [2 * o for o in struct.unpack(f">{count + 1}H", loca[: 2 * (count + 1)])]
        glyf = tables[b"glyf"]
        self.glyphs: list[bytes] = []
        self.parts: list[list[int]] = []
        for i in range(count):
            glyph = glyf[offsets[i] : offsets[i + 1]]
            self.parts.append(_components(glyph))
            glyph = _strip_glyph(glyph)
            self.glyphs.append(glyph + b"\0" * (-len(glyph) % 4))
        head[50:52] = struct.pack(">h", 1)  # long loca offsets
        head[8:12] = b"\0\0\0\0"
        maxp = bytearray(tables[b"maxp"])
        if len(maxp) >= 28:  # no zones, storage, functions or stack: no instructions left
            maxp[14:28] = struct.pack(">7H", 1, 0, 0, 0, 0, 0, 0)
        self.tables = {t: b for t, b in tables.items() if t in _KEEP}
        self.tables[b"head"] = bytes(head)
        self.tables[b"maxp"] = bytes(maxp)

    def closure(self, gids: set[int]) -> set[int]:
        """``gids`` with the glyphs their composite glyphs are made of, and .notdef."""
        out, todo = {0}, list(gids)
        while todo:
            g = todo.pop()
            if g not in out and 0 <= g < len(self.glyphs):
                out.add(g)
                todo.extend(self.parts[g])
        return out

    def program(self, keep: set[int] | None = None) -> bytes:
        """The font file, with the outlines of the glyphs ``keep`` only (all if None); the
        other glyphs are empty, so that glyph ids, ``cmap`` and ``hmtx`` stay as they are."""
        tables = dict(self.tables)
        offsets, parts, at = [], [], 0
        for g, glyph in enumerate(self.glyphs):
            offsets.append(at)
            if keep is None or g in keep:
                parts.append(glyph)
                at += len(glyph)
        offsets.append(at)
        tables[b"glyf"] = b"".join(parts)
        tables[b"loca"] = struct.pack(f">{len(offsets)}I", *offsets)
        return _assemble(tables)


def _assemble(tables: dict[bytes, bytes]) -> bytes:
    kept = sorted(tables)
    n = len(kept)
    power = 1 << (n.bit_length() - 1)
    header = struct.pack(
        ">IHHHH", 0x00010000, n, power * 16, power.bit_length() - 1, n * 16 - power * 16
    )
    offset = 12 + 16 * n
    directory, body, head_at = [], [], 0
    for tag in kept:
        table = tables[tag]
        if tag == b"head":
            head_at = offset
        directory.append(struct.pack(">4sIII", tag, _checksum(table), offset, len(table)))
        padded = table + b"\0" * (-len(table) % 4)
        body.append(padded)
        offset += len(padded)
    font = header + b"".join(directory) + b"".join(body)
    adjust = (0xB1B0AFBA - _checksum(font)) & 0xFFFFFFFF
    return font[: head_at + 8] + struct.pack(">I", adjust) + font[head_at + 12 :]


def strip_font(data: bytes) -> bytes:
    """The TrueType font ``data`` without hinting and without the tables PDF readers ignore."""
    return FontSource(data).program()


def _winansi() -> list[str]:
    out = []
    for code in range(32, 256):
        try:
            out.append(bytes([code]).decode("cp1252"))
        except UnicodeDecodeError:
            out.append("")
    return out


@cache
def font(name: str) -> EmbeddedFont:
    """``Vera`` or ``VeraBd``, ready to embed (made once per process)."""
    import reportlab
    from reportlab.pdfbase.ttfonts import TTFontFile

    path = os.path.join(os.path.dirname(reportlab.__file__), "fonts", f"{name}.ttf")
    with open(path, "rb") as fh:
        data = fh.read()
    face = TTFontFile(path)
    widths = []
    chars = set()
    for ch in _winansi():
        if not ch or ord(ch) not in face.charToGlyph:
            widths.append(0)
            continue
        chars.add(ch)
        widths.append(round(face.charWidths[ord(ch)]))
    return EmbeddedFont(
        base_font=face.name.decode("ascii"),
        source=FontSource(data),
        gids={ch: face.charToGlyph[ord(ch)] for ch in chars},
        widths=tuple(widths),
        chars=frozenset(chars),
        bbox=(
            math.floor(face.bbox[0]),
            math.floor(face.bbox[1]),
            math.ceil(face.bbox[2]),
            math.ceil(face.bbox[3]),
        ),
        ascent=round(face.ascent),
        descent=round(face.descent),
        cap_height=round(face.capHeight),
        italic_angle=float(face.italicAngle),
        flags=int(face.flags) & ~0x4 | 0x20,  # non-symbolic (WinAnsi encoded)
        stem_v=int(face.stemV),
    )


def subset(f: EmbeddedFont, text: set[str]) -> Subset:
    """The subset of ``f`` that draws the characters ``text``, named by them (so the same
    characters give the same name and bytes)."""
    chars = sorted(c for c in text if c in f.gids)
    keep = f.source.closure({f.gids[c] for c in chars})
    program = f.source.program(keep)
    digest = hashlib.sha256("".join(chars).encode("utf-8")).digest()
    tag = "".join(chr(65 + b % 26) for b in digest[:6])
    return Subset(f"{tag}+{f.base_font}", isal_zlib.compress(program, LEVEL), len(program))


# -- the sRGB output profile -------------------------------------------------------------------
def _s15(v: float) -> bytes:
    return struct.pack(">i", round(v * 65536))


def _xyz(x: float, y: float, z: float) -> bytes:
    return b"XYZ \0\0\0\0" + _s15(x) + _s15(y) + _s15(z)


def _desc(text: str) -> bytes:
    ascii_ = text.encode("ascii") + b"\0"
    return (
        b"desc\0\0\0\0"
        + struct.pack(">I", len(ascii_))
        + ascii_
        + b"\0" * 8  # no Unicode description
        + b"\0\0\0"  # no ScriptCode description
        + b"\0" * 67
    )


@cache
def srgb_profile() -> bytes:
    """An ICC v2 display profile of sRGB IEC 61966-2.1 (about 2.7 KB, always the same bytes)."""
    points = 1024
    curve = []
    for i in range(points):
        c = i / (points - 1)
        linear = c / 12.92 if c <= 0.04045 else math.pow((c + 0.055) / 1.055, 2.4)
        curve.append(round(linear * 65535))
    trc = b"curv\0\0\0\0" + struct.pack(f">I{points}H", points, *curve)
    tags = [
        (b"desc", _desc("sRGB IEC61966-2.1 (offboard demo)")),
        (b"cprt", b"text\0\0\0\0" + b"No copyright, use freely\0"),
        (b"wtpt", _xyz(0.9642, 1.0, 0.8249)),
        # the sRGB primaries, chromatically adapted to the D50 PCS (Bradford)
        (b"rXYZ", _xyz(0.4360, 0.2225, 0.0139)),
        (b"gXYZ", _xyz(0.3851, 0.7169, 0.0971)),
        (b"bXYZ", _xyz(0.1431, 0.0606, 0.7141)),
        (b"rTRC", trc),
        (b"gTRC", trc),
        (b"bTRC", trc),
    ]
    table_size = 4 + 12 * len(tags)
    offset = 128 + table_size
    entries: list[bytes] = []
    data: list[bytes] = []
    placed: dict[bytes, tuple[int, int]] = {}
    for sig, body in tags:
        if body in placed:  # the three tone curves share one copy
            at, size = placed[body]
        else:
            at, size = offset, len(body)
            placed[body] = (at, size)
            padded = body + b"\0" * (-len(body) % 4)
            data.append(padded)
            offset += len(padded)
        entries.append(struct.pack(">4sII", sig, at, size))
    body = struct.pack(">I", len(tags)) + b"".join(entries) + b"".join(data)
    size = 128 + len(body)
    header = (
        struct.pack(">I", size)
        + b"\0\0\0\0"  # preferred CMM: none
        + bytes([2, 0x10, 0, 0])  # version 2.1
        + b"mntrRGB XYZ "
        + struct.pack(">6H", 2000, 1, 1, 0, 0, 0)
        + b"acsp"
        + b"\0" * 4  # platform
        + b"\0" * 4  # flags
        + b"\0" * 8  # manufacturer, model
        + b"\0" * 8  # attributes
        + b"\0" * 4  # rendering intent: perceptual
        + _s15(0.9642)
        + _s15(1.0)
        + _s15(0.8249)
        + b"\0" * 4  # creator
        + b"\0" * 44  # profile id (none) and reserved
    )
    assert len(header) == 128
    return header + body


# -- writing the file ---------------------------------------------------------------------------
class PdfWriter:
    """The objects of one PDF file, numbered from 1, written with a classic xref table."""

    def __init__(self) -> None:
        self.objects: list[bytes] = []

    def reserve(self) -> int:
        self.objects.append(b"")
        return len(self.objects)

    def put(self, number: int, body: bytes) -> int:
        self.objects[number - 1] = body
        return number

    def add(self, body: bytes) -> int:
        return self.put(self.reserve(), body)

    def stream(self, entries: bytes, data: bytes, *, deflate: bool = True) -> int:
        """Add a stream object (deflated unless ``deflate`` is false)."""
        if deflate:
            data = isal_zlib.compress(data, LEVEL)
            entries += b"/Filter/FlateDecode"
        return self.add(
            b"<<" + entries + b"/Length %d>>\nstream\n" % len(data) + data + b"\nendstream"
        )

    def write(self, root: int, info: int) -> bytes:
        out = [b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"]
        at = len(out[0])
        offsets = []
        for i, body in enumerate(self.objects, 1):
            offsets.append(at)
            chunk = b"%d 0 obj\n" % i + body + b"\nendobj\n"
            out.append(chunk)
            at += len(chunk)
        digest = hashlib.md5(b"".join(out), usedforsecurity=False).hexdigest().encode()
        xref = [b"xref\n0 %d\n0000000000 65535 f \n" % (len(self.objects) + 1)]
        xref += [b"%010d 00000 n \n" % o for o in offsets]
        trailer = (
            b"trailer\n<</Size %d/Root %d 0 R/Info %d 0 R/ID[<%s><%s>]>>\nstartxref\n%d\n%%%%EOF\n"
            % (
                len(self.objects) + 1,
                root,
                info,
                digest,
                digest,
                at,
            )
        )
        return b"".join(out) + b"".join(xref) + trailer


def pdf_string(text: str) -> bytes:
    """A PDF text string: PDFDocEncoding-safe ASCII as is, anything else as UTF-16BE hex."""
    if text.isascii() and all(" " <= c <= "~" for c in text):
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        return b"(" + escaped.encode("ascii") + b")"
    return b"<feff" + text.encode("utf-16-be").hex().encode() + b">"


def pdf_name(text: str) -> bytes:
    """A PDF name (``text/xml`` -> ``/text#2Fxml``)."""
    out = []
    for byte in text.encode("utf-8"):
        ch = chr(byte)
        if ch.isalnum() or ch in "-_.+":
            out.append(ch)
        else:
            out.append(f"#{byte:02X}")
    return b"/" + "".join(out).encode("ascii")
