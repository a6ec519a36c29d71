"""The names of backup archives: ``<account>_<YYYY-MM-DD>T<HHMMSS>Z.zip``.

The account part is the account's id when it is made of letters, digits, ``.``, ``_`` and
``-`` only (at most 80, not starting with a dot); any other id becomes ``id-`` and the first
24 hex digits of its SHA-256, so a hostile id can never make a path, a hidden file or a name
that parses as another account's. The time is the archive's creation time, in UTC, to the
second: names sort by time within an account, and parse back to (account part, time).
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime

__all__ = ["BackupName", "account_part", "backup_name", "parse_backup_name"]

_SAFE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,79}")
_NAME = re.compile(
    r"(?P<account>[A-Za-z0-9_-][A-Za-z0-9._-]{0,79})_"
    r"(?P<when>[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{6}Z)\.zip(?:\.age)?"
)


def account_part(account: str) -> str:
    """The account's part of its backup names (see the module doc)."""
    if _SAFE.fullmatch(account):
        return account
    digest = hashlib.sha256(account.encode("utf-8", "surrogatepass")).hexdigest()[:24]
    return f"id-{digest}"


def backup_name(account: str, created_at: datetime) -> str:
    """``<account part>_<UTC time>.zip``."""
    when = created_at.astimezone(UTC) if created_at.tzinfo else created_at
    return f"{account_part(account)}_{when:%Y-%m-%dT%H%M%S}Z.zip"


class BackupName:
    """A parsed backup name."""

    __slots__ = ("account", "created_at")

    def __init__(self, account: str, created_at: datetime) -> None:
        self.account = account
        self.created_at = created_at

    def __repr__(self) -> str:
        return f"BackupName({self.account!r}, {self.created_at.isoformat()})"


def parse_backup_name(name: str) -> BackupName | None:
    """The account part and UTC time of a backup archive's name (``NAME.zip``, or
    ``NAME.zip.age`` encrypted; not a part file's name), or None when it is not a backup
    name."""
    match = _NAME.fullmatch(name)
    if match is None:
        return None
    try:
        when = datetime.strptime(match["when"], "%Y-%m-%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None
    return BackupName(match["account"], when)
