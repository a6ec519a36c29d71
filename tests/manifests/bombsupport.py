"""Zip bombs and hostile archives for tests/manifests/test_bombs.py, made in milliseconds.

* :func:`zeros_stream`: a raw deflate stream of N MiB of zeros, made by repeating the stream of
  one MiB (compressed once, ended by a full flush: it refers to nothing before it), then a final
  empty block. 10 GiB of zeros is 10.6 MB of stream, made without inflating or deflating them.
* :func:`rebuild`: a real signed archive's members, as :class:`Raw` members of
  :func:`tests.manifests.zipfmt.support.build`, so that one member can be replaced by a bomb and
  everything else stays byte for byte canonical (rebuilt unchanged, the archive is the same file).
* :func:`write_many_members`: a real zip of N empty members (``t/0000000``...), written with
  NumPy a million headers at a time: 10 million members in about a second.
* :class:`Reads`: counts what a reader does (bytes read with ``os.pread``, bytes inflated,
  central directory headers checked, zip files parsed), so that "refused quickly" is a count.
"""

from __future__ import annotations

import os
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from manifests.zipfmt import ZipReader
from manifests.zipfmt import records as R
from manifests.zipfmt.members import MemberChecker
from manifests.zipfmt.reader import MemberData
from tests.manifests.zipfmt.support import DOS, Raw, deflate

MiB = 1 << 20


def zeros_stream(mib: int) -> bytes:
    """A raw deflate stream that inflates to ``mib`` MiB of zeros."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    one = c.compress(b"\0" * MiB) + c.flush(zlib.Z_FULL_FLUSH)
    return one * mib + b"\x03\x00"  # a final fixed-Huffman block holding only its end code


def rebuild(src: Path, replace: dict[str, Callable[[Raw], Raw]] | None = None) -> list[Raw]:
    """The members of the archive ``src`` as :class:`Raw` members, in order, each one named in
    ``replace`` (by its path inside the bag, ``data/csv/quotes.csv``) passed through it."""
    with ZipReader(src) as zr:
        dos = zr.dos_time
    out: list[Raw] = []
    with zipfile.ZipFile(src) as zf:
        for info in zf.infolist():
            data = zf.read(info)
            if info.compress_type == zipfile.ZIP_DEFLATED:
                raw = Raw(info.filename, deflate(data), R.DEFLATED, data, dos=dos)
            else:
                raw = Raw(info.filename, data, dos=dos)
            change = (replace or {}).get(info.filename.split("/", 1)[1])
            out.append(raw if change is None else change(raw))
    return out


def write_many_members(path: Path, count: int) -> int:
    """Write a canonical zip of ``count`` empty stored members named ``t/<7 digits>``; return
    its size. Every header is a real one: the local headers, then the central directory (each
    header with its member's offset), then the zip64 end records.

    A million headers are made at a time with NumPy, from one block made once: a block's
    members differ from the next block's only in the first digit of their names (and, in the
    central directory, their offsets).
    """
    import numpy as np

    if count > 10**7:
        raise ValueError("names have 7 digits")
    chunk, name_len = min(count, 10**6), 9
    fields = [("sig", "S4"), ("need", "<u2"), ("flags", "<u2"), ("method", "<u2")]
    fields += [("time", "<u2"), ("date", "<u2"), ("crc", "<u4"), ("csize", "<u4")]
    fields += [("size", "<u4"), ("nlen", "<u2"), ("xlen", "<u2")]
    central_fields = [("clen", "<u2"), ("disk", "<u2"), ("internal", "<u2")]
    central_fields += [("external", "<u4"), ("offset", "<u4")]
    name = ("name", f"S{name_len}")
    local = np.zeros(chunk, dtype=np.dtype([*fields, name]))
    central_layout = [fields[0], ("made", "<u2"), *fields[1:], *central_fields, name]
    central = np.zeros(chunk, dtype=np.dtype(central_layout))
    assert local.itemsize == R.LOCAL.size + name_len
    assert central.itemsize == R.CENTRAL.size + name_len
    index = np.arange(chunk, dtype=np.uint64)
    chars = np.empty((chunk, name_len), dtype=np.uint8)
    chars[:, 0], chars[:, 1], chars[:, 2] = ord("t"), ord("/"), ord("0")
    for k in range(6):
        chars[:, 8 - k] = (index // 10**k) % 10 + ord("0")
    names = chars.view(f"S{name_len}").ravel()
    for block, sig in ((local, R.LOCAL_SIG), (central, R.CENTRAL_SIG)):
        block["sig"], block["need"], block["nlen"], block["name"] = sig, R.VERSION_DEFAULT, 9, names
        block["time"], block["date"] = DOS
    central["made"] = (R.UNIX << 8) | R.VERSION_DEFAULT
    central["external"] = R.EXTERNAL_ATTR
    step = local.itemsize
    if count * step >= R.ZIP64_THRESHOLD:
        raise ValueError("local header offsets would need zip64 extra fields")
    starts = range(0, count, chunk)
    with open(path, "wb") as fh:
        for start in starts:
            local["name"] = _first_digit(names, start // chunk)
            fh.write(local[: count - start].tobytes())
        cd_offset = fh.tell()
        for start in starts:
            central["name"] = _first_digit(names, start // chunk)
            central["offset"] = (index + start) * step
            fh.write(central[: count - start].tobytes())
        cd_size = fh.tell() - cd_offset
        fh.write(R.end_records(count, cd_offset, cd_size))
        return fh.tell()


def _first_digit(names: Any, digit: int) -> Any:
    """``names`` with their first digit (after ``t/``) set to ``digit``."""
    import numpy as np

    chars = names.view(np.uint8).reshape(len(names), -1).copy()
    chars[:, 2] = ord("0") + digit
    return chars.view(names.dtype).ravel()


def claimed_members(count: int) -> bytes:
    """A file of nothing but zip64 end records claiming ``count`` members (and a central
    directory of 46 bytes each, at offset 0): what a 98-byte file can claim."""
    records = bytearray(R.end_records(count, 0, R.CENTRAL.size * count))
    # the locator points at the zip64 end record where it is: at the start of the file
    R.ZIP64_LOCATOR.pack_into(records, R.ZIP64_END.size, R.ZIP64_LOCATOR_SIG, 0, 0, 1)
    return bytes(records)


@dataclass
class Reads:
    """What the zip reader did, counted while a test runs (see :func:`counting`)."""

    #: bytes returned by ``os.pread`` (every read of an archive goes through it)
    read: int = 0
    #: bytes inflated out of deflated members
    inflated: int = 0
    #: central directory headers checked (members parsed)
    members: int = 0
    #: the size of each file whose zip structure was parsed
    parsed: list[int] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, what: str, n: int) -> None:
        with self._lock:
            setattr(self, what, getattr(self, what) + n)

    def reset(self) -> None:
        """Forget what was counted so far (what building the test's archive read)."""
        with self._lock:
            self.read = self.inflated = self.members = 0
            self.parsed.clear()


def counting(monkeypatch: pytest.MonkeyPatch) -> Reads:
    """Count reads, inflated bytes, members and parses from now to the end of the test."""
    import manifests.zipfmt.reader as reader_module

    reads = Reads()
    pread = os.pread

    def counted_pread(fd: int, n: int, at: int) -> bytes:
        data = pread(fd, n, at)
        reads.add("read", len(data))
        return data

    inflate = MemberData._inflate

    def counted_inflate(self: MemberData, entry: Any, chunk_size: int) -> Iterator[bytes]:
        for out in inflate(self, entry, chunk_size):
            reads.add("inflated", len(out))
            yield out

    check = MemberChecker.check

    def counted_check(self: MemberChecker, *args: Any) -> None:
        reads.add("members", 1)
        check(self, *args)

    parse = reader_module.parse

    def counted_parse(fd: int, size: int, limits: Any) -> Any:
        reads.parsed.append(size)
        return parse(fd, size, limits)

    monkeypatch.setattr(os, "pread", counted_pread)
    monkeypatch.setattr(MemberData, "_inflate", counted_inflate)
    monkeypatch.setattr(MemberChecker, "check", counted_check)
    monkeypatch.setattr(reader_module, "parse", counted_parse)
    return reads
