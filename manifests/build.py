"""Build a signed BagIt archive (one zip, or several parts) from a finished export folder.

Each archive part is one bag under one top-level folder named like the zip::

    NAME/bagit.txt
    NAME/bag-info.txt
    NAME/offboard.json
    NAME/data/...                      the export's CSV and document files, sorted by path
    NAME/manifest-sha256.txt
    NAME/tagmanifest-sha256.txt
    NAME/tagmanifest-sha256.txt.minisig

Every file is read once: its SHA-256 (for the manifest), CRC-32 and compressed form are computed
from the same bytes, a small file whole, a large one chunk by chunk, so memory stays flat
whatever the export's size. The large files are read and compressed in other threads from the
start, while ``offboard.json`` is made and the small files are read
(:meth:`ZipWriter.add_files`). Each part is written under a temporary name, flushed to disk,
and renamed only when every part is complete.
"""

from __future__ import annotations

import gc
import hashlib
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from manifests import bag
from manifests.metadata import DATA, LazyMetadata, PartPlan, iso
from manifests.zipfmt import ZipWriter
from manifests.zipfmt.filedata import FileMember
from offboard import __version__
from offboard.errors import OutputError, OutputExists
from offboard.fsutil import fsync_dir, temp_name

if TYPE_CHECKING:
    from exporters.base import Exporter
    from manifests.signing import SecretKey
    from offboard.csvio.dialects import Dialect
    from offboard.summary import ExportSummary

#: default largest payload per part, in bytes (like the 2 GB parts of Google Takeout)
DEFAULT_SPLIT_SIZE = 2 * 1000**3
#: files compressed in the archive; everything else (PDFs: compressed already) is stored
COMPRESSED_SUFFIXES = (".csv", ".json", ".txt", ".xml")
#: compression level (fast deflate: see docs/archive-format.md for the figures)
LEVEL = 2
#: files of the export folder that are not payload (their content is in offboard.json)
NOT_PAYLOAD = frozenset({"export-summary.json"})
#: bytes gathered before each write to the archive file (small members are a few KB each)
WRITE_BUFFER = 1 << 20
#: the tag files written before the payload, in this order
LEAD = (bag.BAGIT, bag.BAG_INFO, bag.METADATA)


@dataclass(frozen=True)
class ArchiveOptions:
    created_at: datetime
    sign_key: SecretKey | None
    split_size: int = DEFAULT_SPLIT_SIZE
    level: int = LEVEL
    overwrite: bool = False


@dataclass
class ArchiveResult:
    archive_id: str
    paths: list[Path]
    files: int = 0
    payload_bytes: int = 0
    archive_bytes: int = 0
    seconds: float = 0.0
    part_bytes: list[int] = field(default_factory=list)


def part_names(out: Path, count: int) -> list[Path]:
    """``NAME.zip`` for one part, ``NAME-part-001.zip``... for several."""
    if count == 1:
        return [out]
    stem = out.name[: -len(".zip")] if out.name.endswith(".zip") else out.name
    return [out.with_name(f"{stem}-part-{i:03d}.zip") for i in range(1, count + 1)]


def trusted_comment(
    identifier: str, account: str, created_at: datetime, part: int, count: int
) -> str:
    """The signed context: format, account, archive id, creation time and part."""
    fields = [
        ("offboard-archive", "1"),
        ("account", account),
        ("archive", identifier),
        ("created", iso(created_at)),
        ("part", f"{part}/{count}"),
    ]
    return "\t".join(f"{k}:{quote(v, safe='@+-._~/')}" for k, v in fields)


def payload_files(stage: Path) -> dict[str, int]:
    """Every regular file of the export folder (``data/`` + relative POSIX path -> size).

    Links and other non-regular files are refused. The folder is read with ``os.scandir``:
    the entry types come with the listing, one ``lstat`` per file gives its size.
    """
    files: dict[str, int] = {}
    folders = [("", os.fspath(stage))]
    while folders:
        prefix, folder = folders.pop()
        with os.scandir(folder) as listing:
            for entry in listing:
                rel = prefix + entry.name
                if entry.is_dir(follow_symlinks=False):
                    folders.append((rel + "/", entry.path))
                    continue
                if entry.is_symlink():
                    raise OutputError(f"export folder holds a link {entry.path!r}")
                if not entry.is_file(follow_symlinks=False):
                    raise OutputError(f"export folder holds a non-regular file {entry.path!r}")
                name = entry.name
                if rel in NOT_PAYLOAD or (name.startswith(".") and ".tmp-" in name):
                    continue
                why = bag.check_relative(rel)
                if why:
                    raise OutputError(f"export file {rel!r} cannot go in an archive: {why}")
                files[f"{DATA}/{rel}"] = entry.stat(follow_symlinks=False).st_size
    return files


def plan_parts(sizes: dict[str, int], split_size: int) -> PartPlan:
    """Assign files to parts in path order; a part closes before it would pass ``split_size``.

    A single file larger than ``split_size`` gets a part of its own (files are never cut).
    """
    if split_size < 1:
        raise ValueError("split size must be positive")
    files: dict[str, int] = {}
    part, used = 1, 0
    for path in sorted(sizes, key=lambda p: p.encode("utf-8")):
        size = sizes[path]
        if used and used + size > split_size:
            part, used = part + 1, 0
        files[path] = part
        used += size
    return PartPlan(files=files, sizes=dict(sizes), count=part)


def build_archive(
    stage: Path,
    summary: ExportSummary,
    exporters: list[Exporter],
    dialect: Dialect,
    out: Path,
    options: ArchiveOptions,
) -> ArchiveResult:
    """Write the export folder ``stage`` as the archive ``out`` (or its parts)."""
    started = time.perf_counter()
    with _gc_paused():
        result = _build(stage, summary, exporters, dialect, out, options)
    result.seconds = time.perf_counter() - started
    return result


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside the block (restored after).

    The stage makes some hundred thousand small objects (tuples, dicts, bytes), none of them in
    reference cycles: the collections their allocations would set off find nothing to free,
    but walk every object of the process each time.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _build(
    stage: Path,
    summary: ExportSummary,
    exporters: list[Exporter],
    dialect: Dialect,
    out: Path,
    options: ArchiveOptions,
) -> ArchiveResult:
    sizes = payload_files(stage)
    plan = plan_parts(sizes, options.split_size)
    finals = part_names(out, plan.count)
    _check_targets(out, finals, options.overwrite)
    meta = LazyMetadata(summary, exporters, dialect, options.created_at, sizes, plan)
    expected_hashes = {
        f"{DATA}/{d.path}": d.sha256
        for k in summary.kinds
        if k.documents is not None
        for d in k.documents.documents
    }
    result = ArchiveResult(archive_id="", paths=finals)
    temps: list[Path] = []
    try:
        for number, final in enumerate(finals, 1):
            temp = temp_name(final)
            temps.append(temp)
            members = sorted(
                (p for p, n in plan.files.items() if n == number), key=lambda p: p.encode()
            )
            writer = _PartWriter(temp, final, number, plan.count, options)
            written = writer.write(stage, members, sizes, meta, summary, expected_hashes)
            result.part_bytes.append(written)
            result.archive_bytes += written
        for temp, final in zip(temps, finals, strict=True):
            os.replace(temp, final)
        fsync_dir(out.parent)
    except BaseException:
        for temp in temps:
            temp.unlink(missing_ok=True)
        raise
    result.archive_id = meta.get().identifier
    result.files = len(sizes)
    result.payload_bytes = sum(sizes.values())
    return result


def _check_targets(out: Path, finals: list[Path], overwrite: bool) -> None:
    if not out.name.endswith(".zip"):
        raise OutputError(f"archive name {str(out)!r} must end with .zip")
    stem = out.name[: -len(".zip")]
    existing = [p for p in finals if p.exists()]
    existing += sorted(out.parent.glob(f"{stem}-part-[0-9][0-9][0-9].zip"))
    if out.exists():
        existing.append(out)
    if existing and not overwrite:
        raise OutputExists(
            f"archive {str(existing[0])!r} already exists; choose another --out or pass --overwrite"
        )
    if overwrite:
        for p in set(existing) - set(finals):
            p.unlink()  # parts of an older archive of the same name would be mistaken for ours


class _PartWriter:
    """One bag in one zip file."""

    def __init__(
        self, temp: Path, final: Path, number: int, count: int, options: ArchiveOptions
    ) -> None:
        self.temp = temp
        self.final = final
        self.number = number
        self.count = count
        self.options = options
        self.top = final.name[: -len(".zip")]

    def write(
        self,
        stage: Path,
        members: list[str],
        sizes: dict[str, int],
        meta: LazyMetadata,
        summary: ExportSummary,
        expected_hashes: dict[str, str],
    ) -> int:
        opts = self.options
        tags: dict[str, bytes] = {}

        def lead() -> list[tuple[str, bytes, bool]]:
            made = meta.get()
            info = self._bag_info(members, sizes, made.period, summary, made.identifier)
            tags[bag.BAGIT] = bag.BAGIT_TXT
            tags[bag.BAG_INFO] = bag.format_bag_info(info)
            tags[bag.METADATA] = made.metadata
            return [(self._member(n), tags[n], _compress(n)) for n in LEAD]

        root = os.fspath(stage)
        skip = len(DATA) + 1
        hashes = [hashlib.sha256() for _ in members]
        files = [
            FileMember(
                self._member(rel), f"{root}/{rel[skip:]}", _compress(rel), sizes[rel], h.update
            )
            for rel, h in zip(members, hashes, strict=True)
        ]
        try:
            with open(self.temp, "xb", buffering=WRITE_BUFFER) as fh:
                zw = ZipWriter(fh, when=opts.created_at, level=opts.level)
                zw.add_files(files, lead=lead)
                digests = [(rel, h.hexdigest()) for rel, h in zip(members, hashes, strict=True)]
                for rel, digest in digests:
                    want = expected_hashes.get(rel)
                    if want is not None and want != digest:
                        raise OutputError(f"{rel} changed while the archive was written")
                tags[bag.MANIFEST] = bag.format_manifest(digests)
                zw.add_bytes(
                    self._member(bag.MANIFEST), tags[bag.MANIFEST], compress=_compress(bag.MANIFEST)
                )
                known = {bag.METADATA: meta.get().sha256}
                tagmanifest = bag.format_manifest(
                    (name, known.get(name) or hashlib.sha256(tags[name]).hexdigest())
                    for name in bag.TAG_FILES
                )
                zw.add_bytes(
                    self._member(bag.TAGMANIFEST), tagmanifest, compress=_compress(bag.TAGMANIFEST)
                )
                if opts.sign_key is not None:
                    comment = trusted_comment(
                        meta.get().identifier,
                        summary.account,
                        opts.created_at,
                        self.number,
                        self.count,
                    )
                    signature = opts.sign_key.sign(tagmanifest, comment)
                    zw.add_bytes(self._member(bag.SIGNATURE), signature, compress=False)
                written = zw.close()
                fh.flush()
                os.fsync(fh.fileno())
        except FileExistsError:
            raise OutputError(f"temporary file {str(self.temp)!r} exists") from None
        except OSError as exc:
            self.temp.unlink(missing_ok=True)
            raise OutputError(f"cannot write {str(self.final)!r}: {_os_error(exc)}") from exc
        return written

    def _member(self, rel: str) -> str:
        return f"{self.top}/{rel}"

    def _bag_info(
        self,
        members: list[str],
        sizes: dict[str, int],
        period: dict[str, str] | None,
        summary: ExportSummary,
        identifier: str,
    ) -> list[tuple[str, str]]:
        created = self.options.created_at
        fields = [
            ("Source-Organization", _one_line(summary.account_name or summary.account)),
            ("External-Identifier", _one_line(summary.account)),
            (
                "External-Description",
                _one_line(f"Export of account {summary.account} from {summary.source}"),
            ),
            ("Bagging-Date", created.strftime("%Y-%m-%d")),
            ("Payload-Oxum", bag.payload_oxum(sizes[m] for m in members)),
            ("Bag-Software-Agent", f"offboard {__version__}"),
        ]
        if self.count > 1:
            fields += [
                ("Bag-Group-Identifier", identifier),
                ("Bag-Count", f"{self.number} of {self.count}"),
            ]
        fields += [
            ("Offboard-Archive-Id", identifier),
            ("Offboard-Created-At", iso(created)),
        ]
        if period:
            fields.append(("Offboard-Records-Period", f"{period['from']}/{period['to']}"))
        return fields


def _os_error(exc: OSError) -> str:
    """What went wrong, naming the file at fault when the error names one."""
    if exc.strerror and exc.filename:
        return f"{exc.filename}: {exc.strerror}"
    return exc.strerror or str(exc)


def _compress(name: str) -> bool:
    return name.endswith(COMPRESSED_SUFFIXES)


def _one_line(text: str) -> str:
    return " ".join(text.split())
