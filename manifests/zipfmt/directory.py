"""Parse a zip file strictly against the canonical layout, recording every problem found.

:func:`parse` reads the end records, then the central directory, then every local header,
rebuilds each of them with the functions of :mod:`manifests.zipfmt.records` and compares them
byte for byte with what the file holds. It never raises for a malformed file: it returns the
problems and the members whose data it could locate.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field

from manifests import problems as P
from manifests.zipfmt import fieldnames as F
from manifests.zipfmt import records as R
from manifests.zipfmt.members import MemberChecker
from manifests.zipfmt.records import ZipEntry

#: how far from the end a misplaced end record is looked for (its longest comment, and more)
_TAIL_SEARCH = R.END.size + 0xFFFF + 1024
_BLOCK = 1 << 20
#: central directories up to this size are read with one pread
_WHOLE = 64 << 20


@dataclass(frozen=True)
class Limits:
    """Bounds a reader enforces before it reads a member (zip bombs, hostile directories).

    The ratio rule: a deflated member is refused when its size is more than ``max_ratio``
    times its compressed size *and* more than ``ratio_free_size``. Members that expand to at
    most 64 MiB are never refused for their ratio (small, very repetitive tag files and CSV
    files are fine), while a member claiming 1 GiB from 1 MiB (ratio 1024, deflate's maximum
    is about 1032) is refused before a byte is inflated. Each member's output is in any case
    cut off at its declared size while it is inflated.

    The same ratio bounds the deflated members together: once their sizes add up to more than
    ``ratio_free_total``, a member is refused when it would take the sum of their sizes past
    ``max_ratio`` times the sum of their compressed sizes. So many members each under
    ``ratio_free_size`` (25,000 members of 64 MiB of zeros are 1.6 TiB from 1.6 GB) cannot make
    a reader inflate more than ``ratio_free_total`` plus ``max_ratio`` times the file's size.
    """

    max_members: int = 2_000_000
    #: bytes of central directory (its records and names): bounds what the names take
    max_directory_size: int = 1 << 30
    max_member_size: int = 1 << 40
    max_total_size: int = 1 << 42
    max_ratio: int = 200
    max_name_bytes: int = 1024
    #: deflated members of at most this size are not subject to ``max_ratio``
    ratio_free_size: int = 64 << 20
    #: deflated members whose sizes add up to at most this are not subject to ``max_ratio``
    #: together
    ratio_free_total: int = 1 << 30


@dataclass
class Parsed:
    """What :func:`parse` found."""

    problems: list[P.Problem] = field(default_factory=list)
    entries: list[ZipEntry] = field(default_factory=list)
    dos_time: tuple[int, int] | None = None


class _Blocks:
    """Sequential reads of a byte range, ``pread`` one block at a time.

    A range of at most :data:`_WHOLE` bytes (any central directory of a few hundred thousand
    members) is read at once, so that each header is a slice of one buffer.
    """

    def __init__(self, fd: int, start: int, end: int) -> None:
        self.fd = fd
        self.pos = start
        self.end = end
        self._buf = b""
        self._at = 0
        if 0 < end - start <= _WHOLE:
            self._buf = os.pread(fd, end - start, start)
            self.pos += len(self._buf)

    def read(self, n: int) -> bytes:
        at = self._at
        if at + n <= len(self._buf):  # the common case: all of it in the buffer
            self._at = at + n
            return self._buf[at : at + n]
        out = b""
        while len(out) < n:
            if self._at >= len(self._buf):
                want = min(_BLOCK, self.end - self.pos)
                if want <= 0:
                    break
                self._buf = os.pread(self.fd, want, self.pos)
                self._at = 0
                if not self._buf:
                    break
                self.pos += len(self._buf)
            take = self._buf[self._at : self._at + n - len(out)]
            self._at += len(take)
            out += take
        return out

    @property
    def consumed(self) -> int:
        """The position of the next byte :meth:`read` returns."""
        return self.pos - (len(self._buf) - self._at)


def parse(fd: int, size: int, limits: Limits) -> Parsed:
    """Parse the zip file open as ``fd`` (``size`` bytes long)."""
    parser = _Parser(fd, size, limits)
    try:
        parser.run()
    except (ValueError, IndexError, OverflowError) as exc:  # a safety net: report, never raise
        parser.problem(P.ZipStructure, "", f"unreadable zip structure: {exc}")
    return parser.out


class _Parser:
    def __init__(self, fd: int, size: int, limits: Limits) -> None:
        self.fd = fd
        self.size = size
        self.limits = limits
        self.out = Parsed()

    def problem(
        self,
        kind: type[P.Problem],
        path: str,
        detail: str,
        expected: object = None,
        found: object = None,
    ) -> None:
        self.out.problems.append(
            kind(
                path=path,
                detail=detail,
                expected=None if expected is None else str(expected),
                found=None if found is None else str(found),
            )
        )

    def pread(self, n: int, at: int) -> bytes:
        return os.pread(self.fd, n, at) if n > 0 and at >= 0 else b""

    # -- the end records -----------------------------------------------------------------------
    def run(self) -> None:
        if self.size == 0:
            self.problem(P.ZipStructure, "", "empty file, not a zip file")
            return
        end_at = self._find_end()
        if end_at is None:
            return
        tail_ok = end_at + R.END.size == self.size
        (_, _, _, n_disk, count, cd_size, cd_offset, _) = R.END.unpack(
            self.pread(R.END.size, end_at)
        )
        cd_end = end_at
        if 0xFFFF in (n_disk, count) or 0xFFFF_FFFF in (cd_size, cd_offset):
            z64 = self._zip64(end_at)
            if z64 is None:
                return
            cd_end, count, cd_size, cd_offset = z64
        if count > self.limits.max_members:
            self.problem(
                P.BombSuspected,
                "",
                "the archive claims more members than the limit",
                self.limits.max_members,
                count,
            )
            return
        if cd_size > self.limits.max_directory_size:
            self.problem(
                P.BombSuspected,
                "",
                "the central directory is larger than the limit",
                self.limits.max_directory_size,
                cd_size,
            )
            return
        if cd_offset + cd_size != cd_end:
            gap = cd_end - cd_size - cd_offset
            detail = (
                f"{gap} bytes unaccounted for before the central directory (prepended data?)"
                if gap > 0
                else "the central directory's offset and size run past the end records"
            )
            self.problem(P.ZipStructure, "", detail, cd_end, cd_offset + cd_size)
            return
        if cd_size < R.CENTRAL.size * count:
            self.problem(
                P.ZipStructure,
                "",
                f"the central directory is too small for {count} members",
                R.CENTRAL.size * count,
                cd_size,
            )
            return
        if tail_ok:
            self._check_end_records(count, cd_offset, cd_size, cd_end, end_at)
        self._directory(count, cd_offset, cd_end)

    def _find_end(self) -> int | None:
        """Where the end of central directory record starts (reporting a misplaced one)."""
        at = self.size - R.END.size
        if at >= 0 and self.pread(4, at) == R.END_SIG:
            return at
        start = max(0, self.size - _TAIL_SEARCH)
        tail = self.pread(self.size - start, start)
        i = tail.rfind(R.END_SIG)
        if i < 0 or i + R.END.size > len(tail):
            truncated = self.pread(4, 0) == R.LOCAL_SIG
            kind = "a truncated zip file?" if truncated else "not a zip file"
            self.problem(P.ZipStructure, "", f"no end of central directory record: {kind}")
            return None
        at = start + i
        (comment,) = R.END.unpack_from(tail, i)[7:]
        after = self.size - at - R.END.size
        if comment and comment == after:
            self.problem(P.ZipStructure, "", "the archive has a comment", 0, comment)
        else:
            self.problem(P.ZipStructure, "", "bytes after the end of the archive", 0, after)
        return at

    def _zip64(self, end_at: int) -> tuple[int, int, int, int] | None:
        """(zip64 record offset, count, cd size, cd offset) from the zip64 end records."""
        loc_at = end_at - R.ZIP64_LOCATOR.size
        z64_at = loc_at - R.ZIP64_END.size
        loc = self.pread(R.ZIP64_LOCATOR.size, loc_at)
        if z64_at < 0 or len(loc) < R.ZIP64_LOCATOR.size or not loc.startswith(R.ZIP64_LOCATOR_SIG):
            self.problem(P.ZipStructure, "", "the zip64 end locator is missing")
            return None
        (_, _, offset, _) = R.ZIP64_LOCATOR.unpack(loc)
        if offset != z64_at:
            self.problem(
                P.ZipStructure, "", "the zip64 end record is not before its locator", z64_at, offset
            )
            return None
        record = R.ZIP64_END.unpack(self.pread(R.ZIP64_END.size, z64_at))
        if record[0] != R.ZIP64_END_SIG:
            self.problem(P.ZipStructure, "", "the zip64 end record is missing")
            return None
        return z64_at, record[7], record[8], record[9]

    def _check_end_records(
        self, count: int, cd_offset: int, cd_size: int, cd_end: int, end_at: int
    ) -> None:
        found = self.pread(self.size - cd_end, cd_end)
        canonical = R.end_records(count, cd_offset, cd_size)
        if found == canonical:
            return
        if len(found) != len(canonical):
            has = "has" if len(found) > len(canonical) else "lacks"
            detail = f"the archive {has} zip64 end records the layout does not call for here"
            self.problem(P.NonCanonical, "", detail)
            return
        fields: list[str] = []
        pos = 0
        layouts: list[tuple[struct.Struct, tuple[str, ...]]] = [(R.END, F.END_FIELDS)]
        if len(found) > R.END.size:
            layouts = [
                (R.ZIP64_END, F.ZIP64_END_FIELDS),
                (R.ZIP64_LOCATOR, F.ZIP64_LOCATOR_FIELDS),
                *layouts,
            ]
        for layout, names in layouts:
            chunk = slice(pos, pos + layout.size)
            fields += F.differing_fields(layout, names, found[chunk], canonical[chunk])
            pos += layout.size
        self.problem(
            P.NonCanonical, "", "end records differ from the layout in: " + ", ".join(fields)
        )

    # -- the central directory -----------------------------------------------------------------
    def _directory(self, count: int, cd_offset: int, cd_end: int) -> None:
        blocks = _Blocks(self.fd, cd_offset, cd_end)
        checker = MemberChecker(self.fd, self.limits, self.out, self.problem, cd_offset)
        for index in range(count):
            at = blocks.consumed
            fixed = blocks.read(R.CENTRAL.size)
            if len(fixed) < R.CENTRAL.size or not fixed.startswith(R.CENTRAL_SIG):
                self.problem(
                    P.ZipStructure,
                    "",
                    f"central directory header {index + 1} of {count} missing at offset {at}",
                )
                return
            name_len, extra_len, comment_len = R.CENTRAL.unpack(fixed)[10:13]
            raw = blocks.read(name_len)
            extra = blocks.read(extra_len)
            comment = blocks.read(comment_len)
            if len(raw) + len(extra) + len(comment) < name_len + extra_len + comment_len:
                self.problem(
                    P.ZipStructure, "", f"central directory header {index + 1} runs past its end"
                )
                return
            checker.check(index, fixed, raw, extra, comment)
        if blocks.consumed != cd_end:
            self.problem(
                P.ZipStructure,
                "",
                "the central directory holds bytes after its last header",
                0,
                cd_end - blocks.consumed,
            )
        elif checker.expected_offset < cd_offset:
            self.problem(
                P.OverlappingMembers,
                "",
                "bytes between the last member and the central directory",
                checker.expected_offset,
                cd_offset,
            )
