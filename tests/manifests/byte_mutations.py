"""Mutations of an archive's bytes, and their Hypothesis strategies: flips, cuts,
insertions, deletions, header and end-record fields, copied central entries, names."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from hypothesis import strategies as st

from manifests.zipfmt import records as R
from tests.manifests.member_mutations import HOSTILE_NAMES, INDEX, POSITION


@dataclass(frozen=True)
class Flip:
    pos: int
    mask: int

    def __call__(self, data: bytes) -> bytes:
        if not data:
            return data
        out = bytearray(data)
        out[self.pos % len(out)] ^= self.mask
        return bytes(out)


@dataclass(frozen=True)
class Truncate:
    at: int

    def __call__(self, data: bytes) -> bytes:
        return data[: self.at % (len(data) + 1)]


@dataclass(frozen=True)
class Insert:
    pos: int
    junk: bytes

    def __call__(self, data: bytes) -> bytes:
        k = self.pos % (len(data) + 1)
        return data[:k] + self.junk + data[k:]


@dataclass(frozen=True)
class Delete:
    pos: int
    n: int

    def __call__(self, data: bytes) -> bytes:
        k = self.pos % (len(data) + 1)
        return data[:k] + data[k + self.n :]


#: the fields of each record that are lengths, sizes, offsets, counts, versions or flags:
#: (offset in the record, struct code)
FIELDS = {
    R.LOCAL_SIG: [(18, "I"), (22, "I"), (26, "H"), (28, "H"), (8, "H"), (14, "I"), (4, "H")],
    R.CENTRAL_SIG: [
        (20, "I"),
        (24, "I"),
        (28, "H"),
        (30, "H"),
        (32, "H"),
        (42, "I"),
        (10, "H"),
        (38, "I"),
        (16, "I"),
        (6, "H"),
    ],
    R.END_SIG: [(8, "H"), (10, "H"), (12, "I"), (16, "I"), (20, "H"), (4, "H"), (6, "H")],
}
SPECIAL = st.sampled_from([0, 1, 2, 0x7F, 0x80, 0xFF, 0xFFFF, 0xFFFF_FFFF, 0xFFFF_0000, 2**31])


def records(data: bytes, signature: bytes) -> list[int]:
    """Where ``signature`` occurs in ``data`` (the records of that kind, and any look-alike)."""
    found, at = [], data.find(signature)
    while at >= 0:
        found.append(at)
        at = data.find(signature, at + 1)
    return found


@dataclass(frozen=True)
class SetField:
    """Field ``which`` of the ``k``-th record of kind ``sig`` set to ``value``, or moved by
    ``delta`` (within the field's width)."""

    sig: bytes
    k: int
    which: int
    value: int
    delta: int | None

    def __call__(self, data: bytes) -> bytes:
        found = records(data, self.sig)
        if not found:
            return data
        at = found[self.k % len(found)]
        offset, code = FIELDS[self.sig][self.which % len(FIELDS[self.sig])]
        size = struct.calcsize("<" + code)
        if at + offset + size > len(data):
            return data
        mask = (1 << (8 * size)) - 1
        old = struct.unpack_from("<" + code, data, at + offset)[0]
        new = (old + self.delta) & mask if self.delta is not None else self.value & mask
        out = bytearray(data)
        struct.pack_into("<" + code, out, at + offset, new)
        return bytes(out)


@dataclass(frozen=True)
class CopyCentral:
    """The ``k``-th central entry copied after itself; with ``fix_end`` the end record's
    counts and directory size say so."""

    k: int
    fix_end: bool

    def __call__(self, data: bytes) -> bytes:
        found = records(data, R.CENTRAL_SIG)
        ends = records(data, R.END_SIG)
        if not found or not ends:
            return data
        at = found[self.k % len(found)]
        if at + 46 > len(data):
            return data
        n, x, c = struct.unpack_from("<HHH", data, at + 28)
        entry = data[at : at + 46 + n + x + c]
        out = bytearray(data[: at + len(entry)] + entry + data[at + len(entry) :])
        end = ends[-1] + len(entry)
        if self.fix_end and end + 22 <= len(out):
            disk, total, size = struct.unpack_from("<HHI", out, end + 8)
            struct.pack_into(
                "<HHI",
                out,
                end + 8,
                (disk + 1) & 0xFFFF,
                (total + 1) & 0xFFFF,
                (size + len(entry)) & 0xFFFF_FFFF,
            )
        return bytes(out)


@dataclass(frozen=True)
class OverwriteName:
    """The name of the ``k``-th record of kind ``sig`` overwritten in place by ``hostile``
    (cut or padded to the name's length)."""

    sig: bytes
    k: int
    hostile: str

    def __call__(self, data: bytes) -> bytes:
        found = records(data, self.sig)
        if not found:
            return data
        at = found[self.k % len(found)]
        local = self.sig == R.LOCAL_SIG
        start, length_at = at + (30 if local else 46), at + (26 if local else 28)
        if length_at + 2 > len(data):
            return data
        (n,) = struct.unpack_from("<H", data, length_at)
        raw = self.hostile.encode()[:n].ljust(n, b"x")
        return data[:start] + raw + data[start + n :]


ByteMutation = Flip | Truncate | Insert | Delete | SetField | CopyCentral | OverwriteName
SIGNATURE = st.sampled_from([R.LOCAL_SIG, R.CENTRAL_SIG, R.END_SIG])
BYTE_MUTATIONS: st.SearchStrategy[ByteMutation] = st.one_of(
    st.builds(Flip, POSITION, st.integers(1, 255)),
    st.builds(Truncate, POSITION),
    st.builds(Insert, POSITION, st.binary(min_size=1, max_size=64)),
    st.builds(Insert, POSITION, st.sampled_from([R.LOCAL_SIG, R.CENTRAL_SIG, R.END_SIG, b"PK"])),
    st.builds(Delete, POSITION, st.integers(1, 64)),
    st.builds(SetField, SIGNATURE, INDEX, st.integers(0, 20), SPECIAL, st.none()),
    st.builds(SetField, SIGNATURE, INDEX, st.integers(0, 20), st.just(0), st.integers(-64, 64)),
    st.builds(CopyCentral, INDEX, st.booleans()),
    st.builds(
        OverwriteName,
        st.sampled_from([R.LOCAL_SIG, R.CENTRAL_SIG]),
        INDEX,
        st.sampled_from(HOSTILE_NAMES),
    ),
)
