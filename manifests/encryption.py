"""Archives encrypted to age recipients: ``NAME.zip.age`` and ``NAME.zip.age.minisig``.

An encrypted archive is the ordinary signed archive, each part encrypted whole with age
(https://age-encryption.org/v1, X25519 recipients ``age1…``), plus, beside each encrypted part,
a minisign signature of the *ciphertext* by the same key::

    NAME.zip.age            age(NAME.zip): the bag, its manifests, its own signature inside
    NAME.zip.age.minisig    minisign signature of NAME.zip.age (algorithm ED), whose trusted
                            comment binds it to the plaintext: archive id, part, creation
                            time and the SHA-256 of the bag's tagmanifest-sha256.txt

So the signature over the plaintext manifest stays where it always is, inside, and covers the
data once decrypted; the outer signature lets anyone holding only the public key check, before
and without decrypting, that the ciphertext is intact, was made by the signer, and which
archive it is (``offboard verify NAME.zip.age --pubkey PUB``, or ``minisign -Vm NAME.zip.age``).
With an identity (``--identity FILE``), verification decrypts each part into a private
temporary folder, checks that its tag manifest is the one the outer signature names, and
verifies the archive fully.

The plaintext zip is written to an anonymous temporary file (unlinked from the start: it
disappears with the process, however it ends), encrypted from there into the destination
(a local file renamed when complete, or an S3 upload), hashed (BLAKE2b-512) as it is written.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import quote, unquote

from offboard.errors import ConfigError, KeyFileError

if TYPE_CHECKING:
    from manifests.signing import SecretKey
    from manifests.targets import PartTarget

__all__ = [
    "SEAL_FORMAT",
    "EncryptingParts",
    "load_identities",
    "parse_recipients",
    "parse_seal_comment",
    "sealed_name",
]

SUFFIX = ".age"
SIG_SUFFIX = ".minisig"
SEAL_FORMAT = "1"
#: the most bytes of an identity or recipients file read
MAX_KEY_FILE = 1 << 20


def sealed_name(plain: str) -> str:
    """``NAME.zip`` -> ``NAME.zip.age``."""
    return plain + SUFFIX


def parse_recipients(values: list[str]) -> list[Any]:
    """age X25519 recipients from ``age1…`` strings, or files of them (one per line, ``#``
    comments), as ``age -R`` reads them."""
    from pyrage import x25519

    found: list[Any] = []
    for value in values:
        lines = [value]
        if not value.startswith("age1"):
            path = Path(value)
            if not path.is_file():
                raise ConfigError(
                    f"--encrypt-to {value!r}: neither an age1... recipient nor a file"
                )
            lines = _key_lines(path, "--encrypt-to")
        for line in lines:
            try:
                found.append(x25519.Recipient.from_str(line))
            except Exception:
                raise ConfigError(
                    f"--encrypt-to: {line[:20]!r}... is not an age recipient"
                ) from None
    if not found:
        raise ConfigError("--encrypt-to: no recipient given")
    return found


def load_identities(path: Path) -> list[Any]:
    """The age identities (``AGE-SECRET-KEY-1…`` lines) of an identity file, as ``age -i``."""
    from pyrage import x25519

    identities = []
    for line in _key_lines(path, "--identity"):
        try:
            identities.append(x25519.Identity.from_str(line))
        except Exception:
            raise KeyFileError(
                f"{path}: a line is not an age identity (AGE-SECRET-KEY-1...)"
            ) from None
    if not identities:
        raise KeyFileError(f"{path}: no age identity in the file")
    return identities


def _key_lines(path: Path, option: str) -> list[str]:
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_KEY_FILE + 1)
    except OSError as exc:
        raise KeyFileError(f"{option} {path}: {exc.strerror}") from None
    if len(data) > MAX_KEY_FILE:
        raise KeyFileError(f"{option} {path}: larger than {MAX_KEY_FILE} bytes")
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise KeyFileError(f"{option} {path}: not an age key file (not ASCII)") from None
    return [s for s in (line.strip() for line in text.splitlines()) if s and not s.startswith("#")]


def seal_comment(
    archive_id: str,
    part: int,
    count: int,
    created: str,
    tagmanifest_sha256: str,
    retain_until: str | None = None,
) -> str:
    fields = [
        ("offboard-sealed", SEAL_FORMAT),
        ("archive", archive_id),
        ("created", created),
        ("part", f"{part}/{count}"),
        ("tagmanifest-sha256", tagmanifest_sha256),
    ]
    if retain_until is not None:
        fields.append(("retain-until", retain_until))
    return "\t".join(f"{k}:{quote(v, safe='@+-._~/:')}" for k, v in fields)


def parse_seal_comment(comment: str) -> dict[str, str] | None:
    """The fields of an outer signature's trusted comment, or None if it is not one."""
    fields: dict[str, str] = {}
    for item in comment.split("\t"):
        key, sep, value = item.partition(":")
        if not sep or key in fields:
            return None
        fields[key] = unquote(value)
    wanted = {"offboard-sealed", "archive", "created", "part", "tagmanifest-sha256"}
    if not wanted <= set(fields) <= wanted | {"retain-until"}:
        return None
    if fields["offboard-sealed"] != SEAL_FORMAT:
        return None
    return fields


class _Hashing:
    """A write-only file object that BLAKE2b-hashes what it passes on."""

    def __init__(self, inner: BinaryIO) -> None:
        self.inner = inner
        self.blake = hashlib.blake2b(digest_size=64)
        self.size = 0
        #: the error writing to ``inner`` raised (age reports it as text only)
        self.error: OSError | None = None

    def write(self, data: Any) -> int:
        self.blake.update(data)
        self.size += len(data)
        try:
            self.inner.write(data)
        except OSError as exc:
            self.error = exc
            raise
        return len(data)

    def flush(self) -> None:
        self.inner.flush()


class EncryptingParts:
    """A :class:`~manifests.targets.PartTarget` that encrypts each part into ``inner``.

    ``count`` and the names are those of the plaintext parts; ``inner`` receives
    ``NAME.zip.age`` for each and the signatures beside them.
    """

    def __init__(self, inner: PartTarget, recipients: list[Any], sign_key: SecretKey) -> None:
        self.inner = inner
        self.recipients = recipients
        self.sign_key = sign_key
        self._count = 0

    def check(self, out: Path, finals: list[Path], overwrite: bool) -> None:
        self._count = len(finals)
        sealed = out.with_name(sealed_name(out.name))
        self.inner.check(sealed, [f.with_name(sealed_name(f.name)) for f in finals], overwrite)

    def open(self, final: Path, expected_size: int) -> BinaryIO:
        # unlinked at once: the plaintext zip never has a name, and goes with the process
        return tempfile.TemporaryFile(dir=final.parent, prefix=".offboard-plain-")

    def finish(self, final: Path, fh: BinaryIO) -> None:
        import pyrage

        fh.flush()
        fh.seek(0)
        archive_id, created, part, digest, until = _describe(fh, final)
        fh.seek(0)
        sealed = final.with_name(sealed_name(final.name))
        size = os.fstat(fh.fileno()).st_size
        out = self.inner.open(sealed, size + size // 1000 + (1 << 20))
        try:
            hashing = _Hashing(out)
            try:
                pyrage.encrypt_io(fh, hashing, self.recipients)
            except pyrage.EncryptError as exc:
                met = hashing.error
                if met is not None:  # writing failed (a full disk): that error, naming the file
                    reason = met.strerror or str(met)
                    raise OSError(met.errno, reason, met.filename or str(sealed)) from met
                raise OSError(f"age encryption failed: {exc}") from None
            self.inner.finish(sealed, out)
        finally:
            out.close()
        comment = seal_comment(archive_id, part, self._count, created, digest, until)
        signature = self.sign_key.sign_digest(hashing.blake.digest(), comment)
        self.inner.add_small(sealed.with_name(sealed.name + SIG_SUFFIX), signature)

    def add_small(self, final: Path, data: bytes) -> None:
        self.inner.add_small(final, data)

    def set_retention(self, until: Any) -> None:
        setter = getattr(self.inner, "set_retention", None)
        if setter is not None:
            setter(until)

    def commit(self) -> list[str]:
        return self.inner.commit()

    def abort(self) -> None:
        self.inner.abort()


def _describe(fh: BinaryIO, final: Path) -> tuple[str, str, int, str, str | None]:
    """Archive id, creation time, part number, tag manifest SHA-256 and retain-until date of
    the part just written (read back from it: the outer signature names what is inside)."""
    from manifests import bag

    top = final.name[: -len(".zip")]
    with zipfile.ZipFile(fh) as zf:
        info = bag.parse_bag_info(zf.read(f"{top}/{bag.BAG_INFO}"))
        tagmanifest = zf.read(f"{top}/{bag.TAGMANIFEST}")
    values = dict(info)
    count = values.get("Bag-Count", "1 of 1").split(" of ")[0]
    return (
        values["Offboard-Archive-Id"],
        values["Offboard-Created-At"],
        int(count),
        hashlib.sha256(tagmanifest).hexdigest(),
        values.get("Offboard-Retain-Until"),
    )
