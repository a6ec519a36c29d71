"""``offboard check``: verify every archive of a destination, re-reading a subset in full.

Like restic's ``check --read-data-subset``: every archive gets the fast verification (the zip
container, the signature, the tag files and the sizes, ``verify_archive(fast=True)``), and the
archives of the chosen subset get the full one (every checksum, record count, total and page,
``fast=False``). The subset is

* ``n/t``: the archives of group *n* of *t*, the group of an archive being the first 8 bytes
  of the SHA-256 of its name (UTF-8), read as a big-endian number, modulo *t*, plus one. The
  groups are stable: running ``1/7`` to ``7/7`` on seven successive nights reads every archive
  once (an archive added meanwhile is read when its group's night comes);
* ``x%``: x percent of the archives (rounded down, at least one), chosen afresh every day but
  the same all day: the archives sorted by the SHA-256 of the UTC date, a line feed and the
  name (``2026-03-01``, LF, ``acc-0001_2026-02-28T023000Z.zip``), the first ones taken. Over
  successive days every archive is read sooner or later, with no schedule to keep.

Each archive is read through ``dest.local_copy(archive)`` (a download, for an object store).
An archive that cannot be read at all is invalid, with an ``unreadable`` problem. An archive
with a backup name (``<account>_<time>.zip``) whose account or time is not the one it signs
(a renamed archive) has a ``name-mismatch`` problem: prune and restores go by the name.
"""

from __future__ import annotations

import hashlib
import math
import re
import shutil
import time
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from offboard.errors import ConfigError, OffboardError

if TYPE_CHECKING:
    from manifests.signing import PublicKey
    from offboard.storage import Destination, StoredArchive

__all__ = ["ArchiveCheck", "CheckReport", "Subset", "check_destination", "group_of"]

_GROUP = re.compile(r"([0-9]+)/([0-9]+)")
_PERCENT = re.compile(r"([0-9]+(?:\.[0-9]+)?)%")


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).digest()


def group_of(name: str, total: int) -> int:
    """The group (1..total) of the archive ``name`` (see the module doc)."""
    return int.from_bytes(_digest(name)[:8], "big") % total + 1


@dataclass(frozen=True)
class Subset:
    """The archives to read in full: group ``n`` of ``t``, or ``percent`` of them."""

    n: int = 0
    t: int = 0
    percent: Fraction | None = None

    @classmethod
    def parse(cls, text: str) -> Subset:
        text = text.strip()
        if match := _GROUP.fullmatch(text):
            n, t = int(match[1]), int(match[2])
            if not 1 <= n <= t:
                raise ConfigError(f"--read-data-subset {text}: give n/t with 1 <= n <= t")
            return cls(n=n, t=t)
        if match := _PERCENT.fullmatch(text):
            percent = Fraction(match[1])
            if not 0 < percent <= 100:
                raise ConfigError(f"--read-data-subset {text}: give a percentage in (0, 100]")
            return cls(percent=percent)
        raise ConfigError(
            f"--read-data-subset {text!r}: give n/t (group n of t, e.g. 1/7) or x% (e.g. 5%)"
        )

    def describe(self) -> str:
        if self.percent is not None:
            return f"{float(self.percent):g}% of the archives"
        return f"group {self.n} of {self.t}"

    def select(self, names: list[str], today: date) -> set[str]:
        """The names to read in full, of ``names``, on the UTC date ``today``."""
        if self.percent is None:
            return {name for name in names if group_of(name, self.t) == self.n}
        if not names:
            return set()
        count = max(1, math.floor(len(names) * self.percent / 100))
        ranked = sorted(names, key=lambda name: (_digest(f"{today.isoformat()}\n{name}"), name))
        return set(ranked[:count])


@dataclass
class ArchiveCheck:
    """The verdict on one archive."""

    name: str
    mode: str
    problems: list[dict[str, Any]] = field(default_factory=list)
    account: str | None = None
    archive_id: str | None = None
    created_at: str | None = None
    parts: list[str] = field(default_factory=list)
    files: int = 0
    bytes: int = 0
    seconds: float = 0.0

    @property
    def valid(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "archive": self.name,
            "mode": self.mode,
            "valid": self.valid,
            "account": self.account,
            "archive_id": self.archive_id,
            "created_at": self.created_at,
            "parts": self.parts,
            "files": self.files,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "problems": self.problems,
        }


@dataclass
class CheckReport:
    destination: str
    subset: Subset | None
    date: date
    archives: list[ArchiveCheck] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return all(a.valid for a in self.archives)

    @property
    def invalid(self) -> list[ArchiveCheck]:
        return [a for a in self.archives if not a.valid]

    def to_dict(self) -> dict[str, Any]:
        return {
            "destination": self.destination,
            "read_data_subset": None if self.subset is None else self.subset.describe(),
            "date": self.date.isoformat(),
            "valid": self.valid,
            "archives": [a.to_dict() for a in self.archives],
            "summary": {
                "archives": len(self.archives),
                "full": sum(1 for a in self.archives if a.mode == "full"),
                "fast": sum(1 for a in self.archives if a.mode == "fast"),
                "invalid": len(self.invalid),
                "problems": sum(len(a.problems) for a in self.archives),
            },
        }


def _problem(
    code: str, detail: str, expected: str | None = None, found: str | None = None
) -> dict[str, Any]:
    """A problem of the archive as a whole, in the shape of ``Problem.to_dict()``."""
    return {
        "code": code,
        "part": None,
        "path": "",
        "expected": expected,
        "found": found,
        "detail": detail,
    }


def _name_mismatch(name: str, account: str | None, created_at: str | None) -> list[dict[str, Any]]:
    """A backup name (``<account>_<time>.zip``) names the account and the creation time the
    archive signs: a renamed archive would mislead prune and whoever restores it."""
    from offboard.storage.naming import account_part, parse_backup_name

    parsed = parse_backup_name(name)
    if parsed is None or account is None or created_at is None:
        return []
    out: list[dict[str, Any]] = []
    if parsed.account != account_part(account):
        out.append(
            _problem(
                "name-mismatch",
                f"the name is {parsed.account}'s",
                account_part(account),
                parsed.account,
            )
        )
    named = parsed.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    if named != created_at:
        out.append(
            _problem(
                "name-mismatch",
                "the name's time is not the signed creation time",
                created_at,
                named,
            )
        )
    return out


def check_archive(
    dest: Destination, archive: StoredArchive, pubkey: PublicKey, *, full: bool
) -> ArchiveCheck:
    """Verify one archive of ``dest`` (never raises for an archive that is bad or unreadable)."""
    from manifests.verify import verify_path

    result = ArchiveCheck(archive.name, "full" if full else "fast")
    started = time.perf_counter()
    try:
        with dest.local_copy(archive) as path:
            report = verify_path(path, pubkey, fast=not full)
    except (OffboardError, OSError) as exc:
        result.problems.append(
            _problem("unreadable", f"cannot read {dest.describe(archive.name)}: {exc}")
        )
    else:
        result.problems = [p.to_dict() for p in report.problems]
        result.problems += _name_mismatch(archive.name, report.account, report.created_at)
        result.account = report.account
        result.archive_id = report.archive_id
        result.created_at = report.created_at
        result.parts = report.parts
        result.files = report.files
        result.bytes = report.bytes
    result.seconds = time.perf_counter() - started
    return result


def check_destination(
    dest: Destination, pubkey: PublicKey, subset: Subset | None, *, today: date
) -> CheckReport:
    """Check every archive ``dest`` holds, in name order; the subset is read in full."""
    archives = dest.list_archives()
    full = set() if subset is None else subset.select([a.name for a in archives], today)
    report = CheckReport(dest.url, subset, today)
    for archive in archives:
        report.archives.append(check_archive(dest, archive, pubkey, full=archive.name in full))
    return report


def print_check_report(report: CheckReport) -> None:
    """A line per archive (verdict, mode, account, files, time), then every problem of every
    invalid archive, each naming the archive."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from offboard.ui import human_bytes

    console = Console(highlight=False, width=max(100, shutil.get_terminal_size((100, 24))[0]))
    subset = "" if report.subset is None else f"; read in full: {report.subset.describe()}"
    console.print(f"{escape(report.destination)}: {len(report.archives)} archive(s){subset}")
    table = Table(title_justify="left")
    for name, justify in (
        ("archive", "left"),
        ("check", "left"),
        ("result", "left"),
        ("account", "left"),
        ("files", "right"),
        ("size", "right"),
        ("problems", "right"),
    ):
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for a in report.archives:
        table.add_row(
            escape(a.name),
            a.mode,
            "[green]valid[/]" if a.valid else "[bold red]INVALID[/]",
            escape(a.account or ""),
            f"{a.files:,}",
            human_bytes(a.bytes),
            str(len(a.problems)),
        )
    console.print(table)
    for a in report.invalid:
        for p in a.problems:
            where = p["path"] or "(archive)"
            if p.get("part"):
                where = f"{p['part']}: {where}"
            line = f"{a.name}: {p['code']}: {where}: {p['detail']}"
            if p["expected"] is not None or p["found"] is not None:
                line += f" (expected {p['expected']}, found {p['found']})"
            console.print(line, markup=False, soft_wrap=True)
    full = sum(1 for a in report.archives if a.mode == "full")
    verdict = (
        "all valid"
        if report.valid
        else f"{len(report.invalid)} invalid: {', '.join(a.name for a in report.invalid)}"
    )
    console.print(
        f"{len(report.archives)} checked ({full} in full): {verdict}", markup=False, soft_wrap=True
    )
