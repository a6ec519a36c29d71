"""The report of a backup run: every account's outcome, and the run's totals, as JSON.

``--report FILE`` writes it atomically (a temporary name, fsync, rename: a reader sees the
previous report or this one, never a part); ``--json`` prints it. Accounts are listed in the
order they were asked for, whatever the order they completed in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from offboard import __version__
from offboard.backup.task import BACKED_UP, OUTCOMES, UNCHANGED, AccountResult
from offboard.errors import OutputError

__all__ = ["BackupReport", "write_report"]


@dataclass
class BackupReport:
    source: str
    destination: str
    #: the creation time shared by every archive of the run (UTC)
    created_at: str
    executor: str
    workers: int
    started_at: str
    seconds: float = 0.0
    accounts: list[AccountResult] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """True when every account was backed up or found unchanged."""
        return all(a.outcome in (BACKED_UP, UNCHANGED) for a in self.accounts)

    def count(self, outcome: str) -> int:
        return sum(1 for a in self.accounts if a.outcome == outcome)

    @property
    def bytes_written(self) -> int:
        return sum(a.bytes for a in self.accounts if a.outcome == BACKED_UP)

    def totals(self) -> dict[str, Any]:
        return {
            "accounts": len(self.accounts),
            **{outcome: self.count(outcome) for outcome in OUTCOMES},
            "bytes_written": self.bytes_written,
            "seconds": round(self.seconds, 3),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "offboard": __version__,
            "source": self.source,
            "destination": self.destination,
            "created_at": self.created_at,
            "executor": self.executor,
            "workers": self.workers,
            "started_at": self.started_at,
            "complete": self.complete,
            "totals": self.totals(),
            "accounts": [a.to_dict() for a in self.accounts],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    def summary_line(self) -> str:
        counts = ", ".join(f"{self.count(o)} {o}" for o in OUTCOMES)
        return (
            f"{len(self.accounts)} account(s): {counts}; "
            f"{self.bytes_written:,} bytes written in {self.seconds:.1f} s"
        )


def write_report(path: Path, report: BackupReport) -> None:
    """Write the report to ``path`` atomically (its folder is made if missing)."""
    from offboard.fsutil import write_atomic

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, report.to_json().encode("utf-8"))
    except OSError as exc:
        raise OutputError(f"cannot write the report {str(path)!r}: {exc.strerror}") from exc


def account_line(result: AccountResult) -> str:
    """One line of the human summary."""
    head = f"{result.account}  {result.outcome}"
    if result.outcome == BACKED_UP:
        return f"{head}  {result.location}  {result.bytes:,} bytes  {result.seconds:.1f} s"
    if result.outcome == UNCHANGED:
        return f"{head}  (matches {result.archive})"
    return f"{head} (exit {result.exit_code}): {result.error}"
