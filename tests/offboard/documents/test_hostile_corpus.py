"""The hostile PDF corpus itself: every case builds, the same every time, and is what it says.

These tests check the files, never offboard's handling of them (that is tested against the
corpus elsewhere). Where a claim is about the bytes (an offset, a cycle, a /Length lie), it is
checked by reading the bytes here; qpdf (pikepdf) is used only to show that the valid files are
valid, that the encrypted ones need their password, and to find a stream in a well-formed file.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import pikepdf
import pytest
from pikepdf.models import EncryptionMethod

from tests.offboard.documents.hostile_pdfs import (
    ATTACHMENT_LIMIT,
    BIG,
    BOMB_FLOOR,
    CASES,
    DAG_LEVELS,
    EXPECTS,
    HUGE_IMAGE_SIDE,
    MIN_BYTES_PER_OBJECT,
    NESTING,
    OK,
    OWNER_PASSWORD,
    PROBLEM,
    UPDATES,
    USER_PASSWORD,
    HostileCase,
    write_case,
)

BY_NAME = {case.name: case for case in CASES}
#: the cases the corpus was asked for, at least
REQUIRED = {
    "cyclic-page-tree",
    "page-parent-loop",
    "xref-prev-cycle",
    "flate-bomb-content",
    "flate-bomb-image",
    "facturx-attachment-bomb",
    "truncated",
    "wrong-xref-offsets",
    "startxref-past-end",
    "encrypted-rc4-user",
    "encrypted-aes256-user",
    "encrypted-rc4-owner-only",
    "encrypted-aes256-owner-only",
    "javascript-openaction",
    "javascript-additional-actions",
    "launch-action",
    "huge-page-count-2m",
    "kids-array-1m",
    "deep-nested-arrays",
    "deep-nested-dicts",
    "objstm-contains-itself",
    "length-too-long",
    "length-too-short",
    "length-negative",
    "length-indirect-self",
    "huge-trailer-size",
    "image-1e6x1e6",
    "outline-cycle",
    "names-tree-cycle",
    "not-pdf-png",
    "not-pdf-zip",
    "not-pdf-html",
    "empty-file",
    "single-byte",
    "pdf-header-random-bytes",
    "nul-filled-middle",
    "incremental-updates-10000",
    "polyglot-pdf-zip",
}
MB = 1_000_000


@pytest.fixture(scope="module")
def built() -> dict[str, bytes]:
    return {case.name: case.build() for case in CASES}


# --------------------------------------------------------------------------- reading bytes

_OBJ = re.compile(rb"(\d+) 0 obj\n(.*?)\nendobj\n", re.S)


def objects(data: bytes) -> dict[int, bytes]:
    """Object number -> body, as written (the last definition of a number wins)."""
    return {int(m[1]): m[2] for m in _OBJ.finditer(data)}


def refs(body: bytes, key: bytes) -> list[int]:
    """The objects referenced by ``key`` in a dictionary body (one reference or an array)."""
    m = re.search(re.escape(key) + rb"\s*(\[[^\]]*\]|\d+ 0 R)", body)
    return [] if m is None else [int(n) for n in re.findall(rb"(\d+) 0 R", m[1])]


def startxref(data: bytes) -> int:
    return int(re.findall(rb"startxref\s+(\d+)", data)[-1])


def xref_section(data: bytes, at: int) -> tuple[dict[int, int], bytes]:
    """The in-use entries (number -> offset) of the classic section at ``at``, and its
    trailer dictionary."""
    assert data[at : at + 5] == b"xref\n"
    pos = at + 5
    entries: dict[int, int] = {}
    while True:
        head = re.match(rb"(\d+) (\d+)\n", data[pos : pos + 40])
        if head is None:
            break
        first, count = int(head[1]), int(head[2])
        pos += len(head[0])
        for i in range(count):
            line = data[pos : pos + 20]
            if line[17:18] == b"n":
                entries[first + i] = int(line[:10])
            pos += 20
    trailer = re.match(rb"trailer\n<<(.*?)>>\n", data[pos:], re.S)
    assert trailer is not None
    return entries, trailer[1]


def stream_data(data: bytes, num: int) -> tuple[bytes, bytes]:
    """(dictionary, raw data) of stream object ``num`` whose /Length is a direct integer."""
    start = data.index(b"\n%d 0 obj\n<<" % num) + 1
    body = data.index(b">>\nstream\n", start)
    head = data[start:body]
    length = int(re.findall(rb"/Length (\d+)", head)[-1])
    at = body + len(b">>\nstream\n")
    return head, data[at : at + length]


def undo_up(raw: bytes, columns: int) -> bytes:
    """PNG Up prediction undone: a running bytewise sum down each column, computed by
    doubling on whole big integers (no carry crosses a byte)."""
    width = columns + 1
    rows = len(raw) // width
    assert raw[0::width] == b"\x02" * rows
    diffs = bytearray(rows * columns)
    for k in range(columns):
        diffs[k::columns] = raw[k + 1 :: width]
    size = len(diffs)
    high = int.from_bytes(b"\x80" * size, "big")
    acc = int.from_bytes(diffs, "big")
    step = 1
    while step < rows:
        moved = acc >> (8 * columns * step)
        acc = ((acc & ~high) + (moved & ~high)) ^ ((acc ^ moved) & high)
        step *= 2
    return acc.to_bytes(size, "big")


def decoded(data: bytes, num: int) -> bytes:
    head, raw = stream_data(data, num)
    plain = zlib.decompress(raw)
    columns = re.search(rb"/Columns (\d+)", head)
    return plain if columns is None else undo_up(plain, int(columns[1]))


def xref_stream(data: bytes) -> list[tuple[int, int, int]]:
    """The rows (type, field 2, field 3) of the file's cross-reference stream (/W [1 4 2])."""
    num = int(re.findall(rb"(\d+) 0 obj\n<</Type/XRef", data)[-1])
    rows = decoded(data, num)
    return [
        (
            rows[i],
            int.from_bytes(rows[i + 1 : i + 5], "big"),
            int.from_bytes(rows[i + 5 : i + 7], "big"),
        )
        for i in range(0, len(rows), 7)
    ]


def objstm_members(data: bytes, num: int) -> dict[int, bytes]:
    """The objects of object stream ``num``: number -> body."""
    head, _ = stream_data(data, num)
    count = int(re.findall(rb"/N (\d+)", head)[0])
    first = int(re.findall(rb"/First (\d+)", head)[0])
    plain = decoded(data, num)
    pairs = [int(t) for t in plain[:first].split()]
    offsets = [(pairs[2 * i], first + pairs[2 * i + 1]) for i in range(count)]
    ends = [at for _, at in offsets[1:]] + [len(plain)]
    return {n: plain[at:end].strip() for (n, at), end in zip(offsets, ends, strict=True)}


def inflated_size(raw: bytes, layers: int, floor: int) -> int:
    """How many bytes ``raw`` inflates to through ``layers`` zlib layers, streaming with a
    bounded output per call, stopping once past ``floor``."""

    def inflate(chunks: Iterator[bytes]) -> Iterator[bytes]:
        d = zlib.decompressobj()
        for chunk in chunks:
            pending = chunk
            while pending:
                out = d.decompress(pending, 1 << 20)
                if out:
                    yield out
                pending = d.unconsumed_tail
            if d.eof:
                return

    stream: Iterator[bytes] = iter([raw])
    for _ in range(layers):
        stream = inflate(stream)
    total = 0
    for out in stream:
        total += len(out)
        if total > floor:
            break
    return total


def clean_open(data: bytes, password: str = "") -> pikepdf.Pdf:
    """The file opened by qpdf, which must not have had to warn about anything."""
    pdf = pikepdf.open(io.BytesIO(data), password=password)
    assert pdf.get_warnings() == []
    return pdf


# --------------------------------------------------------------------------- the corpus


def test_the_corpus_has_every_case_asked_for_once() -> None:
    names = [case.name for case in CASES]
    assert len(CASES) >= 24
    assert len(names) == len(set(names))
    assert set(names) >= REQUIRED
    assert set(names) >= BIG
    for case in CASES:
        assert isinstance(case, HostileCase)
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", case.name), case.name
        assert case.expect in EXPECTS, case.name
        assert case.description and "\n" not in case.description, case.name
    assert {case.expect for case in CASES} == {OK, PROBLEM}


def test_every_case_builds_the_same_bytes_every_time(built: dict[str, bytes]) -> None:
    for case in CASES:
        data = built[case.name]
        assert isinstance(data, bytes)
        assert len(data) <= (20 * MB if case.name in BIG else 5 * MB), case.name
        assert case.build() == data, f"{case.name} is not deterministic"


def test_write_case_writes_name_dot_pdf(tmp_path: Path, built: dict[str, bytes]) -> None:
    for name in ("control-plain", "empty-file", "encrypted-aes256-user"):
        path = write_case(BY_NAME[name], tmp_path)
        assert path == tmp_path / f"{name}.pdf"
        assert path.read_bytes() == built[name]


def test_the_fine_files_are_clean_pdfs(built: dict[str, bytes]) -> None:
    pages = {
        "control-plain": 2,
        "inherited-page-attributes": 2,
        "nul-padding": 2,
        "incremental-updates-10000": 1,
        "leading-junk": 1,
        "polyglot-pdf-zip": 1,
        "pages-3000": 3000,
    }
    for name, count in pages.items():
        with clean_open(built[name]) as pdf:
            assert len(pdf.pages) == count, name


# --------------------------------------------------------------------------- not PDFs


def test_the_non_pdfs_are_what_they_say(built: dict[str, bytes]) -> None:
    png = built["not-pdf-png"]
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and png.endswith(b"IEND\xaeB`\x82")
    archive = zipfile.ZipFile(io.BytesIO(built["not-pdf-zip"]))
    assert archive.testzip() is None
    assert archive.read("invoice.pdf").startswith(b"%PDF-")
    assert built["not-pdf-html"].startswith(b"<!DOCTYPE html>")
    assert built["empty-file"] == b""
    assert len(built["single-byte"]) == 1
    for name in ("not-pdf-png", "not-pdf-zip", "not-pdf-html", "empty-file", "single-byte"):
        assert b"%PDF-" not in built[name][:1024], name
    noise = built["pdf-header-random-bytes"]
    assert noise.startswith(b"%PDF-1.7\n") and noise.endswith(b"\n%%EOF\n")
    assert len(noise) > 64 * 1024 and b"trailer" not in noise
    assert built["pdf-header-only"] == b"%PDF-1.7\n%%EOF\n"


# --------------------------------------------------------------------------- file structure


def test_truncated_is_cut_in_an_object_with_no_eof(built: dict[str, bytes]) -> None:
    data = built["truncated"]
    assert data.startswith(b"%PDF-")
    assert b"%%EOF" not in data and b"startxref" not in data
    last = data.rindex(b" 0 obj\n")
    assert b"endobj" not in data[last:]


def test_xref_prev_chain_is_a_cycle_over_intact_objects(built: dict[str, bytes]) -> None:
    data = built["xref-prev-cycle"]
    at, seen = startxref(data), []
    while at not in seen:
        seen.append(at)
        entries, trailer = xref_section(data, at)
        for num, offset in entries.items():
            assert data[offset:].startswith(b"%d 0 obj\n" % num)
        prev = re.search(rb"/Prev (\d+)", trailer)
        assert prev is not None, "the chain ends: no cycle"
        at = int(prev[1])
    assert len(seen) == 2


def test_wrong_xref_offsets_are_all_wrong_in_a_complete_file(built: dict[str, bytes]) -> None:
    data = built["wrong-xref-offsets"]
    assert data.endswith(b"%%EOF\n")
    entries, _ = xref_section(data, startxref(data))
    assert entries
    for num, offset in entries.items():
        assert not data[offset:].startswith(b"%d 0 obj" % num)
        assert b"\n%d 0 obj\n" % num in data


def test_xref_past_the_end(built: dict[str, bytes]) -> None:
    data = built["xref-entries-past-end"]
    entries, _ = xref_section(data, startxref(data))
    assert entries and all(offset >= len(data) for offset in entries.values())
    data = built["startxref-past-end"]
    assert data.endswith(b"%%EOF\n") and startxref(data) > len(data)


def test_huge_trailer_size(built: dict[str, bytes]) -> None:
    data = built["huge-trailer-size"]
    _, trailer = xref_section(data, startxref(data))
    assert b"/Size 2147483648" in trailer
    assert max(objects(data)) < 10


def test_nul_bytes(built: dict[str, bytes]) -> None:
    middle = built["nul-filled-middle"]
    assert middle.endswith(b"%%EOF\n")
    assert bytes(len(middle) // 3) in middle
    assert b"/Type/Catalog" in middle
    padded = built["nul-padding"]
    assert padded.count(bytes(64 * 1024)) >= 2


def test_incremental_updates(built: dict[str, bytes]) -> None:
    data = built["incremental-updates-10000"]
    assert data.count(b"%%EOF") == UPDATES + 1
    assert data.count(b"\nxref\n") == UPDATES + 1
    with clean_open(data) as pdf:
        assert f"revision {UPDATES} of {UPDATES}".encode() in pdf.pages[0].Contents.read_bytes()


def test_leading_junk_is_under_the_header_window(built: dict[str, bytes]) -> None:
    data = built["leading-junk"]
    assert 0 < data.index(b"%PDF-") < 1024
    assert not data.startswith(b"%PDF-")


# --------------------------------------------------------------------------- page trees


def test_cyclic_page_tree(built: dict[str, bytes]) -> None:
    objs = objects(built["cyclic-page-tree"])
    root = refs(objs[1], b"/Pages")[0]

    def has_cycle(num: int, path: tuple[int, ...]) -> bool:
        if num in path:
            return True
        return any(has_cycle(kid, (*path, num)) for kid in refs(objs[num], b"/Kids"))

    assert has_cycle(root, ())


def test_page_parent_loop(built: dict[str, bytes]) -> None:
    objs = objects(built["page-parent-loop"])
    root = refs(objs[1], b"/Pages")[0]
    (page,) = refs(objs[root], b"/Kids")
    assert b"/MediaBox" not in objs[page] and b"/Resources" not in objs[page]
    chain = [page]
    while True:
        parent = refs(objs[chain[-1]], b"/Parent")[0]
        if parent in chain:
            break
        chain.append(parent)
    assert root not in chain  # the loop is off the tree


def test_page_tree_dag(built: dict[str, bytes]) -> None:
    objs = objects(built["page-tree-dag-2m"])
    node = refs(objs[1], b"/Pages")[0]
    assert b"/Count %d" % 2**DAG_LEVELS in objs[node]
    for _ in range(DAG_LEVELS):
        left, right = refs(objs[node], b"/Kids")
        assert left == right
        node = left
    assert objs[node].startswith(b"<</Type/Page/")


@pytest.mark.slow
def test_huge_page_count_is_two_million_distinct_pages(built: dict[str, bytes]) -> None:
    data = built["huge-page-count-2m"]
    rows = xref_stream(data)
    assert len(rows) > 2_000_000
    assert len(data) >= MIN_BYTES_PER_OBJECT * len(rows)  # or qpdf would not read it
    packed = [r for r in rows if r[0] == 2]
    assert len(packed) >= 2_000_000 + 2000
    root_stm = rows[2][1]
    root = objstm_members(data, root_stm)[2]
    assert b"/Count 2000000" in root
    nodes = refs(root, b"/Kids")
    assert len(nodes) == 2000
    node_stm = rows[nodes[0]][1]
    node = objstm_members(data, node_stm)[nodes[0]]
    kids = refs(node, b"/Kids")
    assert len(kids) == 1000 and len(set(kids)) == 1000
    page_stm = rows[kids[0]][1]
    pages = objstm_members(data, page_stm)
    assert set(kids) == set(pages)
    for body in pages.values():
        assert body == b"<</Type/Page/Parent %d 0 R/Contents 3 0 R>>" % nodes[0]
    last_node = objstm_members(data, rows[nodes[-1]][1])[nodes[-1]]
    last_page = refs(last_node, b"/Kids")[-1]
    assert objstm_members(data, rows[last_page][1])[last_page] == (
        b"<</Type/Page/Parent %d 0 R/Contents 3 0 R>>" % nodes[-1]
    )


@pytest.mark.slow
def test_kids_array_of_a_million(built: dict[str, bytes]) -> None:
    data = built["kids-array-1m"]
    rows = xref_stream(data)
    assert len(data) >= MIN_BYTES_PER_OBJECT * len(rows)
    root = objstm_members(data, rows[2][1])[2]
    kids = refs(root, b"/Kids")
    assert len(kids) == 1_000_000 and len(set(kids)) == 1_000_000
    assert all(rows[k][0] == 2 for k in kids[::1000])
    pages = objstm_members(data, rows[kids[-1]][1])
    assert pages[kids[-1]] == b"<</Type/Page/Parent 2 0 R/Contents 3 0 R>>"


def test_pages_share_one_content_stream(built: dict[str, bytes]) -> None:
    with clean_open(built["pages-3000"]) as pdf:
        contents = {page.obj.Contents.objgen for page in pdf.pages}
        assert len(contents) == 1 and len({page.obj.objgen for page in pdf.pages}) == 3000


def test_inherited_attributes(built: dict[str, bytes]) -> None:
    objs = objects(built["inherited-page-attributes"])
    tree = objs[refs(objs[1], b"/Pages")[0]]
    assert b"/MediaBox" in tree and b"/Resources" in tree and b"/Rotate" in tree
    for page in refs(tree, b"/Kids"):
        assert b"/MediaBox" not in objs[page] and b"/Resources" not in objs[page]


def test_no_pages_and_no_catalog(built: dict[str, bytes]) -> None:
    objs = objects(built["no-pages"])
    assert b"/Kids[]/Count 0" in objs[refs(objs[1], b"/Pages")[0]]
    data = built["no-catalog"]
    _, trailer = xref_section(data, startxref(data))
    assert refs(trailer, b"/Root") == [99]
    assert 99 not in objects(data) and b"/Type/Catalog" not in data


# --------------------------------------------------------------------------- objects


def test_length_lies(built: dict[str, bytes]) -> None:
    def told_and_true(name: str) -> tuple[bytes, int]:
        body = objects(built[name])[5]
        told = re.match(rb"<</Length ([-\d]+(?: 0 R)?)>>\nstream\n", body)
        assert told is not None
        start = len(told[0])
        return told[1], body.index(b"\nendstream", start) - start

    told, true = told_and_true("length-too-long")
    assert int(told) > true
    told, true = told_and_true("length-too-short")
    assert 0 < int(told) < true
    told, _ = told_and_true("length-negative")
    assert int(told) < 0
    told, _ = told_and_true("length-indirect-self")
    assert told == b"5 0 R"


def test_deep_nesting(built: dict[str, bytes]) -> None:
    assert b"[" * NESTING + b"]" * NESTING in built["deep-nested-arrays"]
    assert b"<</A " * NESTING + b"null" + b">>" * NESTING in built["deep-nested-dicts"]


def test_indirect_reference_loop(built: dict[str, bytes]) -> None:
    objs = objects(built["indirect-reference-loop"])
    assert refs(objs[4], b"/Resources") == [6]
    assert objs[6] == b"7 0 R" and objs[7] == b"6 0 R"


def test_object_stream_that_contains_itself(built: dict[str, bytes]) -> None:
    rows = xref_stream(built["objstm-contains-itself"])
    assert rows[6][:2] == (2, 6)  # object 6 is compressed, in object stream 6
    assert rows[4][:2] == (2, 6)  # and so is the page


def test_huge_image(built: dict[str, bytes]) -> None:
    with pikepdf.open(io.BytesIO(built["image-1e6x1e6"])) as pdf:
        image = pdf.pages[0].Resources.XObject.Im1
        assert image.Width == image.Height == HUGE_IMAGE_SIDE


# --------------------------------------------------------------------------- bombs


def _largest_stream(pdf: pikepdf.Pdf) -> pikepdf.Stream:
    streams = [obj for obj in pdf.objects if isinstance(obj, pikepdf.Stream)]
    return max(streams, key=lambda s: len(s.read_raw_bytes()))


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [
        "flate-bomb-content",
        "flate-bomb-filter-array",
        "flate-bomb-image",
        "flate-bomb-double-filter",
        "facturx-attachment-bomb",
    ],
)
def test_bombs_inflate_past_a_gigabyte(name: str, built: dict[str, bytes]) -> None:
    with pikepdf.open(io.BytesIO(built[name])) as pdf:
        stream = _largest_stream(pdf)
        filters = stream.get("/Filter")
        names = [str(f) for f in filters] if isinstance(filters, pikepdf.Array) else [str(filters)]
        assert set(names) == {"/FlateDecode"}
        raw = stream.read_raw_bytes()
        assert len(raw) < 5 * MB
        assert inflated_size(raw, len(names), BOMB_FLOOR) > BOMB_FLOOR


def test_the_attachment_bomb_is_a_facturx_attachment(built: dict[str, bytes]) -> None:
    with pikepdf.open(io.BytesIO(built["facturx-attachment-bomb"])) as pdf:
        names = pdf.Root.Names.EmbeddedFiles.Names
        assert str(names[0]) == "factur-x.xml"
        spec = names[1]
        assert spec.objgen in {af.objgen for af in pdf.Root.AF}
        assert spec.AFRelationship == pikepdf.Name.Data
        stream = spec.EF.F
        assert stream.Filter == pikepdf.Name.FlateDecode
        assert len(stream.read_raw_bytes()) < ATTACHMENT_LIMIT


# --------------------------------------------------------------------------- encryption


@pytest.mark.parametrize(
    ("name", "revision"), [("encrypted-rc4-user", 3), ("encrypted-aes256-user", 6)]
)
def test_user_password_is_needed(name: str, revision: int, built: dict[str, bytes]) -> None:
    data = built[name]
    with pytest.raises(pikepdf.PasswordError):
        pikepdf.open(io.BytesIO(data))
    with clean_open(data, USER_PASSWORD) as pdf:
        assert pdf.is_encrypted and revision == pdf.encryption.R
        assert b"page 2 of 2" in pdf.pages[1].Contents.read_bytes()
        assert not pdf.owner_password_matched
    with clean_open(data, OWNER_PASSWORD) as pdf:
        assert pdf.owner_password_matched


@pytest.mark.parametrize(
    ("name", "revision"), [("encrypted-rc4-owner-only", 3), ("encrypted-aes256-owner-only", 6)]
)
def test_owner_password_only(name: str, revision: int, built: dict[str, bytes]) -> None:
    with clean_open(built[name]) as pdf:
        assert pdf.is_encrypted and revision == pdf.encryption.R
        assert pdf.user_password_matched and not pdf.owner_password_matched
        assert not pdf.allow.extract and not pdf.allow.print_highres
        assert b"page 1 of 2" in pdf.pages[0].Contents.read_bytes()


def test_aes256_streams_are_aes(built: dict[str, bytes]) -> None:
    with clean_open(built["encrypted-aes256-user"], USER_PASSWORD) as pdf:
        assert pdf.encryption.stream_method == EncryptionMethod.aesv3
        assert pdf.encryption.bits == 256


# --------------------------------------------------------------------------- active content


def test_actions(built: dict[str, bytes]) -> None:
    def kind(action: pikepdf.Object) -> str:
        return str(action.get("/S"))

    js = "/JavaScript"
    with clean_open(built["javascript-openaction"]) as pdf:
        assert kind(pdf.Root.OpenAction) == js
        assert kind(pdf.Root.Names.JavaScript.Names[1]) == js
    with clean_open(built["javascript-additional-actions"]) as pdf:
        assert kind(pdf.Root.AA.WC) == js and kind(pdf.Root.AA.WP) == js
        page = pdf.pages[0].obj
        assert kind(page.AA.O) == js and kind(page.AA.C) == js
    with clean_open(built["launch-action"]) as pdf:
        assert kind(pdf.Root.OpenAction) == "/Launch"
        assert kind(pdf.pages[0].obj.Annots[0].A) == "/Launch"


# --------------------------------------------------------------------------- other cycles


def test_outline_cycle(built: dict[str, bytes]) -> None:
    with clean_open(built["outline-cycle"]) as pdf:
        item, seen = pdf.Root.Outlines.First, set()
        while item.objgen not in seen:
            seen.add(item.objgen)
            item = item.Next
        assert len(seen) == 2
        two = pdf.Root.Outlines.Last
        assert two.First.objgen == two.objgen


def test_names_tree_cycle(built: dict[str, bytes]) -> None:
    with clean_open(built["names-tree-cycle"]) as pdf:
        tree = pdf.Root.Names.EmbeddedFiles
        assert tree.objgen in {kid.objgen for kid in tree.Kids[0].Kids}
        dests = pdf.Root.Names.Dests
        assert dests.Kids[0].objgen == dests.objgen


def test_polyglot_is_a_pdf_and_a_zip(built: dict[str, bytes]) -> None:
    data = built["polyglot-pdf-zip"]
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None
    assert archive.read("offboard.txt").startswith(b"offboard: ")
    assert archive.comment.endswith(b"%%EOF\n")  # the rest of the PDF
    with clean_open(data) as pdf:
        attached = pdf.Root.Names.EmbeddedFiles.Names[1].EF.F.read_raw_bytes()
        assert attached.startswith(b"PK\x03\x04") and attached[-22:].startswith(b"PK\x05\x06")
