"""Mutations of an archive's members (:mod:`tests.manifests.archive_model`), and their
Hypothesis strategies: names, order, copies, data, methods, contents and ``offboard.json``."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from hypothesis import strategies as st
from isal import isal_zlib

from manifests import bag
from manifests.zipfmt import records as R
from tests.manifests.archive_model import (
    TOP,
    Shape,
    content_of,
    find,
    put_member,
    with_content,
)

HOSTILE_NAMES = (
    "../evil.txt",
    f"{TOP}/../evil.txt",
    f"{TOP}/data/../../evil.txt",
    f"{TOP}/data/csv/../../../etc/passwd",
    "/etc/passwd",
    f"/{TOP}/bagit.txt",
    f"{TOP}/data\\csv\\x.csv",
    f"{TOP}/data/x\x00y.csv",
    f"{TOP}/data/x\ny.csv",
    f"{TOP}//bagit.txt",
    f"{TOP}/./bagit.txt",
    f"{TOP}/",
    f"{TOP}/data/",
    "",
    "acc-t002/bagit.txt",
    "bagit.txt",
    f"{TOP}/data/csv/E\u0301.csv",
    f"{TOP}/data/" + "x" * 1100,
    f"{TOP}/BAGIT.TXT",
    f"{TOP}/Bagit.txt",
    f"{TOP}/data/documents/sales_invoices/FA-2025-00001.PDF",
    "C:/evil.txt",
    "C:\\evil.txt",
)


@dataclass(frozen=True)
class Rename:
    """Member ``index`` renamed ``name``."""

    index: int
    name: str

    def __call__(self, shape: Shape) -> Shape:
        members, repeat = shape
        k = self.index % len(members)
        return put_member(members, k, replace(members[k], name=self.name.encode())), repeat


@dataclass(frozen=True)
class Twin:
    """Member ``index`` renamed after the next one: the same name, its NFD form (with an
    accent added), or the name in capitals."""

    index: int
    how: str

    def __call__(self, shape: Shape) -> Shape:
        members = shape[0]
        other = members[(self.index + 1) % len(members)].name.decode()
        twin = {
            "same": other,
            "nfd": unicodedata.normalize("NFD", other + "\u00e9"),
            "upper": other.upper(),
        }[self.how]
        return Rename(self.index, twin)(shape)


@dataclass(frozen=True)
class Swap:
    """Members ``i`` and ``j`` change places."""

    i: int
    j: int

    def __call__(self, shape: Shape) -> Shape:
        members, repeat = list(shape[0]), shape[1]
        a, b = self.i % len(members), self.j % len(members)
        members[a], members[b] = members[b], members[a]
        return tuple(members), repeat


@dataclass(frozen=True)
class SwapData:
    """Member ``i`` keeps its name and takes ``j``'s data (with its CRC-32 and sizes)."""

    i: int
    j: int

    def __call__(self, shape: Shape) -> Shape:
        members, repeat = shape
        a, b = self.i % len(members), self.j % len(members)
        return put_member(members, a, replace(members[b], name=members[a].name)), repeat


@dataclass(frozen=True)
class Duplicate:
    """A copy of member ``index`` inserted at ``at``."""

    index: int
    at: int

    def __call__(self, shape: Shape) -> Shape:
        members, repeat = list(shape[0]), shape[1]
        members.insert(self.at % (len(members) + 1), members[self.index % len(members)])
        return tuple(members), repeat


@dataclass(frozen=True)
class Drop:
    index: int

    def __call__(self, shape: Shape) -> Shape:
        members, repeat = shape
        k = self.index % len(members)
        return (*members[:k], *members[k + 1 :]), repeat


@dataclass(frozen=True)
class RepeatCentral:
    """Member ``index``'s central directory entry written twice."""

    index: int

    def __call__(self, shape: Shape) -> Shape:
        members, repeat = shape
        return members, (*repeat, self.index % len(members))


@dataclass(frozen=True)
class Restamp:
    """Member ``index``'s declared method, CRC-32 or size changed (its data kept)."""

    index: int
    method: int | None
    crc: int | None
    size: int | None

    def __call__(self, shape: Shape) -> Shape:
        members, repeat = shape
        k = self.index % len(members)
        m = members[k]
        changed = replace(
            m,
            method=m.method if self.method is None else self.method,
            crc=m.crc if self.crc is None else self.crc,
            size=m.size if self.size is None else self.size,
            csize=m.csize if self.size is None or m.method == R.DEFLATED else self.size,
        )
        return put_member(members, k, changed), repeat


@dataclass(frozen=True)
class Recompress:
    """Member ``index`` stored if it was deflated, deflated if it was stored: the same
    content, a valid CRC-32 and sizes, another method.

    It deflates at the archive's level (2) only: the same content deflated at another level
    is another encoding the format accepts (the deflate stream is not a rule of the format,
    only the method is, so that an archive stays valid for a later compression library)."""

    index: int

    def __call__(self, shape: Shape) -> Shape:
        members, repeat = shape
        k = self.index % len(members)
        m = members[k]
        if m.method == R.DEFLATED:
            data = content_of(m)
            changed = replace(m, method=R.STORED, csize=len(data), data=data)
        else:
            c = isal_zlib.compressobj(2, isal_zlib.DEFLATED, -15)
            data = c.compress(m.data) + c.flush()
            changed = replace(m, method=R.DEFLATED, csize=len(data), data=data)
        return put_member(members, k, changed), repeat


@dataclass(frozen=True)
class Edit:
    """Member ``index``'s content edited (``data`` put in place of ``cut`` bytes at ``pos``),
    then compressed again with a CRC-32 and sizes that match: what a zip tool does."""

    index: int
    pos: int
    cut: int
    data: bytes

    def __call__(self, shape: Shape) -> Shape:
        members, repeat = shape
        k = self.index % len(members)
        m = members[k]
        content = content_of(m)
        at = self.pos % (len(content) + 1)
        content = content[:at] + self.data + content[at + self.cut :]
        return put_member(members, k, with_content(m, content)), repeat


#: keys of offboard.json (every one the archive's file has)
METADATA_KEYS = (
    "account", "archive_id", "bom", "bundles", "bytes", "checked", "columns", "contents",
    "count", "created_at", "csv", "currency_column", "date", "decimal_point", "delimiter",
    "dialect", "documents", "encoding", "facturx", "files", "first", "format",
    "format_version", "gaps", "id", "issues", "kind", "kinds", "last", "last_change",
    "line_end", "money_columns", "name", "nullable", "number", "numbering", "pages", "parts",
    "party", "path", "period", "policy", "primary_key", "problems", "profile", "record_id",
    "records", "retain_until", "retention", "series", "sha256", "source", "table", "tables",
    "to", "tool", "totals", "type", "until", "version", "width", "xml", "years",
)  # fmt: skip
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.text(max_size=8)
    | st.sampled_from(["", "0", "-1", "1e9999", "NaN", "../x", "/abs", "data/../x", "a" * 300]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(METADATA_KEYS) | st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


@dataclass(frozen=True)
class Meta:
    """In ``offboard.json``, the value of the ``occurrence``-th ``key`` (depth first) set to
    ``value``: hostile metadata, for the checks that read it."""

    key: str
    occurrence: int
    value: Any

    def __call__(self, shape: Shape) -> Shape:
        members, repeat = shape
        k = find(members, bag.METADATA)
        if k is None:
            return shape
        try:
            doc = json.loads(content_of(members[k]))
        except ValueError:
            return shape
        spots = list(_spots(doc, self.key))
        if not spots:
            return shape
        holder, key = spots[self.occurrence % len(spots)]
        holder[key] = self.value
        text = json.dumps(doc, ensure_ascii=False, sort_keys=True, indent=2) + "\n"
        return put_member(members, k, with_content(members[k], text.encode())), repeat


def _spots(value: Any, key: str) -> Iterator[tuple[Any, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            if k == key:
                yield value, k
            yield from _spots(v, key)
    elif isinstance(value, list):
        for v in value:
            yield from _spots(v, key)


MemberMutation = (
    Meta
    | Rename
    | Twin
    | Swap
    | SwapData
    | Duplicate
    | Drop
    | RepeatCentral
    | Restamp
    | Recompress
    | Edit
)
INDEX = st.integers(0, 63)
POSITION = st.integers(0, 2**20)
MEMBER_MUTATIONS: st.SearchStrategy[MemberMutation] = st.one_of(
    st.builds(Rename, INDEX, st.sampled_from(HOSTILE_NAMES)),
    st.builds(Rename, INDEX, st.text(max_size=30)),
    st.builds(Twin, INDEX, st.sampled_from(["same", "nfd", "upper"])),
    st.builds(Swap, INDEX, INDEX),
    st.builds(SwapData, INDEX, INDEX),
    st.builds(Duplicate, INDEX, INDEX),
    st.builds(Drop, INDEX),
    st.builds(RepeatCentral, INDEX),
    st.builds(Recompress, INDEX),
    st.builds(Edit, INDEX, POSITION, st.integers(0, 4), st.binary(max_size=4)),
    st.builds(Meta, st.sampled_from(METADATA_KEYS), INDEX, JSON_VALUES),
    st.builds(
        Restamp,
        INDEX,
        st.none() | st.sampled_from([R.STORED, R.DEFLATED, 1, 12, 99]),
        st.none() | st.integers(0, 2**32 - 1),
        st.none() | st.integers(0, 2**32 - 1),
    ),
)
