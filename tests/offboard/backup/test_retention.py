"""The retention policy: restic's `forget` rules, by restic's documented examples, by hand, and
against an independent reference implementation (Hypothesis)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offboard.backup.retention import (
    RULES,
    UNLIMITED,
    Policy,
    keep_reasons,
    plan_retention,
)
from offboard.errors import ConfigError
from offboard.storage import StoredArchive, StoredPart
from offboard.storage.naming import backup_name

NOW = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def stored(name: str, **kw: object) -> StoredArchive:
    return StoredArchive(name, [StoredPart(name, 10, NOW)], **kw)  # type: ignore[arg-type]


def archives(account: str, *times: str) -> list[StoredArchive]:
    return [stored(backup_name(account, at(t))) for t in times]


def kept(policy: Policy, *times: str) -> dict[str, tuple[str, ...]]:
    """{time: reasons} of the archives of one account that the policy keeps."""
    plan = plan_retention(archives("acc", *times), policy, NOW)
    return {
        d.created_at.strftime("%Y-%m-%d %H:%M:%S"): d.reasons
        for d in plan.decisions
        if d.keep and d.created_at is not None
    }


# -- restic's documentation ---------------------------------------------------------------------
# doc/060_forget.rst, "Removing snapshots according to a policy": one backup every Sunday for
# 12 weeks
SUNDAYS = [
    "2019-09-01 11:00:00",
    "2019-09-08 11:00:00",
    "2019-09-15 11:00:00",
    "2019-09-22 11:00:00",
    "2019-09-29 11:00:00",
    "2019-10-06 11:00:00",
    "2019-10-13 11:00:00",
    "2019-10-20 11:00:00",
    "2019-10-27 11:00:00",
    "2019-11-03 11:00:00",
    "2019-11-10 11:00:00",
    "2019-11-17 11:00:00",
]


def test_restic_docs_keep_daily_4_keeps_the_last_four_sundays() -> None:
    assert kept(Policy(daily=4), *SUNDAYS) == {
        "2019-11-17 11:00:00": ("daily",),
        "2019-11-10 11:00:00": ("daily",),
        "2019-11-03 11:00:00": ("daily",),
        "2019-10-27 11:00:00": ("daily",),
    }


def test_restic_docs_a_sunday_matches_daily_and_weekly_rules_at_once() -> None:
    # "the most recent snapshot on a Sunday would match both hourly, daily and weekly"
    result = kept(Policy(hourly=1, daily=2, weekly=3), *SUNDAYS)
    assert result == {
        "2019-11-17 11:00:00": ("hourly", "daily", "weekly"),
        "2019-11-10 11:00:00": ("daily", "weekly"),
        "2019-11-03 11:00:00": ("weekly",),
    }


def test_the_sundays_are_one_iso_week_each_and_three_months() -> None:
    assert len(kept(Policy(weekly=12), *SUNDAYS)) == 12
    assert kept(Policy(monthly=3), *SUNDAYS) == {
        "2019-11-17 11:00:00": ("monthly",),
        "2019-10-27 11:00:00": ("monthly",),
        "2019-09-29 11:00:00": ("monthly",),
    }


def test_restic_docs_a_hundred_years_of_daily_backups() -> None:
    """`--keep-daily 7 --keep-weekly 5 --keep-monthly 12 --keep-yearly 75` on a backup every
    day for 100 years: 7 dailies, 4 more weeklies (the dailies hold one), the month ends the
    others do not hold, and the year ends."""
    first = date(1925, 6, 16)
    times = [
        datetime.combine(first + timedelta(days=i), datetime.min.time(), UTC)
        + timedelta(hours=2, minutes=30)
        for i in range((date(2025, 6, 15) - first).days + 1)
    ]
    assert len(times) == 36525
    times.reverse()
    reasons = keep_reasons(times, Policy(daily=7, weekly=5, monthly=12, yearly=75))
    by_rule = {
        rule: {t.date() for t, r in zip(times, reasons, strict=True) if rule in r} for rule in RULES
    }
    assert by_rule["daily"] == {date(2025, 6, d) for d in range(9, 16)}
    # ISO weeks end on Sundays
    sundays = [date(2025, 6, 15), date(2025, 6, 8), date(2025, 6, 1), date(2025, 5, 25)]
    assert by_rule["weekly"] == {*sundays, date(2025, 5, 18)}
    months = [(2024, m) for m in range(7, 13)] + [(2025, m) for m in range(1, 6)]
    month_ends = {date(2025, 6, 15)} | {
        date(y + m // 12, m % 12 + 1, 1) - timedelta(days=1) for y, m in months
    }
    assert by_rule["monthly"] == month_ends and len(month_ends) == 12
    assert by_rule["yearly"] == {date(2025, 6, 15)} | {date(y, 12, 31) for y in range(1951, 2025)}
    assert all("oldest" not in " ".join(r) for r in reasons)  # every rule ran out of counts
    # 7 daily + 4 weekly + 11 monthly + 73 yearly (2024-12-31 is a month end too)
    assert sum(1 for r in reasons if r) == 95


def test_restic_keeps_the_oldest_while_a_rule_has_counts_left() -> None:
    """restic >= 0.16 (and its forum's worked example, four snapshots in January 2024 with
    --keep-monthly 4): the newest of the month, and the oldest one as "oldest monthly"."""
    result = kept(
        Policy(monthly=4),
        "2024-01-02 13:42:44",
        "2024-01-03 01:04:38",
        "2024-01-04 20:09:54",
        "2024-01-04 20:20:32",
    )
    assert result == {
        "2024-01-04 20:20:32": ("monthly",),
        "2024-01-02 13:42:44": ("oldest monthly",),
    }


# -- by hand ------------------------------------------------------------------------------------
def test_keep_last() -> None:
    times = ["2026-01-01 00:00:00", "2026-01-01 00:00:01", "2026-01-02 00:00:00"]
    assert set(kept(Policy(last=2), *times)) == {"2026-01-01 00:00:01", "2026-01-02 00:00:00"}
    assert all(r == ("last",) for r in kept(Policy(last=10), *times).values())


def test_iso_weeks_cross_the_new_year_and_years_do_not() -> None:
    times = ["2026-12-27 02:00:00", "2026-12-31 02:00:00", "2027-01-01 02:00:00"]
    times.append("2027-01-04 02:00:00")
    # 2026-12-31 and 2027-01-01 are both in ISO week 2026-W53
    assert kept(Policy(weekly=2), *times) == {
        "2027-01-04 02:00:00": ("weekly",),
        "2027-01-01 02:00:00": ("weekly",),
    }
    assert kept(Policy(yearly=2), *times) == {
        "2027-01-04 02:00:00": ("yearly",),
        "2026-12-31 02:00:00": ("yearly",),
    }


def test_days_are_utc_days() -> None:
    times = ["2026-03-01 23:59:59", "2026-03-02 00:00:00", "2026-03-02 00:00:01"]
    assert set(kept(Policy(daily=2), *times)) == {"2026-03-02 00:00:01", "2026-03-01 23:59:59"}


def test_only_days_with_archives_count() -> None:
    # a month without backups does not use up a daily count
    times = ["2026-01-01 02:00:00", "2026-03-01 02:00:00", "2026-03-01 03:00:00"]
    assert kept(Policy(daily=2), *times) == {
        "2026-03-01 03:00:00": ("daily",),
        "2026-01-01 02:00:00": ("daily",),
    }


def test_unlimited_keeps_one_a_period_and_the_oldest() -> None:
    times = ["2026-01-01 01:00:00", "2026-01-01 02:00:00", "2026-02-01 01:00:00"]
    times.append("2026-02-01 02:00:00")
    assert kept(Policy(monthly=UNLIMITED), *times) == {
        "2026-02-01 02:00:00": ("monthly",),
        "2026-01-01 02:00:00": ("monthly",),
        "2026-01-01 01:00:00": ("oldest monthly",),
    }


def test_one_archive_is_kept_by_any_rule() -> None:
    for rule in RULES:
        assert kept(Policy(**{rule: 1}), "2026-01-01 00:00:00") == {"2026-01-01 00:00:00": (rule,)}


def test_accounts_are_separate_groups() -> None:
    both = archives("acc-0001", "2026-01-01 00:00:00", "2026-01-02 00:00:00") + archives(
        "a_b.c", "2026-01-03 00:00:00"
    )
    plan = plan_retention(both, Policy(last=1), NOW)
    assert list(plan.groups) == ["a_b.c", "acc-0001"]
    assert [d.name for d in plan.keep] == [
        "a_b.c_2026-01-03T000000Z.zip",
        "acc-0001_2026-01-02T000000Z.zip",
    ]
    assert [d.name for d in plan.remove] == ["acc-0001_2026-01-01T000000Z.zip"]


@pytest.mark.parametrize(
    "name",
    [
        "notes.zip",
        "acc-0001.zip",
        "acc-0001_2026-02-30T000000Z.zip",  # no such day
        "acc-0001_2026-01-01T000000.zip",
        ".hidden_2026-01-01T000000Z.zip",
        "acc-0001_2026-01-01T000000Z-part-001.zip",
    ],
)
def test_other_names_are_ignored(name: str) -> None:
    plan = plan_retention(
        [stored(name), *archives("a", "2026-01-01 00:00:00")], Policy(last=1), NOW
    )
    (ignored,) = plan.ignored
    assert ignored.name == name and ignored.keep and ignored.action == "ignore"
    assert ignored.why == ("not a backup name",)


def test_legal_hold_and_retention_keep_what_the_policy_removes() -> None:
    names = [backup_name("acc", at(f"2026-01-0{d} 00:00:00")) for d in range(1, 6)]
    future, past = NOW + timedelta(days=1), NOW - timedelta(seconds=1)
    items = [
        stored(names[0], legal_hold=True),
        stored(names[1], retain_until=future),
        stored(names[2], retain_until=past),
        stored(names[3], retain_until=future.replace(tzinfo=None)),  # naive: UTC
        stored(names[4], legal_hold=True),  # the newest: kept by the policy too
    ]
    plan = plan_retention(items, Policy(last=1), NOW)
    by_name = {d.name: d for d in plan.decisions}
    assert by_name[names[0]].protected == ("legal hold",)
    assert by_name[names[1]].protected == ("retained until 2026-06-02T12:00:00Z",)
    assert by_name[names[2]].action == "remove" and by_name[names[2]].protected == ()
    assert by_name[names[3]].action == "keep" and by_name[names[3]].reasons == ()
    assert by_name[names[4]].why == ("last", "legal hold")
    assert [d.name for d in plan.remove] == [names[2]]


def test_an_empty_policy_is_refused() -> None:
    with pytest.raises(ConfigError, match="empty retention policy"):
        plan_retention(archives("a", "2026-01-01 00:00:00"), Policy(), NOW)
    with pytest.raises(ConfigError, match="empty"):
        keep_reasons([NOW], Policy(daily=0))
    with pytest.raises(ConfigError, match="--keep-daily"):
        Policy(daily=-2)


def test_times_must_be_newest_first() -> None:
    with pytest.raises(ValueError, match="newest first"):
        keep_reasons([NOW, NOW + timedelta(seconds=1)], Policy(last=1))


def test_policy_description_and_dict() -> None:
    policy = Policy(last=2, daily=7, monthly=UNLIMITED)
    assert policy.describe() == "keep 2 latest, 7 daily and all monthly archives"
    assert Policy(weekly=1).describe() == "keep 1 weekly archives"
    assert policy.to_dict()["monthly"] == "unlimited" and policy.to_dict()["hourly"] == 0


# -- the reference --------------------------------------------------------------------------
_FORMATS = {"hourly": "%Y-%m-%d %H", "daily": "%Y-%m-%d", "weekly": "%G-W%V"}
_FORMATS |= {"monthly": "%Y-%m", "yearly": "%Y"}


def reference(times_newest_first: list[datetime], counts: dict[str, int]) -> list[list[str]]:
    """restic's rules written the plain way: each rule takes the distinct periods newest
    first, the first N of them (all if unlimited), and keeps the newest archive of each; if the
    rule has fewer periods than N, it keeps the oldest archive as well."""
    reasons: list[list[str]] = [[] for _ in times_newest_first]
    for rule in RULES:
        n = counts[rule]
        if n == 0:
            continue
        newest_of: dict[str, int] = {}
        for i, t in enumerate(times_newest_first):
            period = str(i) if rule == "last" else t.strftime(_FORMATS[rule])
            newest_of.setdefault(period, i)
        periods = list(newest_of)
        chosen = periods if n == UNLIMITED else periods[:n]
        keep = {newest_of[p] for p in chosen}
        for i in range(len(times_newest_first)):
            if i in keep:
                reasons[i].append(rule)
            elif i == len(times_newest_first) - 1 and (n == UNLIMITED or len(periods) < n):
                reasons[i].append(f"oldest {rule}")
    return reasons


BASE = datetime(2023, 12, 25, tzinfo=UTC)


def _moment(days: int) -> st.SearchStrategy[datetime]:
    return st.builds(
        lambda d, s: BASE + timedelta(days=d, seconds=s),
        st.integers(0, days),
        st.integers(0, 86399),
    )


# around a new year, where ISO weeks and calendar years disagree (2026-12-31 is in 2026-W53
# with 2027-01-01; 2024-12-30 is in 2025-W01)
new_years = st.builds(
    lambda y, d, s: datetime(y, 1, 1, tzinfo=UTC) + timedelta(days=d, seconds=s),
    st.integers(2024, 2028),
    st.integers(-6, 6),
    st.integers(0, 86399),
)
# clusters within days (hours and days collide), within weeks and months, and years apart
moments = st.one_of(_moment(2), _moment(45), _moment(1500), new_years)
counts = st.sampled_from([0, 0, 0, 0, 1, 1, 2, 3, 5, 8, UNLIMITED])
policies = st.builds(
    Policy,
    last=counts,
    hourly=counts,
    daily=counts,
    weekly=counts,
    monthly=counts,
    yearly=counts,
).filter(lambda p: not p.empty)
protections = st.sampled_from(["none"] * 8 + ["hold", "retained", "expired"])
entries = st.lists(
    st.tuples(st.sampled_from(["acc-0001", "acc-0002", "a_b.c"]), moments, protections),
    max_size=40,
    unique_by=lambda e: (e[0], e[1]),
)
others = st.lists(st.sampled_from(["notes.zip", "acc-0001.zip", "x_2026-13-01T000000Z.zip"]))


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entries, others, policies)
def test_the_plan_is_the_reference_plan(
    items: list[tuple[str, datetime, str]], ignored: list[str], policy: Policy
) -> None:
    kinds = {
        "none": {},
        "hold": {"legal_hold": True},
        "retained": {"retain_until": NOW + timedelta(days=30)},
        "expired": {"retain_until": NOW - timedelta(days=30)},
    }
    listed = [stored(backup_name(a, t), **kinds[p]) for a, t, p in items]
    listed += [stored(n) for n in sorted(set(ignored))]
    plan = plan_retention(listed, policy, NOW)
    decisions = {d.name: d for d in plan.decisions}
    assert len(decisions) == len(listed)
    for account in {a for a, _, _ in items}:
        group = sorted(((t, p) for a, t, p in items if a == account), reverse=True)
        expected = reference([t for t, _ in group], policy.counts())
        for (t, p), reasons in zip(group, expected, strict=True):
            d = decisions[backup_name(account, t)]
            assert list(d.reasons) == reasons, (account, t)
            assert bool(d.protected) == (p in ("hold", "retained"))
            assert d.keep == bool(reasons or p in ("hold", "retained"))
        # the newest archive of a group is always kept
        assert decisions[backup_name(account, group[0][0])].reasons
    for name in set(ignored):
        assert decisions[name].action == "ignore"
    # a rule of count N keeps at most N archives, and one more (the oldest)
    for rule, n in policy.counts().items():
        if n > 0:
            for group_decisions in plan.groups.values():
                by_rule = [d for d in group_decisions if rule in d.reasons]
                oldest = [d for d in group_decisions if f"oldest {rule}" in d.reasons]
                assert len(by_rule) <= n and len(oldest) <= 1
