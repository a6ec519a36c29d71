"""The termination receipt: what was checked before a subscription ended, signed by the operator.

A receipt is a JSON document (one byte form: sorted keys, two-space indent, UTF-8, final LF)
and a minisign signature of it, written beside the archive as ``NAME.termination-receipt.json``
and ``NAME.termination-receipt.json.minisig``, and kept in the source database's audit log.
Anyone can check it without offboard::

    minisign -Vm acc-0001.termination-receipt.json -p operator.pub

The signature's trusted comment binds the receipt format, the account, the receipt id, the
archive's SHA-256 and the termination time, so that a signature cannot be moved to another
receipt. :func:`check_receipt` verifies all of it with a public key the caller trusts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from offboard.errors import GateRefused
from offboard.fsutil import write_atomic

if TYPE_CHECKING:
    from manifests.signing import PublicKey, SecretKey

FORMAT = "offboard-termination-receipt"
FORMAT_VERSION = 1
SUFFIX = ".termination-receipt.json"
SIGNATURE_SUFFIX = f"{SUFFIX}.minisig"


@dataclass(frozen=True)
class SignedReceipt:
    receipt: dict[str, Any]
    #: the receipt's one byte form
    data: bytes
    #: the ``.minisig`` file
    signature: bytes


def encode(receipt: dict[str, Any]) -> bytes:
    return (json.dumps(receipt, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def trusted_comment(receipt: dict[str, Any]) -> str:
    fields = [
        (FORMAT, str(FORMAT_VERSION)),
        ("account", receipt["account"]["id"]),
        ("receipt", receipt["receipt_id"]),
        ("archive", receipt["archive"]["sha256"]),
        ("terminated", receipt["terminated_at"]),
    ]
    return "\t".join(f"{k}:{quote(v, safe='@+-._~/:')}" for k, v in fields)


def sign(receipt: dict[str, Any], key: SecretKey) -> SignedReceipt:
    data = encode(receipt)
    signature = key.sign(data, trusted_comment(receipt), "termination receipt signed by offboard")
    return SignedReceipt(receipt, data, signature)


def check_receipt(data: bytes, signature: bytes, pubkey: PublicKey) -> dict[str, Any]:
    """The receipt in ``data`` if ``signature`` is a valid one of it by ``pubkey``; else raise
    :class:`GateRefused` saying what is wrong."""
    from manifests.signing import Signature, SignatureError

    try:
        receipt: Any = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise GateRefused(f"the receipt is not valid JSON: {exc}") from None
    if not isinstance(receipt, dict) or receipt.get("format") != FORMAT:
        raise GateRefused("not a termination receipt")
    try:
        sig = Signature.from_bytes(signature, source="receipt signature")
        pubkey.verify(data, sig)
    except SignatureError as exc:
        raise GateRefused(f"the receipt's signature does not verify: {exc}") from None
    try:
        expected = trusted_comment(receipt)
    except (KeyError, TypeError):
        raise GateRefused("the receipt lacks its account, id, archive or time") from None
    if sig.trusted_comment != expected:
        raise GateRefused("the receipt's signature was made for another receipt")
    return receipt


def receipt_paths(archive: Path) -> tuple[Path, Path]:
    """Where the receipt of ``archive`` (a whole archive, or any part of one) goes."""
    name = archive.name
    stem = name[: -len(".zip")] if name.endswith(".zip") else name
    part = stem.rfind("-part-")
    if part > 0 and stem[part + len("-part-") :].isdigit():
        stem = stem[:part]
    return archive.with_name(stem + SUFFIX), archive.with_name(stem + SIGNATURE_SUFFIX)


def write_beside(archive: Path, signed: SignedReceipt) -> tuple[Path, Path]:
    """Write the receipt and its signature beside ``archive``, durably (signature last)."""
    data_path, sig_path = receipt_paths(archive)
    write_atomic(data_path, signed.data)
    write_atomic(sig_path, signed.signature)
    return data_path, sig_path
