"""The options of commands that store archives in S3: Object Lock, legal hold, encryption."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from offboard.errors import ConfigError

F = TypeVar("F", bound=Callable[..., Any])


def storage_options(f: F) -> F:
    """``--lock``, ``--retain-until``, ``--legal-hold``, ``--sse``, ``--kms-key-id``."""
    for decorator in reversed(
        [
            click.option(
                "--lock",
                type=click.Choice(["compliance", "governance"]),
                help="s3:// only: put the archive under S3 Object Lock in this mode (with "
                "--retain-until; the bucket must have Object Lock enabled).",
            ),
            click.option(
                "--retain-until",
                metavar="DATE",
                help="s3:// only: the Object Lock retain-until date (YYYY-MM-DD, UTC midnight, "
                "or a UTC time like 2036-12-31T00:00:00Z).",
            ),
            click.option(
                "--legal-hold", is_flag=True, help="s3:// only: put the archive under legal hold."
            ),
            click.option(
                "--sse",
                type=click.Choice(["AES256", "aws:kms"]),
                help="s3:// only: server-side encryption of the archive.",
            ),
            click.option(
                "--kms-key-id",
                metavar="ID",
                help="s3:// only: the KMS key of --sse aws:kms (default: the bucket's).",
            ),
        ]
    ):
        f = decorator(f)
    return f


def encrypt_option(f: F) -> F:
    return click.option(
        "--encrypt-to",
        "encrypt_to",
        multiple=True,
        metavar="RECIPIENT",
        help="Encrypt the archive to this age recipient (age1...), or to each recipient of "
        "this file; repeat for several. Writes NAME.zip.age and its signature "
        "NAME.zip.age.minisig (docs/archive-format.md, 'Encrypted archives').",
    )(f)


def retention_option(f: F) -> F:
    return click.option(
        "--retention",
        "retention_file",
        type=click.Path(path_type=Path, dir_okay=False),
        metavar="FILE",
        help="The retention policy (TOML) that dates the archive's retain-until "
        "(default: French law's, see `offboard retention show`).",
    )(f)


def load_retention(path: Path | None) -> Any:
    """The policy of ``--retention FILE``, or None for the default."""
    if path is None:
        return None
    from offboard.retention import Policy

    return Policy.load(path)


def identity_option(f: F) -> F:
    return click.option(
        "--identity",
        "-i",
        "identity",
        type=click.Path(path_type=Path, dir_okay=False),
        metavar="FILE",
        help="An age identity file (AGE-SECRET-KEY-1...) to decrypt an encrypted archive.",
    )(f)


def store_kwargs(
    lock: str | None,
    retain_until: str | None,
    legal_hold: bool,
    sse: str | None,
    kms_key_id: str | None,
) -> dict[str, Any]:
    """The S3 destination's keyword options from those of :func:`storage_options` (only the
    ones given: a folder destination refuses any)."""
    options: dict[str, Any] = {}
    if lock is not None:
        options["lock"] = lock
    if retain_until is not None:
        options["retain_until"] = parse_date(retain_until, "--retain-until")
    if legal_hold:
        options["legal_hold"] = True
    if sse is not None:
        options["sse"] = sse
    if kms_key_id is not None:
        options["kms_key_id"] = kms_key_id
    return options


def parse_date(text: str, option: str) -> datetime:
    """A date (UTC midnight) or a UTC time."""
    for fmt in ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise ConfigError(f"{option} {text!r}: give YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC)")
