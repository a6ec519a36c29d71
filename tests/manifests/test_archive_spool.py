"""Documents spooled and tables packed straight into the archive: the archive of staged files,
byte for byte."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from manifests.pack import Pack
from manifests.verify import verify_archive
from offboard.documents.spool import DocumentSpool
from offboard.errors import OutputError
from tests.manifests.conftest import Made, make_archive


@pytest.fixture
def spools(monkeypatch: pytest.MonkeyPatch) -> list[DocumentSpool]:
    """Every documents spool the exports of the test create."""
    made: list[DocumentSpool] = []
    create = DocumentSpool.create

    def recorded(path: Path) -> DocumentSpool:
        spool = create(path)
        made.append(spool)
        return spool

    monkeypatch.setattr(DocumentSpool, "create", staticmethod(recorded))
    return made


@pytest.fixture
def packs(monkeypatch: pytest.MonkeyPatch) -> list[Pack]:
    """Every tables pack the exports of the test create."""
    made: list[Pack] = []
    create = Pack.create

    def recorded(path: Path, level: int) -> Pack:
        pack = create(path, level)
        made.append(pack)
        return pack

    monkeypatch.setattr(Pack, "create", staticmethod(recorded))
    return made


@pytest.mark.parametrize(
    ("spool_documents", "pack_tables"), [(False, False), (False, True), (True, False)]
)
def test_the_same_archive_as_from_staged_files(
    demo_db: Path, tmp_path: Path, archive: Made, spool_documents: bool, pack_tables: bool
) -> None:
    """The session's archive is made the new way (documents spooled, tables packed)."""
    staged = make_archive(
        demo_db,
        tmp_path / "acc-0001.zip",
        archive.keys,
        spool_documents=spool_documents,
        pack_tables=pack_tables,
    )
    assert staged.read_bytes() == archive.path.read_bytes()


def test_the_archive_holds_every_document_and_problem(archive: Made) -> None:
    with zipfile.ZipFile(archive.path) as zf:
        names = zf.namelist()
    documents = [
        n for n in names if n.startswith("acc-0001/data/documents/") and "-bundle-" not in n
    ]
    assert len(documents) > 500
    # the demo's encrypted purchase is kept as found, under _problems/
    problems = [n for n in documents if "/_problems/" in n]
    assert problems
    assert all(n.startswith("acc-0001/data/documents/purchases/_problems/") for n in problems)


def test_the_same_split_archive_as_from_staged_files(
    demo_db: Path, tmp_path: Path, archive: Made
) -> None:
    parts = {}
    for direct in (True, False):
        folder = tmp_path / str(direct)
        folder.mkdir()
        make_archive(
            demo_db,
            folder / "s.zip",
            archive.keys,
            split_size=300_000,
            spool_documents=direct,
            pack_tables=direct,
        )
        parts[direct] = {p.name: p.read_bytes() for p in sorted(folder.iterdir())}
    assert len(parts[True]) >= 3
    assert parts[True] == parts[False]


def test_the_same_excel_fr_archive_as_from_staged_files(
    demo_db: Path, tmp_path: Path, archive_fr: Made
) -> None:
    staged = make_archive(
        demo_db,
        tmp_path / "acc-0002.zip",
        archive_fr.keys,
        "acc-0002",
        dialect="excel-fr",
        spool_documents=False,
        pack_tables=False,
    )
    assert staged.read_bytes() == archive_fr.path.read_bytes()


def test_the_spool_and_the_pack_are_gone_after_an_interrupt(
    demo_db: Path,
    tmp_path: Path,
    archive: Made,
    spools: list[DocumentSpool],
    packs: list[Pack],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from offboard.documents.sandbox import SandboxBundler

    flush = SandboxBundler._flush
    parts = 0

    def interrupted(self: SandboxBundler) -> None:
        nonlocal parts
        parts += 1
        if parts == 3:
            raise KeyboardInterrupt
        flush(self)

    monkeypatch.setattr(SandboxBundler, "_flush", interrupted)
    out = tmp_path / "out" / "acc-0001.zip"
    out.parent.mkdir()
    with pytest.raises(KeyboardInterrupt):
        make_archive(demo_db, out, archive.keys)
    assert list(out.parent.iterdir()) == []
    assert len(spools) == 1 and spools[0].size > 0
    assert len(packs) == 1
    with pytest.raises(ValueError, match="closed"):
        _ = spools[0].fd
    with pytest.raises(ValueError, match="closed"):
        _ = packs[0].fd


def test_a_spooled_document_changed_before_it_is_archived_is_named(
    demo_db: Path,
    tmp_path: Path,
    archive: Made,
    spools: list[DocumentSpool],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import manifests.build as build

    listed = build.spooled_files
    changed: list[str] = []

    def then_changed(spool: DocumentSpool, sizes: dict[str, int]) -> dict[str, object]:
        found = listed(spool, sizes)
        rel, entry = min(
            (r, e) for r, e in spool.members.items() if r.startswith("documents/sales_invoices/")
        )
        at = entry.offset + entry.size // 2
        os.pwrite(spool.fd, bytes([os.pread(spool.fd, 1, at)[0] ^ 0xFF]), at)
        changed.append(rel)
        return found  # type: ignore[return-value]

    monkeypatch.setattr(build, "spooled_files", then_changed)
    out = tmp_path / "out" / "acc-0001.zip"
    out.parent.mkdir()
    with pytest.raises(OutputError) as caught:
        make_archive(demo_db, out, archive.keys)
    assert f"data/{changed[0]}: its spooled copy changed before it was archived (CRC-32 " in str(
        caught.value
    )
    assert list(out.parent.iterdir()) == []
    with pytest.raises(ValueError, match="closed"):
        _ = spools[0].fd


def test_an_archive_without_documents_has_no_spool(
    demo_db: Path, tmp_path: Path, archive: Made, spools: list[DocumentSpool], packs: list[Pack]
) -> None:
    from manifests.build import ArchiveOptions
    from offboard.pipeline import ExportOptions, export_account
    from offboard.sources import open_source
    from tests.manifests.conftest import CREATED

    src = open_source(str(demo_db))
    out = tmp_path / "acc-0001.zip"
    try:
        export_account(
            src,
            "acc-0001",
            out,
            ExportOptions(documents=False, kinds=["contacts"]),
            archive=ArchiveOptions(created_at=CREATED, sign_key=None),
        )
    finally:
        src.close()
    assert spools == []
    assert sorted(packs[0].members) == ["csv/contacts_companies.csv", "csv/contacts_people.csv"]
    assert verify_archive(out, None, allow_unsigned=True).valid
