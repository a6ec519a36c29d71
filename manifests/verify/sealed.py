"""Verify an encrypted archive (``NAME.zip.age``, see :mod:`manifests.encryption`).

Without an identity, each encrypted part's outer signature is checked against the ciphertext
(streamed, BLAKE2b-512) and its trusted comment read: the parts must be one archive, all of
them, numbered in order. That is all that can be known without decrypting, and the report says
so (mode ``sealed``). With identities, each part is then decrypted into a private temporary
folder (mode 0700, removed after), its tag manifest compared with the one the outer signature
names, and the plaintext archive verified like any other.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from manifests import bag
from manifests import problems as P
from manifests.encryption import SIG_SUFFIX, SUFFIX, parse_seal_comment
from offboard.errors import ArchiveError

if TYPE_CHECKING:
    from manifests.signing import PublicKey
    from manifests.verify import VerifyReport

__all__ = ["find_sealed_parts", "is_sealed", "opened_sealed", "verify_sealed"]

_SEALED_PART = re.compile(r"(?P<stem>.+)-part-(?P<n>[0-9]{3})\.zip\.age")
#: the most bytes read of a signature file
MAX_SIGNATURE = 16 << 10
CHUNK = 1 << 20


def is_sealed(path: Path | str) -> bool:
    return str(path).endswith(".zip" + SUFFIX)


def find_sealed_parts(path: Path) -> tuple[list[Path], str]:
    from manifests.verify import glob_escape

    match = _SEALED_PART.fullmatch(path.name)
    if match is None:
        return [path], path.name
    stem = match["stem"]
    found = sorted(
        p
        for p in path.parent.glob(f"{glob_escape(stem)}-part-*.zip.age")
        if _SEALED_PART.fullmatch(p.name)
    )
    return found, f"{stem}-part-*.zip.age"


def verify_sealed(
    path: Path,
    pubkey: PublicKey | None,
    identities: list[Any] | None,
    **options: Any,
) -> VerifyReport:
    """Check the encrypted archive at ``path`` (and its sibling parts); ``options`` go to
    :func:`~manifests.verify.verify_archive` for the decrypted archive."""
    from manifests.verify import VerifyReport

    if not path.is_file():
        raise ArchiveError(f"archive {str(path)!r} not found or not a file")
    if pubkey is None:
        raise ArchiveError(f"{path.name}: an encrypted archive is checked with --pubkey")
    parts, name = find_sealed_parts(path)
    report = VerifyReport(archive=name, mode="sealed")
    seals: list[dict[str, str]] = []
    for part in parts:
        report.parts.append(part.name)
        fields = _check_seal(part, pubkey, report)
        if fields is not None:
            seals.append(fields)
            report.bytes += part.stat().st_size
    _check_together(report, parts, seals)
    if seals:
        report.archive_id = seals[0]["archive"]
        report.created_at = seals[0]["created"]
        report.signed_by = pubkey.key_id_hex
    if identities is None or report.problems:
        return report
    return _decrypted(parts, seals, pubkey, identities, report, options)


def _check_seal(part: Path, pubkey: PublicKey, report: VerifyReport) -> dict[str, str] | None:
    from manifests.signing import Signature, SignatureError

    sig_path = part.with_name(part.name + SIG_SUFFIX)
    try:
        with open(sig_path, "rb") as fh:
            raw = fh.read(MAX_SIGNATURE + 1)
    except FileNotFoundError:
        report.problems.append(
            P.SignatureMissing(
                sig_path.name, "no signature beside the encrypted part", part=part.name
            )
        )
        return None
    try:
        if len(raw) > MAX_SIGNATURE:
            raise ValueError(f"larger than {MAX_SIGNATURE} bytes")
        signature = Signature.from_bytes(raw, source=sig_path.name)
        blake = hashlib.blake2b(digest_size=64)
        with open(part, "rb") as fh:
            while chunk := fh.read(CHUNK):
                blake.update(chunk)
        pubkey.verify_digest(blake.digest(), signature)
    except (SignatureError, ValueError) as exc:
        report.problems.append(P.SignatureInvalid(sig_path.name, str(exc), part=part.name))
        return None
    fields = parse_seal_comment(signature.trusted_comment)
    if fields is None:
        report.problems.append(
            P.ContextMismatch(
                sig_path.name,
                "the trusted comment is not that of an offboard encrypted archive",
                found=signature.trusted_comment[:200],
                part=part.name,
            )
        )
    report.trusted_comment = signature.trusted_comment
    return fields


def _check_together(report: VerifyReport, parts: list[Path], seals: list[dict[str, str]]) -> None:
    if len(seals) != len(parts):
        return  # each part without a valid seal is reported already
    ids = {s["archive"] for s in seals}
    if len(ids) > 1:
        report.problems.append(
            P.PartMismatch(
                "", "the parts belong to different archives", found=", ".join(sorted(ids))
            )
        )
    for position, (part, seal) in enumerate(zip(parts, seals, strict=True), 1):
        number, _, count = seal["part"].partition("/")
        if count != str(len(parts)):
            report.problems.append(
                P.MissingPart(
                    "",
                    "the archive has another number of parts",
                    expected=count,
                    found=str(len(parts)),
                    part=part.name,
                )
            )
        elif number != str(position):
            report.problems.append(
                P.PartMismatch(
                    "",
                    "the part is out of place",
                    expected=str(position),
                    found=number,
                    part=part.name,
                )
            )


def _decrypted(
    parts: list[Path],
    seals: list[dict[str, str]],
    pubkey: PublicKey,
    identities: list[Any],
    sealed: VerifyReport,
    options: dict[str, Any],
) -> VerifyReport:

    from manifests.verify import verify_archive

    folder = Path(tempfile.mkdtemp(prefix="offboard-decrypted-"))
    try:
        try:
            plain_paths = _decrypt_all(parts, identities, folder)
        except _Undecryptable as exc:
            sealed.problems.append(exc.problem)
            return sealed
        report = verify_archive(plain_paths[0], pubkey, **options)
        report.archive = sealed.archive
        report.parts = sealed.parts
        report.problems += _tag_mismatches(plain_paths, seals, parts)
        return report
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _tagmanifest_sha256(plain: Path) -> str | None:
    """The SHA-256 of the part's tag manifest (the part is already verified, or its problems
    reported: read it plainly, bounded)."""
    top = plain.name[: -len(".zip")]
    try:
        with zipfile.ZipFile(plain) as zf:
            info = zf.getinfo(f"{top}/{bag.TAGMANIFEST}")
            if info.file_size > MAX_SIGNATURE * 1024:
                return None
            return hashlib.sha256(zf.read(info)).hexdigest()
    except (KeyError, zipfile.BadZipFile, OSError, ValueError):
        return None


@contextmanager
def opened_sealed(path: Path, pubkey: PublicKey, identities: list[Any]) -> Iterator[Path]:
    """The decrypted archive of the encrypted archive ``path``, in a private temporary folder
    for the block (the path of the part named), after its outer signatures are checked and
    each decrypted tag manifest is the one they name; raises :class:`ArchiveInvalid` (with
    the problems) otherwise. The decrypted archive itself is not verified here."""

    from offboard.errors import ArchiveInvalid

    report = verify_sealed(path, pubkey, None)
    if not report.valid:
        raise ArchiveInvalid(
            f"{report.archive}: {len(report.problems)} problem(s) found", report.problems
        )
    parts, _ = find_sealed_parts(path)
    folder = Path(tempfile.mkdtemp(prefix="offboard-decrypted-"))
    try:
        try:
            plain_paths = _decrypt_all(parts, identities, folder)
        except _Undecryptable as exc:
            raise ArchiveInvalid(f"{exc.problem.part}: cannot decrypt", [exc.problem]) from None
        seals = _seals(parts, pubkey)
        mismatched = _tag_mismatches(plain_paths, seals, parts)
        if mismatched:
            raise ArchiveInvalid(
                f"{report.archive}: the decrypted archive is not the sealed one", mismatched
            )
        yield plain_paths[parts.index(path)] if path in parts else plain_paths[0]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class _Undecryptable(Exception):
    def __init__(self, problem: P.Problem) -> None:
        super().__init__(problem.detail)
        self.problem = problem


def _decrypt_all(parts: list[Path], identities: list[Any], folder: Path) -> list[Path]:
    """Each part decrypted into ``folder`` under its plain name."""
    import pyrage

    plain_paths = []
    for part in parts:
        plain = folder / part.name[: -len(SUFFIX)]
        with open(part, "rb") as src, open(plain, "xb") as dst:
            try:
                pyrage.decrypt_io(src, dst, identities)
            except pyrage.DecryptError as exc:
                raise _Undecryptable(
                    P.CorruptData("", f"cannot decrypt: {exc}", part=part.name)
                ) from None
        plain_paths.append(plain)
    return plain_paths


def _seals(parts: list[Path], pubkey: PublicKey) -> list[dict[str, str]]:
    from manifests.verify import VerifyReport

    scratch = VerifyReport(archive="", mode="sealed")
    found = [_check_seal(part, pubkey, scratch) for part in parts]
    if scratch.problems or any(f is None for f in found):
        from offboard.errors import ArchiveInvalid

        raise ArchiveInvalid("the seals changed while the archive was read", scratch.problems)
    return [f for f in found if f is not None]


def _tag_mismatches(
    plain_paths: list[Path], seals: list[dict[str, str]], parts: list[Path]
) -> list[P.Problem]:
    found: list[P.Problem] = []
    for plain, seal, part in zip(plain_paths, seals, parts, strict=True):
        digest = _tagmanifest_sha256(plain)
        if digest != seal["tagmanifest-sha256"]:
            found.append(
                P.ContextMismatch(
                    bag.TAGMANIFEST,
                    "the decrypted tag manifest is not the one the outer signature names",
                    expected=seal["tagmanifest-sha256"],
                    found=digest,
                    part=part.name,
                )
            )
    return found
