"""An encrypted archive restores with an identity: the seal is checked, the decrypted archive
verified, and the restored database exports the same payload again. A wrong identity or a
changed ciphertext is refused before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.manifests.conftest import Keys
from tests.offboard.restore.conftest import export, manifest_lines, run


@pytest.fixture(scope="module")
def sealed(
    demo_db: Path, restore_keys: Keys, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path, Path]:
    """(NAME.zip.age, identity file, the same archive unencrypted)."""
    from pyrage import x25519

    folder = tmp_path_factory.mktemp("restore-sealed")
    identity = x25519.Identity.generate()
    id_file = folder / "id.txt"
    id_file.write_text(f"{identity}\n", encoding="ascii")
    plain = export(
        f"sqlite:///{demo_db}", folder / "plain" / "acc-0001.zip", "acc-0001", restore_keys
    )
    done = run(
        "export",
        f"sqlite:///{demo_db}",
        "-a",
        "acc-0001",
        "--out",
        str(folder / "acc-0001.zip"),
        "--sign-key",
        str(restore_keys.key),
        "--created-at",
        "2026-01-31T12:00:00Z",
        "--allow-missing-documents",
        "-q",
        "--encrypt-to",
        str(identity.to_public()),
    )
    assert done.exit_code == 0, done.output
    return folder / "acc-0001.zip.age", id_file, plain


def test_an_encrypted_archive_round_trips(
    sealed: tuple[Path, Path, Path], restore_keys: Keys, tmp_path: Path
) -> None:
    archive, id_file, plain = sealed
    db = tmp_path / "restored.db"
    done = run(
        "restore",
        str(archive),
        "--pubkey",
        str(restore_keys.pub),
        "--into",
        f"sqlite:///{db}",
        "--identity",
        str(id_file),
        "-q",
    )
    assert done.exit_code == 0, done.output
    again = export(f"sqlite:///{db}", tmp_path / "again" / "acc-0001.zip", "acc-0001", restore_keys)
    assert manifest_lines(again) == manifest_lines(plain)


def test_refusals_write_nothing(
    sealed: tuple[Path, Path, Path], restore_keys: Keys, tmp_path: Path
) -> None:
    from pyrage import x25519

    archive, id_file, _ = sealed
    db = tmp_path / "r.db"
    into = f"sqlite:///{db}"
    no_id = run("restore", str(archive), "--pubkey", str(restore_keys.pub), "--into", into)
    assert no_id.exit_code == 2 and "--identity" in no_id.output
    other = tmp_path / "other.txt"
    other.write_text(f"{x25519.Identity.generate()}\n", encoding="ascii")
    wrong = run(
        "restore",
        str(archive),
        "--pubkey",
        str(restore_keys.pub),
        "--into",
        into,
        "--identity",
        str(other),
    )
    assert wrong.exit_code == 1 and "cannot decrypt" in wrong.output
    changed = tmp_path / archive.name
    data = bytearray(archive.read_bytes())
    data[-100] ^= 0x01
    changed.write_bytes(bytes(data))
    (tmp_path / (archive.name + ".minisig")).write_bytes(
        archive.with_name(archive.name + ".minisig").read_bytes()
    )
    tampered = run(
        "restore",
        str(changed),
        "--pubkey",
        str(restore_keys.pub),
        "--into",
        into,
        "--identity",
        str(id_file),
    )
    assert tampered.exit_code == 1
    assert not db.exists() and not (tmp_path / "r-documents").exists()
