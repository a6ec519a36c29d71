"""A completed termination: its signed receipt, the records and the audit log it leaves."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from offboard.errors import GateRefused
from offboard.gate.receipt import SIGNATURE_SUFFIX, SUFFIX, check_receipt, sign, trusted_comment

from .common import (
    ACCOUNT,
    OTHER,
    Demo,
    audit_problems,
    cancel_now,
    export,
    load_json,
    receipt_files,
    record,
    sha256_file,
    state,
    terminate,
)


def public_key(demo: Demo) -> Any:
    from manifests.signing import PublicKey

    return PublicKey.load(demo.pub)


@pytest.fixture
def terminated(demo: Demo) -> Demo:
    result = terminate(demo)
    assert result.exit_code == 0, result.stderr
    return demo


def test_receipt_verifies_with_the_minisign_cli(terminated: Demo) -> None:
    from tests.manifests.conftest import require

    minisign = require("minisign")
    data, signature = receipt_files(terminated.archive)
    assert data.name == f"acc-0001{SUFFIX}"
    assert signature.name == f"acc-0001{SIGNATURE_SUFFIX}"
    receipt = load_json(data)
    checked = subprocess.run(
        [minisign, "-Vm", str(data), "-p", str(terminated.pub)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    [comment] = [
        line.removeprefix("Trusted comment: ")
        for line in checked.stdout.splitlines()
        if line.startswith("Trusted comment: ")
    ]
    fields = dict(part.split(":", 1) for part in comment.split("\t"))
    assert fields == {
        "offboard-termination-receipt": "1",
        "account": ACCOUNT,
        "receipt": receipt["receipt_id"],
        "archive": sha256_file(terminated.archive),
        "terminated": receipt["terminated_at"],
    }

    # minisign itself refuses the receipt once changed, and with another key
    data.write_bytes(data.read_bytes().replace(b'"acc-0001"', b'"acc-0002"', 1))
    changed = subprocess.run(
        [minisign, "-Vm", str(data), "-p", str(terminated.pub)], capture_output=True, check=False
    )
    assert changed.returncode != 0


def test_minisign_refuses_another_key(terminated: Demo, tmp_path: Path) -> None:
    from tests.manifests.conftest import make_keys, require

    other = make_keys(tmp_path / "keys", "other")
    data, _ = receipt_files(terminated.archive)
    checked = subprocess.run(
        [require("minisign"), "-Vm", str(data), "-p", str(other.pub)],
        capture_output=True,
        check=False,
    )
    assert checked.returncode != 0


def test_the_receipt_says_what_was_checked(terminated: Demo) -> None:
    data, signature = receipt_files(terminated.archive)
    receipt = check_receipt(data.read_bytes(), signature.read_bytes(), public_key(terminated))
    digest = sha256_file(terminated.archive)
    assert receipt["archive"]["sha256"] == digest
    assert receipt["archive"]["file"] == terminated.archive.name
    assert receipt["archive"]["parts"] == [terminated.archive.name]
    assert receipt["account"]["id"] == ACCOUNT
    assert receipt["verify"]["valid"] is True
    assert receipt["verify"]["problems"] == 0
    assert receipt["source_checked"]["changes"] == 0
    assert receipt["billing"] == {"backend": "local"}
    assert receipt["subscription"]["id"] == "sub-0001"

    done = record(terminated.db)
    assert done.state == "done"
    assert done.archive == terminated.archive.name
    assert done.archive_sha256 == digest
    assert done.receipt.encode() == data.read_bytes()
    assert done.receipt_signature.encode() == signature.read_bytes()

    now = state(terminated.db)
    assert now.status == "terminated"
    assert now.events == ["cancellation_requested", "termination_started", "terminated"]
    assert audit_problems(terminated.db) == []


def test_the_audit_entries_name_the_archive_and_key(terminated: Demo) -> None:
    from offboard.gate.store import open_store

    done = record(terminated.db)
    with open_store(str(terminated.db)) as store:
        entries = {e.event: e for e in store.audit(ACCOUNT)}
    for event in ("termination_started", "terminated"):
        detail = entries[event].detail
        assert detail["archive"] == terminated.archive.name
        assert detail["archive_sha256"] == done.archive_sha256
        assert detail["key"] == done.idempotency_key
    assert entries["terminated"].detail["backend"] == "local"
    # the signed receipt is in the log itself, byte for byte what lies beside the archive
    data, signature = receipt_files(terminated.archive)
    assert entries["terminated"].detail["receipt"] == data.read_text()
    assert entries["terminated"].detail["receipt_signature"] == signature.read_text()
    check_receipt(
        entries["terminated"].detail["receipt"].encode(),
        entries["terminated"].detail["receipt_signature"].encode(),
        public_key(terminated),
    )


def test_check_receipt_refuses_one_byte_changed(terminated: Demo) -> None:
    data, signature = receipt_files(terminated.archive)
    original, sig = data.read_bytes(), signature.read_bytes()
    check_receipt(original, sig, public_key(terminated))
    position = original.index(b'"terminated_at": "') + len(b'"terminated_at": "') + 3
    for change in (
        original[:position] + bytes([original[position] ^ 0x01]) + original[position + 1 :],
        original.replace(b'"valid": true', b'"valid": trUe', 1),
        original + b" ",
    ):
        assert change != original
        with pytest.raises(GateRefused):
            check_receipt(change, sig, public_key(terminated))


def test_check_receipt_refuses_a_signature_moved_from_another_receipt(terminated: Demo) -> None:
    cancel_now(terminated.db, OTHER)
    other_archive = export(terminated, terminated.root / "acc-0002-now.zip", OTHER)
    result = terminate(terminated, other_archive, OTHER)
    assert result.exit_code == 0, result.stderr
    data, _ = receipt_files(terminated.archive)
    other_data, other_signature = receipt_files(other_archive)
    pub = public_key(terminated)
    assert check_receipt(other_data.read_bytes(), other_signature.read_bytes(), pub)
    with pytest.raises(GateRefused, match="signature does not verify"):
        check_receipt(data.read_bytes(), other_signature.read_bytes(), pub)

    # the same bytes signed by the right key, but with the trusted comment of the other
    # receipt: the signature verifies and still does not belong to this receipt
    from manifests.signing import SecretKey

    key = SecretKey.load(terminated.key)
    receipt, other = load_json(data), load_json(other_data)
    moved = key.sign(data.read_bytes(), trusted_comment(other), "moved")
    with pytest.raises(GateRefused, match="made for another receipt"):
        check_receipt(data.read_bytes(), moved, pub)
    # the right comment, signed again: accepted
    assert check_receipt(data.read_bytes(), sign(receipt, key).signature, pub) == receipt


def test_check_receipt_refuses_another_key(terminated: Demo, tmp_path: Path) -> None:
    from manifests.signing import PublicKey
    from tests.manifests.conftest import make_keys

    other = make_keys(tmp_path / "keys", "other")
    data, signature = receipt_files(terminated.archive)
    with pytest.raises(GateRefused, match="signature does not verify"):
        check_receipt(data.read_bytes(), signature.read_bytes(), PublicKey.load(other.pub))
