"""Build a signed BagIt archive (one zip, or several parts) from a finished export folder.

Each archive part is one bag under one top-level folder named like the zip::

    NAME/bagit.txt
    NAME/bag-info.txt
    NAME/offboard.json
    NAME/index.html                    the archive browser (manifests/browser.py)
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

The documents are not files of the export folder but stretches of the export's documents spool
(:class:`~offboard.documents.spool.DocumentSpool`), whose SHA-256 and CRC-32 the documents stage
computed as it read them from the source: they are copied from the spool by offset, their
CRC-32 checked again, into the same members, in the same order, as files of the same bytes
would be. (Without a spool, every payload file is in the folder: the archive is the same.)
"""

from __future__ import annotations

import gc
import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from manifests import bag, browser
from manifests.metadata import (
    DATA,
    FORMAT_VERSION,
    MAX_PART_FILES,
    LazyMetadata,
    as_utc,
    iso,
    retention_of,
)
from manifests.payload import (
    Payload,
    compressed,
    packed_files,
    payload_files,
    plan_parts,
    spooled_files,
)
from manifests.targets import LocalParts, PartTarget
from manifests.zipfmt import ZipWriter
from offboard import __version__
from offboard.errors import OutputError
from offboard.memory import release_free_memory

if TYPE_CHECKING:
    from exporters.base import Exporter
    from manifests.pack import Pack
    from manifests.signing import SecretKey
    from offboard.csvio.dialects import Dialect
    from offboard.documents.spool import DocumentSpool
    from offboard.retention import Policy
    from offboard.summary import ExportSummary

#: default largest payload per part, in bytes (like the 2 GB parts of Google Takeout)
DEFAULT_SPLIT_SIZE = 2 * 1000**3
#: default most payload files per part (the format's most)
DEFAULT_SPLIT_FILES = MAX_PART_FILES
#: compression level (fast deflate: see docs/archive-format.md for the figures)
LEVEL = 2
#: the tag files written before the payload, in this order
LEAD = (bag.BAGIT, bag.BAG_INFO, bag.METADATA, bag.BROWSER)


@dataclass(frozen=True)
class ArchiveOptions:
    #: the archive's creation time, kept in UTC (a naive one is taken as UTC): it dates the
    #: zip members, ``bag-info.txt``, ``offboard.json`` and the signature alike
    created_at: datetime
    sign_key: SecretKey | None
    split_size: int = DEFAULT_SPLIT_SIZE
    split_files: int = DEFAULT_SPLIT_FILES
    level: int = LEVEL
    overwrite: bool = False
    #: the export's documents go through a spool straight into the archive (False: they are
    #: copied to files of the staging folder first, then read again; the same archive, slower,
    #: kept to check that both ways give the same bytes)
    spool_documents: bool = True
    #: each CSV file is hashed and deflated into the tables pack as soon as it is written
    #: (:mod:`manifests.pack`; False: by the archive stage; the same archive either way)
    pack_tables: bool = True
    #: where the parts are written (default: files beside ``out``, renamed when all are done)
    target: PartTarget | None = None
    #: the retention policy that dates the archive (None: the default, French law's)
    retention: Policy | None = None

    def __post_init__(self) -> None:
        # an aware time in another zone would be written as its wall time with a "Z"
        object.__setattr__(self, "created_at", as_utc(self.created_at))


@dataclass
class ArchiveResult:
    archive_id: str
    paths: list[Path]
    files: int = 0
    payload_bytes: int = 0
    archive_bytes: int = 0
    seconds: float = 0.0
    part_bytes: list[int] = field(default_factory=list)
    #: where each part is (a path, or an S3 URL with its version)
    locations: list[str] = field(default_factory=list)
    #: the archive's retain-until date by its retention policy (None: nothing to keep)
    retain_until: date | None = None


def part_names(out: Path, count: int) -> list[Path]:
    """``NAME.zip`` for one part, ``NAME-part-001.zip``... for several."""
    if count == 1:
        return [out]
    stem = out.name[: -len(".zip")] if out.name.endswith(".zip") else out.name
    return [out.with_name(f"{stem}-part-{i:03d}.zip") for i in range(1, count + 1)]


def trusted_comment(
    identifier: str,
    account: str,
    created_at: datetime,
    part: int,
    count: int,
    version: int = FORMAT_VERSION,
) -> str:
    """The signed context: format version, account, archive id, creation time and part."""
    fields = [
        ("offboard-archive", str(version)),
        ("account", account),
        ("archive", identifier),
        ("created", iso(created_at)),
        ("part", f"{part}/{count}"),
    ]
    return "\t".join(f"{k}:{quote(v, safe='@+-._~/')}" for k, v in fields)


def build_archive(
    stage: Path,
    summary: ExportSummary,
    exporters: list[Exporter],
    dialect: Dialect,
    out: Path,
    options: ArchiveOptions,
    spool: DocumentSpool | None = None,
    pack: Pack | None = None,
) -> ArchiveResult:
    """Write the export folder ``stage`` (with the documents of ``spool`` and the CSV files of
    ``pack``) as the archive ``out`` (or its parts)."""
    started = time.perf_counter()
    release_free_memory()  # what the table tasks freed, before the archive's peak
    with _gc_paused():
        result = _build(stage, summary, exporters, dialect, out, options, spool, pack)
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
    spool: DocumentSpool | None,
    pack: Pack | None,
) -> ArchiveResult:
    sizes = payload_files(stage)
    spooled = {} if spool is None else spooled_files(spool, sizes)
    packed = {} if pack is None else packed_files(pack, sizes)
    if pack is not None and pack.level != options.level:
        raise ValueError(f"tables packed at level {pack.level}, archive at level {options.level}")
    plan = plan_parts(sizes, options.split_size, options.split_files)
    finals = part_names(out, plan.count)
    target = options.target if options.target is not None else LocalParts()
    target.check(out, finals, options.overwrite)
    meta = LazyMetadata(
        summary, exporters, dialect, options.created_at, sizes, plan, options.retention
    )
    until = retention_of(summary, options.retention).until
    set_retention = getattr(target, "set_retention", None)
    if set_retention is not None:
        set_retention(until)  # an object store dates (and may lock) each part with it
    expected_hashes = {
        f"{DATA}/{d.path}": d.sha256
        for k in summary.kinds
        if k.documents is not None
        for d in k.documents.documents
    }
    payload = Payload(
        stage,
        sizes,
        spooled,
        None if spool is None else spool.fd,
        packed,
        None if pack is None else pack.fd,
    )
    result = ArchiveResult(archive_id="", paths=finals, retain_until=until)
    try:
        for number, final in enumerate(finals, 1):
            members = sorted(
                (p for p, n in plan.files.items() if n == number), key=lambda p: p.encode()
            )
            writer = _PartWriter(target, final, number, plan.count, options)
            written = writer.write(payload, members, meta, summary, expected_hashes)
            result.part_bytes.append(written)
            result.archive_bytes += written
            release_free_memory()  # what the part's tag files and listings took
        result.locations = target.commit()
    except BaseException:
        target.abort()
        raise
    result.archive_id = meta.identifier
    result.files = len(sizes)
    result.payload_bytes = sum(sizes.values())
    return result


class _PartWriter:
    """One bag in one zip file."""

    def __init__(
        self, target: PartTarget, final: Path, number: int, count: int, options: ArchiveOptions
    ) -> None:
        self.target = target
        self.final = final
        self.number = number
        self.count = count
        self.options = options
        self.top = final.name[: -len(".zip")]

    def write(
        self,
        payload: Payload,
        members: list[str],
        meta: LazyMetadata,
        summary: ExportSummary,
        expected_hashes: dict[str, str],
    ) -> int:
        opts = self.options
        sizes = payload.sizes
        tags: dict[str, bytes] = {}

        def lead() -> list[tuple[str, bytes, bool]]:
            made = meta.get(self.number)
            info = self._bag_info(
                members, sizes, made.period, summary, made.identifier, made.retain_until
            )
            tags[bag.BAGIT] = bag.BAGIT_TXT
            tags[bag.BAG_INFO] = bag.format_bag_info(info)
            tags[bag.METADATA] = made.metadata
            # what the verifier makes again from the bytes it reads (parsing them here again
            # took 24 MB at once for a part of 12,000 documents)
            tags[bag.BROWSER] = browser.render(made.content, self.top)
            return [(self._member(n), tags[n], compressed(n)) for n in LEAD]

        files, known, hashing = payload.zip_members(members, self._member)
        # a bound on the zip's size: the payload stored, headers, directory and tag files
        expected = sum(sizes[m] for m in members) + 512 * (len(members) + 8) + (64 << 20)
        try:
            fh = self.target.open(self.final, expected)
            try:
                zw = ZipWriter(fh, when=opts.created_at, level=opts.level)
                zw.add_files(files, lead=lead)
                digests = [(rel, known.get(rel) or hashing[rel].hexdigest()) for rel in members]
                for rel, digest in digests:
                    want = expected_hashes.get(rel)
                    if want is not None and want != digest:
                        raise OutputError(f"{rel} changed while the archive was written")
                tags[bag.MANIFEST] = bag.format_manifest(digests)
                zw.add_bytes(
                    self._member(bag.MANIFEST),
                    tags[bag.MANIFEST],
                    compress=compressed(bag.MANIFEST),
                )
                known = {bag.METADATA: meta.get(self.number).sha256}
                tagmanifest = bag.format_manifest(
                    (name, known.get(name) or hashlib.sha256(tags[name]).hexdigest())
                    for name in bag.TAG_FILES
                )
                zw.add_bytes(
                    self._member(bag.TAGMANIFEST), tagmanifest, compress=compressed(bag.TAGMANIFEST)
                )
                if opts.sign_key is not None:
                    comment = trusted_comment(
                        meta.identifier,
                        summary.account,
                        opts.created_at,
                        self.number,
                        self.count,
                    )
                    signature = opts.sign_key.sign(tagmanifest, comment)
                    zw.add_bytes(self._member(bag.SIGNATURE), signature, compress=False)
                written = zw.close()
                self.target.finish(self.final, fh)
            finally:
                fh.close()
        except OSError as exc:
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
        retain_until: str | None = None,
    ) -> list[tuple[str, str]]:
        created = self.options.created_at
        fields = [
            ("Source-Organization", _one_line(summary.account_name or summary.account)),
            ("External-Identifier", _one_line(summary.account)),
            (
                "External-Description",
                _one_line(f"Export of account {summary.account} from {summary.source}"),
            ),
            ("Bagging-Date", iso(created)[:10]),
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
        if retain_until:
            fields.append(("Offboard-Retain-Until", retain_until))
        return fields


def _os_error(exc: OSError) -> str:
    """What went wrong, naming the file at fault when the error names one."""
    if exc.strerror and exc.filename:
        return f"{exc.filename}: {exc.strerror}"
    return exc.strerror or str(exc)


def _one_line(text: str) -> str:
    return " ".join(text.split())
