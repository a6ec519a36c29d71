"""Verify a signed archive: every problem found, typed, with what was expected and found.

    report = verify_archive(Path("acc-0001.zip"), PublicKey.load(Path("operator.pub")))
    if not report.valid:
        for problem in report.problems: print(problem)

``ARCHIVE`` may be a whole archive or any part of a split one (``NAME-part-002.zip``): the
other parts are found beside it and checked together; a part that is absent is a problem.
The public key always comes from the caller: a key inside an archive is never trusted.
"""

from __future__ import annotations

import itertools
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from manifests import problems as P
from offboard.errors import ArchiveError

if TYPE_CHECKING:
    from manifests.signing import PublicKey
    from manifests.verify.part import PartResult
    from manifests.zipfmt import Limits

_PART = re.compile(r"(?P<stem>.+)-part-(?P<n>[0-9]{3})\.zip")

__all__ = ["VerifyReport", "find_parts", "verify_archive"]


@dataclass
class VerifyReport:
    archive: str
    mode: str
    parts: list[str] = field(default_factory=list)
    problems: list[P.Problem] = field(default_factory=list)
    archive_id: str | None = None
    account: str | None = None
    created_at: str | None = None
    signed_by: str | None = None
    trusted_comment: str | None = None
    files: int = 0
    bytes: int = 0
    seconds: float = 0.0
    #: the archive's ``offboard.json`` (None if it could not be read)
    metadata: dict[str, Any] | None = field(default=None, repr=False)
    #: every payload path listed in the manifests, with its SHA-256
    manifest: dict[str, str] = field(default_factory=dict, repr=False)
    #: every document ``offboard.json`` records, in all parts (each part lists its own)
    documents: list[dict[str, Any]] = field(default_factory=list, repr=False)

    @property
    def valid(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "archive": self.archive,
            "valid": self.valid,
            "mode": self.mode,
            "parts": self.parts,
            "archive_id": self.archive_id,
            "account": self.account,
            "created_at": self.created_at,
            "signed_by": self.signed_by,
            "trusted_comment": self.trusted_comment,
            "files": self.files,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "problems": [p.to_dict() for p in self.problems],
        }


def find_parts(path: Path) -> tuple[list[Path], str]:
    """The part files of the archive ``path`` belongs to, and the group's display name."""
    match = _PART.fullmatch(path.name)
    if match is None:
        return [path], path.name
    stem = match["stem"]
    found = sorted(
        p for p in path.parent.glob(f"{glob_escape(stem)}-part-*.zip") if _PART.fullmatch(p.name)
    )
    return found, f"{stem}-part-*.zip"


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def verify_archive(
    path: Path,
    pubkey: PublicKey | None,
    *,
    fast: bool = False,
    allow_unsigned: bool = False,
    limits: Limits | None = None,
    doc_worker: bool | None = None,
    opened: dict[Path, int] | None = None,
) -> VerifyReport:
    """Check the archive at ``path`` (and its sibling parts); never raises for a bad archive.

    Raises :class:`ArchiveError` only when ``path`` cannot be opened at all. ``doc_worker``
    forces (True) or forbids (False) checking the documents in a worker process, beside the
    tables; by default a worker is used when a part holds many documents. ``opened`` maps
    part paths to file descriptors the caller opened: those parts are read through them (the
    caller can then hash the very bytes that were verified, whatever happens to the names).
    """
    from manifests.verify.bounds import part_limits
    from manifests.verify.part import PartVerifier

    started = time.perf_counter()
    from offboard.memory import hold_mmap_threshold

    hold_mmap_threshold()
    if not path.is_file():
        raise ArchiveError(f"archive {str(path)!r} not found or not a file")
    paths, name = find_parts(path)
    report = VerifyReport(archive=name, mode="fast" if fast else "full")
    results: list[PartResult] = []
    for part in paths:
        try:
            verifier = PartVerifier(
                part,
                pubkey,
                fast=fast,
                allow_unsigned=allow_unsigned,
                limits=limits or part_limits(),
                doc_worker=doc_worker,
                fd=(opened or {}).get(part),
            )
            results.append(verifier.run())
        except OSError as exc:
            raise ArchiveError(f"cannot read {str(part)!r}: {exc.strerror or exc}") from exc
        report.parts.append(part.name)
    for r in results:
        report.problems.extend(r.problems)
        report.files += r.files
        report.bytes += r.bytes
    _across_parts(report, results, is_split=_PART.fullmatch(path.name) is not None)
    first = next((r for r in results if r.metadata is not None), None)
    if first is not None and first.metadata is not None:
        report.archive_id = first.metadata["archive_id"]
        report.account = first.metadata["account"]["id"]
        report.created_at = first.metadata["created_at"]
    signers = {r.signed_by for r in results}
    report.signed_by = signers.pop() if len(signers) == 1 else None
    report.trusted_comment = results[0].trusted_comment if len(results) == 1 else None
    report.seconds = time.perf_counter() - started
    if first is not None:
        report.metadata = first.metadata
    for r in results:
        report.manifest.update(r.listed)
    report.documents = _documents(results)
    report.problems.extend(
        _facturx(report, results, paths, opened or {}, limits, fast=fast or not report.metadata)
    )
    report.seconds = time.perf_counter() - started
    return report


def _facturx(
    report: VerifyReport,
    results: list[PartResult],
    paths: list[Path],
    opened: dict[Path, int],
    limits: Limits | None,
    *,
    fast: bool,
) -> list[P.Problem]:
    """The Factur-X checks across parts (:mod:`manifests.verify.facturx`): each recorded XML
    file against the manifests, and (full check) the recorded values against the CSV rows."""
    from manifests.verify.bounds import part_limits
    from manifests.verify.facturx import check_files, check_rows
    from manifests.zipfmt import CorruptDataError, ZipReader
    from offboard.facturx.rows import TABLE

    invoices = [d for d in report.documents if d.get("facturx") is not None]
    if not invoices:
        return []
    missing = any(isinstance(p, P.MissingPart) for p in report.problems)
    out = check_files(invoices, report.manifest, parts_missing=missing)
    meta = report.metadata
    if fast or meta is None:
        return out
    table = next((t for t in meta["tables"] if t.get("table") == TABLE), None)
    if table is None:
        return out
    rel = table["path"]
    holder = next((i for i, r in enumerate(results) if rel in r.listed), None)
    if holder is None:
        return [*out, *check_rows(invoices, None, meta["csv"], rel)]
    part = paths[holder]
    with ZipReader(part, limits=limits or part_limits(), fd=opened.get(part)) as reader:
        entry = next((e for e in reader.entries if e.name.split("/", 1)[-1] == rel), None)
        if entry is None:
            return [*out, *check_rows(invoices, None, meta["csv"], rel)]
        try:
            return [*out, *check_rows(invoices, reader.iter_data(entry), meta["csv"], rel)]
        except CorruptDataError:
            return out  # reported with the table's own problems


def _documents(results: list[PartResult]) -> list[dict[str, Any]]:
    """The documents of the archive: each part's own (version 2), or the first's (version 1)."""
    out: list[dict[str, Any]] = []
    for r in results:
        if r.metadata is None:
            continue
        if r.metadata["format_version"] == 1:
            return list(r.metadata["documents"])
        out.extend(r.metadata["documents"])
    return out


def _across_parts(report: VerifyReport, results: list[PartResult], *, is_split: bool) -> None:
    """Parts belong together: one offboard.json, numbers 1..N once each, all files present."""
    with_meta = [r for r in results if r.metadata is not None]
    if not with_meta:
        return
    reference = with_meta[0]
    assert reference.metadata is not None
    expected_count = reference.metadata["parts"]["count"]
    for r in with_meta[1:]:
        if r.shared_sha256 != reference.shared_sha256:
            report.problems.append(
                P.PartMismatch(
                    path="offboard.json",
                    detail=f"differs from the one in {reference.path.name}: "
                    "the parts come from different archives",
                    part=r.path.name,
                )
            )
    if expected_count > 1 and not is_split:
        report.problems.append(
            P.MissingPart(
                path="",
                detail=f"this archive is one of {expected_count} parts; "
                "name a part file (NAME-part-001.zip) to check them all",
            )
        )
        return
    numbers: dict[int, str] = {}
    for r in results:
        if r.number is None:
            continue
        if r.number in numbers:
            report.problems.append(
                P.PartMismatch(
                    path="",
                    detail=f"part {r.number} appears twice ({numbers[r.number]})",
                    part=r.path.name,
                )
            )
        numbers[r.number] = r.path.name
    for n in range(1, expected_count + 1):
        if n not in numbers:
            report.problems.append(
                P.MissingPart(
                    path="",
                    detail=f"part {n} of {expected_count} is absent",
                    expected=f"{n} of {expected_count}",
                    found=None,
                )
            )
    _in_order(report, results)
    extra = sorted(n for n in numbers if n > expected_count)
    for n in extra:
        report.problems.append(
            P.PartMismatch(
                path="", detail=f"part {n} beyond the {expected_count} declared", part=numbers[n]
            )
        )


def _in_order(report: VerifyReport, results: list[PartResult]) -> None:
    """Files go to parts in path order: part N's paths all sort before part N+1's, so a file
    in two parts (or out of its place) shows from the first and last path of each part."""
    spans = sorted(
        (r.number, r.first_path, r.last_path, r.path.name)
        for r in results
        if r.number is not None and r.first_path is not None and r.last_path is not None
    )
    for (_, _, last, name), (_, first, _, next_name) in itertools.pairwise(spans):
        if first.encode() <= last.encode():
            report.problems.append(
                P.PartMismatch(
                    path=first,
                    detail=f"out of order: {name} ends at {last!r}, after where this part starts",
                    part=next_name,
                )
            )


def verify_path(
    path: Path, pubkey: PublicKey | None, *, identities: list[Any] | None = None, **options: Any
) -> VerifyReport:
    """:func:`verify_archive`, or for an encrypted archive (``NAME.zip.age``)
    :func:`~manifests.verify.sealed.verify_sealed` (decrypting with ``identities`` if given)."""
    from manifests.verify.sealed import is_sealed, verify_sealed

    if is_sealed(path):
        return verify_sealed(path, pubkey, identities, **options)
    return verify_archive(path, pubkey, **options)
