"""Helpers for the zip format tests: archives written by the writer, or built by hand."""

from __future__ import annotations

import shutil
import struct
import subprocess
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from isal import isal_zlib

from manifests.problems import Problem
from manifests.zipfmt import CorruptDataError, Limits, ZipReader, ZipWriter
from manifests.zipfmt import records as R

WHEN = datetime(2026, 1, 31, 12, 0, 0, tzinfo=UTC)
DOS = R.dos_time(WHEN)


def deflate(data: bytes, level: int = 2) -> bytes:
    """A raw deflate stream of ``data``."""
    c = isal_zlib.compressobj(level, isal_zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def write(
    path: Path,
    members: list[tuple[str, bytes, bool]],
    *,
    when: datetime = WHEN,
    level: int = 2,
) -> Path:
    """Write ``(name, data, compress)`` members with the writer; return ``path``."""
    with open(path, "wb") as fh:
        zw = ZipWriter(fh, when=when, level=level)
        for name, data, compress in members:
            zw.add_bytes(name, data, compress=compress)
        zw.close()
    return path


def codes(problems: list[Problem]) -> list[str]:
    return [p.code for p in problems]


def read_all(path: Path) -> tuple[list[Problem], dict[str, bytes]]:
    """The reader's problems and every listed member's data (which must read cleanly)."""
    with ZipReader(path) as zr:
        return list(zr.problems), {e.name: b"".join(zr.iter_data(e)) for e in zr.entries}


def unzip_test(path: Path) -> None:
    """Info-ZIP ``unzip -t`` accepts the archive."""
    unzip = shutil.which("unzip")
    if unzip is None:
        pytest.fail("unzip is not installed: run `make test`, which installs it")
    done = subprocess.run([unzip, "-t", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def python_zip_read(path: Path) -> dict[str, bytes]:
    """Python's zipfile reads the archive, and its CRC-32 test passes."""
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        return {i.filename: zf.read(i) for i in zf.infolist()}


# -- archives built by hand, to break the rules the writer keeps --------------------------------
@dataclass
class Raw:
    """One member of a hand-built archive; None means the canonical value."""

    name: str | bytes
    #: the bytes stored in the file (already compressed when ``method`` is 8)
    data: bytes = b""
    method: int = R.STORED
    #: the uncompressed content, for the default size and CRC-32 (default: ``data``)
    content: bytes | None = None
    size: int | None = None
    csize: int | None = None
    crc: int | None = None
    flags: int | None = None
    attrs: int | None = None
    dos: tuple[int, int] | None = None
    #: central directory offset to claim instead of the real one
    offset: int | None = None
    #: False: only a central directory header (pointing at ``offset``)
    local: bool = True
    #: bytes written just before this member's local header
    before: bytes = b""


def patch(record: bytes, layout: struct.Struct, index: int, value: int) -> bytes:
    """``record`` with field ``index`` of its fixed part set to ``value``."""
    fields = list(layout.unpack_from(record))
    fields[index] = value
    return layout.pack(*fields) + record[layout.size :]


def build(
    members: list[Raw],
    *,
    start: bytes = b"",
    comment: bytes = b"",
    after: bytes = b"",
) -> bytes:
    """An archive of ``members``; ``start`` bytes come first and the offsets count them."""
    out = bytearray(start)
    central = bytearray()
    for m in members:
        raw = m.name.encode() if isinstance(m.name, str) else m.name
        content = m.data if m.content is None else m.content
        size = len(content) if m.size is None else m.size
        csize = len(m.data) if m.csize is None else m.csize
        crc = isal_zlib.crc32(content) if m.crc is None else m.crc
        dos = DOS if m.dos is None else m.dos
        out += m.before
        offset = len(out) if m.offset is None else m.offset
        if m.local:
            local = R.local_header(raw, m.method, crc, csize, size, dos)
            if m.flags is not None:
                local = patch(local, R.LOCAL, 2, m.flags)
            out += local + m.data
        header = R.central_header(raw, m.method, crc, csize, size, offset, dos)
        if m.flags is not None:
            header = patch(header, R.CENTRAL, 3, m.flags)
        if m.attrs is not None:
            header = patch(header, R.CENTRAL, 15, m.attrs)
        central += header
    end = R.end_records(len(members), len(out), len(central))
    if comment:
        end = end[:-2] + struct.pack("<H", len(comment)) + comment
    return bytes(out + central + end) + after


# -- reading hand-built archives ---------------------------------------------------------------
def open_bytes(tmp_path: Path, data: bytes, limits: Limits = Limits()) -> ZipReader:  # noqa: B008
    path = tmp_path / "hostile.zip"
    path.write_bytes(data)
    return ZipReader(path, limits=limits)


def problems_of(tmp_path: Path, data: bytes, limits: Limits = Limits()) -> list[Problem]:  # noqa: B008
    with open_bytes(tmp_path, data, limits) as zr:
        return zr.problems


def read_error(zr: ZipReader, name: str) -> CorruptDataError:
    entry = next(e for e in zr.entries if e.name == name)
    with pytest.raises(CorruptDataError) as caught:
        for _ in zr.iter_data(entry):
            pass
    assert caught.value.problem.code == "corrupt-data"
    assert caught.value.problem.path == name
    return caught.value
