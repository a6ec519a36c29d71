"""The archive commands from the command line: keygen, export to .zip, verify."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from click.testing import CliRunner

from offboard.cli import cli
from offboard.errors import ExitCode
from tests.manifests.conftest import Made


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False, env=env)
    return result.exit_code, result.stdout, result.stderr


def test_keygen_writes_a_private_key_and_a_public_key(tmp_path: Path) -> None:
    code, out, _ = run("keygen", str(tmp_path / "k"), "--no-passphrase")
    assert code == 0, out
    assert stat.S_IMODE((tmp_path / "k.key").stat().st_mode) == 0o600
    assert (tmp_path / "k.pub").read_text().startswith("untrusted comment: minisign public key")
    code, _, err = run("keygen", str(tmp_path / "k"), "--no-passphrase")
    assert code == ExitCode.OUTPUT_EXISTS and "exists" in err


def test_keygen_without_a_terminal_or_passphrase_refuses(tmp_path: Path) -> None:
    code, _, err = run("keygen", str(tmp_path / "k"), env={"OFFBOARD_PASSPHRASE": None})  # type: ignore[dict-item]
    assert code == 10 and "OFFBOARD_PASSPHRASE" in err
    assert not (tmp_path / "k.key").exists()


def test_export_and_verify_from_the_command_line(demo_db: Path, tmp_path: Path) -> None:
    run("keygen", str(tmp_path / "k"), "--no-passphrase")
    out = tmp_path / "a.zip"
    code, _, err = run(
        "export",
        str(demo_db),
        "-a",
        "acc-0002",
        "--out",
        str(out),
        "--sign-key",
        str(tmp_path / "k.key"),
        "--created-at",
        "2026-03-01T10:00:00+01:00",
        "--quiet",
        "--allow-missing-documents",
    )
    assert code == 0, err
    code, stdout, _ = run("verify", str(out), "--pubkey", str(tmp_path / "k.pub"), "--json")
    assert code == 0
    report = json.loads(stdout)
    assert report["valid"] and report["created_at"] == "2026-03-01T09:00:00Z"
    code, stdout, _ = run("verify", str(out), "--pubkey", str(tmp_path / "k.pub"))
    assert code == 0 and "VALID" in stdout


def test_export_to_zip_needs_a_key(demo_db: Path, tmp_path: Path) -> None:
    code, _, err = run("export", str(demo_db), "-a", "acc-0002", "--out", str(tmp_path / "a.zip"))
    assert code == 2 and "--sign-key" in err
    assert list(tmp_path.iterdir()) == []


def test_bad_created_at_is_named(demo_db: Path, tmp_path: Path) -> None:
    code, _, err = run(
        "export",
        str(demo_db),
        "-a",
        "acc-0002",
        "--out",
        str(tmp_path / "a.zip"),
        "--unsigned",
        "--created-at",
        "yesterday",
    )
    assert code == 2 and "--created-at" in err


def test_encrypted_key_signs_with_the_passphrase_from_the_environment(
    demo_db: Path, tmp_path: Path
) -> None:
    env = {"OFFBOARD_PASSPHRASE": "correct horse"}
    assert run("keygen", str(tmp_path / "k"), env=env)[0] == 0
    args = [
        "export",
        str(demo_db),
        "-a",
        "acc-0002",
        "--out",
        str(tmp_path / "a.zip"),
        "--sign-key",
        str(tmp_path / "k.key"),
        "--quiet",
        "--allow-missing-documents",
        "--kinds",
        "contacts",
    ]
    code, _, err = run(*args, env={"OFFBOARD_PASSPHRASE": "wrong"})
    assert code == ExitCode.WRONG_PASSPHRASE and "passphrase" in err.lower()
    assert not (tmp_path / "a.zip").exists()
    assert run(*args, env=env)[0] == 0
    assert run("verify", str(tmp_path / "a.zip"), "-p", str(tmp_path / "k.pub"))[0] == 0


def test_verify_exit_codes(archive: Made, tmp_path: Path) -> None:
    pub = str(archive.keys.pub)
    assert run("verify", str(archive.path), "--pubkey", pub, "--quiet")[0] == 0
    # invalid: one byte changed
    bad = tmp_path / "acc-0001.zip"
    data = bytearray(archive.path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    code, out, err = run("verify", str(bad), "--pubkey", pub)
    assert code == 1 and "INVALID" in out and "problem" in err
    # an archive that cannot be read: 19; bad usage: 2; a public key that cannot be read: 10
    assert run("verify", str(tmp_path / "nope.zip"), "--pubkey", pub)[0] == ExitCode.UNREADABLE
    assert run("verify", str(archive.path))[0] == ExitCode.USAGE
    (tmp_path / "bad.pub").write_text("not a key\n")
    bad_key = run("verify", str(archive.path), "--pubkey", str(tmp_path / "bad.pub"))
    assert bad_key[0] == ExitCode.KEY and "bad.pub" in bad_key[2]


def test_verify_with_another_key_is_invalid(archive: Made, tmp_path: Path) -> None:
    run("keygen", str(tmp_path / "other"), "--no-passphrase")
    code, out, _ = run("verify", str(archive.path), "-p", str(tmp_path / "other.pub"), "--json")
    assert code == 1
    codes = [p["code"] for p in json.loads(out)["problems"]]
    assert codes == ["signature-invalid"]


def test_split_files_from_the_command_line(demo_db: Path, tmp_path: Path) -> None:
    run("keygen", str(tmp_path / "k"), "--no-passphrase")
    base = ["export", str(demo_db), "-a", "acc-0002", "--sign-key", str(tmp_path / "k.key")]
    base += ["--quiet", "--allow-missing-documents", "--split-files"]
    for bad in ("0", "25001", "many"):
        code, _, err = run(*base, bad, "--out", str(tmp_path / f"bad-{bad}.zip"))
        assert code == 2 and "--split-files" in err, (bad, err)
    assert not list(tmp_path.glob("bad-*"))
    code, _, err = run(*base, "150", "--out", str(tmp_path / "s.zip"))
    assert code == 0, err
    parts = sorted(tmp_path.glob("s-part-*.zip"))
    assert len(parts) >= 2 and not (tmp_path / "s.zip").exists()
    code, stdout, _ = run("verify", str(parts[-1]), "--pubkey", str(tmp_path / "k.pub"), "--json")
    assert code == 0 and json.loads(stdout)["parts"] == [p.name for p in parts]
