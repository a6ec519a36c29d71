"""A model of an archive for mutating it: its members, rebuilt in the canonical layout.

:class:`Original` is a real signed archive taken apart into its members (name, method,
CRC-32, sizes, stored bytes); :func:`layout` puts members back together exactly as the writer
does (the original's bytes, when nothing changed), so that a mutation of the members leaves a
container whose only fault is the mutation. Used by ``test_fuzz_reader.py``.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, replace
from pathlib import Path
from typing import cast

from isal import isal_zlib

from manifests import bag
from manifests.signing import MalformedSignature, PublicKey, SecretKey, Signature
from manifests.zipfmt import CorruptDataError, ZipReader
from manifests.zipfmt import records as R

TOP = "acc-t001"
#: what ISA-L raises for an invalid deflate stream (its type stub declares an instance)
INFLATE_ERROR: type[Exception] = cast("type[Exception]", isal_zlib.error)


@dataclass(frozen=True)
class Member:
    """One member of the archive, as its headers and data hold it."""

    name: bytes
    method: int
    crc: int
    csize: int
    size: int
    data: bytes


class Original:
    """The archive as made, its members, the archive's MS-DOS time and its key pair."""

    def __init__(
        self,
        data: bytes,
        members: tuple[Member, ...],
        dos: tuple[int, int],
        pub: PublicKey,
        key: SecretKey,
    ) -> None:
        self.data = data
        self.members = members
        self.dos = dos
        self.pub = pub
        self.key = key

    def __repr__(self) -> str:  # what a failing example prints: not 100 kB of archive
        return f"Original({len(self.data)} bytes, {len(self.members)} members)"


def layout(
    members: tuple[Member, ...], dos: tuple[int, int], repeat: tuple[int, ...] = ()
) -> bytes:
    """The archive of ``members`` in the canonical layout; the central entries of the members
    at ``repeat`` appear twice (pointing at the same local header)."""
    out = bytearray()
    offsets = []
    for m in members:
        offsets.append(len(out))
        out += R.local_header(m.name, m.method, m.crc, m.csize, m.size, dos) + m.data
    central = bytearray()
    count = 0
    for i, (m, at) in enumerate(zip(members, offsets, strict=True)):
        for _ in range(2 if i in repeat else 1):
            central += R.central_header(m.name, m.method, m.crc, m.csize, m.size, at, dos)
            count += 1
    return bytes(out + central + R.end_records(count, len(out), len(central)))


#: the members, in order, and the positions of those whose central entry is written twice
Shape = tuple[tuple[Member, ...], tuple[int, ...]]


def make_original(folder: Path) -> Original:
    """A real signed archive of the tiny database's first account, made in ``folder``."""
    from manifests.verify import verify_archive
    from tests.manifests.conftest import make_archive, make_keys
    from tests.tinydb import make_tiny_db

    db = make_tiny_db(folder / "tiny.db", with_documents=True)
    keys = make_keys(folder / "keys")
    path = make_archive(db, folder / f"{TOP}.zip", keys, TOP)
    data = path.read_bytes()
    members = []
    with ZipReader(path) as zr:
        assert zr.problems == []
        for e in zr.entries:
            raw = data[e.data_offset : e.data_offset + e.compressed_size]
            members.append(
                Member(e.name.encode(), e.method, e.crc32, e.compressed_size, e.size, raw)
            )
        first = zr.entries[0]
    time, day = struct.unpack_from("<HH", data, first.header_offset + 10)
    made = Original(
        data, tuple(members), (time, day), PublicKey.load(keys.pub), SecretKey.load(keys.key)
    )
    assert layout(made.members, made.dos) == data, "the model rebuilds the archive"
    assert verify_archive(path, made.pub).valid
    return made


def put_member(members: tuple[Member, ...], k: int, member: Member) -> tuple[Member, ...]:
    return (*members[:k], member, *members[k + 1 :])


def content_of(m: Member) -> bytes:
    """What ``m`` holds (its data as they are when a mutation left them not inflatable)."""
    if m.method != R.DEFLATED:
        return m.data
    try:
        return isal_zlib.decompress(m.data, -15)
    except INFLATE_ERROR:
        return m.data


def with_content(m: Member, content: bytes) -> Member:
    """``m`` holding ``content``, compressed as ``m`` is, with a CRC-32 and sizes that match."""
    data = content
    if m.method == R.DEFLATED:
        c = isal_zlib.compressobj(2, isal_zlib.DEFLATED, -15)
        data = c.compress(content) + c.flush()
    return replace(m, crc=isal_zlib.crc32(content), size=len(content), csize=len(data), data=data)


def find(members: tuple[Member, ...], rel: str) -> int | None:
    """The position of the member at ``rel`` in the bag."""
    return next((i for i, m in enumerate(members) if m.name.endswith(b"/" + rel.encode())), None)


def resign(members: tuple[Member, ...], key: SecretKey) -> tuple[Member, ...]:
    """The tag manifest made again from the tag files and signed again (with the same trusted
    comment), as only a key holder can."""
    t, s = find(members, bag.TAGMANIFEST), find(members, bag.SIGNATURE)
    if t is None or s is None:
        return members
    tags = {
        rel: content_of(members[i])
        for rel in bag.TAG_FILES
        if (i := find(members, rel)) is not None
    }
    manifest = bag.format_manifest((rel, hashlib.sha256(d).hexdigest()) for rel, d in tags.items())
    try:
        comment = Signature.from_bytes(content_of(members[s])).trusted_comment
    except MalformedSignature:
        return members
    members = put_member(members, t, with_content(members[t], manifest))
    return put_member(members, s, with_content(members[s], key.sign(manifest, comment)))


def reads_cleanly_or_reports(path: Path) -> bool:
    """Whether the reader alone found nothing wrong (it may only report, or raise
    CorruptDataError while reading member data)."""
    with ZipReader(path) as zr:
        clean = not zr.problems
        for e in zr.entries:
            try:
                for _ in zr.iter_data(e):
                    pass
            except CorruptDataError:
                clean = False
    return clean


def only_payload_differs(original: Original, path: Path) -> bool:
    """Whether the archive at ``path`` is sound and holds the original's members, of the same
    sizes, with the same tag files: only payload data (what ``--fast`` does not read) differs."""
    with ZipReader(path) as zr:
        if zr.problems:
            return False
        found = [(e.name.encode(), e.size) for e in zr.entries]
        if found != [(m.name, m.size) for m in original.members]:
            return False
        for entry, member in zip(zr.entries, original.members, strict=True):
            if entry.name.split("/", 1)[-1].startswith("data/"):
                continue
            try:
                if zr.read_whole(entry) != content_of(member):
                    return False
            except CorruptDataError:
                return False
    return True
