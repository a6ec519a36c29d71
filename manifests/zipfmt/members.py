"""Check one member: its central directory header, name, bounds, place and local header.

Used by :mod:`manifests.zipfmt.directory` for each central directory header in turn. Every
header is rebuilt from the values found (name, method, CRC-32, sizes, offset, the archive's
time) with the writer's functions and compared byte for byte; a member is listed only when its
data can be located with certainty and lies where the layout puts it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from manifests import problems as P
from manifests.zipfmt import fieldnames as F
from manifests.zipfmt import records as R
from manifests.zipfmt.records import ZipEntry

if TYPE_CHECKING:
    from manifests.zipfmt.directory import Limits, Parsed

#: report(kind, path, detail, expected, found)
Report = Callable[[type[P.Problem], str, str, object, object], None]

_U32 = 0xFFFF_FFFF
#: "version made by" of a central header without zip64: Unix, 2.0
_MADE_BY = (R.UNIX << 8) | R.VERSION_DEFAULT
_FILE_TYPES = {
    0o010000: "a FIFO",
    0o020000: "a character device",
    0o040000: "a directory",
    0o060000: "a block device",
    0o120000: "a symbolic link",
    0o140000: "a socket",
}


def _dos_text(dos: tuple[int, int]) -> str:
    when = R.datetime_from_dos(*dos)
    return (
        when.isoformat()
        if when is not None
        else f"invalid (time {dos[0]:#06x}, date {dos[1]:#06x})"
    )


class MemberChecker:
    """Checks the members of one zip file in central directory order."""

    def __init__(
        self, fd: int, limits: Limits, out: Parsed, report: Report, cd_offset: int
    ) -> None:
        self.fd = fd
        self.limits = limits
        self.out = out
        self.report = report
        self.cd_offset = cd_offset
        #: where the next member's local header should start
        self.expected_offset = 0
        self._total = 0
        self._total_reported = False
        #: sizes and compressed sizes of the deflated members accepted so far
        self._inflated = 0
        self._deflated = 0
        self._ratio_reported = False
        self._names: set[str] = set()
        self._twins: dict[str, str] = {}

    def check(self, index: int, fixed: bytes, raw: bytes, extra: bytes, comment: bytes) -> None:
        """Check the member whose central directory header is ``fixed + raw + extra + comment``."""
        header = R.CENTRAL.unpack(fixed)
        if not (extra or comment) and self._plain(header, raw):
            return
        (_, _, _, _, method, mtime, mdate, crc, csize, size, _, _, _, _, _, attrs, offset) = header
        name = self._name(raw)
        special = self._special(name, raw, attrs)
        if self.out.dos_time is None:
            self.out.dos_time = (mtime, mdate)
            if R.datetime_from_dos(mtime, mdate) is None:
                self.report(
                    P.NonCanonical,
                    name,
                    "invalid modification time",
                    None,
                    _dos_text((mtime, mdate)),
                )
        dos = self.out.dos_time
        if _U32 in (size, csize, offset):
            values = iter(R.zip64_values(extra) or [])
            try:
                size = next(values) if size == _U32 else size
                csize = next(values) if csize == _U32 else csize
                offset = next(values) if offset == _U32 else offset
            except StopIteration:
                self.report(
                    P.ZipStructure, name, "zip64 extra field missing or too short", None, None
                )
                return
        sound = True
        if method not in R.METHODS:
            self.report(P.NonCanonical, name, "compression method not allowed", "0 or 8", method)
            sound = False
        elif method == R.STORED and csize != size:
            self.report(
                P.NonCanonical,
                name,
                "stored member whose compressed size is not its size",
                size,
                csize,
            )
            sound = False
        self._central(
            name,
            fixed,
            raw,
            extra,
            comment,
            (method, crc, csize, size, offset),
            (mtime, mdate),
            dos,
            special,
        )
        sound = self._bounds(index, name, method, csize, size) and sound
        head = R.local_header_size(raw, size, method)
        end = offset + head + csize
        if offset < self.expected_offset:
            self.report(
                P.OverlappingMembers,
                name,
                "starts inside the member before it",
                self.expected_offset,
                offset,
            )
            sound = False
        elif offset > self.expected_offset:
            if index == 0:
                self.report(P.ZipStructure, name, "bytes before the first member", 0, offset)
            else:
                self.report(
                    P.OverlappingMembers,
                    name,
                    "bytes between this member and the one before it",
                    self.expected_offset,
                    offset,
                )
        if end > self.cd_offset:
            self.report(
                P.OverlappingMembers,
                name,
                "runs into the central directory",
                f"end at most at {self.cd_offset}",
                end,
            )
            return
        self.expected_offset = max(self.expected_offset, end)
        local = R.local_header(raw, method, crc, csize, size, (mtime, mdate))
        sound = self._local(name, offset, local) and sound
        if sound and method == R.DEFLATED:
            sound = self._together(index, size, csize)
        if sound:
            self.out.entries.append(ZipEntry(name, method, crc, csize, size, offset, offset + head))

    def _plain(self, values: tuple[int, ...], raw: bytes) -> bool:
        """Accept, at little cost, a member that is canonical in every respect.

        The common case: an ASCII name, no zip64, every header field the layout's, the data
        where it belongs. Anything else returns False, having changed nothing, and goes through
        the full checks, which say what is wrong.
        """
        (_, made, need, flags, method, mtime, mdate, crc, csize, size, nlen) = values[:11]
        (disk, internal, attrs, offset) = values[13:]
        dos = self.out.dos_time
        if (
            dos is None
            or (mtime, mdate) != dos
            or made != _MADE_BY
            or need != R.VERSION_DEFAULT
            or flags
            or disk
            or internal
            or attrs != R.EXTERNAL_ATTR
            or offset != self.expected_offset
            or not raw.isascii()
        ):
            return False
        if method == R.STORED:
            if csize != size:
                return False
        elif method != R.DEFLATED:
            return False
        lim = self.limits
        if (
            R.local_zip64(size, method)
            or R.offset_zip64(offset)
            or max(size, csize) > lim.max_member_size
            or (size > lim.ratio_free_size and size > lim.max_ratio * csize)
            or self._total + size > lim.max_total_size
            or (method == R.DEFLATED and not self._ratio_ok(size, csize))
        ):
            return False
        name = raw.decode("ascii")
        key = name.lower()
        if (
            name in self._names
            or key in self._twins
            or R.name_problem(name, lim.max_name_bytes) is not None
        ):
            return False
        head = R.LOCAL.size + nlen
        end = offset + head + csize
        if end > self.cd_offset:
            return False
        local = R.LOCAL.pack(
            R.LOCAL_SIG, R.VERSION_DEFAULT, 0, method, mtime, mdate, crc, csize, size, nlen, 0
        )
        if os.pread(self.fd, head, offset) != local + raw:
            return False
        self._names.add(name)
        self._twins[key] = name
        self._total += size
        if method == R.DEFLATED:
            self._inflated += size
            self._deflated += csize
        self.expected_offset = end
        self.out.entries.append(ZipEntry(name, method, crc, csize, size, offset, offset + head))
        return True

    def _ratio_ok(self, size: int, csize: int) -> bool:
        """Whether the deflated members accepted so far and this one stay within the ratio
        bound together (:class:`~manifests.zipfmt.directory.Limits`)."""
        lim = self.limits
        inflated = self._inflated + size
        return inflated <= lim.ratio_free_total or inflated <= lim.max_ratio * (
            self._deflated + csize
        )

    def _together(self, index: int, size: int, csize: int) -> bool:
        """Count a sound deflated member into the ratio bound of all of them, or refuse it."""
        if self._ratio_ok(size, csize):
            self._inflated += size
            self._deflated += csize
            return True
        if not self._ratio_reported:
            self._ratio_reported = True
            lim = self.limits
            self.report(
                P.BombSuspected,
                "",
                "the deflated members together pass the compression ratio limit at member "
                f"{index + 1}",
                f"at most {lim.max_ratio}:1 past {lim.ratio_free_total} bytes",
                f"{self._inflated + size} bytes from {self._deflated + csize}",
            )
        return False

    # -- the parts -----------------------------------------------------------------------------
    def _name(self, raw: bytes) -> str:
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError:
            name = raw.decode("utf-8", "backslashreplace")
            self.report(P.UnsafeName, name, "unsafe member name: not valid UTF-8", None, None)
        else:
            # a trailing / is a directory entry, reported as a special member
            why = R.name_problem(name.removesuffix("/"), self.limits.max_name_bytes)
            if why is not None:
                self.report(P.UnsafeName, name, f"unsafe member name: {why}", None, None)
        if name in self._names:
            self.report(P.DuplicateName, name, "another member has the same name", None, None)
            return name
        self._names.add(name)
        key = R.twin_key(name)
        other = self._twins.get(key)
        if other is not None:
            self.report(
                P.NameTwin,
                name,
                "differs from another member's name only by Unicode normalisation or letter "
                "case: they collide when extracted",
                None,
                other,
            )
        else:
            self._twins[key] = name
        return name

    def _special(self, name: str, raw: bytes, attrs: int) -> bool:
        kind = (attrs >> 16) & 0o170000
        what = None
        if raw.endswith(b"/"):
            what = "a directory entry"
        elif kind not in (0, 0o100000):
            what = _FILE_TYPES.get(kind, f"of file type {kind:o}")
        elif kind == 0 and attrs & 0x10:
            what = "a directory (MS-DOS attributes)"
        if what is None:
            return False
        self.report(
            P.SpecialMember, name, f"{what}, not a regular file", "0o100644", f"{attrs >> 16:#o}"
        )
        return True

    def _central(
        self,
        name: str,
        fixed: bytes,
        raw: bytes,
        extra: bytes,
        comment: bytes,
        values: tuple[int, int, int, int, int],
        own_dos: tuple[int, int],
        dos: tuple[int, int],
        special: bool,
    ) -> None:
        method, crc, csize, size, offset = values
        canonical = R.central_header(raw, method, crc, csize, size, offset, dos)
        if fixed + raw + extra + comment == canonical:
            return
        fields = F.differing_fields(R.CENTRAL, F.CENTRAL_FIELDS, fixed, canonical)
        if extra != canonical[R.CENTRAL.size + len(raw) :]:
            fields.append("extra field")
        if comment:
            fields.append("comment")
        if own_dos != dos:
            self.report(
                P.NonCanonical,
                name,
                "modification time differs from the archive's",
                _dos_text(dos),
                _dos_text(own_dos),
            )
        skip = {"modification time", "modification date", "method"}
        if special:
            skip.add("external attributes")
        fields = [f for f in fields if f not in skip]
        if fields:
            self.report(
                P.NonCanonical,
                name,
                "central directory header differs from the layout in: " + ", ".join(fields),
                None,
                None,
            )

    def _bounds(self, index: int, name: str, method: int, csize: int, size: int) -> bool:
        lim = self.limits
        ok = True
        if max(size, csize) > lim.max_member_size:
            self.report(
                P.BombSuspected,
                name,
                "member larger than the limit",
                lim.max_member_size,
                max(size, csize),
            )
            ok = False
        elif method == R.DEFLATED and size > lim.ratio_free_size and size > lim.max_ratio * csize:
            self.report(
                P.BombSuspected,
                name,
                "compression ratio above the limit",
                f"at most {lim.max_ratio}:1",
                f"{size} bytes from {csize}",
            )
            ok = False
        self._total += size
        if self._total > lim.max_total_size:
            if not self._total_reported:
                self.report(
                    P.BombSuspected,
                    "",
                    f"the members' total size passes the limit at member {index + 1}",
                    lim.max_total_size,
                    self._total,
                )
                self._total_reported = True
            ok = False
        return ok

    def _local(self, name: str, offset: int, canonical: bytes) -> bool:
        """Compare the local header at ``offset``; False if the data cannot be located."""
        found = os.pread(self.fd, len(canonical), offset)
        if found == canonical:
            return True
        if len(found) < R.LOCAL.size or not found.startswith(R.LOCAL_SIG):
            self.report(
                P.HeaderMismatch,
                name,
                "no local header where the central directory says",
                offset,
                None,
            )
            return False
        fields = F.differing_fields(R.LOCAL, F.LOCAL_FIELDS, found, canonical)
        name_end = R.LOCAL.size + R.LOCAL.unpack_from(canonical)[9]
        if found[R.LOCAL.size : name_end] != canonical[R.LOCAL.size : name_end]:
            fields.append("name")
        if found[name_end:] != canonical[name_end:]:
            fields.append("extra field")
        self.report(
            P.HeaderMismatch,
            name,
            "local header differs from the one its central directory header calls for, in: "
            + ", ".join(fields),
            None,
            None,
        )
        return "name length" not in fields and "extra field length" not in fields
