"""The byte level of :mod:`manifests.signing`: the secret key layout, its checksum and its
scrypt encryption; strict base64 lines; reading key files and writing them safely.

The second line of a minisign secret key file is the base64 of 158 bytes::

    sig_alg    2   b"Ed"
    kdf_alg    2   b"Sc" (scrypt, encrypted) or b"\\0\\0" (not encrypted)
    chk_alg    2   b"B2" (BLAKE2b)
    kdf_salt   32
    opslimit   8   little-endian u64
    memlimit   8   little-endian u64
    keynum_sk  104 key id (8) + Ed25519 secret key (64: seed 32 + public key 32) + chk (32)

``chk`` is BLAKE2b-256 (unkeyed) of ``sig_alg + key id + secret key``. An encrypted key XORs
all 104 bytes of ``keynum_sk`` with ``scrypt(passphrase, kdf_salt, N, r, p, 104)``, where N, r
and p come from (opslimit, memlimit) exactly as libsodium's
``crypto_pwhash_scryptsalsa208sha256`` picks them (:func:`pickparams`). After decryption a
wrong checksum means a wrong passphrase. ``minisign -G -W`` writes an unencrypted key with the
salt, both limits and the checksum all zero; this module writes unencrypted keys the same way.

The secret key functions raise ``ValueError`` (or its subclass :class:`ChecksumMismatch`)
with a detail that does not name the file; :mod:`manifests.signing` adds the file name.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass, field
from pathlib import Path

from offboard.errors import KeyFileError

SIG_ALG = b"Ed"
KDF_SCRYPT = b"Sc"
KDF_NONE = b"\0\0"
CHK_ALG = b"B2"
KEYID_LEN = 8
SALT_LEN = 32
SK_LEN = 64
CHK_LEN = 32
KEYNUM_SK_LEN = KEYID_LEN + SK_LEN + CHK_LEN
BOX_LEN = 2 + 2 + 2 + SALT_LEN + 8 + 8 + KEYNUM_SK_LEN

DEFAULT_OPSLIMIT = 33_554_432
"""minisign's default (libsodium's OPSLIMIT_SENSITIVE): with the memory limit, N=2**20, r=8, p=1."""
DEFAULT_MEMLIMIT = 1_073_741_824
"""minisign's default (libsodium's MEMLIMIT_SENSITIVE), 1 GiB."""

UNTRUSTED_PREFIX = "untrusted comment: "
MAX_KEY_FILE = 16 * 1024
"""Key files are a few hundred bytes; a larger file is refused unread."""

MAX_OPSLIMIT = 2**32
"""A key asking for more work than this is refused (a hostile key file must not hang us)."""
MAX_MEMLIMIT = 2 * 1024**3
"""A key asking for more memory than this (2 GiB) is refused."""
MAX_SCRYPT_MEMORY = 2**31 - 1 - 65_536
"""What scrypt may allocate at most (hashlib's ``maxmem`` must stay below 2**31)."""


class ChecksumMismatch(ValueError):
    """The decrypted key does not match its checksum: the passphrase is wrong."""


@dataclass(frozen=True)
class ScryptParams:
    """The scrypt cost parameters derived from a key's opslimit and memlimit."""

    n: int
    r: int
    p: int

    @property
    def memory(self) -> int:
        """Bytes scrypt allocates (the V array and the B buffer, as OpenSSL counts them)."""
        return 128 * self.r * (self.n + 2) + 128 * self.r * self.p


def _log2_above_half(max_n: int) -> int:
    n_log2 = 1
    while n_log2 < 63:
        if (1 << n_log2) > max_n // 2:
            break
        n_log2 += 1
    return n_log2


def pickparams(opslimit: int, memlimit: int) -> tuple[int, int, int]:
    """``(N_log2, r, p)`` for (opslimit, memlimit), as libsodium's ``pickparams`` computes them."""
    if opslimit < 32768:
        opslimit = 32768
    r = 8
    if opslimit < memlimit // 32:
        p = 1
        n_log2 = _log2_above_half(opslimit // (r * 4))
    else:
        n_log2 = _log2_above_half(memlimit // (r * 128))
        maxrp = (opslimit // 4) // (1 << n_log2)
        maxrp = min(maxrp, 0x3FFFFFFF)
        p = maxrp // r
    return n_log2, r, p


def scrypt_params(opslimit: int, memlimit: int) -> ScryptParams:
    """The scrypt parameters of a key, or ``ValueError`` if they are beyond what we accept."""
    if opslimit > MAX_OPSLIMIT:
        raise ValueError(f"its key derivation opslimit {opslimit} is above {MAX_OPSLIMIT}")
    if memlimit > MAX_MEMLIMIT:
        raise ValueError(
            f"its key derivation asks for {memlimit} bytes of memory, above {MAX_MEMLIMIT}"
        )
    n_log2, r, p = pickparams(opslimit, memlimit)
    params = ScryptParams(1 << n_log2, r, p)
    if p < 1:
        raise ValueError(f"its key derivation limits ({opslimit}, {memlimit}) give scrypt p=0")
    if params.memory > MAX_SCRYPT_MEMORY:
        raise ValueError(
            f"its key derivation needs {params.memory} bytes of memory "
            f"(N={params.n}, r={r}, p={p}), above {MAX_SCRYPT_MEMORY}"
        )
    return params


def derive(passphrase: bytes, salt: bytes, params: ScryptParams, length: int) -> bytes:
    """scrypt as libsodium's ``crypto_pwhash_scryptsalsa208sha256_ll`` computes it."""
    return hashlib.scrypt(
        passphrase,
        salt=salt,
        n=params.n,
        r=params.r,
        p=params.p,
        maxmem=params.memory + 65_536,
        dklen=length,
    )


def checksum(key_id: bytes, secret: bytes) -> bytes:
    """minisign's ``chk``: BLAKE2b-256 of sig_alg, key id and the 64-byte secret key."""
    return hashlib.blake2b(SIG_ALG + key_id + secret, digest_size=CHK_LEN).digest()


def _xor(data: bytes, stream: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, stream, strict=True))


@dataclass(frozen=True)
class SecretBox:
    """The fields of a secret key's 158 bytes (``keynum_sk`` still encrypted if it was)."""

    kdf_alg: bytes
    salt: bytes
    opslimit: int
    memlimit: int
    keynum_sk: bytes = field(repr=False)

    @property
    def encrypted(self) -> bool:
        return self.kdf_alg == KDF_SCRYPT

    @classmethod
    def unpack(cls, raw: bytes) -> SecretBox:
        """Split the decoded second line; ``ValueError`` names what is wrong."""
        if len(raw) != BOX_LEN:
            raise ValueError(f"the key is {len(raw)} bytes long, not {BOX_LEN}")
        if raw[0:2] != SIG_ALG:
            raise ValueError(f"unsupported signature algorithm {raw[0:2]!r} (expected b'Ed')")
        kdf_alg, chk_alg = raw[2:4], raw[4:6]
        if kdf_alg not in (KDF_SCRYPT, KDF_NONE):
            raise ValueError(f"unsupported key derivation function {kdf_alg!r}")
        if chk_alg != CHK_ALG:
            raise ValueError(f"unsupported checksum function {chk_alg!r}")
        salt = raw[6 : 6 + SALT_LEN]
        at = 6 + SALT_LEN
        opslimit = int.from_bytes(raw[at : at + 8], "little")
        memlimit = int.from_bytes(raw[at + 8 : at + 16], "little")
        return cls(kdf_alg, salt, opslimit, memlimit, raw[at + 16 :])

    def open(self, passphrase: bytes | None) -> tuple[bytes, bytes]:
        """``(key id, 64-byte secret key)``; decrypts with ``passphrase`` if encrypted.

        Raises ``ValueError`` for refused KDF limits or a corrupt unencrypted key, and
        :class:`ChecksumMismatch` when the decrypted key fails its checksum.
        """
        keynum_sk = self.keynum_sk
        if self.encrypted:
            if passphrase is None:
                raise ValueError("the key is encrypted and no passphrase was given")
            params = scrypt_params(self.opslimit, self.memlimit)
            stream = derive(passphrase, self.salt, params, KEYNUM_SK_LEN)
            keynum_sk = _xor(keynum_sk, stream)
        key_id = keynum_sk[:KEYID_LEN]
        secret = keynum_sk[KEYID_LEN : KEYID_LEN + SK_LEN]
        chk = keynum_sk[KEYID_LEN + SK_LEN :]
        good = hmac.compare_digest(chk, checksum(key_id, secret))
        if self.encrypted and not good:
            raise ChecksumMismatch("wrong passphrase (the decrypted key fails its checksum)")
        if not self.encrypted and not good and chk != bytes(CHK_LEN):
            raise ValueError("the key fails its checksum (the file is damaged)")
        return key_id, secret


def seal(
    key_id: bytes,
    secret: bytes,
    passphrase: bytes | None,
    *,
    opslimit: int = DEFAULT_OPSLIMIT,
    memlimit: int = DEFAULT_MEMLIMIT,
) -> bytes:
    """The 158 bytes of a secret key: encrypted with ``passphrase``, or as ``minisign -W``."""
    if passphrase is None:
        keynum_sk = key_id + secret + bytes(CHK_LEN)
        return SIG_ALG + KDF_NONE + CHK_ALG + bytes(SALT_LEN + 16) + keynum_sk
    salt = os.urandom(SALT_LEN)
    params = scrypt_params(opslimit, memlimit)
    stream = derive(passphrase, salt, params, KEYNUM_SK_LEN)
    keynum_sk = _xor(key_id + secret + checksum(key_id, secret), stream)
    limits = opslimit.to_bytes(8, "little") + memlimit.to_bytes(8, "little")
    return SIG_ALG + KDF_SCRYPT + CHK_ALG + salt + limits + keynum_sk


def b64(data: bytes) -> str:
    """Standard base64 with padding, as minisign writes it."""
    return base64.b64encode(data).decode("ascii")


def unb64(line: str, length: int) -> bytes | None:
    """Decode canonical base64 of exactly ``length`` bytes, else ``None``."""
    try:
        raw = base64.b64decode(line.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return None
    if len(raw) != length or b64(raw) != line:
        return None
    return raw


def check_comment(text: str, what: str, limit: int) -> str | None:
    """Why ``text`` cannot be a comment (a control character, too long), or ``None``."""
    if any((ord(c) < 0x20 and c != "\t") or c == "\x7f" for c in text):
        return f"the {what} holds a control character"
    if len(text.encode("utf-8")) > limit:
        return f"the {what} is longer than {limit} bytes"
    return None


def read_key_file(path: Path, kind: str) -> str:
    """A key file's text; ``KeyFileError`` naming the file if it cannot be read."""
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_KEY_FILE + 1)
    except FileNotFoundError:
        raise KeyFileError(f"{path}: no such {kind} file") from None
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read the {kind}: {exc.strerror or exc}") from None
    if len(data) > MAX_KEY_FILE:
        raise KeyFileError(f"{path}: too large to be a minisign {kind}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise KeyFileError(f"{path}: not a minisign {kind} (not UTF-8 text)") from None


def key_lines(text: str, source: str, kind: str) -> tuple[str, str]:
    """The comment and base64 lines of a key file (final newline optional)."""
    if "\r" in text:
        raise KeyFileError(f"{source}: not a minisign {kind} (CR line endings)")
    lines = text.removesuffix("\n").split("\n")
    if len(lines) != 2 or not lines[0].startswith(UNTRUSTED_PREFIX):
        raise KeyFileError(
            f"{source}: not a minisign {kind} (expected two lines, "
            f"'{UNTRUSTED_PREFIX}...' then base64)"
        )
    return lines[0], lines[1]


def write_new(path: Path, data: bytes, mode: int, force: bool) -> None:
    """Write ``path`` through a fresh temporary name, fsync it, then move it into place.

    Without ``force`` an existing ``path`` is never replaced (a hard link does the no-clobber
    move; where links are not supported the file is renamed after a last check).
    """
    temp = path.with_name(f".{path.name}.{os.urandom(6).hex()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(temp, flags, mode)
    try:
        try:
            os.fchmod(fd, mode)
            with os.fdopen(fd, "wb", closefd=False) as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fd)
        finally:
            os.close(fd)
        if force:
            os.replace(temp, path)
            return
        try:
            os.link(temp, path)
        except FileExistsError:
            raise
        except OSError:
            if os.path.lexists(path):
                raise FileExistsError(path) from None
            os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
