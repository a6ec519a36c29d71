"""Commands for keys and archives: keygen, verify."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from manifests.metadata import MAX_PART_FILES
from offboard.cli.common import (
    _passphrase,
    cli,
    handle_errors,
    json_option,
    load_pubkey,
    quiet_option,
)
from offboard.cli.storage_options import identity_option
from offboard.errors import ConfigError


@cli.command()
@click.argument("prefix", type=click.Path(path_type=Path))
@click.option(
    "--no-passphrase",
    is_flag=True,
    help="Leave the secret key unencrypted (protect the file some other way).",
)
@click.option("--force", is_flag=True, help="Replace PREFIX.key and PREFIX.pub if they exist.")
@handle_errors
def keygen(prefix: Path, no_passphrase: bool, force: bool) -> None:
    """Write a signing key pair: PREFIX.key (secret, mode 0600) and PREFIX.pub.

    Both are in minisign's formats: `minisign -S -s PREFIX.key` signs with the key and
    `minisign -V -p PREFIX.pub` verifies. The passphrase comes from OFFBOARD_PASSPHRASE or
    is asked on the terminal.
    """
    from manifests.signing import SecretKey, write_keypair

    passphrase = None if no_passphrase else _passphrase(Path(f"{prefix}.key"), True)()
    secret = SecretKey.generate()
    key_path, pub_path = write_keypair(prefix, secret, passphrase, force=force)
    click.echo(f"secret key: {key_path} ({'unencrypted' if no_passphrase else 'encrypted'})")
    click.echo(f"public key: {pub_path} (key id {secret.public_key.key_id_hex})")
    click.echo("Keep the secret key private; give the public key to whoever verifies archives.")


@cli.command()
@click.argument("archive", metavar="ARCHIVE")
@click.option(
    "--version-id",
    metavar="ID",
    help="s3:// only: verify this version of the object (default: the latest).",
)
@click.option(
    "--pubkey",
    "-p",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="PUB",
    help="The signer's public key (PREFIX.pub). Never taken from the archive.",
)
@click.option("--fast", is_flag=True, help="Structure, sizes and signature only (no hashing).")
@click.option("--allow-unsigned", is_flag=True, help="Accept an archive without a signature.")
@click.option(
    "--max-files",
    type=click.IntRange(1, 100 * MAX_PART_FILES),
    default=MAX_PART_FILES,
    show_default=True,
    metavar="N",
    help="Refuse a part of more than N files (the format's most). More is for older or "
    "foreign archives, and allows memory in proportion.",
)
@identity_option
@json_option
@quiet_option
@handle_errors
def verify(
    archive: str,
    version_id: str | None,
    pubkey: Path | None,
    fast: bool,
    allow_unsigned: bool,
    max_files: int,
    identity: Path | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Check ARCHIVE: structure, signature, every checksum, record counts, totals and pages.

    Lists every problem found. Exit 0: valid; 1: invalid; 19: the archive cannot be read; 10:
    the public key cannot be read; 2: bad usage.
    For a split archive, name any part: the others are checked with it. ARCHIVE may be
    s3://BUCKET/KEY.zip: its bytes are read from S3 (into a private temporary folder) and
    checked there. An encrypted archive, NAME.zip.age, is checked against its signature
    without decrypting it; with --identity FILE it is decrypted (privately, temporarily) and
    checked in full.
    """
    from offboard.errors import ArchiveInvalid
    from offboard.ui import print_verify_report

    key = load_pubkey(pubkey, allow_unsigned)
    from manifests.verify.bounds import part_limits
    from offboard.storage import is_s3_url

    if version_id is not None and not is_s3_url(archive):
        raise ConfigError("--version-id applies to an s3:// archive")
    from manifests.verify import verify_path
    from manifests.verify.sealed import is_sealed

    identities = None
    if identity is not None:
        from manifests.encryption import load_identities

        if not is_sealed(archive):
            raise ConfigError("--identity applies to an encrypted archive, NAME.zip.age")
        identities = load_identities(identity)
    options: dict[str, Any] = {
        "fast": fast,
        "allow_unsigned": allow_unsigned,
        "limits": part_limits(max_files),
    }
    with _local_archive(archive, version_id) as path:
        report = verify_path(path, key, identities=identities, **options)
    if is_s3_url(archive):
        report.archive = archive if version_id is None else f"{archive}?versionId={version_id}"
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    elif not quiet:
        print_verify_report(report)
        if report.mode == "sealed" and report.valid:
            click.echo(
                "The encrypted archive is intact and signed; its contents were not checked "
                "(give --identity FILE to decrypt and check them)."
            )
    if not report.valid:
        raise ArchiveInvalid(_invalid_message(report, max_files), report.problems)


def _invalid_message(report: Any, max_files: int) -> str:
    """The one line an invalid archive ends with; for one refused as a possible zip bomb (a
    bound passed, overlapping members, a member inflating past its size), the first such."""
    found = f"{len(report.problems)} problem(s) found"
    refused = _refusal(report.problems)
    if refused is None:
        return f"{report.archive}: {found}"
    where = refused.part if refused.part and refused.part != report.archive else ""
    if refused.path:
        where = f"{where}: {refused.path}" if where else refused.path
    head = f"{report.archive}: refused as a possible zip bomb: " + (f"{where}: " if where else "")
    label = "limit" if refused.code == "bomb" else "expected"
    values = f" ({label}: {_figure(refused.expected)}; found: {_figure(refused.found)})"
    if refused.code == "bomb" and "more members" in refused.detail:
        return (
            f"{head}a part holds more than {max_files:,} files: `--max-files N` checks larger "
            f"parts of an archive you have reason to trust (memory grows with N){values}; {found}"
        )
    return f"{head}{refused.detail}{values}; {found}"


def _refusal(problems: list[Any]) -> Any:
    """The first problem that refused reading: a bound, members sharing bytes (not bytes
    between them: a splice), data past its declared size."""
    first = next(
        (
            p
            for p in problems
            if p.code == "bomb" or (p.code == "overlap" and not p.detail.startswith("bytes "))
        ),
        None,
    )
    if first is not None:
        return first
    return next(
        (p for p in problems if p.code == "corrupt-data" and "more data than" in p.detail), None
    )


def _figure(text: str | None) -> str:
    """A problem's expected or found value, whole numbers with thousands separators."""
    if text is None:
        return "none"
    return re.sub(r"[0-9]{4,}", lambda m: f"{int(m[0]):,}", text)


@contextmanager
def _local_archive(archive: str, version_id: str | None) -> Iterator[Path]:
    """The archive's path; for s3://, a private local copy of its bytes."""
    from offboard.storage import is_s3_url, open_destination, split_archive_url

    if not is_s3_url(archive):
        yield Path(archive)
        return
    from offboard.storage.s3 import S3Destination

    folder, name = split_archive_url(archive)
    dest = open_destination(folder)
    assert isinstance(dest, S3Destination)
    with dest.fetch(name, version_id) as path:
        yield path
