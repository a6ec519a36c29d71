"""Ed25519 signatures and keys in minisign's file formats (they work with the minisign CLI).

Public key file (``PREFIX.pub``), two lines, each ending in ``\\n``::

    untrusted comment: minisign public key <KEYID>
    base64("Ed" + key id (8 bytes) + Ed25519 public key (32 bytes))

The key id is shown as minisign shows it: the 8 bytes read as a little-endian integer, in
uppercase hexadecimal. The comment line carries it without leading zeros (as minisign writes
it); :attr:`PublicKey.key_id_hex` always gives 16 digits.

Secret key file (``PREFIX.key``), two lines: ``untrusted comment: minisign encrypted secret
key`` (minisign writes that comment for unencrypted keys too) and the base64 of the layout
described in :mod:`manifests._minisign_kdf` (scrypt-encrypted with a passphrase, or not).

Signature file (``FILE.minisig``), exactly four lines, each ending in ``\\n``::

    untrusted comment: <text>
    base64(algorithm (2) + key id (8) + signature (64))
    trusted comment: <text>
    base64(global signature (64))

Algorithm ``ED`` (what we write, and minisign's default) signs the BLAKE2b-512 hash of the
message; legacy ``Ed`` signs the message itself. The global signature is Ed25519 over the
signature's 64 bytes followed by the trusted comment (without its ``trusted comment:``
prefix), so the trusted comment cannot change without detection. The untrusted comment is
signed by nothing: anyone may change it, and verification ignores it.

Reading is strict: a signature file must have exactly minisign's layout (UTF-8, ``\\n`` line
endings, canonical base64, exact lengths, a known algorithm); anything else is
:class:`MalformedSignature`. Key files are as strict, except that the final newline may be
missing. Key file problems raise :class:`~offboard.errors.KeyFileError` naming the file.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from manifests import _minisign_kdf as kdf
from offboard.errors import KeyFileError, OutputError, OutputExists, WrongPassphrase
from offboard.fsutil import fsync_dir

KEYID_LEN = kdf.KEYID_LEN
SIG_ALG_LEGACY = b"Ed"
SIG_ALG_PREHASHED = b"ED"
UNTRUSTED_PREFIX = kdf.UNTRUSTED_PREFIX
TRUSTED_PREFIX = "trusted comment: "
SECRET_KEY_COMMENT = "minisign encrypted secret key"
MAX_COMMENT_LINE = 8192
"""Longest comment line we read, in bytes (prefix included, newline excluded)."""
MAX_UNTRUSTED_COMMENT = 1003
"""Longest untrusted comment we write: minisign reads lines of up to 1023 bytes."""
MAX_TRUSTED_COMMENT = 8173
"""Longest trusted comment we write: minisign reads lines of up to 8191 bytes."""
_PUBLIC_LEN = 2 + KEYID_LEN + 32
_SIGNATURE_LEN = 2 + KEYID_LEN + 64


class SignatureError(Exception):
    """A signature does not verify or cannot be read; ``detail`` says why."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class MalformedSignature(SignatureError):
    """The signature file is not exactly in minisign's format."""


class WrongKey(SignatureError):
    """The signature names another key id than the public key's."""


class BadSignature(SignatureError):
    """The signature over the message does not verify: the message (or key) differs."""


class BadTrustedComment(SignatureError):
    """The global signature does not verify: the trusted comment was altered."""


def _hex_id(key_id: bytes) -> str:
    return key_id[::-1].hex().upper()


@dataclass(frozen=True)
class Signature:
    """A parsed ``.minisig`` file."""

    algorithm: bytes
    key_id: bytes
    signature: bytes
    untrusted_comment: str
    trusted_comment: str
    global_signature: bytes

    @classmethod
    def from_bytes(cls, data: bytes, *, source: str = "signature") -> Signature:
        """Parse minisign's exact four-line layout; :class:`MalformedSignature` otherwise."""

        def bad(why: str) -> MalformedSignature:
            return MalformedSignature(f"{source}: {why}")

        if len(data) > 2 * MAX_COMMENT_LINE + 256:
            raise bad("too large to be a minisign signature")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise bad("not UTF-8 text") from None
        if "\r" in text:
            raise bad("CR characters (minisign ends lines with LF only)")
        if not text.endswith("\n"):
            raise bad("the last line does not end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) != 4:
            raise bad(f"{len(lines)} lines instead of 4")
        untrusted, sig_line, trusted, global_line = lines
        for number, line, prefix in (
            (1, untrusted, UNTRUSTED_PREFIX),
            (3, trusted, TRUSTED_PREFIX),
        ):
            if not line.startswith(prefix):
                raise bad(f"line {number} does not start with {prefix!r}")
            why = kdf.check_comment(line, f"comment on line {number}", MAX_COMMENT_LINE)
            if why is not None:
                raise bad(why)
        raw = kdf.unb64(sig_line, _SIGNATURE_LEN)
        if raw is None:
            raise bad(f"line 2 is not the base64 of {_SIGNATURE_LEN} bytes")
        algorithm = raw[:2]
        if algorithm not in (SIG_ALG_PREHASHED, SIG_ALG_LEGACY):
            raise bad(f"unsupported signature algorithm {algorithm!r}")
        global_sig = kdf.unb64(global_line, 64)
        if global_sig is None:
            raise bad("line 4 is not the base64 of 64 bytes")
        return cls(
            algorithm=algorithm,
            key_id=raw[2 : 2 + KEYID_LEN],
            signature=raw[2 + KEYID_LEN :],
            untrusted_comment=untrusted[len(UNTRUSTED_PREFIX) :],
            trusted_comment=trusted[len(TRUSTED_PREFIX) :],
            global_signature=global_sig,
        )

    def to_bytes(self) -> bytes:
        """The file, byte for byte as minisign writes it."""
        return (
            f"{UNTRUSTED_PREFIX}{self.untrusted_comment}\n"
            f"{kdf.b64(self.algorithm + self.key_id + self.signature)}\n"
            f"{TRUSTED_PREFIX}{self.trusted_comment}\n"
            f"{kdf.b64(self.global_signature)}\n"
        ).encode()


@dataclass(frozen=True)
class PublicKey:
    """An Ed25519 public key and its minisign key id."""

    key_id: bytes
    key: bytes

    def __post_init__(self) -> None:
        if len(self.key_id) != KEYID_LEN or len(self.key) != 32:
            raise ValueError("a public key is an 8-byte key id and a 32-byte key")

    @property
    def key_id_hex(self) -> str:
        """The key id as minisign shows it: 16 uppercase hex digits, bytes reversed."""
        return _hex_id(self.key_id)

    @classmethod
    def from_text(cls, text: str, *, source: str = "public key") -> PublicKey:
        """Parse a public key file's text; ``source`` names the file in errors."""
        _, line = kdf.key_lines(text, source, "public key")
        raw = kdf.unb64(line, _PUBLIC_LEN)
        if raw is None:
            if kdf.unb64(line, kdf.BOX_LEN) is not None:
                raise KeyFileError(f"{source}: this is a secret key, not a public key")
            raise KeyFileError(
                f"{source}: not a minisign public key (line 2 is not the base64 of "
                f"{_PUBLIC_LEN} bytes)"
            )
        if raw[:2] != kdf.SIG_ALG:
            raise KeyFileError(f"{source}: unsupported key algorithm {raw[:2]!r}")
        key = cls(raw[2 : 2 + KEYID_LEN], raw[2 + KEYID_LEN :])
        try:
            Ed25519PublicKey.from_public_bytes(key.key)
        except ValueError:
            raise KeyFileError(f"{source}: not a valid Ed25519 public key") from None
        return key

    @classmethod
    def load(cls, path: Path) -> PublicKey:
        return cls.from_text(kdf.read_key_file(path, "public key"), source=str(path))

    def to_text(self) -> str:
        """The ``.pub`` file, as minisign writes it."""
        number = int.from_bytes(self.key_id, "little")
        return (
            f"{UNTRUSTED_PREFIX}minisign public key {number:X}\n"
            f"{kdf.b64(kdf.SIG_ALG + self.key_id + self.key)}\n"
        )

    def verify(self, message: bytes, signature: Signature) -> None:
        """Check ``signature`` over ``message`` and its trusted comment; raise if either fails.

        The untrusted comment is not covered by any signature and is not looked at.
        """
        signed = message
        if signature.algorithm == SIG_ALG_PREHASHED:
            signed = hashlib.blake2b(message, digest_size=64).digest()
        self._verify(signed, signature)

    def verify_digest(self, digest: bytes, signature: Signature) -> None:
        """:meth:`verify` for a message given by its BLAKE2b-512 ``digest`` (only prehashed
        signatures, algorithm ``ED``, can be checked so)."""
        if signature.algorithm != SIG_ALG_PREHASHED:
            raise BadSignature("a legacy (Ed) signature: the whole message is needed")
        self._verify(digest, signature)

    def _verify(self, signed: bytes, signature: Signature) -> None:
        if signature.key_id != self.key_id:
            raise WrongKey(
                f"signed by key {_hex_id(signature.key_id)}, but the public key is "
                f"{self.key_id_hex}"
            )
        public = Ed25519PublicKey.from_public_bytes(self.key)
        try:
            public.verify(signature.signature, signed)
        except InvalidSignature:
            raise BadSignature(
                "the signature does not match: the signed file was changed, or another key "
                f"with the same id {self.key_id_hex} made it"
            ) from None
        try:
            public.verify(
                signature.global_signature,
                signature.signature + signature.trusted_comment.encode("utf-8"),
            )
        except InvalidSignature:
            raise BadTrustedComment("the trusted comment was changed after signing") from None


@dataclass(frozen=True)
class SecretKey:
    """An Ed25519 secret key (its 32-byte seed) and its minisign key id."""

    key_id: bytes
    seed: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.key_id) != KEYID_LEN or len(self.seed) != 32:
            raise ValueError("a secret key is an 8-byte key id and a 32-byte seed")

    @property
    def public_key(self) -> PublicKey:
        return PublicKey(self.key_id, self._private().public_key().public_bytes_raw())

    def _private(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.seed)

    @classmethod
    def generate(cls) -> SecretKey:
        """A new random key with a random key id (as ``minisign -G`` makes them)."""
        return cls(os.urandom(KEYID_LEN), Ed25519PrivateKey.generate().private_bytes_raw())

    @classmethod
    def load(cls, path: Path, passphrase: str | Callable[[], str] | None = None) -> SecretKey:
        """Read a secret key file; ``passphrase`` is asked for only if the key is encrypted."""
        box = _load_box(path)
        secret: bytes | None = None
        if box.encrypted:
            if passphrase is None:
                raise KeyFileError(
                    f"{path} is protected by a passphrase: set OFFBOARD_PASSPHRASE or run on a "
                    "terminal"
                )
            try:
                kdf.scrypt_params(box.opslimit, box.memlimit)  # refuse a hostile key before asking
            except ValueError as exc:
                raise KeyFileError(f"{path}: {exc}") from None
            given = passphrase() if callable(passphrase) else passphrase
            secret = given.encode("utf-8")
        try:
            key_id, sk = box.open(secret)
        except kdf.ChecksumMismatch as exc:
            raise WrongPassphrase(f"{path}: {exc}") from None
        except ValueError as exc:
            raise KeyFileError(f"{path}: {exc}") from None
        key = cls(key_id, sk[:32])
        if key.public_key.key != sk[32:]:
            raise KeyFileError(f"{path}: the secret key does not match its public half")
        return key

    def to_text(self, passphrase: str | None) -> str:
        """The ``.key`` file: encrypted with ``passphrase``, or unencrypted as ``minisign -W``."""
        return self._to_text(passphrase)

    def _to_text(
        self,
        passphrase: str | None,
        *,
        opslimit: int = kdf.DEFAULT_OPSLIMIT,
        memlimit: int = kdf.DEFAULT_MEMLIMIT,
    ) -> str:
        secret = self.seed + self.public_key.key
        password = None if passphrase is None else passphrase.encode("utf-8")
        raw = kdf.seal(self.key_id, secret, password, opslimit=opslimit, memlimit=memlimit)
        return f"{UNTRUSTED_PREFIX}{SECRET_KEY_COMMENT}\n{kdf.b64(raw)}\n"

    def sign(
        self,
        message: bytes,
        trusted_comment: str,
        untrusted_comment: str = "signature from offboard secret key",
        prehash: bool = True,
    ) -> bytes:
        """The ``.minisig`` file for ``message``, byte for byte what ``minisign -S`` writes.

        ``prehash=False`` makes a legacy ``Ed`` signature (over the message itself).
        """
        if prehash:
            return self.sign_digest(
                hashlib.blake2b(message, digest_size=64).digest(),
                trusted_comment,
                untrusted_comment,
            )
        return self._sign(SIG_ALG_LEGACY, message, trusted_comment, untrusted_comment)

    def sign_digest(
        self,
        digest: bytes,
        trusted_comment: str,
        untrusted_comment: str = "signature from offboard secret key",
    ) -> bytes:
        """The ``.minisig`` file of a message whose BLAKE2b-512 is ``digest`` (a file hashed
        as it streams, however large: what ``minisign -S`` writes for it)."""
        if len(digest) != 64:
            raise ValueError("a BLAKE2b-512 digest is 64 bytes")
        return self._sign(SIG_ALG_PREHASHED, digest, trusted_comment, untrusted_comment)

    def _sign(
        self, algorithm: bytes, signed: bytes, trusted_comment: str, untrusted_comment: str
    ) -> bytes:
        for text, what, limit in (
            (untrusted_comment, "untrusted comment", MAX_UNTRUSTED_COMMENT),
            (trusted_comment, "trusted comment", MAX_TRUSTED_COMMENT),
        ):
            why = kdf.check_comment(text, what, limit)
            if why is not None:
                raise ValueError(why)
        private = self._private()
        signature = private.sign(signed)
        global_signature = private.sign(signature + trusted_comment.encode("utf-8"))
        return Signature(
            algorithm, self.key_id, signature, untrusted_comment, trusted_comment, global_signature
        ).to_bytes()


def _load_box(path: Path) -> kdf.SecretBox:
    _, line = kdf.key_lines(kdf.read_key_file(path, "secret key"), str(path), "secret key")
    raw = kdf.unb64(line, kdf.BOX_LEN)
    if raw is None:
        if kdf.unb64(line, _PUBLIC_LEN) is not None:
            raise KeyFileError(f"{path}: this is a public key, not a secret key")
        raise KeyFileError(
            f"{path}: not a minisign secret key (line 2 is not the base64 of {kdf.BOX_LEN} bytes)"
        )
    try:
        return kdf.SecretBox.unpack(raw)
    except ValueError as exc:
        raise KeyFileError(f"{path}: {exc}") from None


def key_is_encrypted(path: Path) -> bool:
    """Whether the secret key file at ``path`` needs a passphrase (``KeyFileError`` if bad)."""
    return _load_box(path).encrypted


def write_keypair(
    prefix: Path, secret: SecretKey, passphrase: str | None, *, force: bool = False
) -> tuple[Path, Path]:
    """Write ``PREFIX.key`` (mode 0600) and ``PREFIX.pub`` (0644); return both paths.

    ``passphrase=None`` leaves the secret key unencrypted. Raises
    :class:`~offboard.errors.OutputExists` if either file exists and ``force`` is false.
    """
    key_path = Path(f"{prefix}.key")
    pub_path = Path(f"{prefix}.pub")
    if not force:
        for path in (key_path, pub_path):
            if os.path.lexists(path):
                raise OutputExists(f"{path} already exists: not replacing a key file")
    key_text = secret.to_text(passphrase).encode("ascii")
    pub_text = secret.public_key.to_text().encode("ascii")
    written: list[Path] = []
    current = key_path
    try:
        for current, data, mode in ((key_path, key_text, 0o600), (pub_path, pub_text, 0o644)):
            kdf.write_new(current, data, mode, force)
            written.append(current)
    except FileExistsError:
        for path in written:
            path.unlink()
        raise OutputExists(f"{current} already exists: not replacing a key file") from None
    except OSError as exc:
        if not force:  # what we made is incomplete; with force the old pair is gone anyway
            for path in written:
                path.unlink(missing_ok=True)
        raise OutputError(f"cannot write {current}: {exc.strerror or exc}") from None
    fsync_dir(key_path.parent)
    return key_path, pub_path
