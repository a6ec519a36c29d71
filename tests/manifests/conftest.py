"""Signed archives made once per session from the demo database, for the manifest tests."""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

CREATED = datetime(2026, 1, 31, 12, 0, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Keys:
    key: Path
    pub: Path


@dataclass(frozen=True)
class Made:
    """An archive and how it was made."""

    path: Path
    keys: Keys
    account: str


def require(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        pytest.fail(f"{tool} is not installed: run `make test`, which installs it")
    return found


def make_keys(folder: Path, name: str = "signer") -> Keys:
    from manifests.signing import SecretKey, write_keypair

    folder.mkdir(parents=True, exist_ok=True)
    key, pub = write_keypair(folder / name, SecretKey.generate(), None)
    return Keys(key, pub)


def make_archive(
    db: Path,
    out: Path,
    keys: Keys | None,
    account: str = "acc-0001",
    *,
    created: datetime = CREATED,
    split_size: int = 2 * 1000**3,
    split_files: int | None = None,
    dialect: str = "standard",
    spool_documents: bool = True,
    pack_tables: bool = True,
) -> Path:
    from manifests.build import ArchiveOptions
    from manifests.signing import SecretKey
    from offboard.csvio import get_dialect
    from offboard.pipeline import ExportOptions, export_account
    from offboard.sources import open_source

    src = open_source(str(db))
    try:
        export_account(
            src,
            account,
            out,
            ExportOptions(allow_missing_documents=True, jobs=2, dialect=get_dialect(dialect)),
            archive=ArchiveOptions(
                created_at=created,
                sign_key=None if keys is None else SecretKey.load(keys.key),
                split_size=split_size,
                **({} if split_files is None else {"split_files": split_files}),
                spool_documents=spool_documents,
                pack_tables=pack_tables,
            ),
        )
    finally:
        src.close()
    return out


def resign(src: Path, dst: Path, keys: Keys, change: Callable[[dict[str, bytes]], None]) -> Path:
    """``src`` rewritten as ``dst`` after ``change`` edited its files (``{bag path: bytes}``),
    with the tag manifest and the signature made consistent again: what only a key holder can
    do. The signature keeps its trusted comment. The tag manifest lists the tag files the
    original listed; when ``change`` edited ``offboard.json`` but not ``index.html``, the page
    is made again from the new ``offboard.json`` (as a key holder would), if it parses."""
    from manifests import bag
    from manifests.signing import SecretKey, Signature

    with zipfile.ZipFile(src) as zf:
        items = [(i, zf.read(i)) for i in zf.infolist()]
    data = {i.filename.split("/", 1)[1]: d for i, d in items}
    before = dict(data)
    listed, _ = bag.parse_manifest(data[bag.TAGMANIFEST])
    change(data)
    if (
        bag.BROWSER in data
        and data[bag.BROWSER] == before.get(bag.BROWSER)
        and data.get(bag.METADATA) != before.get(bag.METADATA)
    ):
        _remake_browser(data, items[0][0].filename.split("/", 1)[0])
    data[bag.TAGMANIFEST] = bag.format_manifest(
        (name, hashlib.sha256(data[name]).hexdigest())
        for name in bag.TAG_FILES
        if name in listed and name in data
    )
    comment = Signature.from_bytes(data[bag.SIGNATURE]).trusted_comment
    data[bag.SIGNATURE] = SecretKey.load(keys.key).sign(data[bag.TAGMANIFEST], comment)
    with zipfile.ZipFile(dst, "w") as out:
        for info, _ in items:
            out.writestr(info, data[info.filename.split("/", 1)[1]])
    return dst


def _remake_browser(data: dict[str, bytes], top: str) -> None:
    import json

    from manifests import bag
    from manifests.browser import render

    try:
        meta = json.loads(data[bag.METADATA])
        data[bag.BROWSER] = render(meta, top)
    except Exception:  # an offboard.json made not to parse, or not to be a page's
        return


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return make_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="session")
def archive(demo_db: Path, keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Made:
    """A signed archive of demo account acc-0001 (with documents); do not modify it."""
    out = tmp_path_factory.mktemp("archive") / "acc-0001.zip"
    return Made(make_archive(demo_db, out, keys), keys, "acc-0001")


@pytest.fixture(scope="session")
def archive_fr(demo_db: Path, keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Made:
    """A signed archive of acc-0002 in the excel-fr dialect; do not modify it."""
    out = tmp_path_factory.mktemp("archive-fr") / "acc-0002.zip"
    return Made(make_archive(demo_db, out, keys, "acc-0002", dialect="excel-fr"), keys, "acc-0002")
