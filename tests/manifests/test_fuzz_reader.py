"""Fuzzing the archive reader and the verifier with mutated real archives.

One small real signed archive (the tiny database's first account, documents included) is made
once; Hypothesis then mutates it in memory and the result, written to a file, is verified.
Two kinds of mutation are drawn and combined:

* on the members (the container rewritten in the canonical layout around them, so that only
  the mutation is wrong): a name changed (``../``, absolute, backslash, NUL, NFD, case twin,
  another top folder, too long, another member's), two members swapped, a member duplicated,
  dropped, or given another member's data, a central directory entry repeated;
* on the bytes: a flip, a truncation, an insertion, a deletion, a header or end-record field
  (lengths, sizes, offsets, counts) set to another value, a central directory entry copied
  with the end record's counts raised, a name overwritten in place by a hostile one.

Whatever the mutation, :func:`manifests.verify.verify_archive` (full or ``--fast``) returns a
report with problems, or raises :class:`offboard.errors.ArchiveError` (``ArchiveInvalid``
included); it never raises anything else and never passes. The reader alone
(:class:`manifests.zipfmt.ZipReader`) reports problems, or raises :class:`CorruptDataError`
when member data is read: nothing else. A mutation that gives back the same bytes is not one.
"""

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from manifests.verify import verify_archive
from manifests.zipfmt import records as R
from offboard.errors import ArchiveError
from tests.manifests.archive_model import (
    TOP,
    Original,
    Shape,
    layout,
    make_original,
    only_payload_differs,
    reads_cleanly_or_reports,
    resign,
)
from tests.manifests.byte_mutations import BYTE_MUTATIONS, ByteMutation, CopyCentral, SetField
from tests.manifests.member_mutations import (
    MEMBER_MUTATIONS,
    Edit,
    MemberMutation,
    Meta,
    Recompress,
    Rename,
    RepeatCentral,
    Swap,
)


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Original:
    return make_original(tmp_path_factory.mktemp("fuzz-reader"))


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    """Where mutated archives are written: in memory (``/dev/shm``) when the machine has it."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    with tempfile.TemporaryDirectory(dir=shm, prefix="offboard-fuzz-") as name:
        yield Path(name)


def mutate(
    original: Original,
    on_members: list[MemberMutation],
    on_bytes: list[ByteMutation],
    resigned: bool = False,
) -> bytes:
    """The original archive with ``on_members`` applied (then, with ``resigned``, signed again
    by the archive's key), written in the canonical layout, then ``on_bytes`` applied."""
    data = original.data
    if on_members:
        shape: Shape = (original.members, ())
        for m in on_members:
            shape = m(shape)
        members = resign(shape[0], original.key) if resigned else shape[0]
        data = layout(members, original.dos, shape[1])
    for b in on_bytes:
        data = b(data)
    return data


@settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    on_members=st.lists(MEMBER_MUTATIONS, max_size=2),
    on_bytes=st.lists(BYTE_MUTATIONS, max_size=3),
    fast=st.booleans(),
    resigned=st.booleans(),
)
@example(on_members=[RepeatCentral(0)], on_bytes=[], fast=False, resigned=False)
@example(on_members=[Rename(5, "../evil.txt")], on_bytes=[], fast=False, resigned=False)
# found by this test: members swapped, or stored instead of deflated, passed verification
@example(on_members=[Swap(4, 5)], on_bytes=[], fast=True, resigned=False)
@example(on_members=[Swap(4, 5)], on_bytes=[], fast=False, resigned=False)
@example(on_members=[Recompress(4)], on_bytes=[], fast=False, resigned=False)
@example(on_members=[Recompress(22)], on_bytes=[], fast=True, resigned=False)
# found by this test: the signature's untrusted comment (signed by nothing) could be changed
@example(on_members=[Edit(26, 20, 1, b"X")], on_bytes=[], fast=False, resigned=False)
# found by fuzz/manifest_parser.py: a column without its type crashed the table checks
@example(on_members=[Meta("columns", 0, [{"name": "id"}])], on_bytes=[], fast=False, resigned=False)
@example(on_members=[Meta("columns", 0, [{"name": "id"}])], on_bytes=[], fast=False, resigned=True)
# found by fuzz/manifest_parser.py: records claimed for a table without dates crashed the
# retention check
@example(on_members=[Meta("records", 14, 5)], on_bytes=[], fast=False, resigned=False)
# found by this test: a period of one date crashed it too
@example(on_members=[Meta("period", 1, [None])], on_bytes=[], fast=False, resigned=False)
# --fast does not read payload data: a payload file edited (CRC-32 and sizes made to match)
# passes it, and only it; the full check finds it
@example(on_members=[Edit(4, 0, 1, b"\x00")], on_bytes=[], fast=True, resigned=False)
@example(on_members=[], on_bytes=[CopyCentral(3, True)], fast=False, resigned=False)
@example(on_members=[], on_bytes=[SetField(R.END_SIG, 0, 2, 0, -1)], fast=False, resigned=False)
def test_a_mutated_archive_never_passes_nor_crashes(
    original: Original,
    folder: Path,
    on_members: list[MemberMutation],
    on_bytes: list[ByteMutation],
    fast: bool,
    resigned: bool,
) -> None:
    data = mutate(original, on_members, on_bytes, resigned)
    assume(data != original.data)
    path = folder / f"{TOP}.zip"
    path.write_bytes(data)
    reader_clean = reads_cleanly_or_reports(path)
    try:
        report = verify_archive(path, original.pub, fast=fast)
    except ArchiveError:
        return
    if resigned:  # a key holder may sign what it likes: the verifier must only not crash
        return
    if fast and report.valid:
        # --fast reads no payload data (documented): only a change of it may pass, and the
        # full check must then find it
        assert only_payload_differs(original, path), "a mutated archive passed --fast"
        report = verify_archive(path, original.pub)
    assert not report.valid, f"a mutated archive passed (the reader alone: clean={reader_clean})"
