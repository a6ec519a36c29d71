"""An archive's own retain-until date, read from the archive itself.

``offboard prune`` never deletes an archive before the date its retention policy gave it
(``Offboard-Retain-Until`` in ``bag-info.txt``, signed with the tag manifest; for an encrypted
archive, ``retain-until`` in the outer signature's trusted comment). In a folder it is read from
the file; in S3 from the object's metadata (``x-amz-meta-offboard-retain-until``, which cannot
change for a version) besides its Object Lock date. An archive whose date cannot be read is
kept, with that reason: what cannot be checked is not deleted.
"""

from __future__ import annotations

import zipfile
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

__all__ = ["RETAIN_UNTIL", "Unreadable", "end_of", "read_retain_until"]

#: the ``bag-info.txt`` label
RETAIN_UNTIL = "Offboard-Retain-Until"
#: the S3 user metadata key (``x-amz-meta-...``)
META_KEY = "offboard-retain-until"
#: the most bytes of bag-info.txt read
MAX_BAG_INFO = 1 << 20


class Unreadable(Exception):
    """The archive's retention could not be read (the message says why)."""


def end_of(day: date) -> datetime:
    """The instant an archive retained until ``day`` (the whole day) may go: the next
    midnight, UTC."""
    return datetime.combine(day, time(), UTC) + timedelta(days=1)


def read_retain_until(path: Path) -> date | None:
    """The retain-until date of the archive part at ``path`` (None: the archive has none, as
    archives made before retention policies); raises :class:`Unreadable`."""
    if path.name.endswith(".zip.age"):
        return _from_seal(path.with_name(path.name + ".minisig"))
    top = path.name[: -len(".zip")]
    try:
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo(f"{top}/bag-info.txt")
            if info.file_size > MAX_BAG_INFO:
                raise Unreadable("bag-info.txt is too large")
            data = zf.read(info)
    except (KeyError, zipfile.BadZipFile, OSError, ValueError) as exc:
        raise Unreadable(f"bag-info.txt unreadable: {exc}") from None
    from manifests.bag import TagError, info_value, parse_bag_info

    try:
        value = info_value(parse_bag_info(data), RETAIN_UNTIL)
    except TagError as exc:
        raise Unreadable(f"bag-info.txt: {exc}") from None
    return None if value is None else _date(value)


def _from_seal(sig: Path) -> date | None:
    from manifests.encryption import parse_seal_comment
    from manifests.signing import Signature, SignatureError

    try:
        with open(sig, "rb") as fh:
            raw = fh.read(16 << 10)
        fields = parse_seal_comment(Signature.from_bytes(raw).trusted_comment)
    except (OSError, SignatureError, ValueError) as exc:
        raise Unreadable(f"{sig.name}: {exc}") from None
    if fields is None:
        raise Unreadable(f"{sig.name}: not an offboard encrypted archive's signature")
    value = fields.get("retain-until")
    return None if not value else _date(value)


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Unreadable(f"{RETAIN_UNTIL} {value[:40]!r} is not a date") from None
