"""The names of the fixed fields of each zip record, to say which field a check found wrong."""

from __future__ import annotations

import struct

LOCAL_FIELDS = (
    "signature",
    "version needed",
    "flags",
    "method",
    "modification time",
    "modification date",
    "CRC-32",
    "compressed size",
    "size",
    "name length",
    "extra field length",
)
CENTRAL_FIELDS = (
    "signature",
    "version made by",
    "version needed",
    "flags",
    "method",
    "modification time",
    "modification date",
    "CRC-32",
    "compressed size",
    "size",
    "name length",
    "extra field length",
    "comment length",
    "disk number",
    "internal attributes",
    "external attributes",
    "local header offset",
)
ZIP64_END_FIELDS = (
    "zip64 end signature",
    "zip64 end record size",
    "zip64 version made by",
    "zip64 version needed",
    "zip64 disk number",
    "zip64 central directory disk",
    "zip64 entries on this disk",
    "zip64 entries",
    "zip64 central directory size",
    "zip64 central directory offset",
)
ZIP64_LOCATOR_FIELDS = (
    "zip64 locator signature",
    "zip64 locator disk",
    "zip64 end record offset",
    "zip64 locator disk count",
)
END_FIELDS = (
    "end signature",
    "disk number",
    "central directory disk",
    "entries on this disk",
    "entries",
    "central directory size",
    "central directory offset",
    "comment length",
)


def differing_fields(
    layout: struct.Struct, names: tuple[str, ...], found: bytes, canonical: bytes
) -> list[str]:
    """The names of the fixed fields in which two records of the same layout differ."""
    a = layout.unpack(found[: layout.size])
    b = layout.unpack(canonical[: layout.size])
    return [name for name, x, y in zip(names, a, b, strict=True) if x != y]
