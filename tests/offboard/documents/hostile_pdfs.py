"""A corpus of hostile PDFs (and non-PDFs named ``.pdf``), each made from code, byte for byte.

Every :class:`HostileCase` builds its file with :attr:`HostileCase.build`, deterministically (the
same bytes on every run and every machine: no clock, no randomness that is not seeded, no
binary fixture). Most files are written as raw PDF syntax with a tiny writer that keeps the
byte offsets right (:class:`_Writer`, :class:`_XrefStreamWriter`), so that each file is broken
exactly where it says and nowhere else; the encrypted ones are encrypted here too (RC4 and
AES-256, the standard security handler), because qpdf's own writer draws random salts and IVs.

``expect`` says what the documents stage must make of the file:

* ``"problem"``: reported as a document problem (its bytes kept under ``_problems/``), never
  bundled, and the export goes on;
* ``"ok"``: a PDF that is strange but fine: it must be exported and bundled.

The rule behind each ``expect``: a file is ``ok`` when every page and all its content can be had,
either as written or by the repair every reader makes (a cross-reference table off or cycling
while every object is intact, a wrong ``/Length`` before an intact ``endstream``: the README's
"damaged cross-reference table that qpdf repairs counts as readable"), and it holds nothing
that runs or explodes; an owner password alone restricts nothing a reader must honour, so such
a file is ``ok``. It is a ``problem`` when content is lost or cannot be resolved (cut, NUL
bytes over objects, a cycle where the format wants a tree, an object stream inside itself),
when it needs a password, holds active content (JavaScript, launch actions), or is past any sane
bound (millions of pages, a stream or image of gigabytes once inflated).

The deflate bombs are built without ever holding their inflated bytes: one segment of zeros is
compressed once and ended with a full flush, so that the compressed bytes repeat exactly, and
the Adler-32 of the whole is computed arithmetically (:func:`_zlib_repeat`).

Files larger than a few MB are the ones whose point is size (:data:`BIG`); all stay under 20 MB.
"""

from __future__ import annotations

import functools
import hashlib
import io
import random
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

PROBLEM = "problem"
OK = "ok"
EXPECTS = (PROBLEM, OK)

#: the passwords of the encrypted cases
USER_PASSWORD = "user-secret"
OWNER_PASSWORD = "owner-secret"
#: every deflate bomb inflates to more than this (the corpus test checks it)
BOMB_FLOOR = 1 << 30
#: the bound of offboard's Factur-X attachment reader (offboard.facturx.MAX_XML_BYTES): the
#: attachment bomb is stored smaller than this, so that it is inflated (with a limit), not
#: refused for its stored size
ATTACHMENT_LIMIT = 4 * 1024 * 1024


@dataclass(frozen=True)
class HostileCase:
    #: the file's name without ``.pdf``, e.g. ``cyclic-page-tree``
    name: str
    #: what the file is, in one line
    description: str
    #: makes the file's bytes (the same every time)
    build: Callable[[], bytes]
    #: ``"problem"`` (must be reported as a document problem) or ``"ok"`` (strange but fine:
    #: must export and bundle)
    expect: str


def write_case(case: HostileCase, folder: Path) -> Path:
    """Write ``folder/<name>.pdf`` with the case's bytes; return its path."""
    path = folder / f"{case.name}.pdf"
    path.write_bytes(case.build())
    return path


# --------------------------------------------------------------------------- raw PDF writing

HEADER = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
FONT = b"<</Type/Font/Subtype/Type1/BaseFont/Helvetica/Encoding/WinAnsiEncoding>>"
MEDIA_BOX = b"/MediaBox[0 0 612 792]"
RESOURCES = b"/Resources<</Font<</F1 3 0 R>>>>"


def _refs(nums: Iterable[int]) -> bytes:
    return b" ".join(b"%d 0 R" % n for n in nums)


def _stream(data: bytes, entries: bytes = b"", length: bytes | None = None) -> bytes:
    """A stream object's body; ``length`` replaces the true ``/Length`` value (a lie)."""
    told = b"%d" % len(data) if length is None else length
    return b"<<" + entries + b"/Length " + told + b">>\nstream\n" + data + b"\nendstream"


def _text(line: str) -> bytes:
    """A content stream writing one line of text (no parentheses or backslashes in it)."""
    assert not set(line) & set("()\\")
    return b"BT /F1 18 Tf 72 720 Td (" + line.encode("latin-1") + b") Tj ET"


class _Writer:
    """A PDF file with classic cross-reference tables, written object by object."""

    def __init__(self, header: bytes = HEADER) -> None:
        self.out = bytearray(header)
        #: object number -> byte offset of ``N 0 obj`` (of its last version)
        self.offsets: dict[int, int] = {}

    def raw(self, data: bytes) -> None:
        self.out += data

    def obj(self, num: int, body: bytes) -> None:
        self.offsets[num] = len(self.out)
        self.out += b"%d 0 obj\n" % num + body + b"\nendobj\n"

    def objects(self, objs: Mapping[int, bytes], gap: bytes = b"") -> None:
        for num, body in objs.items():
            self.obj(num, body)
            self.out += gap

    def xref(self, entries: Mapping[int, int], *, full: bool) -> int:
        """Write a cross-reference section listing ``entries`` (number -> offset); return its
        offset. ``full``: a first section, from object 0 to the highest number (numbers not
        listed are free); otherwise one subsection per run of consecutive numbers."""
        at = len(self.out)
        lines = [b"xref\n"]
        if full:
            top = max(entries) + 1
            lines.append(b"0 %d\n" % top)
            for num in range(top):
                if num in entries:
                    lines.append(b"%010d 00000 n \n" % entries[num])
                else:
                    lines.append(b"0000000000 65535 f \n")
        else:
            nums = sorted(entries)
            start = 0
            for i in range(1, len(nums) + 1):
                if i == len(nums) or nums[i] != nums[i - 1] + 1:
                    run = nums[start:i]
                    lines.append(b"%d %d\n" % (run[0], len(run)))
                    lines.extend(b"%010d 00000 n \n" % entries[n] for n in run)
                    start = i
        self.out += b"".join(lines)
        return at

    def trailer(self, entries: bytes, startxref: int) -> None:
        self.out += b"trailer\n<<" + entries + b">>\nstartxref\n%d\n" % startxref + b"%%EOF\n"

    def data(self) -> bytes:
        return bytes(self.out)


def _classic(
    objs: Mapping[int, bytes],
    *,
    trailer: bytes = b"/Root 1 0 R",
    header: bytes = HEADER,
    gap: bytes = b"",
) -> bytes:
    """A whole PDF of ``objs`` with one classic cross-reference table and right offsets."""
    w = _Writer(header)
    w.objects(objs, gap)
    at = w.xref(w.offsets, full=True)
    w.trailer(b"/Size %d" % (max(objs) + 1) + trailer, at)
    return w.data()


def _simple_objects(
    pages: int = 1,
    *,
    label: str = "offboard",
    catalog: bytes = b"",
    page: bytes = b"",
    crypt: Callable[[int, bytes], bytes] | None = None,
) -> dict[int, bytes]:
    """A plain document: 1 catalog, 2 page tree, 3 font, then page ``4 + 2i`` with its
    content stream ``5 + 2i``. ``catalog`` and ``page`` are added to those dictionaries;
    ``crypt(num, data)`` encrypts each stream's data."""
    kids = [4 + 2 * i for i in range(pages)]
    objs = {
        1: b"<</Type/Catalog/Pages 2 0 R" + catalog + b">>",
        2: b"<</Type/Pages/Kids[" + _refs(kids) + b"]/Count %d>>" % pages,
        3: FONT,
    }
    for i, num in enumerate(kids):
        objs[num] = (
            b"<</Type/Page/Parent 2 0 R"
            + MEDIA_BOX
            + RESOURCES
            + b"/Contents %d 0 R" % (num + 1)
            + page
            + b">>"
        )
        data = _text(f"{label} page {i + 1} of {pages}")
        objs[num + 1] = _stream(data if crypt is None else crypt(num + 1, data))
    return objs


def _simple(
    pages: int = 1, *, label: str = "offboard", catalog: bytes = b"", page: bytes = b""
) -> bytes:
    return _classic(_simple_objects(pages, label=label, catalog=catalog, page=page))


@dataclass
class _Packed:
    """Objects ``first`` .. ``first + count - 1`` stored in object stream ``stm`` from
    index ``index`` on."""

    first: int
    count: int
    stm: int
    index: int


@functools.lru_cache(maxsize=8)
def _high_bits(size: int) -> int:
    return int.from_bytes(b"\x80" * size, "big")


def _up_deflate(data: bytes, columns: int) -> bytes:
    """``data`` (rows of ``columns`` bytes) PNG-Up-filtered and deflated, for a stream with
    ``/DecodeParms <</Predictor 12 /Columns columns>>``. The bytewise subtraction is done on
    whole big integers (SWAR: no borrow crosses a byte), so it is fast in pure Python."""
    size = len(data)
    assert size % columns == 0
    rows = size // columns
    high = _high_bits(size)
    cur = int.from_bytes(data, "big")
    prev = int.from_bytes(bytes(columns) + data[:-columns], "big")
    diff = ((cur | high) - (prev & ~high)) ^ ((cur ^ ~prev) & high)
    flat = diff.to_bytes(size, "big")
    out = bytearray((columns + 1) * rows)
    out[0 :: columns + 1] = b"\x02" * rows  # PNG filter type 2, Up
    for k in range(columns):
        out[k + 1 :: columns + 1] = flat[k::columns]
    return zlib.compress(bytes(out), 6)


def _up_entries(columns: int) -> bytes:
    return b"/Filter/FlateDecode/DecodeParms<</Predictor 12/Columns %d>>" % columns


#: qpdf (12) refuses a cross-reference with more objects than a third of the file's bytes ("in
#: all realistic scenarios at least 3 bytes are required"): a file of millions of tiny objects
#: in object streams is padded to that size, or qpdf would refuse it before reading any page
MIN_BYTES_PER_OBJECT = 3


@functools.lru_cache(maxsize=16)
def _index_bytes(start: int, count: int) -> tuple[bytes, bytes]:
    """The high and low bytes of the indexes ``start`` .. ``start + count - 1``."""
    indexes = range(start, start + count)
    return bytes((i >> 8) & 0xFF for i in indexes), bytes(i & 0xFF for i in indexes)


#: width of the rows of the fixed-width object streams (:meth:`_XrefStreamWriter.objstm`)
ROW = 16


class _XrefStreamWriter:
    """A PDF 1.5 file with object streams and one cross-reference stream (``/W [1 4 2]``),
    both PNG-Up-predicted, so that millions of small similar objects take little room."""

    def __init__(self, header: bytes = HEADER) -> None:
        self.out = bytearray(header)
        self.offsets: dict[int, int] = {}
        self.packed: list[_Packed] = []

    def obj(self, num: int, body: bytes) -> None:
        self.offsets[num] = len(self.out)
        self.out += b"%d 0 obj\n" % num + body + b"\nendobj\n"

    def objstm(self, num: int, members: Sequence[tuple[int, bytes]]) -> None:
        """Write object stream ``num`` holding ``members`` (number, body) in that order; each
        body is padded with spaces to a multiple of :data:`ROW` bytes."""
        bodies = [body.ljust(-(-len(body) // ROW) * ROW) for _, body in members]
        heads: list[bytes] = []
        pos = 0
        for (n, _), body in zip(members, bodies, strict=True):
            heads.append(b"%7d %7d " % (n, pos))
            pos += len(body)
        self.objstm_data(num, len(members), b"".join(heads), b"".join(bodies))
        start = 0
        for i in range(1, len(members) + 1):
            if i == len(members) or members[i][0] != members[i - 1][0] + 1:
                self.packed.append(_Packed(members[start][0], i - start, num, start))
                start = i

    def objstm_data(self, num: int, count: int, head: bytes, bodies: bytes) -> None:
        """Write object stream ``num`` of ``count`` objects from its header (rows of
        :data:`ROW` bytes) and bodies; the caller records what it packs."""
        entries = b"/Type/ObjStm/N %d/First %d" % (count, len(head)) + _up_entries(ROW)
        self.obj(num, _stream(_up_deflate(head + bodies, ROW), entries))

    def finish(self, trailer: bytes = b"/Root 1 0 R") -> bytes:
        """Write the cross-reference stream (the next object number) and the file's end."""
        top = max([*self.offsets, *(p.first + p.count - 1 for p in self.packed)])
        xref_num = top + 1
        size = xref_num + 1
        short = MIN_BYTES_PER_OBJECT * size - len(self.out)
        if short > 0:  # comment lines, so that qpdf believes the object count
            line = b"%" + b" offboard: padding" * 3 + b"\n"
            self.out += line * (short // len(line) + 1)
        self.offsets[xref_num] = len(self.out)
        rows = bytearray(b"\x00\x00\x00\x00\x00\xff\xff" * size)
        for num, offset in self.offsets.items():
            rows[7 * num : 7 * num + 7] = b"\x01" + offset.to_bytes(4, "big") + b"\x00\x00"
        for p in self.packed:
            block = bytearray(7 * p.count)
            block[0::7] = b"\x02" * p.count
            for k, byte in enumerate(p.stm.to_bytes(4, "big"), start=1):
                block[k::7] = bytes([byte]) * p.count
            high, low = _index_bytes(p.index, p.count)
            block[5::7] = high
            block[6::7] = low
            rows[7 * p.first : 7 * (p.first + p.count)] = block
        entries = b"/Type/XRef/Size %d/W[1 4 2]" % size + _up_entries(7) + trailer
        at = self.offsets[xref_num]
        self.out += b"%d 0 obj\n" % xref_num + _stream(_up_deflate(bytes(rows), 7), entries)
        self.out += b"\nendobj\nstartxref\n%d\n" % at + b"%%EOF\n"
        return bytes(self.out)


# --------------------------------------------------------------------------- deflate bombs

_ADLER_BASE = 65521
#: bytes of input per compressed segment of a bomb
_SEGMENT = 16 << 20


def _adler_combine(adler1: int, adler2: int, len2: int) -> int:
    """The Adler-32 of ``a + b`` from those of ``a`` and ``b`` (zlib's adler32_combine)."""
    rem = len2 % _ADLER_BASE
    sum1 = adler1 & 0xFFFF
    sum2 = (rem * sum1) % _ADLER_BASE
    sum1 += (adler2 & 0xFFFF) + _ADLER_BASE - 1
    sum2 += ((adler1 >> 16) & 0xFFFF) + ((adler2 >> 16) & 0xFFFF) + _ADLER_BASE - rem
    sum1 %= _ADLER_BASE
    sum2 %= _ADLER_BASE
    return sum1 | (sum2 << 16)


def _adler_repeat(unit: bytes, count: int) -> int:
    """The Adler-32 of ``unit * count``, without building it."""
    result, result_len = 1, 0
    power, power_len = zlib.adler32(unit), len(unit)
    while count:
        if count & 1:
            result = _adler_combine(result, power, power_len)
            result_len += power_len
        power = _adler_combine(power, power, power_len)
        power_len *= 2
        count >>= 1
    return result


@functools.lru_cache(maxsize=64)
def _segment(unit: bytes, times: int) -> bytes:
    """``unit * times`` deflated from a fresh state and ended by a full flush: byte-aligned,
    independent of what precedes it, so that it can be repeated as is."""
    c = zlib.compressobj(9)
    return (c.compress(unit * times) + c.flush(zlib.Z_FULL_FLUSH))[2:]  # no zlib header


def _zlib_concat(pieces: Sequence[tuple[bytes, int]]) -> bytes:
    """A zlib stream (RFC 1950) of the concatenation of ``unit * count`` for each piece,
    checksum included, built from compressed segments that are repeated as they are: never
    holds the inflated bytes."""
    parts = [b"\x78\xda"]
    adler = 1
    for unit, count in pieces:
        if not unit or not count:
            continue
        per = max(1, _SEGMENT // len(unit))
        whole, rest = divmod(count, per)
        if whole:
            parts.append(_segment(unit, per) * whole)
        if rest:
            parts.append(_segment(unit, rest))
        adler = _adler_combine(adler, _adler_repeat(unit, count), len(unit) * count)
    parts.append(b"\x03\x00")  # the final block: empty, fixed Huffman codes
    parts.append(adler.to_bytes(4, "big"))
    return b"".join(parts)


def _zlib_repeat(unit: bytes, count: int, *, prefix: bytes = b"", suffix: bytes = b"") -> bytes:
    """A zlib stream of ``prefix + unit * count + suffix`` (see :func:`_zlib_concat`)."""
    return _zlib_concat([(prefix, 1), (unit, count), (suffix, 1)])


def _bomb(size: int, byte: bytes = b"\x00", prefix: bytes = b"") -> bytes:
    """A zlib stream inflating to ``prefix`` then ``size`` copies of ``byte``."""
    return _zlib_repeat(byte, size, prefix=prefix)


# --------------------------------------------------------------------------- encryption

_PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")
#: the file identifier of the encrypted cases (RC4 keys depend on it)
_FILE_ID = hashlib.md5(b"offboard hostile corpus").digest()
#: all permissions / none but the ones a reader cannot be denied (bits 7-8, 13-32 set)
P_ALL = -4
P_NONE = -3904


def _rc4(key: bytes, data: bytes) -> bytes:
    s = list(range(256))
    j = 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) & 0xFF
        s[i], s[j] = s[j], s[i]
    out = bytearray(len(data))
    i = j = 0
    for n, byte in enumerate(data):
        i = (i + 1) & 0xFF
        j = (j + s[i]) & 0xFF
        s[i], s[j] = s[j], s[i]
        out[n] = byte ^ s[(s[i] + s[j]) & 0xFF]
    return bytes(out)


def _rc4_rounds(key: bytes, data: bytes) -> bytes:
    """Revision 3's 20 passes of RC4, with the key XORed with the pass number."""
    for i in range(20):
        data = _rc4(bytes(k ^ i for k in key), data)
    return data


def _padded(password: str) -> bytes:
    return (password.encode("latin-1") + _PAD)[:32]


def _rc4_encryption(user: str, owner: str, p: int) -> tuple[bytes, Callable[[int, bytes], bytes]]:
    """The ``/Encrypt`` dictionary of 128-bit RC4 (V 2, R 3) and the stream encryptor."""
    h = hashlib.md5(_padded(owner)).digest()
    for _ in range(50):
        h = hashlib.md5(h).digest()
    o = _rc4_rounds(h[:16], _padded(user))
    k = hashlib.md5(_padded(user) + o + struct.pack("<i", p) + _FILE_ID).digest()
    for _ in range(50):
        k = hashlib.md5(k[:16]).digest()
    key = k[:16]
    u = _rc4_rounds(key, hashlib.md5(_PAD + _FILE_ID).digest()) + bytes(16)
    encrypt = b"<</Filter/Standard/V 2/R 3/Length 128/P %d/O<%s>/U<%s>>>" % (
        p,
        o.hex().encode(),
        u.hex().encode(),
    )

    def crypt(num: int, data: bytes) -> bytes:
        object_key = hashlib.md5(key + num.to_bytes(3, "little") + b"\x00\x00").digest()
        return _rc4(object_key, data)

    return encrypt, crypt


def _aes(key: bytes, data: bytes, iv: bytes | None) -> bytes:
    """AES (key size from ``key``) in CBC mode with ``iv``, or ECB without; no padding."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    mode = modes.ECB() if iv is None else modes.CBC(iv)
    encryptor = Cipher(algorithms.AES(key), mode).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def _hash_r6(password: bytes, salt: bytes, udata: bytes) -> bytes:
    """ISO 32000-2 algorithm 2.B, the password hash of revision 6."""
    k = hashlib.sha256(password + salt + udata).digest()
    rounds = 0
    while True:
        rounds += 1
        e = _aes(k[:16], (password + k + udata) * 64, k[16:32])
        pick = int.from_bytes(e[:16], "big") % 3
        k = (hashlib.sha256, hashlib.sha384, hashlib.sha512)[pick](e).digest()
        if rounds >= 64 and e[-1] <= rounds - 32:
            return k[:32]


def _seeded(label: str, size: int) -> bytes:
    """``size`` bytes that look random and are the same on every run."""
    return hashlib.shake_256(b"offboard hostile " + label.encode()).digest(size)


def _aes256_encryption(
    user: str, owner: str, p: int
) -> tuple[bytes, Callable[[int, bytes], bytes]]:
    """The ``/Encrypt`` dictionary of AES-256 (V 5, R 6) and the stream encryptor; the
    "random" file key, salts and IVs are seeded, so the file is the same every time."""
    file_key = _seeded("file key", 32)
    upw, opw = user.encode()[:127], owner.encode()[:127]
    uvs, uks, ovs, oks = (_seeded(f"salt {n}", 8) for n in range(4))
    u = _hash_r6(upw, uvs, b"") + uvs + uks
    ue = _aes(_hash_r6(upw, uks, b""), file_key, bytes(16))
    o = _hash_r6(opw, ovs, u) + ovs + oks
    oe = _aes(_hash_r6(opw, oks, u), file_key, bytes(16))
    perms = _aes(file_key, struct.pack("<i", p) + b"\xff\xff\xff\xffTadb" + b"\x00" * 4, None)
    encrypt = b"".join(
        [
            b"<</Filter/Standard/V 5/R 6/Length 256/P %d" % p,
            b"/CF<</StdCF<</AuthEvent/DocOpen/CFM/AESV3/Length 32>>>>/StmF/StdCF/StrF/StdCF",
            b"/O<%s>/U<%s>" % (o.hex().encode(), u.hex().encode()),
            b"/OE<%s>/UE<%s>/Perms<%s>>>"
            % (oe.hex().encode(), ue.hex().encode(), perms.hex().encode()),
        ]
    )

    def crypt(num: int, data: bytes) -> bytes:
        iv = _seeded(f"iv {num}", 16)
        pad = 16 - len(data) % 16
        return iv + _aes(file_key, data + bytes([pad]) * pad, iv)

    return encrypt, crypt


def _encrypted(kind: str, user: str, p: int) -> bytes:
    make = _rc4_encryption if kind == "rc4" else _aes256_encryption
    encrypt, crypt = make(user, OWNER_PASSWORD, p)
    objs = _simple_objects(2, label=f"encrypted {kind}", crypt=crypt)
    enc_num = max(objs) + 1
    objs[enc_num] = encrypt
    file_id = b"<%s>" % _FILE_ID.hex().encode()
    return _classic(
        objs, trailer=b"/Root 1 0 R/Encrypt %d 0 R/ID[%s %s]" % (enc_num, file_id, file_id)
    )


# --------------------------------------------------------------------------- the cases


def _control() -> bytes:
    return _simple(2, label="control")


def _cyclic_page_tree() -> bytes:
    objs = _simple_objects(1, label="cyclic page tree")
    # the tree's second kid is a /Pages node whose /Kids points back at the root
    objs[2] = b"<</Type/Pages/Kids[4 0 R 6 0 R]/Count 2>>"
    objs[6] = b"<</Type/Pages/Parent 2 0 R/Kids[2 0 R]/Count 1>>"
    return _classic(objs)


def _page_parent_loop() -> bytes:
    objs = _simple_objects(1, label="page parent loop")
    # the page inherits its media box and resources; its /Parent chain is a 2-cycle off the tree
    objs[2] = b"<</Type/Pages/Kids[4 0 R]/Count 1" + MEDIA_BOX + RESOURCES + b">>"
    objs[4] = b"<</Type/Page/Parent 6 0 R/Contents 5 0 R>>"
    objs[6] = b"<</Type/Pages/Parent 7 0 R/Kids[4 0 R]/Count 1>>"
    objs[7] = b"<</Type/Pages/Parent 6 0 R/Kids[6 0 R]/Count 1>>"
    return _classic(objs)


#: levels of the page-tree DAG: 2**21 = 2,097,152 pages from 21 page-tree nodes
DAG_LEVELS = 21


def _page_tree_dag() -> bytes:
    # node k (object 4 + k) has /Kids [node k-1, node k-1]; node 0 (object 4) is the one page
    top = 4 + DAG_LEVELS
    objs = {
        1: b"<</Type/Catalog/Pages %d 0 R>>" % top,
        3: FONT,
        4: b"<</Type/Page/Parent 5 0 R/Contents %d 0 R>>" % (top + 1),
    }
    for k in range(1, DAG_LEVELS + 1):
        parent = b"" if k == DAG_LEVELS else b"/Parent %d 0 R" % (5 + k)
        extra = MEDIA_BOX + RESOURCES if k == DAG_LEVELS else b""
        objs[4 + k] = b"<</Type/Pages%s/Kids[%d 0 R %d 0 R]/Count %d%s>>" % (
            parent,
            3 + k,
            3 + k,
            2**k,
            extra,
        )
    objs[top + 1] = _stream(_text("one page, two million times"))
    return _classic(dict(sorted(objs.items())))


#: pages per object stream (and per intermediate /Pages node) of the large page trees
GROUP = 1000
#: the page dictionary of the large page trees, padded to a fixed width
_PAGE_BODY = b"<</Type/Page/Parent %d 0 R/Contents 3 0 R>>"
_PAGE_WIDTH = 3 * ROW


@functools.lru_cache(maxsize=4)
def _group_rows(kind: str) -> tuple[bytes, ...]:
    """The last 12 bytes of each of a group's :data:`ROW`-byte rows: ``"iii offset "`` of an
    object stream's header, or ``"iii 0 R"`` of a /Kids array (the first 4 bytes of each row
    are the group's thousands)."""
    if kind == "head":
        return tuple(b"%03d %7d " % (i, i * _PAGE_WIDTH) for i in range(GROUP))
    return tuple(b"%03d 0 R     " % i for i in range(GROUP))


def _group_text(kind: str, group: int) -> bytes:
    """The rows of ``kind`` of objects ``group * 1000`` .. ``group * 1000 + 999``."""
    thousands = b"%4d" % group
    return thousands + thousands.join(_group_rows(kind))


def _many_pages(pages: int, per_node: bool, label: str) -> bytes:
    """``pages`` distinct page objects sharing one content stream, packed in object streams
    of :data:`GROUP` pages; objects ``1000 k`` .. ``1000 k + 999`` are one group.

    With ``per_node``, the root's kids are intermediate ``/Pages`` nodes of one group each;
    without, the root's one ``/Kids`` array lists every page. Every array of references and
    every object stream is written in fixed-width rows and PNG-Up-predicted, which keeps even
    2,000,000 pages to a few MB.
    """
    assert pages % GROUP == 0
    groups = pages // GROUP
    nodes = groups if per_node else 0
    first_group = -(-(5 + nodes) // GROUP)  # the first group number after the nodes
    first_stm = (first_group + groups) * GROUP
    w = _XrefStreamWriter()
    w.obj(1, b"<</Type/Catalog/Pages 2 0 R>>")
    text = zlib.compress(_text(f"{label}: every page shares this stream"))
    w.obj(3, _stream(text, b"/Filter/FlateDecode"))
    w.obj(4, FONT)
    head = b"<</Type/Pages/Count %d" % pages + MEDIA_BOX + b"/Resources<</Font<</F1 4 0 R>>>>/Kids["
    if nodes:
        kids = b"".join(b"%7d 0 R     " % n for n in range(5, 5 + nodes))
    else:
        kids = b"".join(_group_text("kids", first_group + g) for g in range(groups))
    root = head.ljust(-(-len(head) // ROW) * ROW) + kids + b"]>>".ljust(ROW)
    stm = first_stm
    w.objstm(stm, [(2, root)])
    stm += 1
    node_head = b"<</Type/Pages/Parent 2 0 R/Count %d/Kids[" % GROUP
    members = []
    for i in range(nodes):
        body = node_head.ljust(3 * ROW) + _group_text("kids", first_group + i) + b"]>>".ljust(ROW)
        members.append((5 + i, body))
        if len(members) == 100 or i == nodes - 1:
            w.objstm(stm, members)
            stm += 1
            members = []
    entries = b"/Type/ObjStm/N %d/First %d" % (GROUP, GROUP * ROW) + _up_entries(ROW)
    for g in range(groups):
        data = _page_group(first_group + g, 5 + g if nodes else 2)
        w.obj(stm, _stream(data, entries))
        w.packed.append(_Packed((first_group + g) * GROUP, GROUP, stm, 0))
        stm += 1
    return w.finish()


def _up_row(cur: bytes, prev: bytes) -> bytes:
    """One PNG-Up-filtered row: its filter byte, then ``cur - prev`` byte by byte."""
    return b"\x02" + bytes((a - b) & 0xFF for a, b in zip(cur, prev, strict=True))


@functools.lru_cache(maxsize=1)
def _group_head_tail() -> bytes:
    """The Up-filtered header rows 1..999 of any page group: the same for every group, as
    the rows differ from the row above in their last 12 bytes only."""
    rows = [b"0000" + r for r in _group_rows("head")]
    return b"".join(_up_row(rows[i], rows[i - 1]) for i in range(1, GROUP))


def _page_group(group: int, parent: int) -> bytes:
    """The data (Up-predicted, deflated) of the object stream of the pages ``group * 1000`` ..
    ``group * 1000 + 999``, children of ``parent``, made from templates: what
    ``_up_deflate(_group_text("head", group) + body * 1000, ROW)`` gives, in a fraction of the
    time."""
    thousands = b"%4d" % group
    heads = _group_rows("head")
    body = (_PAGE_BODY % parent).ljust(_PAGE_WIDTH)
    b0, b1, b2 = body[:ROW], body[ROW : 2 * ROW], body[2 * ROW :]
    cycle = _up_row(b0, b2) + _up_row(b1, b0) + _up_row(b2, b1)
    first_body = _up_row(b0, thousands + heads[-1]) + _up_row(b1, b0) + _up_row(b2, b1)
    return _zlib_concat(
        [
            (_up_row(thousands + heads[0], bytes(ROW)), 1),
            (_group_head_tail(), 1),  # its compressed segment is computed once
            (first_body, 1),
            (cycle, GROUP - 1),
        ]
    )


def _huge_page_count() -> bytes:
    return _many_pages(2_000_000, True, "two million pages")


def _kids_million() -> bytes:
    return _many_pages(1_000_000, False, "a million kids")


def _pages_3000() -> bytes:
    return _many_pages(3000, True, "three thousand pages")


def _inherited_attributes() -> bytes:
    objs = _simple_objects(2, label="inherited attributes")
    objs[2] = b"<</Type/Pages/Kids[4 0 R 6 0 R]/Count 2/Rotate 90" + MEDIA_BOX + RESOURCES + b">>"
    objs[4] = b"<</Type/Page/Parent 2 0 R/Contents 5 0 R>>"
    objs[6] = b"<</Type/Page/Parent 2 0 R/Contents 7 0 R>>"
    return _classic(objs)


def _no_pages() -> bytes:
    objs = _simple_objects(1, label="no pages")
    objs[2] = b"<</Type/Pages/Kids[]/Count 0>>"
    return _classic(objs)


def _no_catalog() -> bytes:
    objs = _simple_objects(1, label="no catalog")
    objs[1] = b"null"
    return _classic(objs, trailer=b"/Root 99 0 R")


def _xref_prev_cycle() -> bytes:
    """The update's section points back (``/Prev``) at the first, whose ``/Prev`` points
    forward at the update: the chain of sections is a cycle. Every object is intact."""
    objs = _simple_objects(1, label="xref prev cycle, first revision")
    w = _Writer()
    w.objects(objs)
    first = w.xref(w.offsets, full=True)
    placeholder = b"/Prev 0000000000"
    w.trailer(b"/Size 6/Root 1 0 R" + placeholder, first)
    patch_at = w.out.rindex(placeholder)
    w.obj(5, _stream(_text("xref prev cycle, second revision")))
    second = w.xref({5: w.offsets[5]}, full=False)
    w.trailer(b"/Size 6/Root 1 0 R/Prev %d" % first, second)
    w.out[patch_at : patch_at + len(placeholder)] = b"/Prev %010d" % second
    return w.data()


def _xref_with(
    offset: Callable[[int, int, int], int], startxref: Callable[[int, int], int]
) -> bytes:
    """A 3-page document whose xref entries are ``offset(num, true offset, file size)`` and
    whose ``startxref`` is ``startxref(true xref offset, file size)``, where the file size
    given is a little more than the file's (the numbers keep their widths)."""
    objs = _simple_objects(3, label="xref lies")
    w = _Writer()
    w.objects(objs)
    at = len(w.out)
    size = at + len(_xref_text(w.offsets)) + 200
    lied = {n: offset(n, o, size) for n, o in w.offsets.items()}
    w.out += _xref_text(lied)
    w.trailer(b"/Size %d/Root 1 0 R" % (max(objs) + 1), startxref(at, size))
    return w.data()


def _xref_text(entries: Mapping[int, int]) -> bytes:
    top = max(entries) + 1
    lines = [b"xref\n0 %d\n" % top, b"0000000000 65535 f \n"]
    lines.extend(b"%010d 00000 n \n" % entries[n] for n in range(1, top))
    return b"".join(lines)


def _wrong_xref_offsets() -> bytes:
    return _xref_with(lambda n, o, size: o + 7, lambda at, size: at)


def _xref_entries_past_end() -> bytes:
    return _xref_with(lambda n, o, size: size + 1000 * n, lambda at, size: at)


def _startxref_past_end() -> bytes:
    return _xref_with(lambda n, o, size: o, lambda at, size: size + 100_000)


def _huge_trailer_size() -> bytes:
    objs = _simple_objects(1, label="huge trailer size")
    w = _Writer()
    w.objects(objs)
    at = w.xref(w.offsets, full=True)
    w.trailer(b"/Size 2147483648/Root 1 0 R", at)
    return w.data()


def _long_document(pages: int, label: str) -> bytes:
    """A document whose pages carry a few KB of content each (so a cut lands inside one)."""
    objs = _simple_objects(pages, label=label)
    for i in range(pages):
        lines = b"\n".join(
            _text(f"{label} page {i + 1} line {n}").replace(b"72 720", b"72 %d" % (720 - 14 * n))
            for n in range(48)
        )
        objs[5 + 2 * i] = _stream(lines)
    return _classic(objs)


def _truncated() -> bytes:
    data = _long_document(4, "truncated")
    return data[: len(data) // 2]


def _nul_filled_middle() -> bytes:
    data = bytearray(_long_document(6, "nul filled middle"))
    third = len(data) // 3
    data[third : 2 * third] = bytes(third)
    return bytes(data)


def _nul_padding() -> bytes:
    # NUL is white space in PDF syntax: 64 KiB of it between objects is legal
    return _classic(_simple_objects(2, label="nul padding"), gap=bytes(64 * 1024))


#: incremental updates of the incremental-updates case
UPDATES = 10_000


def _incremental_updates() -> bytes:
    w = _Writer()
    w.objects(_simple_objects(1, label="revision 0"))
    prev = w.xref(w.offsets, full=True)
    w.trailer(b"/Size 6/Root 1 0 R", prev)
    for n in range(1, UPDATES + 1):
        w.obj(5, _stream(_text(f"revision {n} of {UPDATES}")))
        at = w.xref({5: w.offsets[5]}, full=False)
        w.trailer(b"/Size 6/Root 1 0 R/Prev %d" % prev, at)
        prev = at
    return w.data()


def _leading_junk() -> bytes:
    junk = b"HTTP/1.1 200 OK\r\nContent-Type: application/pdf\r\n\r\n"
    junk += b"x" * (600 - len(junk))
    # offsets count from the %PDF- header, as readers that accept leading junk expect
    return junk + _simple(1, label="leading junk")


def _length_lie(told: bytes | None, self_ref: bool = False) -> bytes:
    objs = _simple_objects(2, label="length lie")
    data = _text("length lie page 1 of 2") + b"\n" + b"% padding\n" * 20
    length = b"5 0 R" if self_ref else told
    objs[5] = _stream(data, length=length)
    return _classic(objs)


def _length_too_long() -> bytes:
    return _length_lie(b"%d" % (len(_text("length lie page 1 of 2")) + 1 + 200 + 150))


def _length_too_short() -> bytes:
    return _length_lie(b"%d" % 40)


def _length_negative() -> bytes:
    return _length_lie(b"-100")


def _length_indirect_self() -> bytes:
    return _length_lie(None, self_ref=True)


#: nesting levels of the deeply nested cases
NESTING = 100_000


def _deep_arrays() -> bytes:
    deep = b"[" * NESTING + b"]" * NESTING
    return _simple(1, label="deep arrays", page=b"/OffboardDeep " + deep)


def _deep_dicts() -> bytes:
    deep = b"<</A " * NESTING + b"null" + b">>" * NESTING
    return _simple(1, label="deep dictionaries", page=b"/OffboardDeep " + deep)


def _indirect_loop() -> bytes:
    objs = _simple_objects(1, label="indirect loop")
    objs[4] = b"<</Type/Page/Parent 2 0 R" + MEDIA_BOX + b"/Resources 6 0 R/Contents 5 0 R>>"
    objs[6] = b"7 0 R"
    objs[7] = b"6 0 R"
    return _classic(objs)


def _objstm_contains_itself() -> bytes:
    """Object 6 is an object stream holding the page (4) and, by the cross-reference stream,
    itself (6): reading the page needs object 6, which is inside object 6."""
    w = _XrefStreamWriter()
    w.obj(1, b"<</Type/Catalog/Pages 2 0 R>>")
    w.obj(2, b"<</Type/Pages/Kids[4 0 R]/Count 1>>")
    w.obj(3, FONT)
    w.obj(5, _stream(_text("object stream contains itself")))
    page = b"<</Type/Page/Parent 2 0 R" + MEDIA_BOX + RESOURCES + b"/Contents 5 0 R>>"
    w.objstm(6, [(4, page), (6, b"<</Type/ObjStm/N 2/First 0/Length 0>>")])
    del w.offsets[6]  # listed only as compressed, in itself
    return w.finish()


#: inflated sizes of the bombs
CONTENT_BOMB = 4 << 30
IMAGE_BOMB_SIDE = 1 << 16  # 65536 x 65536 8-bit gray: 4 GiB
DOUBLE_BOMB = 64 << 30
ATTACHMENT_BOMB = 3 << 30


def _flate_bomb_content() -> bytes:
    # 4 GiB of NUL, white space in a content stream: valid, and inflated by any renderer
    objs = _simple_objects(1, label="flate bomb")
    objs[5] = _stream(_bomb(CONTENT_BOMB), b"/Filter/FlateDecode")
    return _classic(objs)


def _image_objects(width: int, height: int, data: bytes, extra: bytes = b"") -> dict[int, bytes]:
    objs = _simple_objects(1, label="image")
    resources = b"/Resources<</Font<</F1 3 0 R>>/XObject<</Im1 6 0 R>>>>"
    objs[4] = b"<</Type/Page/Parent 2 0 R" + MEDIA_BOX + resources + b"/Contents 5 0 R>>"
    objs[5] = _stream(b"q 612 0 0 792 0 0 cm /Im1 Do Q")
    entries = b"/Type/XObject/Subtype/Image/Width %d/Height %d/ColorSpace/DeviceGray" % (
        width,
        height,
    )
    objs[6] = _stream(data, entries + b"/BitsPerComponent 8/Filter/FlateDecode" + extra)
    return objs


def _flate_bomb_image() -> bytes:
    side = IMAGE_BOMB_SIDE
    return _classic(_image_objects(side, side, _bomb(side * side)))


def _flate_bomb_filter_array() -> bytes:
    # the same stream, its /Filter written as a one-element array (which is just as valid)
    objs = _simple_objects(1, label="flate bomb")
    objs[5] = _stream(_bomb(CONTENT_BOMB), b"/Filter[/FlateDecode]")
    return _classic(objs)


def _flate_bomb_double() -> bytes:
    inner = _bomb(DOUBLE_BOMB)
    # the inner stream is its header, one segment repeated, and its end: deflate that again
    segment = _segment(b"\x00", _SEGMENT)
    count = (len(inner) - 8) // len(segment)
    assert inner[2 : 2 + count * len(segment)] == segment * count
    outer = _zlib_repeat(segment, count, prefix=inner[:2], suffix=inner[2 + count * len(segment) :])
    objs = _simple_objects(1, label="double flate bomb")
    objs[5] = _stream(outer, b"/Filter[/FlateDecode/FlateDecode]")
    return _classic(objs)


_XML_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:'
    b'CrossIndustryInvoice:100">'
)


def _attachment(name: bytes, data: bytes, entries: bytes, *, factur_x: bool) -> dict[int, bytes]:
    """A one-page document carrying ``data`` as the embedded file ``name`` (object 7, its
    file specification 6), listed in /Names /EmbeddedFiles and, for Factur-X, in /AF."""
    af = b"/AF[6 0 R]" if factur_x else b""
    names = b"/Names<</EmbeddedFiles<</Names[(" + name + b") 6 0 R]>>>>" + af
    objs = _simple_objects(1, label="attachment", catalog=names)
    relationship = b"/AFRelationship/Data" if factur_x else b""
    objs[6] = (
        b"<</Type/Filespec/F("
        + name
        + b")/UF("
        + name
        + b")"
        + relationship
        + b"/EF<</F 7 0 R/UF 7 0 R>>>>"
    )
    objs[7] = _stream(data, b"/Type/EmbeddedFile" + entries)
    return objs


def _facturx_bomb() -> bytes:
    data = _bomb(ATTACHMENT_BOMB, b" ", prefix=_XML_HEAD)
    assert len(data) < ATTACHMENT_LIMIT
    entries = b"/Subtype/text#2Fxml/Filter/FlateDecode/Params<</Size 2048>>"
    return _classic(_attachment(b"factur-x.xml", data, entries, factur_x=True))


#: width and height of the huge image
HUGE_IMAGE_SIDE = 1_000_000


def _huge_image() -> bytes:
    side = HUGE_IMAGE_SIDE
    return _classic(_image_objects(side, side, zlib.compress(bytes(1 << 16), 9)))


def _javascript_open_action() -> bytes:
    js = b"<</S/JavaScript/JS(app.alert\\('offboard'\\); this.exportDataObject\\({cName: 'x'}\\))>>"
    catalog = (
        b"/OpenAction"
        + js
        + b"/Names<</JavaScript<</Names[(offboard) <</S/JavaScript/JS(app.beep\\(0\\))>>]>>>>"
    )
    return _simple(1, label="javascript open action", catalog=catalog)


def _javascript_additional_actions() -> bytes:
    def js(code: bytes) -> bytes:
        return b"<</S/JavaScript/JS(" + code + b")>>"

    catalog = b"/AA<</WC" + js(b"app.alert\\(1\\)") + b"/WP" + js(b"app.alert\\(2\\)") + b">>"
    page = b"/AA<</O" + js(b"app.alert\\(3\\)") + b"/C" + js(b"app.alert\\(4\\)") + b">>"
    return _simple(1, label="javascript additional actions", catalog=catalog, page=page)


def _launch_action() -> bytes:
    launch = b"<</S/Launch/F(calc.exe)/Win<</F(cmd.exe)/P(/c calc.exe)>>/NewWindow true>>"
    link = (
        b"/Annots[<</Type/Annot/Subtype/Link/Rect[0 0 612 792]/Border[0 0 0]"
        b"/A<</S/Launch/F(/bin/sh)/Unix<</F(/bin/sh)/P(-c id)>>>>>>]"
    )
    return _simple(1, label="launch action", catalog=b"/OpenAction" + launch, page=link)


def _outline_cycle() -> bytes:
    objs = _simple_objects(
        1, label="outline cycle", catalog=b"/Outlines 6 0 R/PageMode/UseOutlines"
    )
    objs[6] = b"<</Type/Outlines/First 7 0 R/Last 8 0 R/Count 2>>"
    objs[7] = b"<</Title(one)/Parent 6 0 R/Next 8 0 R/Dest[4 0 R/Fit]>>"
    # two's /Next is one again, and two is its own first child
    objs[8] = (
        b"<</Title(two)/Parent 6 0 R/Prev 7 0 R/Next 7 0 R/First 8 0 R/Last 8 0 R/Count 1"
        b"/Dest[4 0 R/Fit]>>"
    )
    return _classic(objs)


def _names_tree_cycle() -> bytes:
    names = b"/Names<</EmbeddedFiles 6 0 R/Dests 9 0 R>>"
    objs = _simple_objects(1, label="names tree cycle", catalog=names)
    objs[6] = b"<</Kids[7 0 R]>>"
    objs[7] = b"<</Kids[6 0 R 8 0 R]/Limits[(a)(z)]>>"  # back to the root of the tree
    objs[8] = b"<</Names[(notes.txt) 10 0 R]/Limits[(notes.txt)(notes.txt)]>>"
    objs[9] = b"<</Kids[9 0 R]/Limits[(a)(z)]>>"  # its own kid
    objs[10] = b"<</Type/Filespec/F(notes.txt)/UF(notes.txt)/EF<</F 11 0 R>>>>"
    objs[11] = _stream(b"a note\n", b"/Type/EmbeddedFile")
    return _classic(objs)


def _zip_member() -> bytes:
    return b"offboard: this text is a member of a ZIP archive that is also a PDF.\n" * 4


def _polyglot() -> bytes:
    """A valid PDF whose embedded file is a ZIP archive whose end-of-central-directory
    comment is the rest of the PDF: ``unzip`` and every PDF reader accept the same bytes."""
    objs = _simple_objects(1, label="polyglot")
    objs[1] = b"<</Type/Catalog/Pages 2 0 R/Names<</EmbeddedFiles<</Names[(data.zip) 6 0 R]>>>>>>"
    objs[6] = b"<</Type/Filespec/F(data.zip)/UF(data.zip)/EF<</F 7 0 R>>>>"
    w = _Writer()
    w.objects(objs)
    w.offsets[7] = len(w.out)
    w.raw(b"7 0 obj\n<</Type/EmbeddedFile/Subtype/application#2Fzip/Length 8 0 R>>\nstream\n")
    start = len(w.out)
    buf = io.BytesIO()
    buf.write(w.out)
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo("offboard.txt", date_time=(2025, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, _zip_member())
    whole = buf.getvalue()
    assert whole[-22:-18] == b"PK\x05\x06"  # the end record, no comment yet
    w.out = bytearray(whole)
    length = len(w.out) - start
    w.raw(b"\nendstream\nendobj\n")
    w.obj(8, b"%d" % length)
    at = w.xref(w.offsets, full=True)
    w.trailer(b"/Size 9/Root 1 0 R", at)
    tail = len(w.out) - (start + length)
    assert tail < 0xFFFF
    w.out[start + length - 2 : start + length] = tail.to_bytes(2, "little")
    return w.data()


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 16, 16, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\x00" + bytes(range(0, 256, 16)) for _ in range(16)))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo("invoice.pdf", date_time=(2025, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, _simple(1, label="zipped"))
    return buf.getvalue()


def _html() -> bytes:
    return (
        b"<!DOCTYPE html>\n<html><head><title>Invoice</title></head>\n"
        b"<body><p>Your session has expired. Please log in again.</p>"
        b"<script>document.location='/login'</script></body></html>\n"
    )


def _random_after_header() -> bytes:
    rng = random.Random(20250101)
    return b"%PDF-1.7\n" + rng.randbytes(64 * 1024) + b"\n%%EOF\n"


def _header_only() -> bytes:
    return b"%PDF-1.7\n%%EOF\n"


def _case(name: str, expect: str, description: str, build: Callable[[], bytes]) -> HostileCase:
    return HostileCase(name=name, description=description, build=build, expect=expect)


CASES: tuple[HostileCase, ...] = (
    _case("control-plain", OK, "a plain 2-page PDF, the baseline", _control),
    # page trees
    _case(
        "cyclic-page-tree",
        PROBLEM,
        "a /Pages node's /Kids points back at the root",
        _cyclic_page_tree,
    ),
    _case(
        "page-parent-loop",
        PROBLEM,
        "the page inherits its attributes, and its /Parent chain is a cycle off the tree",
        _page_parent_loop,
    ),
    _case(
        "page-tree-dag-2m",
        PROBLEM,
        f"21 /Pages nodes each listing the one below twice: one page object, 2**{DAG_LEVELS} pages",
        _page_tree_dag,
    ),
    _case(
        "huge-page-count-2m",
        PROBLEM,
        "2,000,000 distinct pages sharing one content stream (2,000 nodes x 1,000), 6 MB",
        _huge_page_count,
    ),
    _case(
        "kids-array-1m",
        PROBLEM,
        "one /Kids array of 1,000,000 page references",
        _kids_million,
    ),
    _case(
        "pages-3000",
        OK,
        "3,000 pages sharing one content stream: a long but reasonable document",
        _pages_3000,
    ),
    _case(
        "inherited-page-attributes",
        OK,
        "pages inheriting /MediaBox, /Resources and /Rotate from the page tree",
        _inherited_attributes,
    ),
    _case("no-pages", PROBLEM, "a page tree with no kids (/Count 0)", _no_pages),
    _case(
        "no-catalog",
        PROBLEM,
        "the trailer's /Root names an object that does not exist",
        _no_catalog,
    ),
    # cross-reference and file structure
    _case(
        "xref-prev-cycle",
        OK,
        "two xref sections whose /Prev point at each other; every object intact (repairable)",
        _xref_prev_cycle,
    ),
    _case(
        "wrong-xref-offsets",
        OK,
        "complete file, every xref offset 7 bytes off (repairable)",
        _wrong_xref_offsets,
    ),
    _case(
        "xref-entries-past-end",
        OK,
        "complete file, every xref entry points past the end of the file (repairable)",
        _xref_entries_past_end,
    ),
    _case(
        "startxref-past-end",
        OK,
        "complete file, startxref points past the end of the file (repairable)",
        _startxref_past_end,
    ),
    _case("huge-trailer-size", OK, "the trailer's /Size is 2**31 (objects: 6)", _huge_trailer_size),
    _case(
        "truncated", PROBLEM, "a 4-page PDF cut in the middle of an object: no %%EOF", _truncated
    ),
    _case(
        "nul-filled-middle",
        PROBLEM,
        "a 6-page PDF whose middle third is overwritten with NUL bytes",
        _nul_filled_middle,
    ),
    _case("nul-padding", OK, "64 KiB of NUL (PDF white space) between objects", _nul_padding),
    _case(
        "incremental-updates-10000",
        OK,
        f"{UPDATES:,} incremental updates, each rewriting the page's content",
        _incremental_updates,
    ),
    _case("leading-junk", OK, "600 bytes of HTTP header before %PDF-", _leading_junk),
    # stream lengths
    _case(
        "length-too-long",
        OK,
        "a content stream's /Length runs 150 bytes past endstream, into the next object",
        _length_too_long,
    ),
    _case(
        "length-too-short",
        OK,
        "a content stream's /Length stops short of endstream",
        _length_too_short,
    ),
    _case("length-negative", OK, "a content stream's /Length is -100", _length_negative),
    _case(
        "length-indirect-self",
        OK,
        "a content stream's /Length is a reference to the stream itself",
        _length_indirect_self,
    ),
    # parser attacks
    _case(
        "deep-nested-arrays",
        PROBLEM,
        f"{NESTING:,} nested arrays in the page dictionary",
        _deep_arrays,
    ),
    _case(
        "deep-nested-dicts",
        PROBLEM,
        f"{NESTING:,} nested dictionaries in the page dictionary",
        _deep_dicts,
    ),
    _case(
        "indirect-reference-loop",
        PROBLEM,
        "the page's /Resources is 6 0 R, which is 7 0 R, which is 6 0 R",
        _indirect_loop,
    ),
    _case(
        "objstm-contains-itself",
        PROBLEM,
        "the page lives in object stream 6, which the xref stream says is inside object stream 6",
        _objstm_contains_itself,
    ),
    # bombs
    _case(
        "flate-bomb-content",
        PROBLEM,
        "a 4 MB content stream inflating to 4 GiB",
        _flate_bomb_content,
    ),
    _case(
        "flate-bomb-filter-array",
        PROBLEM,
        "the content bomb with its /Filter written as the array [/FlateDecode]",
        _flate_bomb_filter_array,
    ),
    _case(
        "flate-bomb-image",
        PROBLEM,
        "a 65536 x 65536 gray image, 4 MB inflating to 4 GiB",
        _flate_bomb_image,
    ),
    _case(
        "flate-bomb-double-filter",
        PROBLEM,
        "[/FlateDecode /FlateDecode] content: 104 KB inflating to 64 MB, then to 64 GiB",
        _flate_bomb_double,
    ),
    _case(
        "facturx-attachment-bomb",
        PROBLEM,
        "factur-x.xml (/EmbeddedFiles, /AF) stored in 3.1 MB, inflating to 3 GiB",
        _facturx_bomb,
    ),
    _case("image-1e6x1e6", PROBLEM, "an image declared 1,000,000 x 1,000,000 pixels", _huge_image),
    # active content
    _case(
        "javascript-openaction",
        PROBLEM,
        "/OpenAction JavaScript and a document-level /Names /JavaScript",
        _javascript_open_action,
    ),
    _case(
        "javascript-additional-actions",
        PROBLEM,
        "JavaScript in the catalog's /AA (will close, will print) and the page's /AA (open, close)",
        _javascript_additional_actions,
    ),
    _case(
        "launch-action",
        PROBLEM,
        "a /Launch /OpenAction and a page link launching /bin/sh",
        _launch_action,
    ),
    # cycles outside the page tree
    _case(
        "outline-cycle", PROBLEM, "outline items whose /Next and /First make cycles", _outline_cycle
    ),
    _case(
        "names-tree-cycle",
        PROBLEM,
        "an /EmbeddedFiles name tree whose kid lists the root again, and a /Dests tree its own kid",
        _names_tree_cycle,
    ),
    # encryption
    _case(
        "encrypted-rc4-user",
        PROBLEM,
        f"128-bit RC4 (R3), user password {USER_PASSWORD!r}",
        functools.partial(_encrypted, "rc4", USER_PASSWORD, P_ALL),
    ),
    _case(
        "encrypted-aes256-user",
        PROBLEM,
        f"AES-256 (R6), user password {USER_PASSWORD!r}",
        functools.partial(_encrypted, "aes256", USER_PASSWORD, P_ALL),
    ),
    _case(
        "encrypted-rc4-owner-only",
        OK,
        f"128-bit RC4 (R3), empty user password, owner password {OWNER_PASSWORD!r}, no permissions",
        functools.partial(_encrypted, "rc4", "", P_NONE),
    ),
    _case(
        "encrypted-aes256-owner-only",
        OK,
        f"AES-256 (R6), empty user password, owner password {OWNER_PASSWORD!r}, no permissions",
        functools.partial(_encrypted, "aes256", "", P_NONE),
    ),
    _case("polyglot-pdf-zip", OK, "a valid PDF that is also a valid ZIP archive", _polyglot),
    # not PDFs
    _case("not-pdf-png", PROBLEM, "a PNG image", _png),
    _case("not-pdf-zip", PROBLEM, "a ZIP archive holding a PDF", _zip),
    _case("not-pdf-html", PROBLEM, "an HTML login page", _html),
    _case("empty-file", PROBLEM, "zero bytes", lambda: b""),
    _case("single-byte", PROBLEM, "one byte: %", lambda: b"%"),
    _case(
        "pdf-header-random-bytes",
        PROBLEM,
        "%PDF-1.7, 64 KiB of seeded random bytes, %%EOF",
        _random_after_header,
    ),
    _case("pdf-header-only", PROBLEM, "%PDF-1.7 and %%EOF, nothing between", _header_only),
)

#: the cases whose point is their size (up to 20 MB on disk, a few seconds to build)
BIG = frozenset({"huge-page-count-2m", "kids-array-1m"})
