"""Archives encrypted to age recipients: checked before decryption by their outer signature
(by offboard and by the minisign CLI), decrypted by the age CLI into the very archive an
unencrypted export makes, and verified in full with an identity. Each tamper is performed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from offboard.cli import cli
from tests.manifests.conftest import Keys, make_keys, require

CREATED = "2026-01-31T12:00:00Z"


@pytest.fixture(scope="module")
def ids(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Path, str]:
    """Two age identities (files) and their recipients."""
    from pyrage import x25519

    folder = tmp_path_factory.mktemp("age")
    out = []
    for name in ("alice", "bob"):
        identity = x25519.Identity.generate()
        path = folder / f"{name}.txt"
        path.write_text(f"# {name}\n{identity}\n", encoding="ascii")
        out += [path, str(identity.to_public())]
    return out[0], out[1], out[2], out[3]  # type: ignore[return-value]


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def export(db: Path, out: Path | str, keys: Keys, *extra: str) -> Result:
    return run(
        "export",
        str(db),
        "--account",
        "acc-0001",
        "--out",
        str(out),
        "--sign-key",
        str(keys.key),
        "--created-at",
        CREATED,
        "--allow-missing-documents",
        "--quiet",
        *extra,
    )


@pytest.fixture(scope="module")
def sealed(
    demo_db: Path,
    keys: Keys,
    ids: tuple[Path, str, Path, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    folder = tmp_path_factory.mktemp("sealed")
    result = export(
        demo_db, folder / "acc-0001.zip", keys, "--encrypt-to", ids[1], "--encrypt-to", ids[3]
    )
    assert result.exit_code == 0, result.output
    return folder / "acc-0001.zip.age"


def test_only_the_encrypted_part_and_its_signature_are_written(sealed: Path) -> None:
    assert sorted(p.name for p in sealed.parent.iterdir()) == [
        "acc-0001.zip.age",
        "acc-0001.zip.age.minisig",
    ]


def test_the_minisign_cli_checks_the_ciphertext(sealed: Path, keys: Keys) -> None:
    minisign = require("minisign")
    done = subprocess.run(
        [minisign, "-Vm", str(sealed), "-p", str(keys.pub)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "offboard-sealed:1" in done.stdout and "tagmanifest-sha256:" in done.stdout


def test_the_age_cli_decrypts_it_into_the_unencrypted_archive(
    sealed: Path, keys: Keys, ids: tuple[Path, str, Path, str], demo_db: Path, tmp_path: Path
) -> None:
    age = require("age")
    plain = tmp_path / "acc-0001.zip"
    for identity in (ids[0], ids[2]):  # either recipient can open it
        plain.unlink(missing_ok=True)
        done = subprocess.run(
            [age, "-d", "-i", str(identity), "-o", str(plain), str(sealed)], capture_output=True
        )
        assert done.returncode == 0, done.stderr
    twin = tmp_path / "twin" / "acc-0001.zip"
    assert export(demo_db, twin, keys).exit_code == 0
    assert plain.read_bytes() == twin.read_bytes()


def test_verify_without_identity_checks_the_seal(sealed: Path, keys: Keys) -> None:
    result = run("verify", str(sealed), "--pubkey", str(keys.pub))
    assert result.exit_code == 0, result.output
    assert "contents were not checked" in result.output


def test_verify_with_an_identity_checks_everything(
    sealed: Path, keys: Keys, ids: tuple[Path, str, Path, str]
) -> None:
    import json

    result = run("verify", str(sealed), "--pubkey", str(keys.pub), "-i", str(ids[2]), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["mode"] == "full" and report["valid"] and report["files"] > 100


def test_a_wrong_identity_cannot_decrypt(sealed: Path, keys: Keys, tmp_path: Path) -> None:
    from pyrage import x25519

    other = tmp_path / "other.txt"
    other.write_text(f"{x25519.Identity.generate()}\n", encoding="ascii")
    result = run("verify", str(sealed), "--pubkey", str(keys.pub), "-i", str(other))
    assert result.exit_code == 1
    assert "cannot decrypt" in result.output


def _copy(sealed: Path, folder: Path) -> Path:
    folder.mkdir()
    for p in sealed.parent.iterdir():
        shutil.copy(p, folder / p.name)
    return folder / sealed.name


def test_a_changed_ciphertext_byte_is_caught_without_decrypting(
    sealed: Path, keys: Keys, tmp_path: Path
) -> None:
    copy = _copy(sealed, tmp_path / "t")
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0x04
    copy.write_bytes(bytes(data))
    result = run("verify", str(copy), "--pubkey", str(keys.pub), "--json")
    assert result.exit_code == 1
    assert '"signature-invalid"' in result.output


def test_a_missing_or_foreign_signature_is_caught(
    sealed: Path, keys: Keys, tmp_path: Path, demo_db: Path, ids: tuple[Path, str, Path, str]
) -> None:
    copy = _copy(sealed, tmp_path / "m")
    sig = copy.with_name(copy.name + ".minisig")
    sig.unlink()
    missing = run("verify", str(copy), "--pubkey", str(keys.pub), "--json")
    assert missing.exit_code == 1 and '"signature-missing"' in missing.output
    other = tmp_path / "o" / "acc-0001.zip"
    assert (
        export(
            demo_db, other, keys, "--encrypt-to", ids[1], "--created-at", "2026-02-01T00:00:00Z"
        ).exit_code
        == 0
    )
    shutil.copy(other.with_name("acc-0001.zip.age.minisig"), sig)
    foreign = run("verify", str(copy), "--pubkey", str(keys.pub), "--json")
    assert foreign.exit_code == 1 and '"signature-invalid"' in foreign.output


def test_another_signers_key_is_refused(sealed: Path, tmp_path: Path) -> None:
    stranger = make_keys(tmp_path / "k", "stranger")
    result = run("verify", str(sealed), "--pubkey", str(stranger.pub))
    assert result.exit_code == 1


def test_a_split_encrypted_archive(
    demo_db: Path, keys: Keys, ids: tuple[Path, str, Path, str], tmp_path: Path
) -> None:
    out = tmp_path / "s" / "acc-0001.zip"
    result = export(demo_db, out, keys, "--encrypt-to", ids[1], "--split-files", "150")
    assert result.exit_code == 0, result.output
    parts = sorted(out.parent.glob("*.zip.age"))
    assert len(parts) >= 2 and parts[0].name == "acc-0001-part-001.zip.age"
    ok = run("verify", str(parts[-1]), "--pubkey", str(keys.pub), "-i", str(ids[0]))
    assert ok.exit_code == 0, ok.output
    parts[0].unlink()
    gone = run("verify", str(parts[-1]), "--pubkey", str(keys.pub), "--json")
    assert gone.exit_code == 1 and "missing-part" in gone.output


def test_bad_recipients_and_identities_are_named(
    demo_db: Path, keys: Keys, tmp_path: Path, sealed: Path
) -> None:
    bad = export(demo_db, tmp_path / "x.zip", keys, "--encrypt-to", "age1notarecipient")
    assert bad.exit_code == 2 and "not an age recipient" in bad.output
    unsigned = run(
        "export",
        str(demo_db),
        "-a",
        "acc-0001",
        "--out",
        str(tmp_path / "u.zip"),
        "--unsigned",
        "--encrypt-to",
        "age1x",
    )
    assert unsigned.exit_code == 2 and "--sign-key" in unsigned.output
    garbage = tmp_path / "garbage.txt"
    garbage.write_bytes(b"\xff\xfe not a key")
    result = run("verify", str(sealed), "--pubkey", str(keys.pub), "-i", str(garbage))
    assert result.exit_code == 10 and "garbage.txt" in result.output
    plain = run(
        "verify", str(tmp_path / "nothing.zip"), "--pubkey", str(keys.pub), "-i", str(garbage)
    )
    assert plain.exit_code == 2
