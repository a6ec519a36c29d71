"""Retention policies: the French default, the date arithmetic, and bad policies named."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offboard.errors import ConfigError
from offboard.retention import Policy, add_years, fiscal_year_end, retain_until


def table(kind: str, to: str | None, change: str | None, records: int = 1) -> dict[str, object]:
    return {
        "kind": kind,
        "records": records,
        "period": None if to is None else ["2020-01-01", to],
        "last_change": change,
    }


def test_the_french_default() -> None:
    policy = Policy.default_policy()
    assert policy.rule("sales_invoices").years == 10
    assert policy.rule("purchases").after == "fiscal-year-end"
    assert policy.rule("contacts").years == 3 and policy.rule("contacts").after == "last-activity"
    assert policy.rule("catalogue") == policy.default
    found = retain_until(
        policy,
        [
            table("sales_invoices", "2026-03-15", "2026-03-16T10:00:00Z"),
            table("contacts", None, "2026-11-02T00:00:00Z"),
        ],
    )
    assert found.kinds["sales_invoices"]["until"] == "2036-12-31"
    assert found.kinds["contacts"]["until"] == "2029-11-02"
    assert found.until == date(2036, 12, 31)


def test_a_fiscal_year_ending_in_june(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(
        '[retention]\nformat = 1\nname = "june"\nfiscal_year_end = "06-30"\n'
        '[retention.kinds.sales_invoices]\nyears = 10\nafter = "fiscal-year-end"\n',
        encoding="utf-8",
    )
    policy = Policy.load(path)
    assert retain_until(policy, [table("sales_invoices", "2026-06-30", None)]).until == date(
        2036, 6, 30
    )
    assert retain_until(policy, [table("sales_invoices", "2026-07-01", None)]).until == date(
        2037, 6, 30
    )


def test_empty_tables_keep_nothing() -> None:
    policy = Policy.default_policy()
    found = retain_until(policy, [table("sales_invoices", "2026-01-01", None, records=0)])
    assert found.until is None and found.kinds == {}


def test_leap_days() -> None:
    assert add_years(date(2024, 2, 29), 1) == date(2025, 2, 28)
    assert add_years(date(2024, 2, 29), 4) == date(2028, 2, 29)
    assert fiscal_year_end(date(2023, 3, 1), "02-29") == date(2024, 2, 29)
    assert fiscal_year_end(date(2024, 3, 1), "02-29") == date(2025, 2, 28)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x = 1", "no [retention] section"),
        ("[retention]\nformat = 2\nname = 'x'", "retention.format must be 1"),
        ("[retention]\nformat = 1", "retention.name"),
        ("[retention]\nformat = 1\nname = 'x'\nfiscal_year_end = '13-01'", "fiscal_year_end"),
        ("[retention]\nformat = 1\nname = 'x'\nfiscal_year_end = '02-30'", "fiscal_year_end"),
        ("[retention]\nformat = 1\nname = 'x'\nkeep = 1", "unknown key retention.keep"),
        (
            "[retention]\nformat = 1\nname = 'x'\n[retention.kinds.quotes]\nyears = 100\n"
            "after = 'last-activity'",
            "retention.kinds.quotes.years",
        ),
        (
            "[retention]\nformat = 1\nname = 'x'\n[retention.kinds.quotes]\nyears = 1\n"
            "after = 'creation'",
            "retention.kinds.quotes.after",
        ),
        (
            "[retention]\nformat = 1\nname = 'x'\n[retention.kinds.'../x']\nyears = 1\n"
            "after = 'last-activity'",
            "not a kind name",
        ),
        ("[retention\n", "not valid TOML"),
    ],
)
def test_bad_policies_are_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("[", r"\[")):
        Policy.load(path)


def test_a_missing_policy_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml"):
        Policy.load(tmp_path / "nope.toml")


def test_the_policy_round_trips_through_its_dict() -> None:
    policy = Policy.default_policy()
    assert Policy.from_dict(policy.to_dict()) == policy


days = st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31))


@settings(max_examples=1000, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["sales_invoices", "purchases", "contacts", "quotes", "catalogue"]),
            days,
            days,
        ),
        min_size=1,
        max_size=8,
    )
)
def test_the_archive_is_kept_as_long_as_its_longest_kind(
    rows: list[tuple[str, date, date]],
) -> None:
    policy = Policy.default_policy()
    tables = [table(k, d.isoformat(), f"{c.isoformat()}T12:00:00Z") for k, d, c in rows]
    found = retain_until(policy, tables)
    assert found.until is not None
    for kind in {k for k, _, _ in rows}:
        rule = policy.rule(kind)
        dates = [d for k, d, _ in rows if k == kind]
        changes = [c for k, _, c in rows if k == kind]
        if rule.after == "fiscal-year-end":
            start = fiscal_year_end(max(dates), policy.fiscal_year_end)
            assert start.month == 12 and start.day == 31 and start >= max(dates)
            assert start - max(dates) < timedelta(days=366)
        else:
            start = max(changes)
        until = add_years(start, rule.years)
        assert found.kinds[kind]["until"] == until.isoformat()
        assert found.until >= until
    assert found.until.isoformat() == max(k["until"] for k in found.kinds.values())
