"""minisign-compatible keys and signatures: round trips, the minisign CLI both ways, rejections.

Encrypted keys are mostly written with small scrypt limits (readers take the limits from the
file, minisign included); only the two ``slow`` tests derive with minisign's defaults
(N=2**20, r=8, p=1: about 1 GiB of memory and a few seconds each).
"""

from __future__ import annotations

import base64
import dataclasses
import os
import stat
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from manifests import _minisign_kdf as kdf
from manifests.signing import (
    KEYID_LEN,
    MAX_TRUSTED_COMMENT,
    MAX_UNTRUSTED_COMMENT,
    BadSignature,
    BadTrustedComment,
    MalformedSignature,
    PublicKey,
    SecretKey,
    Signature,
    WrongKey,
    key_is_encrypted,
    write_keypair,
)
from offboard.errors import KeyFileError, OutputExists, WrongPassphrase
from tests.manifests.conftest import require

SMALL = {"opslimit": 2**16, "memlimit": 2**24}  # scrypt N=2**11, r=8, p=1: 2 MiB, instant
MESSAGE = b"bagit.txt 0123\nmanifest-sha256.txt 4567\n"
TRUSTED = "offboard-archive:1\taccount:acc-0001\tpart:1/1"
UNTRUSTED = "signature from offboard secret key"


def run(args: list[str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=120)


def box_of(path: Path) -> kdf.SecretBox:
    line = path.read_text().splitlines()[1]
    return kdf.SecretBox.unpack(base64.b64decode(line))


@pytest.fixture
def minisign() -> str:
    return require("minisign")


@pytest.fixture
def secret() -> SecretKey:
    return SecretKey.generate()


@pytest.fixture
def signed(secret: SecretKey) -> bytes:
    return secret.sign(MESSAGE, TRUSTED)


# --- scrypt parameters -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("opslimit", "memlimit", "expected"),
    [
        (33_554_432, 1_073_741_824, (20, 8, 1)),  # minisign's defaults (libsodium SENSITIVE)
        (524_288, 16_777_216, (14, 8, 1)),  # libsodium INTERACTIVE
        (2**16, 2**24, (11, 8, 1)),  # SMALL, first branch
        (0, 2**30, (10, 8, 1)),  # opslimit raised to 32768
        (2**25, 2**24, (14, 8, 64)),  # memory-bound branch: p grows
    ],
)
def test_pickparams_matches_libsodium(
    opslimit: int, memlimit: int, expected: tuple[int, int, int]
) -> None:
    assert kdf.pickparams(opslimit, memlimit) == expected


# --- round trips -------------------------------------------------------------------------


def test_unencrypted_key_has_minisign_w_layout(tmp_path: Path, secret: SecretKey) -> None:
    text = secret.to_text(None)
    lines = text.split("\n")
    assert lines[0] == "untrusted comment: minisign encrypted secret key"
    assert lines[2:] == [""]
    raw = base64.b64decode(lines[1])
    assert raw[:6] == b"Ed\0\0B2"
    assert raw[6:54] == bytes(48)  # salt, opslimit, memlimit: zero, as minisign -G -W
    assert raw[54:62] == secret.key_id
    assert raw[126:] == bytes(32)  # checksum: zero, as minisign -G -W
    path = tmp_path / "k.key"
    path.write_text(text)
    assert not key_is_encrypted(path)
    assert SecretKey.load(path) == secret


def test_encrypted_key_round_trip(tmp_path: Path, secret: SecretKey) -> None:
    path = tmp_path / "k.key"
    path.write_text(secret._to_text("pässwörd 1", **SMALL))
    assert key_is_encrypted(path)
    box = box_of(path)
    assert (box.opslimit, box.memlimit) == (SMALL["opslimit"], SMALL["memlimit"])
    assert SecretKey.load(path, "pässwörd 1") == secret
    assert SecretKey.load(path, lambda: "pässwörd 1") == secret


def test_passphrase_callable_is_not_called_for_an_unencrypted_key(
    tmp_path: Path, secret: SecretKey
) -> None:
    path = tmp_path / "k.key"
    path.write_text(secret.to_text(None))

    def ask() -> str:
        raise AssertionError("asked for a passphrase the key does not need")

    assert SecretKey.load(path, ask) == secret


@pytest.mark.parametrize("prehash", [True, False], ids=["ED", "Ed-legacy"])
def test_sign_then_verify(secret: SecretKey, prehash: bool) -> None:
    data = secret.sign(MESSAGE, TRUSTED, prehash=prehash)
    sig = Signature.from_bytes(data)
    assert sig.algorithm == (b"ED" if prehash else b"Ed")
    assert sig.key_id == secret.key_id
    assert sig.trusted_comment == TRUSTED
    assert sig.untrusted_comment == UNTRUSTED
    secret.public_key.verify(MESSAGE, sig)
    assert sig.to_bytes() == data


def test_signature_file_layout(signed: bytes) -> None:
    lines = signed.split(b"\n")
    assert len(lines) == 5 and lines[4] == b""  # four lines, each ending in a newline
    assert lines[0] == b"untrusted comment: " + UNTRUSTED.encode()
    assert lines[2] == b"trusted comment: " + TRUSTED.encode()
    assert len(base64.b64decode(lines[1])) == 2 + KEYID_LEN + 64
    assert len(base64.b64decode(lines[3])) == 64


def test_public_key_text_and_key_id_display() -> None:
    key_id = bytes.fromhex("0102030405060700")  # little-endian 0x0007060504030201
    public = SecretKey(key_id, bytes(range(32))).public_key
    assert public.key_id_hex == "0007060504030201"
    text = public.to_text()
    assert text.startswith("untrusted comment: minisign public key 7060504030201\n")
    assert text.endswith("\n") and text.count("\n") == 2
    assert PublicKey.from_text(text) == public
    assert PublicKey.from_text(text.removesuffix("\n")) == public


def test_secret_key_repr_hides_the_seed(secret: SecretKey) -> None:
    assert secret.seed.hex() not in repr(secret)


# --- the minisign CLI, both ways ---------------------------------------------------------


def test_minisign_key_signs_here_and_cli_verifies(minisign: str, tmp_path: Path) -> None:
    pub, key = tmp_path / "m.pub", tmp_path / "m.key"
    done = run([minisign, "-G", "-W", "-p", str(pub), "-s", str(key)])
    assert done.returncode == 0, done.stderr
    secret = SecretKey.load(key)
    public = PublicKey.load(pub)
    assert secret.public_key == public
    assert public.to_text() == pub.read_text()  # byte for byte what minisign wrote
    message = tmp_path / "tagmanifest-sha256.txt"
    message.write_bytes(MESSAGE)
    sig = tmp_path / "tagmanifest-sha256.txt.minisig"
    sig.write_bytes(secret.sign(MESSAGE, TRUSTED))
    done = run([minisign, "-Vm", str(message), "-x", str(sig), "-p", str(pub)])
    assert done.returncode == 0, done.stderr
    assert f"Trusted comment: {TRUSTED}" in done.stdout


@pytest.mark.parametrize("prehash", [True, False], ids=["ED", "Ed-legacy"])
def test_cli_signs_with_our_unencrypted_key(
    minisign: str, tmp_path: Path, secret: SecretKey, prehash: bool
) -> None:
    key, pub = write_keypair(tmp_path / "ours", secret, None)
    message = tmp_path / "file.txt"
    message.write_bytes(MESSAGE)
    flags = [] if prehash else ["-l"]
    done = run([minisign, "-S", *flags, "-s", str(key), "-m", str(message), "-t", TRUSTED])
    assert done.returncode == 0, done.stderr
    theirs = (tmp_path / "file.txt.minisig").read_bytes()
    PublicKey.load(pub).verify(MESSAGE, Signature.from_bytes(theirs))
    # Ed25519 is deterministic: the same key, message and comments give the same file.
    ours = secret.sign(MESSAGE, TRUSTED, "signature from minisign secret key", prehash=prehash)
    assert ours == theirs


def test_cli_signs_with_our_encrypted_key_passphrase_on_stdin(
    minisign: str, tmp_path: Path, secret: SecretKey
) -> None:
    """minisign reads the passphrase from stdin when it is not a terminal."""
    key = tmp_path / "ours.key"
    key.write_text(secret._to_text("correct horse", **SMALL))
    message = tmp_path / "file.txt"
    message.write_bytes(MESSAGE)
    args = [minisign, "-S", "-s", str(key), "-m", str(message), "-t", TRUSTED, "-c", UNTRUSTED]
    done = run(args, stdin="correct horse\n")
    assert done.returncode == 0, done.stdout + done.stderr
    theirs = (tmp_path / "file.txt.minisig").read_bytes()
    assert theirs == secret.sign(MESSAGE, TRUSTED)
    (tmp_path / "file.txt.minisig").unlink()
    done = run(args, stdin="wrong horse\n")
    assert done.returncode != 0 and "Wrong password" in done.stdout + done.stderr


def test_comment_limits_interoperate(minisign: str, tmp_path: Path, secret: SecretKey) -> None:
    _, pub = write_keypair(tmp_path / "ours", secret, None)
    message = tmp_path / "file.txt"
    message.write_bytes(MESSAGE)
    sig = tmp_path / "file.txt.minisig"
    sig.write_bytes(secret.sign(MESSAGE, "t" * MAX_TRUSTED_COMMENT, "u" * MAX_UNTRUSTED_COMMENT))
    done = run([minisign, "-Vm", str(message), "-p", str(pub)])
    assert done.returncode == 0, done.stderr
    for trusted, untrusted in [
        ("t" * (MAX_TRUSTED_COMMENT + 1), UNTRUSTED),
        (TRUSTED, "u" * (MAX_UNTRUSTED_COMMENT + 1)),
        ("two\nlines", UNTRUSTED),
        (TRUSTED, "carriage\rreturn"),
    ]:
        with pytest.raises(ValueError):
            secret.sign(MESSAGE, trusted, untrusted)


def test_cli_refuses_a_changed_trusted_comment_too(
    minisign: str, tmp_path: Path, secret: SecretKey, signed: bytes
) -> None:
    _, pub = write_keypair(tmp_path / "ours", secret, None)
    message = tmp_path / "file.txt"
    message.write_bytes(MESSAGE)
    (tmp_path / "file.txt.minisig").write_bytes(signed.replace(b"part:1/1", b"part:1/2"))
    done = run([minisign, "-Vm", str(message), "-p", str(pub)])
    assert done.returncode == 1
    assert "Comment signature verification failed" in done.stderr


@pytest.mark.slow
def test_minisign_encrypted_key_with_default_limits_loads(minisign: str, tmp_path: Path) -> None:
    pub, key = tmp_path / "m.pub", tmp_path / "m.key"
    done = run([minisign, "-G", "-p", str(pub), "-s", str(key)], stdin="s3cret\ns3cret\n")
    assert done.returncode == 0, done.stdout + done.stderr
    box = box_of(key)
    assert (box.opslimit, box.memlimit) == (kdf.DEFAULT_OPSLIMIT, kdf.DEFAULT_MEMLIMIT)
    assert key_is_encrypted(key)
    assert SecretKey.load(key, "s3cret").public_key == PublicKey.load(pub)  # one derivation


@pytest.mark.slow
def test_our_encrypted_key_with_default_limits_signs_with_cli(
    minisign: str, tmp_path: Path, secret: SecretKey
) -> None:
    key, pub = write_keypair(tmp_path / "ours", secret, "s3cret")  # one derivation
    box = box_of(key)
    assert box.encrypted
    assert (box.opslimit, box.memlimit) == (kdf.DEFAULT_OPSLIMIT, kdf.DEFAULT_MEMLIMIT)
    message = tmp_path / "file.txt"
    message.write_bytes(MESSAGE)
    args = [minisign, "-S", "-s", str(key), "-m", str(message), "-t", TRUSTED, "-c", UNTRUSTED]
    done = run(args, stdin="s3cret\n")
    assert done.returncode == 0, done.stdout + done.stderr
    theirs = (tmp_path / "file.txt.minisig").read_bytes()
    PublicKey.load(pub).verify(MESSAGE, Signature.from_bytes(theirs))
    assert theirs == secret.sign(MESSAGE, TRUSTED)


# --- verification failures ---------------------------------------------------------------


def test_other_key_id_is_wrong_key(signed: bytes) -> None:
    other = SecretKey.generate().public_key
    sig = Signature.from_bytes(signed)
    with pytest.raises(WrongKey) as caught:
        other.verify(MESSAGE, sig)
    assert other.key_id_hex in str(caught.value)
    assert sig.key_id[::-1].hex().upper() in str(caught.value)


def test_same_key_id_but_another_key_is_bad_signature(secret: SecretKey, signed: bytes) -> None:
    impostor = PublicKey(secret.key_id, SecretKey.generate().public_key.key)
    with pytest.raises(BadSignature):
        impostor.verify(MESSAGE, Signature.from_bytes(signed))


@pytest.mark.parametrize("prehash", [True, False], ids=["ED", "Ed-legacy"])
def test_one_changed_byte_of_the_message_is_bad_signature(secret: SecretKey, prehash: bool) -> None:
    sig = Signature.from_bytes(secret.sign(MESSAGE, TRUSTED, prehash=prehash))
    changed = bytearray(MESSAGE)
    changed[5] ^= 0x01
    with pytest.raises(BadSignature):
        secret.public_key.verify(bytes(changed), sig)


def test_changed_trusted_comment_is_detected(secret: SecretKey, signed: bytes) -> None:
    tampered = Signature.from_bytes(signed.replace(b"part:1/1", b"part:1/2"))
    with pytest.raises(BadTrustedComment):
        secret.public_key.verify(MESSAGE, tampered)


def test_untrusted_comment_is_not_signed(secret: SecretKey, signed: bytes) -> None:
    """By design (as in minisign), anyone can change the untrusted comment: nothing covers it."""
    sig = Signature.from_bytes(signed)
    changed = dataclasses.replace(sig, untrusted_comment="anything at all")
    secret.public_key.verify(MESSAGE, Signature.from_bytes(changed.to_bytes()))


# --- malformed signature files ------------------------------------------------------------


def _recode(signed: bytes, line: int, edit: bytes) -> bytes:
    """Replace the first two bytes of the decoded base64 ``line`` (0-based) by ``edit``."""
    lines = signed.split(b"\n")
    raw = base64.b64decode(lines[line])
    lines[line] = base64.b64encode(edit + raw[len(edit) :])
    return b"\n".join(lines)


def _noncanonical(signed: bytes) -> bytes:
    """Set a padding bit in line 4: same bytes decoded, but not the base64 minisign writes."""
    lines = signed.split(b"\n")
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = lines[3][-3]
    lines[3] = lines[3][:-3] + bytes([alphabet[alphabet.index(last) ^ 1]]) + b"=="
    assert base64.b64decode(lines[3]) == base64.b64decode(signed.split(b"\n")[3])
    return b"\n".join(lines)


MALFORMED: dict[str, Callable[[bytes], bytes]] = {
    "empty": lambda s: b"",
    "truncated-signature-base64": lambda s: s.replace(s.split(b"\n")[1], s.split(b"\n")[1][:-4]),
    "truncated-global-base64": lambda s: s.replace(s.split(b"\n")[3], s.split(b"\n")[3][:-4]),
    "noncanonical-base64": _noncanonical,
    "space-in-base64": lambda s: s.replace(s.split(b"\n")[1], b" " + s.split(b"\n")[1]),
    "extra-line": lambda s: s + b"one more line\n",
    "trailing-blank-line": lambda s: s + b"\n",
    "missing-line": lambda s: b"\n".join(s.split(b"\n")[:3]) + b"\n",
    "no-final-newline": lambda s: s[:-1],
    "wrong-algorithm": lambda s: _recode(s, 1, b"Xd"),
    "non-utf8": lambda s: s.replace(b"account:", b"acc\xffount:"),
    "crlf": lambda s: s.replace(b"\n", b"\r\n"),
    "no-untrusted-prefix": lambda s: s.replace(b"untrusted comment: ", b"comment: "),
    "no-trusted-prefix": lambda s: s.replace(b"\ntrusted comment: ", b"\ntrusted: "),
    "nul-in-trusted-comment": lambda s: s.replace(b"part:", b"pa\0rt:"),
    "comment-too-long": lambda s: s.replace(b"part:1/1", b"part:" + b"9" * 8200),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_signature_is_refused(signed: bytes, name: str) -> None:
    data = MALFORMED[name](signed)
    assert data != signed
    with pytest.raises(MalformedSignature) as caught:
        Signature.from_bytes(data, source="part.minisig")
    assert str(caught.value).startswith("part.minisig: ")


# --- key files ----------------------------------------------------------------------------


def test_wrong_passphrase(tmp_path: Path, secret: SecretKey) -> None:
    path = tmp_path / "k.key"
    path.write_text(secret._to_text("right", **SMALL))
    with pytest.raises(WrongPassphrase) as caught:
        SecretKey.load(path, "wrong")
    assert str(path) in str(caught.value)
    assert isinstance(caught.value, KeyFileError)


def test_encrypted_key_without_passphrase_says_how_to_give_one(
    tmp_path: Path, secret: SecretKey
) -> None:
    path = tmp_path / "k.key"
    path.write_text(secret._to_text("right", **SMALL))
    with pytest.raises(KeyFileError) as caught:
        SecretKey.load(path)
    assert not isinstance(caught.value, WrongPassphrase)
    assert str(path) in str(caught.value) and "OFFBOARD_PASSPHRASE" in str(caught.value)


@pytest.mark.parametrize(
    ("opslimit", "memlimit"),
    [
        (2**40, 2**24),  # too much work
        (2**16, 2**40),  # too much memory asked
        (2**32, 0),  # p = 2**26: a 64 GiB buffer
        (2**32, 2**31),  # N = 2**21: just over 2 GiB
    ],
)
def test_hostile_kdf_limits_are_refused_quickly(
    tmp_path: Path, secret: SecretKey, opslimit: int, memlimit: int
) -> None:
    raw = bytearray(base64.b64decode(secret.to_text(None).split("\n")[1]))
    raw[2:4] = b"Sc"
    raw[38:46] = opslimit.to_bytes(8, "little")
    raw[46:54] = memlimit.to_bytes(8, "little")
    path = tmp_path / "hostile.key"
    path.write_text("untrusted comment: x\n" + base64.b64encode(bytes(raw)).decode() + "\n")

    def ask() -> str:
        raise AssertionError("asked for a passphrase to open a key that is refused anyway")

    started = time.monotonic()
    with pytest.raises(KeyFileError) as caught:
        SecretKey.load(path, ask)
    assert time.monotonic() - started < 2
    assert not isinstance(caught.value, WrongPassphrase)
    assert str(path) in str(caught.value)


def test_public_key_file_that_is_a_secret_key(tmp_path: Path, secret: SecretKey) -> None:
    path = tmp_path / "k.pub"
    path.write_text(secret.to_text(None))
    with pytest.raises(KeyFileError, match="secret key, not a public key") as caught:
        PublicKey.load(path)
    assert str(path) in str(caught.value)


def test_secret_key_file_that_is_a_public_key(tmp_path: Path, secret: SecretKey) -> None:
    path = tmp_path / "k.key"
    path.write_text(secret.public_key.to_text())
    with pytest.raises(KeyFileError, match="public key, not a secret key"):
        SecretKey.load(path)
    with pytest.raises(KeyFileError):
        key_is_encrypted(path)


def test_missing_key_files_are_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "k"
    for load in (PublicKey.load, SecretKey.load, key_is_encrypted):
        with pytest.raises(KeyFileError) as caught:
            load(missing)
        assert str(missing) in str(caught.value)


def _bad_chk(secret: SecretKey) -> str:
    raw = bytearray(base64.b64decode(secret.to_text(None).split("\n")[1]))
    raw[126:] = b"\x01" * 32
    return "untrusted comment: x\n" + base64.b64encode(bytes(raw)).decode() + "\n"


def _mismatched_halves(secret: SecretKey) -> str:
    raw = bytearray(base64.b64decode(secret.to_text(None).split("\n")[1]))
    raw[94:126] = SecretKey.generate().public_key.key
    return "untrusted comment: x\n" + base64.b64encode(bytes(raw)).decode() + "\n"


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("crlf", lambda k: k.to_text(None).replace("\n", "\r\n")),
        ("extra-line", lambda k: k.to_text(None) + "more\n"),
        ("no-comment", lambda k: k.to_text(None).split("\n", 1)[1]),
        ("bad-base64", lambda k: k.to_text(None).replace("RWQ", "R*Q", 1)),
        ("wrong-algorithm", lambda k: k.to_text(None).replace("RWQ", "RXQ", 1)),
        ("damaged-checksum", _bad_chk),
        ("halves-differ", _mismatched_halves),
    ],
)
def test_malformed_secret_key_is_refused(
    tmp_path: Path, secret: SecretKey, name: str, make: Callable[[SecretKey], str]
) -> None:
    path = tmp_path / f"{name}.key"
    path.write_text(make(secret))
    with pytest.raises(KeyFileError) as caught:
        SecretKey.load(path)
    assert str(path) in str(caught.value)


def test_public_key_from_text_names_its_source() -> None:
    with pytest.raises(KeyFileError, match=r"^operator\.pub: "):
        PublicKey.from_text("untrusted comment: x\nnot base64\n", source="operator.pub")


def test_key_file_modes(tmp_path: Path, secret: SecretKey) -> None:
    old = os.umask(0o077)
    try:
        key, pub = write_keypair(tmp_path / "signer", secret, None)
    finally:
        os.umask(old)
    assert (key, pub) == (tmp_path / "signer.key", tmp_path / "signer.pub")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(pub.stat().st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["signer.key", "signer.pub"]
    assert SecretKey.load(key) == secret and PublicKey.load(pub) == secret.public_key


def test_write_keypair_refuses_to_overwrite(tmp_path: Path, secret: SecretKey) -> None:
    prefix = tmp_path / "signer"
    (tmp_path / "signer.pub").write_text("someone else's key\n")
    with pytest.raises(OutputExists, match=r"signer\.pub"):
        write_keypair(prefix, secret, None)
    assert not (tmp_path / "signer.key").exists()
    (tmp_path / "signer.pub").unlink()
    key, _ = write_keypair(prefix, secret, None)
    before = key.read_bytes()
    with pytest.raises(OutputExists, match=r"signer\.key"):
        write_keypair(prefix, SecretKey.generate(), None)
    assert key.read_bytes() == before
    other = SecretKey.generate()
    key, pub = write_keypair(prefix, other, None, force=True)
    assert SecretKey.load(key) == other and PublicKey.load(pub) == other.public_key
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
