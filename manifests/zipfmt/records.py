"""The one canonical zip layout of offboard archives, shared by the writer and the reader.

An offboard archive is a zip file whose every byte follows from the list of its members, their
names, compression methods, CRC-32s, sizes and the archive's one timestamp. The writer builds
each header with the functions of this module; the reader parses a file, rebuilds every header
from the values it found with the same functions, and compares them byte for byte. A byte that
no checksum covers (a time, a version, an attribute, an extra field) therefore cannot change
unnoticed.

Layout, in file order::

    member 1: local header, file name, [zip64 extra field], data
    member 2: ...
    ...
    central directory: one central header (+ name, [zip64 extra field]) per member, same order
    [zip64 end of central directory record, zip64 end of central directory locator]
    end of central directory record

- The first local header is at offset 0; each member's header starts where the previous
  member's data ends; the central directory starts where the last member's data ends; the
  end records follow it directly and the end of central directory record ends the file. No
  byte lies before, between or after these records. There are no data descriptors, no
  directory entries, no file comments and no archive comment. One disk: every disk number is
  0 (the zip64 locator's "total number of disks" is 1).
- Members are regular files only. Method 0 (stored; compressed size = size) or 8 (deflated:
  a raw deflate stream from ISA-L, ``isal_zlib.compressobj(level, DEFLATED, -15)`` with one
  level per archive, 1 to 3, default 2, recorded nowhere; input fed in pieces of
  :data:`DEFLATE_FEED` bytes, so the stream depends only on the data, the level and the ISA-L
  version).
- Local header (30 bytes, little-endian): signature ``PK\\x03\\x04``; version needed 20, or 45
  when the header carries a zip64 extra field; general purpose flags 0x0800 (UTF-8) when the
  name is not pure ASCII, else 0; method; modification time and date: the archive's one MS-DOS
  time (the creation time in UTC, seconds rounded down to even, 1980 to 2107) for every
  member; CRC-32; compressed size; size; name length; extra length (0, or 20 with zip64).
- Zip64 in the local header: a zip64 extra field (id 0x0001, 16 bytes: size, then compressed
  size, 8 bytes each) is present, and both 32-bit size fields are 0xFFFFFFFF, if and only if
  the largest compressed size the member could have (:func:`max_compressed_size`: its size when
  stored, ``size + size // 8 + 1024`` when deflated) is at least :data:`ZIP64_THRESHOLD`
  (0xFFFF0000). The decision depends on the size and method alone, so the writer takes it
  before it compresses and the reader takes it again from the central directory. The deflate
  bound is a measured one with a wide margin, not a proof: ISA-L at levels 1 to 3 falls back
  to stored blocks when Huffman coding does not pay, and its largest expansion measured
  (random bytes) is 0.05 %, 250 times less than the 12.5 % allowed; the writer refuses to
  finish a member that would break the rule. (Level 0, which expands random data by 23 %,
  is refused.)
- Central header (46 bytes): signature ``PK\\x01\\x02``; version made by 0x0314 (Unix, 2.0),
  or 0x032D (Unix, 4.5) when this header carries a zip64 extra field; version needed 20, or 45
  likewise; flags, method, time, date, CRC-32 and sizes as in the local header; name length;
  extra length; comment length 0; disk number 0; internal attributes 0; external attributes
  ``0o100644 << 16`` (a regular file, ``rw-r--r--``); local header offset.
- Zip64 in the central header: a zip64 extra field (id 0x0001) holding, in this order and
  only these: size and compressed size (both if and only if the local header has zip64), then
  the local header offset (if and only if the offset is at least :data:`ZIP64_THRESHOLD`);
  each 32-bit field whose value moved there is 0xFFFFFFFF. No other extra field, ever.
- End records: when the member count is at least :data:`ZIP64_COUNT_LIMIT` (0xFFFF), or the
  central directory's offset or size is at least :data:`ZIP64_THRESHOLD`, a zip64 end of
  central directory record (56 bytes: size of record 44, version made by 0x032D, version
  needed 45, disks 0 and 0, the count twice, central directory size and offset) and a zip64
  locator (20 bytes: disk 0, the zip64 record's offset, 1 disk) come first, and the end of
  central directory record then holds 0xFFFF in both counts and 0xFFFFFFFF in both the
  central directory size and offset. Otherwise only the end of central directory record, with
  the real values. Either way: disk numbers 0, counts equal, comment length 0.
- Names: UTF-8 in Unicode NFC, relative, ``/``-separated, at most :data:`MAX_NAME_BYTES`
  bytes; no empty, ``.`` or ``..`` segment, no leading or trailing ``/``, no backslash, no
  control character (below 0x20, or 0x7F). No two names are equal, nor equal once normalised
  to NFC and case-folded (they would collide when extracted on macOS or Windows).

Everything here is pure computation; the writer and the reader do the I/O.
"""

from __future__ import annotations

import re
import struct
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import NamedTuple

from manifests.paths import is_plain

#: sizes and offsets at or above this use zip64 fields (tests lower it to reach zip64 cheaply;
#: every function reads the module attribute when it runs)
ZIP64_THRESHOLD = 0xFFFF_0000
#: member counts at or above this use the zip64 end records
ZIP64_COUNT_LIMIT = 0xFFFF
#: longest member name, in UTF-8 bytes
MAX_NAME_BYTES = 1024
#: the deflate compressor is always fed pieces of exactly this many bytes (the last one
#: shorter): ISA-L's output depends on how its input is cut, this keeps it a function of the data
DEFLATE_FEED = 1 << 20

STORED = 0
DEFLATED = 8
METHODS = (STORED, DEFLATED)

UNIX = 3
VERSION_DEFAULT = 20
VERSION_ZIP64 = 45
FLAG_UTF8 = 0x0800
#: a regular file, rw-r--r--, in the Unix half of the external attributes
EXTERNAL_ATTR = 0o100644 << 16
ZIP64_EXTRA_ID = 0x0001

LOCAL_SIG = b"PK\x03\x04"
CENTRAL_SIG = b"PK\x01\x02"
ZIP64_END_SIG = b"PK\x06\x06"
ZIP64_LOCATOR_SIG = b"PK\x06\x07"
END_SIG = b"PK\x05\x06"

LOCAL = struct.Struct("<4sHHHHHIIIHH")
CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")
ZIP64_END = struct.Struct("<4sQHHIIQQQQ")
ZIP64_LOCATOR = struct.Struct("<4sIQI")
END = struct.Struct("<4sHHHHIIH")
LOCAL_ZIP64_EXTRA = struct.Struct("<HHQQ")

_U16 = 0xFFFF
_U32 = 0xFFFF_FFFF


class ZipEntry(NamedTuple):
    """One member as written, or as found sound by the reader (a tuple: 20,000 of them are made
    in a blink and take little memory)."""

    name: str
    #: 0 (stored) or 8 (deflated)
    method: int
    crc32: int
    compressed_size: int
    size: int
    #: where the member's local header starts in the file
    header_offset: int
    #: where the member's (compressed) data starts in the file
    data_offset: int


# -- time --------------------------------------------------------------------------------------
#: ASCII control characters (C0 and DEL), refused in names
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def dos_time(when: datetime) -> tuple[int, int]:
    """The MS-DOS (time, date) of ``when`` (naive: taken as UTC), seconds rounded down to even.

    Raises :class:`ValueError` outside 1980-01-01 to 2107-12-31, which MS-DOS dates cannot hold.
    """
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    if not 1980 <= when.year <= 2107:
        raise ValueError(f"a zip member time must be in 1980-2107, not {when.isoformat()}")
    time = (when.hour << 11) | (when.minute << 5) | (when.second // 2)
    date = ((when.year - 1980) << 9) | (when.month << 5) | when.day
    return time, date


def datetime_from_dos(time: int, date: int) -> datetime | None:
    """The naive (UTC) datetime of an MS-DOS (time, date), or None if it is not a valid one."""
    try:
        return datetime(
            1980 + (date >> 9),
            (date >> 5) & 0xF,
            date & 0x1F,
            time >> 11,
            (time >> 5) & 0x3F,
            (time & 0x1F) * 2,
        )
    except ValueError:
        return None


# -- names -------------------------------------------------------------------------------------
def name_problem(name: str, max_bytes: int = MAX_NAME_BYTES) -> str | None:
    """Why ``name`` is not an allowed member name, or None if it is one."""
    if len(name) <= max_bytes and is_plain(name):
        return None
    return full_name_problem(name, max_bytes)


def full_name_problem(name: str, max_bytes: int = MAX_NAME_BYTES) -> str | None:
    """:func:`name_problem` without its shortcut for plain names."""
    if not name:
        return "empty name"
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        return "not encodable in UTF-8"
    if size > max_bytes:
        return f"longer than {max_bytes} bytes ({size})"
    if "\x00" in name:
        return "holds a NUL character"
    if _CONTROL.search(name) is not None:
        return "holds a control character"
    if "\\" in name:
        return "holds a backslash"
    if name.startswith("/"):
        return "absolute (starts with /)"
    if name.endswith("/"):
        return "ends with / (a directory)"
    for segment in name.split("/"):
        if segment == "":
            return "holds an empty segment (//)"
        if segment in (".", ".."):
            return f"holds a {segment!r} segment"
    if unicodedata.normalize("NFC", name) != name:
        return "not in Unicode NFC form"
    return None


def twin_key(name: str) -> str:
    """Names with the same key collide when extracted (NFC normalisation, then case folding)."""
    if name.isascii():  # NFC leaves ASCII alone, and casefold() is lower() on it
        return name.lower()
    return unicodedata.normalize("NFC", name).casefold()


def name_flags(raw_name: bytes) -> int:
    """The general purpose flags of a member named ``raw_name`` (UTF-8 bit iff not ASCII)."""
    return 0 if raw_name.isascii() else FLAG_UTF8


# -- zip64 decisions ---------------------------------------------------------------------------
def max_compressed_size(size: int, method: int) -> int:
    """The largest compressed size the layout allows for a member of ``size`` bytes."""
    if method == STORED:
        return size
    return size + (size >> 3) + 1024


def check_bound(name: str, size: int, compressed: int, method: int) -> None:
    """:class:`ValueError` if member ``name`` was compressed to more than the layout allows."""
    if compressed > max_compressed_size(size, method):
        raise ValueError(
            f"{name}: compressed to {compressed} bytes, more than the layout allows for "
            f"{size} bytes"
        )


def local_zip64(size: int, method: int) -> bool:
    """Whether the local header (and the central one) of such a member carry zip64 sizes."""
    return max_compressed_size(size, method) >= ZIP64_THRESHOLD


def offset_zip64(offset: int) -> bool:
    """Whether a central header must move a local header offset to its zip64 extra field."""
    return offset >= ZIP64_THRESHOLD


def end_zip64(count: int, cd_offset: int, cd_size: int) -> bool:
    """Whether the archive ends with the zip64 end records."""
    return count >= ZIP64_COUNT_LIMIT or cd_offset >= ZIP64_THRESHOLD or cd_size >= ZIP64_THRESHOLD


def local_header_size(raw_name: bytes, size: int, method: int) -> int:
    """Bytes of the local header, name and extra field of such a member."""
    return LOCAL.size + len(raw_name) + (LOCAL_ZIP64_EXTRA.size if local_zip64(size, method) else 0)


# -- headers -----------------------------------------------------------------------------------
def local_header(
    raw_name: bytes,
    method: int,
    crc: int,
    compressed_size: int,
    size: int,
    dos: tuple[int, int],
) -> bytes:
    """The canonical local header of a member, with its name and extra field."""
    zip64 = local_zip64(size, method)
    extra = LOCAL_ZIP64_EXTRA.pack(ZIP64_EXTRA_ID, 16, size, compressed_size) if zip64 else b""
    fixed = LOCAL.pack(
        LOCAL_SIG,
        VERSION_ZIP64 if zip64 else VERSION_DEFAULT,
        name_flags(raw_name),
        method,
        dos[0],
        dos[1],
        crc,
        _U32 if zip64 else compressed_size,
        _U32 if zip64 else size,
        len(raw_name),
        len(extra),
    )
    return fixed + raw_name + extra


def central_header(
    raw_name: bytes,
    method: int,
    crc: int,
    compressed_size: int,
    size: int,
    offset: int,
    dos: tuple[int, int],
) -> bytes:
    """The canonical central directory header of a member, with its name and extra field."""
    sizes64 = local_zip64(size, method)
    offset64 = offset_zip64(offset)
    values = ([size, compressed_size] if sizes64 else []) + ([offset] if offset64 else [])
    extra = b""
    if values:
        extra = struct.pack(f"<HH{len(values)}Q", ZIP64_EXTRA_ID, 8 * len(values), *values)
    version = VERSION_ZIP64 if extra else VERSION_DEFAULT
    fixed = CENTRAL.pack(
        CENTRAL_SIG,
        (UNIX << 8) | version,
        version,
        name_flags(raw_name),
        method,
        dos[0],
        dos[1],
        crc,
        _U32 if sizes64 else compressed_size,
        _U32 if sizes64 else size,
        len(raw_name),
        len(extra),
        0,
        0,
        0,
        EXTERNAL_ATTR,
        _U32 if offset64 else offset,
    )
    return fixed + raw_name + extra


def central_directory(entries: Iterable[ZipEntry], dos: tuple[int, int]) -> bytes:
    """The central headers of ``entries``, in order, as they follow the members' data."""
    return b"".join(
        central_header(
            e.name.encode("utf-8"),
            e.method,
            e.crc32,
            e.compressed_size,
            e.size,
            e.header_offset,
            dos,
        )
        for e in entries
    )


def end_records(count: int, cd_offset: int, cd_size: int) -> bytes:
    """The canonical records after the central directory, to the end of the file."""
    if not end_zip64(count, cd_offset, cd_size):
        return END.pack(END_SIG, 0, 0, count, count, cd_size, cd_offset, 0)
    zip64_offset = cd_offset + cd_size
    return (
        ZIP64_END.pack(
            ZIP64_END_SIG,
            ZIP64_END.size - 12,
            (UNIX << 8) | VERSION_ZIP64,
            VERSION_ZIP64,
            0,
            0,
            count,
            count,
            cd_size,
            cd_offset,
        )
        + ZIP64_LOCATOR.pack(ZIP64_LOCATOR_SIG, 0, zip64_offset, 1)
        + END.pack(END_SIG, 0, 0, _U16, _U16, _U32, _U32, 0)
    )


def zip64_values(extra: bytes) -> list[int] | None:
    """The 8-byte values of the zip64 extra field in ``extra``, or None if there is none.

    Lenient on purpose (it only locates the values; the canonical comparison judges the field).
    """
    pos = 0
    while pos + 4 <= len(extra):
        kind, length = struct.unpack_from("<HH", extra, pos)
        body = extra[pos + 4 : pos + 4 + length]
        if kind == ZIP64_EXTRA_ID:
            return [v for (v,) in struct.iter_unpack("<Q", body[: len(body) // 8 * 8])]
        pos += 4 + length
    return None
