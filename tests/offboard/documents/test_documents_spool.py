"""Documents through the spool: the outcome of copies to files, with no file per document."""

from __future__ import annotations

import errno
import hashlib
import os
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from isal import isal_zlib

from offboard.documents import KindDocuments, export_documents
from offboard.documents import sandbox as sandbox_module
from offboard.documents import spool as spool_module
from offboard.documents.export import TRUNCATED
from offboard.documents.spool import DocumentSpool
from offboard.errors import OutputError
from tests.offboard.documents.docs_support import (
    ENCRYPTED_SCAN,
    SCAN_PAGES,
    SCANS,
    UNAVAILABLE,
    MakePdf,
    files_under,
    ref,
    resolve,
    write_pdf,
)

KIND = "purchases"
DEFAULT_IN_MEMORY = spool_module.IN_MEMORY
LOOP = (
    b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    b"2 0 obj\n<< /Type /Pages /Kids [2 0 R] /Count 1 >>\nendobj\n"
    b"trailer\n<< /Size 3 /Root 1 0 R >>\n%%EOF\n"
)


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[DocumentSpool]:
    with DocumentSpool.create(tmp_path / ".spool") as made:
        yield made


def every_kind_of_document(tmp_path: Path, make_pdf: MakePdf) -> list[Any]:
    """Good, damaged, cut, encrypted, missing, refused, duplicated and large documents."""
    src = tmp_path / "src"
    good = make_pdf("good", 2)
    (src / "notes.pdf").write_text("these are not the PDFs you are looking for\n" * 50)
    (src / "cut.pdf").write_bytes(good.read_bytes()[: good.stat().st_size * 2 // 3])
    (src / "garbage.pdf").write_bytes(b"%PDF-1.7\n" + b"\x00\xff nonsense " * 100 + b"\n%%EOF\n")
    (src / "loop.pdf").write_bytes(LOOP)
    damaged = bytearray(good.read_bytes())
    at = damaged.rindex(b"startxref")
    damaged[at + 10 : at + 14] = b"9999"
    (src / "damaged.pdf").write_bytes(bytes(damaged))
    large = write_pdf(src / "large.pdf", 300)
    assert large.stat().st_size > DEFAULT_IN_MEMORY
    refs = [
        ref("ACH-1", good),
        ref("ACH-2", src / "nowhere.pdf"),
        ref("ACH-3", src / "notes.pdf"),
        ref("ACH-4", src / "cut.pdf"),
        ref("ACH-5", src / "garbage.pdf"),
        ref("ACH-6", f"{UNAVAILABLE}unsafe locator"),
        ref("ACH-7", None),
        ref("ACH-8", src / "loop.pdf"),
        ref("ACH-9", src / "damaged.pdf"),
        ref("ACH-10", large),
        ref("ACH-1", good),  # the same number again: ACH-1~2
        ref("ACH/11", src),  # a folder
    ]
    return refs + [ref(Path(n).stem, SCANS / n) for n in sorted([*SCAN_PAGES, ENCRYPTED_SCAN])]


def both_ways(
    refs: list[Any], tmp_path: Path, spool: DocumentSpool, **kwargs: Any
) -> tuple[KindDocuments, KindDocuments]:
    files = export_documents(iter(refs), resolve, tmp_path / "files", KIND, **kwargs)
    spooled = export_documents(
        iter(refs), resolve, tmp_path / "spooled", KIND, spool=spool, **kwargs
    )
    files.seconds = spooled.seconds = 0.0
    return files, spooled


def non_bundles(root: Path) -> list[str]:
    return [f for f in files_under(root) if "-bundle-" not in f]


@pytest.mark.parametrize("in_memory", [DEFAULT_IN_MEMORY, 0])
def test_the_same_outcome_as_copies_to_files(
    tmp_path: Path,
    make_pdf: MakePdf,
    spool: DocumentSpool,
    monkeypatch: pytest.MonkeyPatch,
    in_memory: int,
) -> None:
    """Documents, problems and their reasons, bundles byte for byte; the spooled bytes are those
    of the files, under the same names. ``in_memory=0``: every document read back from the
    spool by qpdf."""
    monkeypatch.setattr(spool_module, "IN_MEMORY", in_memory)
    windows: list[int] = []
    original = sandbox_module._source

    def source(doc: Any) -> list[Any]:
        sent = original(doc)
        if sent[0] == "spool" and sent[3] == "window":  # the worker reads it from the spool
            windows.append(sent[2])
        return sent

    monkeypatch.setattr(sandbox_module, "_source", source)
    files, spooled = both_ways(
        every_kind_of_document(tmp_path, make_pdf), tmp_path, spool, bundle_cap_bytes=60_000
    )
    assert spooled == files
    # qpdf (in the document worker) read the large documents back from the spool; with
    # in_memory=0, all of them
    large = [s for s in windows if s > DEFAULT_IN_MEMORY]
    assert large and (len(windows) == len(large)) == bool(in_memory)
    reasons = {p.number: p.reason for p in files.problems}
    assert reasons == {
        "ACH-2": "missing",
        "ACH-3": "not a PDF",
        "ACH-4": TRUNCATED,
        "ACH-5": reasons["ACH-5"],
        "ACH-6": "unsafe locator",
        "ACH-8": "unreadable: ACH-8.pdf (object 2 0): Loop detected in /Pages structure "
        "(getAllPages)",
        "ACH/11": "unreadable: not a regular file",
        Path(ENCRYPTED_SCAN).stem: "encrypted",
    }
    assert reasons["ACH-5"].startswith("unreadable: ")
    assert len(files.bundles) > 2
    for bundle in files.bundles:
        assert (tmp_path / "spooled" / bundle).read_bytes() == (
            tmp_path / "files" / bundle
        ).read_bytes()
    # no document file under the export folder: only the bundles
    assert non_bundles(tmp_path / "spooled") == []
    written = non_bundles(tmp_path / "files")
    assert sorted(spool.members) == written
    assert "documents/purchases/_problems/ACH-3.pdf" in written
    for rel, entry in spool.members.items():
        data = (tmp_path / "files" / rel).read_bytes()
        assert os.pread(spool.fd, entry.size, entry.offset) == data
        assert entry.sha256 == hashlib.sha256(data).hexdigest()
        assert entry.crc32 == isal_zlib.crc32(data)


def test_the_spool_has_no_name(tmp_path: Path) -> None:
    path = tmp_path / ".spool"
    spool = DocumentSpool.create(path)
    assert not path.exists() and list(tmp_path.iterdir()) == []
    fd = spool.fd
    os.fstat(fd)
    spool.close()
    with pytest.raises(OSError) as caught:
        os.fstat(fd)
    assert caught.value.errno == errno.EBADF
    with pytest.raises(ValueError, match="closed"):
        _ = spool.fd
    path.write_bytes(b"left by another process")
    with pytest.raises(OutputError, match=r"cannot create the documents spool .*\.spool"):
        DocumentSpool.create(path)


def test_a_source_that_fails_to_read_is_unreadable_both_ways(
    tmp_path: Path, make_pdf: MakePdf, spool: DocumentSpool
) -> None:
    mem = Path("/proc/self/mem")  # a regular file whose first bytes cannot be read (EIO)
    refs = [ref("ACH-1", make_pdf("a")), ref("ACH-2", mem), ref("ACH-3", make_pdf("b"))]
    files, spooled = both_ways(refs, tmp_path, spool)
    assert spooled == files
    assert [p.number for p in files.problems] == ["ACH-2"]
    assert files.problems[0].reason.startswith("unreadable: ")  # Input/output error, on Linux
    assert sorted(spool.members) == [
        "documents/purchases/ACH-1.pdf",
        "documents/purchases/ACH-3.pdf",
    ]


def test_a_read_failing_midway_keeps_nothing(
    tmp_path: Path, make_pdf: MakePdf, spool: DocumentSpool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bytes appended before the failure are not named, and the next document reuses them."""
    big, after = write_pdf(tmp_path / "big.pdf", 40), make_pdf("after")
    reads = 0

    def read(fd: int, n: int) -> bytes:
        nonlocal reads
        reads += 1
        if reads == 2:
            raise OSError(errno.EIO, "Input/output error")
        return os.read(fd, 1000 if reads == 1 else n)

    monkeypatch.setattr(spool_module, "os", types.SimpleNamespace(**{**vars(os), "read": read}))
    result = export_documents(
        iter([ref("ACH-1", big), ref("ACH-2", after)]), resolve, tmp_path / "o", KIND, spool=spool
    )
    assert [(p.number, p.reason) for p in result.problems] == [
        ("ACH-1", "unreadable: Input/output error")
    ]
    assert list(spool.members) == ["documents/purchases/ACH-2.pdf"]
    entry = spool.members["documents/purchases/ACH-2.pdf"]
    assert entry.offset == 0 and spool.size == entry.size == after.stat().st_size


def test_a_spool_that_cannot_be_written_names_the_document(
    tmp_path: Path, make_pdf: MakePdf, spool: DocumentSpool, monkeypatch: pytest.MonkeyPatch
) -> None:
    def pwrite(fd: int, data: bytes, offset: int) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(spool_module, "os", types.SimpleNamespace(**{**vars(os), "pwrite": pwrite}))
    with pytest.raises(OutputError) as caught:
        export_documents(
            iter([ref("ACH/1", make_pdf("a"))]), resolve, tmp_path / "o", KIND, spool=spool
        )
    assert str(caught.value) == (
        f"cannot write documents/purchases/ACH_1.pdf to the documents spool in {tmp_path}: "
        "No space left on device"
    )


def test_an_interrupt_names_no_document_of_an_unwritten_part(
    tmp_path: Path, make_pdf: MakePdf, spool: DocumentSpool
) -> None:
    seen: list[int] = []

    def progress(n: int) -> None:
        seen.append(n)
        if len(seen) == 2:
            raise KeyboardInterrupt

    refs = [ref("ACH-1", make_pdf("a")), ref("ACH-2", make_pdf("b"))]
    with pytest.raises(KeyboardInterrupt):
        export_documents(
            iter(refs),
            resolve,
            tmp_path / "o",
            KIND,
            spool=spool,
            bundle_cap_bytes=1,
            progress=progress,
        )
    # ACH-1's part was written when ACH-2 arrived; ACH-2 was still waiting for its part
    assert list(spool.members) == ["documents/purchases/ACH-1.pdf"]
    assert files_under(tmp_path / "o") == ["documents/purchases-bundle-001.pdf"]
