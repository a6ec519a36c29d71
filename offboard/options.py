"""Parsing of option values shared by commands: sizes and times; defaults they share."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from offboard.errors import ConfigError

#: a bundled PDF part's size at most, MiB (``--bundle-size``). The document worker holds the
#: pages of the part it builds until it writes it (qpdf copies their bytes as they are copied),
#: about the part's size over its own 35 MB: at 32 MiB it stays under 100 MB beside an export of
#: any size (at 200 MiB it reached 215 MB). A larger document is a part of its own, written from
#: the document itself, never held (a 268 MB document: 44 MB).
BUNDLE_CAP_MIB = 32

_SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGT]?i?B?)?\s*", re.IGNORECASE)
_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "k": 1000,
    "m": 1000**2,
    "g": 1000**3,
    "t": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}


def parse_size(text: str, option: str) -> int:
    """``2GB`` → 2,000,000,000; ``700MiB`` → 734,003,200; a plain number is bytes."""
    match = _SIZE.fullmatch(text)
    unit = (match[2] or "").lower() if match else None
    if match is None or unit not in _UNITS:
        raise ConfigError(f"{option}: {text!r} is not a size (examples: 2GB, 700MB, 1GiB)")
    size = int(float(match[1]) * _UNITS[unit])
    if size < 1:
        raise ConfigError(f"{option}: the size must be at least 1 byte")
    return size


def parse_created_at(text: str | None) -> datetime:
    """``--created-at``: an ISO 8601 time with a zone (``Z`` or an offset), kept in UTC.

    Default: now, to the second. Zip members store times from 1980 to 2107 only.
    """
    if text is None:
        return datetime.now(UTC).replace(microsecond=0)
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(
            f"--created-at: {text!r} is not an ISO 8601 time (e.g. 2026-01-31T12:00:00Z)"
        ) from None
    if when.tzinfo is None:
        raise ConfigError(f"--created-at: {text!r} has no time zone; add Z for UTC")
    when = when.astimezone(UTC).replace(microsecond=0)
    if not 1980 <= when.year <= 2107:
        raise ConfigError(f"--created-at: {text!r} is outside 1980-2107")
    return when


def archive_options(
    out: Path,
    sign_key: Path | None,
    unsigned: bool,
    created_at: str | None,
    split_size: str,
    split_files: int,
    overwrite: bool,
    passphrase: Callable[[Path], Callable[[], str]],
) -> Any:
    """The archive options of ``export``, or None when ``out`` is a folder."""
    if not out.name.endswith(".zip"):
        for name, given in (
            ("--sign-key", sign_key),
            ("--unsigned", unsigned),
            ("--created-at", created_at),
        ):
            if given:
                raise ConfigError(f"{name} applies to an archive: give --out NAME.zip")
        return None
    from manifests.build import ArchiveOptions

    if sign_key is None and not unsigned:
        raise ConfigError(
            "--out NAME.zip needs --sign-key KEY (make one with `offboard keygen`), or --unsigned"
        )
    if sign_key is not None and unsigned:
        raise ConfigError("--sign-key and --unsigned exclude each other")
    key = None
    if sign_key is not None:
        from manifests.signing import SecretKey

        key = SecretKey.load(sign_key, passphrase(sign_key))
    return ArchiveOptions(
        created_at=parse_created_at(created_at),
        sign_key=key,
        split_size=parse_size(split_size, "--split-size"),
        split_files=split_files,
        overwrite=overwrite,
    )
