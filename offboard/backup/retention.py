"""Which backup archives a retention policy keeps: restic's ``forget`` rules, exactly.

A policy counts, per rule, how many *periods that have archives* to keep: the last N archives
(``last``), or the newest archive of each of the last N distinct hours, days, ISO weeks
(Monday to Sunday), months or years that have one. Walking an account's archives newest
first, each rule keeps an archive when its period differs from the previous archive's and the
rule has counts left (``UNLIMITED`` never runs out). An archive kept by any rule is kept; the
reasons name every rule that keeps it. As in restic (0.16 and later), when a rule still has
counts left at the oldest archive, the oldest archive is kept too, even if a newer archive of
its period was kept already (reason ``oldest <rule>``): this keeps the longest history the
counts allow.

The policy is applied to each group separately; a group is the account part of the backup
name (:mod:`offboard.storage.naming`), and times are the UTC times in the names. Archives whose
names are not backup names are never removed (``ignored``). Whatever the policy decides, an
archive under legal hold, or whose retain-until date is after ``now``, is kept, with that
reason. An empty policy (no rule above zero) is refused: it would remove everything.

    plan = plan_retention(dest.list_archives(), Policy(daily=7, weekly=4), now=now)
    for d in plan.remove: ...
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from offboard.errors import ConfigError
from offboard.storage import StoredArchive
from offboard.storage.naming import parse_backup_name

__all__ = [
    "RULES",
    "UNLIMITED",
    "Decision",
    "Plan",
    "Policy",
    "keep_reasons",
    "plan_retention",
    "require_rules",
]

#: a rule's count that never runs out (restic's ``unlimited``)
UNLIMITED = -1
#: the rules in the order restic applies and reports them
RULES: tuple[str, ...] = ("last", "hourly", "daily", "weekly", "monthly", "yearly")

_NOUNS = {"last": "latest"}


@dataclass(frozen=True)
class Policy:
    """How many periods each rule keeps: 0 (the rule is off), N > 0, or ``UNLIMITED``."""

    last: int = 0
    hourly: int = 0
    daily: int = 0
    weekly: int = 0
    monthly: int = 0
    yearly: int = 0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int) or isinstance(value, bool) or value < UNLIMITED:
                raise ConfigError(
                    f"--keep-{f.name}: give a number of at least 0, or 'unlimited' (got {value!r})"
                )

    def counts(self) -> dict[str, int]:
        """Every rule and its count, in restic's order."""
        return {rule: getattr(self, rule) for rule in RULES}

    @property
    def empty(self) -> bool:
        return all(n == 0 for n in self.counts().values())

    def describe(self) -> str:
        """``keep 2 latest, 7 daily, 4 weekly and all monthly archives``."""
        parts = [
            f"{'all' if n == UNLIMITED else n} {_NOUNS.get(rule, rule)}"
            for rule, n in self.counts().items()
            if n != 0
        ]
        if not parts:
            return "keep nothing (an empty policy)"
        listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
        return f"keep {listed} archives"

    def to_dict(self) -> dict[str, int | str]:
        """The counts, ``unlimited`` spelled out."""
        return {rule: "unlimited" if n == UNLIMITED else n for rule, n in self.counts().items()}


def _period(rule: str, when: datetime, index: int) -> tuple[int, ...]:
    """The period of ``when`` for ``rule`` (``last``: every archive is its own period)."""
    if rule == "last":
        return (index,)
    if rule == "hourly":
        return (when.year, when.month, when.day, when.hour)
    if rule == "daily":
        return (when.year, when.month, when.day)
    if rule == "weekly":
        iso = when.isocalendar()
        return (iso.year, iso.week)
    if rule == "monthly":
        return (when.year, when.month)
    return (when.year,)


def require_rules(policy: Policy) -> None:
    """Refuse an empty policy: it would remove every archive."""
    if policy.empty:
        raise ConfigError(
            "an empty retention policy would remove every archive: give at least one of "
            "--keep-last, --keep-hourly, --keep-daily, --keep-weekly, --keep-monthly, "
            "--keep-yearly (a number above 0, or 'unlimited')"
        )


def keep_reasons(times: Sequence[datetime], policy: Policy) -> list[tuple[str, ...]]:
    """restic's ``ApplyPolicy`` on one group: for each of ``times`` (newest first, distinct),
    the rules that keep it (empty: the policy removes it)."""
    require_rules(policy)
    times = [t.astimezone(UTC) if t.tzinfo is not None else t for t in times]
    if any(a <= b for a, b in itertools.pairwise(times)):
        raise ValueError("times must be distinct and sorted newest first")
    counts = policy.counts()
    last_seen: dict[str, tuple[int, ...] | None] = dict.fromkeys(RULES)
    oldest = len(times) - 1
    out: list[tuple[str, ...]] = []
    for index, when in enumerate(times):
        reasons: list[str] = []
        for rule in RULES:
            left = counts[rule]
            if left == 0:
                continue
            period = _period(rule, when, index)
            if period != last_seen[rule] or index == oldest:
                same = period == last_seen[rule]
                reasons.append(f"oldest {rule}" if same else rule)
                last_seen[rule] = period
                if left > 0:
                    counts[rule] = left - 1
        out.append(tuple(reasons))
    return out


@dataclass(frozen=True)
class Decision:
    """What the policy does with one archive, and why."""

    archive: StoredArchive
    #: the group (the account part of the backup name); None for a name that is not one
    account: str | None
    created_at: datetime | None
    #: the rules that keep it (``daily``, ``oldest monthly``...); empty if the policy removes it
    reasons: tuple[str, ...] = ()
    #: why it must be kept whatever the policy says (``legal hold``, ``retained until ...``)
    protected: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.archive.name

    @property
    def ignored(self) -> bool:
        return self.account is None

    @property
    def keep(self) -> bool:
        return self.ignored or bool(self.reasons) or bool(self.protected)

    @property
    def action(self) -> str:
        """``ignore`` (not a backup name), ``keep`` or ``remove``."""
        return "ignore" if self.ignored else "keep" if self.keep else "remove"

    @property
    def why(self) -> tuple[str, ...]:
        """Every reason shown for it: the rules, then the protections."""
        if self.ignored:
            return ("not a backup name",)
        return self.reasons + self.protected

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "account": self.account,
            "created_at": None if self.created_at is None else _utc(self.created_at),
            "action": self.action,
            "reasons": list(self.reasons),
            "protected": list(self.protected),
            "size": self.archive.size,
            "parts": len(self.archive.parts),
        }


@dataclass
class Plan:
    """The decision for every archive: groups by account (sorted), newest first in each."""

    policy: Policy
    now: datetime
    groups: dict[str, list[Decision]] = field(default_factory=dict)
    ignored: list[Decision] = field(default_factory=list)

    @property
    def decisions(self) -> list[Decision]:
        return [d for group in self.groups.values() for d in group] + self.ignored

    @property
    def keep(self) -> list[Decision]:
        return [d for d in self.decisions if d.action == "keep"]

    @property
    def remove(self) -> list[Decision]:
        return [d for d in self.decisions if d.action == "remove"]


def _utc(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def protections(archive: StoredArchive, now: datetime) -> tuple[str, ...]:
    """Why ``archive`` cannot be deleted at ``now``: legal hold, a retain-until date ahead."""
    out: list[str] = []
    if archive.legal_hold:
        out.append("legal hold")
    if archive.retention_unreadable is not None:
        out.append(f"retention date unreadable: {archive.retention_unreadable}")
    if archive.retain_until is not None and _aware(archive.retain_until) > _aware(now):
        out.append(f"retained until {_utc(_aware(archive.retain_until))}")
    return tuple(out)


def plan_retention(archives: Iterable[StoredArchive], policy: Policy, now: datetime) -> Plan:
    """The decision for each archive (see the module doc); refuses an empty policy."""
    require_rules(policy)
    plan = Plan(policy, _aware(now))
    found: dict[str, list[tuple[datetime, StoredArchive]]] = {}
    for archive in archives:
        parsed = parse_backup_name(archive.name)
        if parsed is None:
            plan.ignored.append(Decision(archive, None, None))
        else:
            found.setdefault(parsed.account, []).append((parsed.created_at, archive))
    plan.ignored.sort(key=lambda d: d.name)
    for account in sorted(found):
        members = sorted(found[account], key=lambda item: item[0], reverse=True)
        if len({when for when, _ in members}) != len(members):  # two listings of one name
            raise ValueError(f"archives of {account!r} listed twice")
        reasons = keep_reasons([when for when, _ in members], policy)
        plan.groups[account] = [
            Decision(archive, account, when, why, protections(archive, plan.now))
            for (when, archive), why in zip(members, reasons, strict=True)
        ]
    return plan
