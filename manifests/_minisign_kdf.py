"""The binary layout of a minisign secret key, its checksum and its scrypt encryption.

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

This module raises ``ValueError`` (or its subclass :class:`ChecksumMismatch`) with a detail
that does not name the file; :mod:`manifests.signing` adds the file name.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass, field

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
