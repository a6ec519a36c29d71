"""``offboard prune``: apply a retention policy to a destination.

The decisions come from :func:`offboard.backup.retention.plan_retention`; this module deletes
the archives the plan removes (unless it is a dry run), goes on past a deletion that fails, and
reports every archive: what the policy decided, why, and what happened.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from offboard.backup.retention import Decision, Policy, plan_retention
from offboard.errors import OffboardError

if TYPE_CHECKING:
    from offboard.storage import Destination

__all__ = ["Outcome", "PruneReport", "print_prune_report", "prune"]

#: an unfinished upload started longer ago than this was left by a run that is gone
ABANDONED = timedelta(days=1)
#: what happened to an archive: kept, removed, would be removed (dry run), failed, ignored
STATUSES = ("kept", "removed", "would-remove", "failed", "ignored")


@dataclass
class Outcome:
    decision: Decision
    status: str
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**self.decision.to_dict(), "status": self.status, "error": self.error}


@dataclass
class PruneReport:
    destination: str
    policy: Policy
    now: datetime
    dry_run: bool
    outcomes: list[Outcome] = field(default_factory=list)
    #: unfinished uploads (of runs killed more than a day ago) aborted, or to abort
    uploads: list[str] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    def accounts(self) -> dict[str, list[Outcome]]:
        out: dict[str, list[Outcome]] = {}
        for o in self.outcomes:
            if o.decision.account is not None:
                out.setdefault(o.decision.account, []).append(o)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "destination": self.destination,
            "policy": self.policy.to_dict(),
            "now": self.now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "dry_run": self.dry_run,
            "accounts": [
                {"account": account, "archives": [o.to_dict() for o in outcomes]}
                for account, outcomes in self.accounts().items()
            ],
            "ignored": [o.decision.name for o in self.outcomes if o.status == "ignored"],
            "abandoned_uploads": self.uploads,
            "summary": {status: self.count(status) for status in STATUSES},
        }


def prune(dest: Destination, policy: Policy, *, now: datetime, dry_run: bool) -> PruneReport:
    """Plan and (unless ``dry_run``) delete; a failed deletion is recorded and the others go
    on. Raises only when the destination cannot be listed or the policy is empty."""
    plan = plan_retention(dest.list_archives(), policy, now)
    report = PruneReport(dest.url, policy, plan.now, dry_run)
    for decision in plan.decisions:
        if decision.ignored:
            report.outcomes.append(Outcome(decision, "ignored"))
        elif decision.keep:
            report.outcomes.append(Outcome(decision, "kept"))
        elif dry_run:
            report.outcomes.append(Outcome(decision, "would-remove"))
        else:
            try:
                dest.delete(decision.archive, now=plan.now)
            except (OffboardError, OSError) as exc:
                report.outcomes.append(Outcome(decision, "failed", str(exc)))
            else:
                report.outcomes.append(Outcome(decision, "removed"))
    report.uploads = dest.abandoned_uploads(plan.now - ABANDONED, abort=not dry_run)
    return report


_SHOWN = {
    "kept": "keep",
    "removed": "removed",
    "would-remove": "remove (dry run)",
    "failed": "FAILED",
    "ignored": "ignored",
}


def print_prune_report(report: PruneReport) -> None:
    """One table per account (archive, created, size, action, reasons), then the names
    ignored, the failures and a summary line."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from offboard.ui import human_bytes

    console = Console(highlight=False, width=max(100, shutil.get_terminal_size((100, 24))[0]))
    console.print(
        f"{escape(report.destination)}: {escape(report.policy.describe())}"
        + (" [bold](dry run: nothing is deleted)[/]" if report.dry_run else "")
    )
    for account, outcomes in report.accounts().items():
        kept = sum(1 for o in outcomes if o.status == "kept")
        table = Table(
            title=escape(f"account {account}: {kept} kept, {len(outcomes) - kept} to remove"),
            title_justify="left",
        )
        for name, justify in (
            ("archive", "left"),
            ("created (UTC)", "left"),
            ("size", "right"),
            ("action", "left"),
            ("reasons", "left"),
        ):
            table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
        for o in outcomes:
            d = o.decision
            style = {"failed": "bold red", "kept": None}.get(o.status, "dim")
            reasons = ", ".join(d.why) + (f" ({o.error})" if o.error else "")
            created = "" if d.created_at is None else f"{d.created_at:%Y-%m-%d %H:%M:%S}"
            table.add_row(
                escape(d.name),
                created,
                human_bytes(d.archive.size),
                _SHOWN[o.status],
                escape(reasons),
                style=style,
            )
        console.print(table)
    ignored = [o.decision.name for o in report.outcomes if o.status == "ignored"]
    if ignored:
        console.print(f"ignored ({len(ignored)}, not backup names, never removed):")
        for name in ignored:
            console.print(f"  {name}", markup=False, soft_wrap=True)
    if report.uploads:
        verb = "to abort (dry run)" if report.dry_run else "aborted"
        console.print(f"unfinished uploads of runs gone for a day, {verb}: {len(report.uploads)}")
        for name in report.uploads:
            console.print(f"  {name}", markup=False, soft_wrap=True)
    for o in report.failed:
        console.print(
            f"[bold red]failed[/] {escape(o.decision.name)}: {escape(o.error or '')}",
            soft_wrap=True,
        )
    if report.dry_run:
        summary = (
            f"dry run: {report.count('would-remove')} archive(s) would be removed, "
            f"{report.count('kept')} kept; nothing was deleted"
        )
    else:
        summary = f"{report.count('removed')} archive(s) removed, {report.count('kept')} kept" + (
            f", {len(report.failed)} failed" if report.failed else ""
        )
    console.print(summary, markup=False)
