"""Retention policies: how long an archive must be kept, from what it holds.

A policy (TOML, ``fr.toml`` beside this module is the default) gives each record kind a
number of years after a starting point: the end of the fiscal year of the kind's latest date,
or its last activity. An archive's *retain-until* date is the latest of its kinds' dates. It is
computed from ``offboard.json``'s tables alone (each table's period and last change), so
``offboard verify`` recomputes it; it is written in ``bag-info.txt``
(``Offboard-Retain-Until``) and ``offboard.json`` (``retention``, with the policy itself), used
as the S3 Object Lock date when ``--lock`` is given without ``--retain-until``, and honoured by
``offboard prune``, which never deletes an archive before it.

The public API: :class:`Policy` (:meth:`Policy.default_policy`, :meth:`Policy.load`,
:meth:`Policy.from_dict`), :func:`retain_until` and :class:`Retention`.
"""

from __future__ import annotations

import calendar
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date
from importlib.resources import files
from pathlib import Path
from typing import Any

from offboard.errors import ConfigError

__all__ = ["AFTER", "Policy", "Retention", "Rule", "default_text", "retain_until"]

AFTER = ("fiscal-year-end", "last-activity")
FORMAT = 1
#: the most years a rule may give (a typo of 100 years would lock an archive for a century)
MAX_YEARS = 50
_MMDD = re.compile(r"(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])")
_KIND = re.compile(r"[a-z][a-z0-9_]{0,63}")


@dataclass(frozen=True)
class Rule:
    years: int
    after: str
    basis: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"years": self.years, "after": self.after, "basis": self.basis}


@dataclass(frozen=True)
class Policy:
    name: str
    fiscal_year_end: str
    default: Rule
    kinds: dict[str, Rule] = field(default_factory=dict)
    description: str = ""

    @classmethod
    def default_policy(cls) -> Policy:
        return cls.from_toml(default_text(), "the default policy (offboard/retention/fr.toml)")

    @classmethod
    def load(cls, path: Path) -> Policy:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            why = getattr(exc, "strerror", None) or exc
            raise ConfigError(f"retention policy {path}: cannot be read: {why}") from None
        return cls.from_toml(text, str(path))

    @classmethod
    def from_toml(cls, text: str, where: str) -> Policy:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{where}: not valid TOML: {exc}") from None
        section = data.get("retention")
        if not isinstance(section, dict):
            raise ConfigError(f"{where}: no [retention] section")
        return cls.from_dict(section, where)

    @classmethod
    def from_dict(cls, section: dict[str, Any], where: str = "retention policy") -> Policy:
        """A policy from its ``[retention]`` table (or from ``offboard.json``'s copy)."""
        known = {"format", "name", "description", "fiscal_year_end", "default", "kinds"}
        unknown = sorted(set(section) - known)
        if unknown:
            raise ConfigError(f"{where}: unknown key retention.{unknown[0]}")
        if section.get("format") != FORMAT:
            raise ConfigError(f"{where}: retention.format must be {FORMAT}")
        name = section.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{where}: retention.name must be a text")
        end = section.get("fiscal_year_end", "12-31")
        if not isinstance(end, str) or not _MMDD.fullmatch(end) or not _valid_mmdd(end):
            raise ConfigError(f"{where}: retention.fiscal_year_end {end!r}: give MM-DD")
        kinds_section = section.get("kinds", {})
        if not isinstance(kinds_section, dict):
            raise ConfigError(f"{where}: retention.kinds must be a table")
        kinds = {}
        for kind, rule in sorted(kinds_section.items()):
            if not _KIND.fullmatch(kind):
                raise ConfigError(f"{where}: retention.kinds.{kind}: not a kind name")
            kinds[kind] = _rule(rule, f"{where}: retention.kinds.{kind}")
        description = section.get("description", "")
        if not isinstance(description, str):
            raise ConfigError(f"{where}: retention.description must be a text")
        default = _rule(
            section.get("default", {"years": 0, "after": "last-activity"}),
            f"{where}: retention.default",
        )
        return cls(name.strip(), end, default, kinds, description)

    def rule(self, kind: str) -> Rule:
        return self.kinds.get(kind, self.default)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "name": self.name,
            "description": self.description,
            "fiscal_year_end": self.fiscal_year_end,
            "default": self.default.to_dict(),
            "kinds": {k: r.to_dict() for k, r in sorted(self.kinds.items())},
        }


def _valid_mmdd(text: str) -> bool:
    month, day = int(text[:2]), int(text[3:])
    return day <= (29 if month == 2 else calendar.monthrange(2001, month)[1])


def _rule(value: Any, where: str) -> Rule:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: must be a table with years and after")
    unknown = sorted(set(value) - {"years", "after", "basis"})
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]}")
    years = value.get("years")
    if not isinstance(years, int) or isinstance(years, bool) or not 0 <= years <= MAX_YEARS:
        raise ConfigError(f"{where}.years: a whole number of years from 0 to {MAX_YEARS}")
    after = value.get("after")
    if after not in AFTER:
        raise ConfigError(f"{where}.after: one of {', '.join(AFTER)}")
    basis = value.get("basis", "")
    if not isinstance(basis, str):
        raise ConfigError(f"{where}.basis must be a text")
    return Rule(years, after, basis)


def default_text() -> str:
    return files("offboard.retention").joinpath("fr.toml").read_text(encoding="utf-8")


@dataclass(frozen=True)
class Retention:
    """An archive's retain-until date (None: nothing to keep) and each kind's."""

    until: date | None
    kinds: dict[str, dict[str, Any]]
    policy: Policy

    def to_dict(self) -> dict[str, Any]:
        return {
            "retain_until": None if self.until is None else self.until.isoformat(),
            "kinds": self.kinds,
            "policy": self.policy.to_dict(),
        }


def fiscal_year_end(day: date, mmdd: str) -> date:
    """The last day of the fiscal year (ending each year on ``mmdd``) that holds ``day``."""
    end = _on(day.year, mmdd)
    return end if day <= end else _on(day.year + 1, mmdd)


def add_years(day: date, years: int) -> date:
    """``day`` ``years`` later (29 February becomes 28 February in a common year)."""
    year = day.year + years
    return day.replace(year=year, day=min(day.day, calendar.monthrange(year, day.month)[1]))


def _on(year: int, mmdd: str) -> date:
    month, day = int(mmdd[:2]), int(mmdd[3:])
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def retain_until(policy: Policy, tables: list[dict[str, Any]]) -> Retention:
    """The retention of an archive whose ``offboard.json`` lists ``tables`` (each with
    ``kind``, ``period`` ``[from, to]`` or None, ``last_change`` or None, ``records``)."""
    latest: dict[str, dict[str, date]] = {}
    for table in tables:
        if not table.get("records"):
            continue
        seen = latest.setdefault(str(table["kind"]), {})
        period = table.get("period")
        if period:
            _later(seen, "date", date.fromisoformat(str(period[1])))
        change = table.get("last_change")
        if change:
            _later(seen, "change", date.fromisoformat(str(change)[:10]))
    kinds: dict[str, dict[str, Any]] = {}
    for kind, seen in sorted(latest.items()):
        rule = policy.rule(kind)
        if rule.after == "fiscal-year-end":
            start = seen.get("date") or seen.get("change")
            assert start is not None
            start = fiscal_year_end(start, policy.fiscal_year_end)
        else:
            start = seen.get("change") or seen.get("date")
            assert start is not None
        kinds[kind] = {
            "until": add_years(start, rule.years).isoformat(),
            "from": start.isoformat(),
            **rule.to_dict(),
        }
    until = max((date.fromisoformat(k["until"]) for k in kinds.values()), default=None)
    return Retention(until, kinds, policy)


def _later(seen: dict[str, date], key: str, value: date) -> None:
    if key not in seen or value > seen[key]:
        seen[key] = value
