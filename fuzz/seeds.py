"""Seed corpora for the fuzz harnesses, made from a real signed archive.

    python fuzz/seeds.py FOLDER

writes into ``FOLDER``:

* ``base/acc-t001.zip``: a real archive, exported from the tiny test database (one account,
  every kind, one invoice PDF) and signed by ``keys/fuzz.key`` (``keys/fuzz.pub``), made for
  the fuzzers (the key is new and signs nothing else);
* ``archive/``: the seeds of ``fuzz/archive_reader.py``: that archive, the same unsigned, and
  the parts of the split format version 1 and 2 archives of ``tests/fixtures``;
* ``manifest/``: the seeds of ``fuzz/manifest_parser.py``: one per tag file of the archive
  (the manifests, ``bag-info.txt``, ``bagit.txt``, ``offboard.json``, ``index.html``, the
  signature) and per mode, each a two-byte header (which tag file, whether to sign it again)
  and the tag file's bytes.

The harnesses call :func:`prepare`, which makes the folder if it is not there yet.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: the project's packages are beside fuzz/
    sys.path.insert(0, str(ROOT))

ACCOUNT = "acc-t001"
CREATED = datetime(2026, 1, 31, 12, 0, 0, tzinfo=UTC)
#: the tag files the manifest harness replaces, by the number its inputs start with
TARGETS = (
    "manifest-sha256.txt",
    "tagmanifest-sha256.txt",
    "bag-info.txt",
    "bagit.txt",
    "offboard.json",
    "index.html",
    "tagmanifest-sha256.txt.minisig",
)
#: the project's modules a verification runs (the harnesses instrument these, and only these)
INSTRUMENTED_PACKAGES = ("manifests.verify", "manifests.zipfmt", "offboard.facturx")
INSTRUMENTED_MODULES = (
    "manifests.bag",
    "manifests.browser",
    "manifests.metadata",
    "manifests.paths",
    "manifests.problems",
    "manifests.signing",
    "offboard.accounting.fec_check",
    "offboard.csvio.cells",
    "offboard.errors",
    "offboard.retention",
)


def import_project() -> None:
    """Import the modules a verification runs (inside ``atheris.instrument_imports()``)."""
    import importlib
    import pkgutil

    for name in INSTRUMENTED_MODULES:
        importlib.import_module(name)
    for package in INSTRUMENTED_PACKAGES:
        module = importlib.import_module(package)
        for info in pkgutil.iter_modules(module.__path__):
            importlib.import_module(f"{package}.{info.name}")


@dataclass(frozen=True)
class Home:
    """A prepared seeds folder."""

    folder: Path

    @property
    def archive(self) -> Path:
        return self.folder / "base" / f"{ACCOUNT}.zip"

    @property
    def key(self) -> Path:
        return self.folder / "keys" / "fuzz.key"

    @property
    def pub(self) -> Path:
        return self.folder / "keys" / "fuzz.pub"


def make_archive(home: Home) -> None:
    """Export the tiny database's first account into ``home.archive``, signed."""
    from manifests.build import ArchiveOptions
    from manifests.signing import SecretKey, write_keypair
    from offboard.csvio import get_dialect
    from offboard.pipeline import ExportOptions, export_account
    from offboard.sources import open_source
    from tests.tinydb import make_tiny_db

    home.key.parent.mkdir(parents=True, exist_ok=True)
    write_keypair(home.key.with_suffix(""), SecretKey.generate(), None, force=True)
    home.archive.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="offboard-fuzz-") as tmp:
        db = make_tiny_db(Path(tmp) / "tiny.db", with_documents=True)
        source = open_source(str(db))
        try:
            export_account(
                source,
                ACCOUNT,
                home.archive,
                ExportOptions(
                    allow_missing_documents=True, jobs=1, dialect=get_dialect("standard")
                ),
                archive=ArchiveOptions(created_at=CREATED, sign_key=SecretKey.load(home.key)),
            )
        finally:
            source.close()


def members(archive: Path) -> list[tuple[str, bytes]]:
    """The members of ``archive``, in order: (path in the bag, bytes)."""
    from manifests.zipfmt import ZipReader

    with ZipReader(archive) as zr:
        if zr.problems:
            raise SystemExit(f"{archive}: not a sound archive: {zr.problems[0]}")
        return [(e.name.split("/", 1)[1], zr.read_whole(e)) for e in zr.entries]


def rewrite(members: list[tuple[str, bytes]], top: str, out: Path) -> None:
    """Write ``members`` (path in the bag, bytes) as a canonical archive of folder ``top``."""
    from manifests.payload import compressed
    from manifests.zipfmt import ZipWriter

    with open(out, "wb") as fh:
        writer = ZipWriter(fh, when=CREATED)
        for rel, data in members:
            writer.add_bytes(f"{top}/{rel}", data, compress=compressed(rel))
        writer.close()


def write_seeds(home: Home) -> None:
    from manifests import bag

    corpus = home.folder / "archive"
    corpus.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(home.archive, corpus / "signed.zip")
    found = members(home.archive)
    unsigned = [(rel, data) for rel, data in found if rel != bag.SIGNATURE]
    rewrite(unsigned, ACCOUNT, corpus / "unsigned.zip")
    fixtures = ROOT / "tests" / "fixtures"
    for i, old in enumerate(sorted(fixtures.glob("archive-v*/split/*.zip"))):
        shutil.copyfile(old, corpus / f"fixture-{i:02d}-{old.parent.parent.name}-{old.name}")

    corpus = home.folder / "manifest"
    corpus.mkdir(parents=True, exist_ok=True)
    tags = dict(found)
    for number, name in enumerate(TARGETS):
        for resign in (0, 1):
            (corpus / f"{name}-{resign}").write_bytes(bytes([number, resign]) + tags[name])


def prepare(folder: Path) -> Home:
    """The seeds folder ``folder``, made first if it does not hold a signed archive yet."""
    home = Home(folder)
    if not (home.archive.is_file() and home.key.is_file() and home.pub.is_file()):
        make_archive(home)
        write_seeds(home)
    return home


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="where the archive, key and corpora go")
    args = parser.parse_args(argv)
    home = Home(args.folder)
    make_archive(home)
    write_seeds(home)
    for name in ("archive", "manifest"):
        print(f"{home.folder / name}: {len(list((home.folder / name).iterdir()))} seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
