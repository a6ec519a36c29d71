"""The shape of an ``offboard.json`` this verifier reads: what keeps a value from being one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from manifests.metadata import FORMAT, READABLE_VERSIONS


def parse_time(text: str) -> datetime:
    from datetime import UTC

    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def shape_problems(meta: Any) -> list[str]:
    """What keeps ``meta`` from being an ``offboard.json`` this verifier understands."""
    if not isinstance(meta, dict):
        return ["not a JSON object"]
    out = []
    if meta.get("format") != FORMAT:
        out.append(f"format is {meta.get('format')!r}, expected {FORMAT!r}")
    version = meta.get("format_version")
    if type(version) is not int or version not in READABLE_VERSIONS:
        out.append(
            f"format_version {version!r} is not one this verifier reads "
            f"({', '.join(map(str, READABLE_VERSIONS))})"
        )
    checks: list[tuple[str, type | tuple[type, ...]]] = [
        ("archive_id", str),
        ("created_at", str),
        ("account", dict),
        ("csv", dict),
        ("tables", list),
        ("documents", list),
        ("bundles", list),
        ("problems", list),
        ("parts", dict),
    ]
    for key, kind in checks:
        if not isinstance(meta.get(key), kind):
            out.append(f"{key!r} missing or of the wrong type")
    if out:
        return out
    try:
        parse_time(meta["created_at"])
    except ValueError:
        out.append(f"created_at {meta['created_at']!r} is not YYYY-MM-DDTHH:MM:SSZ")
    if not isinstance(meta["account"].get("id"), str):
        out.append("account.id missing")
    out.extend(_parts_problems(meta["parts"], meta["format_version"]))
    out.extend(_tables_problems(meta))
    for key in ("documents", "bundles"):
        for i, d in enumerate(meta[key]):
            if (
                not isinstance(d, dict)
                or not isinstance(d.get("path"), str)
                or not isinstance(d.get("pages"), int)
            ):
                out.append(f"{key}[{i}] malformed")
    return out[:20]


def _parts_problems(parts: dict[str, Any], version: int) -> list[str]:
    if type(parts.get("count")) is not int:
        return ["parts.count missing"]
    files = parts.get("files")
    if version == 1:
        if not isinstance(files, dict) or not all(type(n) is int for n in files.values()):
            return ["parts.files missing (a map of path to part number)"]
        return []
    if type(parts.get("number")) is not int:
        return ["parts.number missing"]
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return ["parts.files missing (this part's paths)"]
    if version >= 3 and not _contents_valid(parts.get("contents"), parts["count"]):
        return ["parts.contents missing (what each part holds: number, files, bytes, ...)"]
    return []


def _contents_valid(contents: Any, count: int) -> bool:
    """``parts.contents``: one entry per part, in order (format version 3)."""
    if not isinstance(contents, list) or len(contents) != count:
        return False
    for n, c in enumerate(contents, 1):
        if not isinstance(c, dict) or c.get("number") != n:
            return False
        if not all(type(c.get(k)) is int for k in ("files", "bytes", "documents")):
            return False
        if not all(c.get(k) is None or isinstance(c.get(k), str) for k in ("first", "last")):
            return False
    return True


def _tables_problems(meta: dict[str, Any]) -> list[str]:
    out = []
    csv = meta["csv"]
    if csv.get("delimiter") not in (",", ";") or csv.get("decimal_point") not in (".", ","):
        out.append("csv.delimiter / csv.decimal_point invalid")
    for i, t in enumerate(meta["tables"]):
        if not _table_valid(t):
            out.append(f"tables[{i}] malformed")
    return out


def _table_valid(t: Any) -> bool:
    """A ``tables[]`` entry holds what the table checks read, of the types they read."""
    if not isinstance(t, dict) or not all(
        isinstance(t.get(k), want)
        for k, want in (("path", str), ("records", int), ("columns", list), ("totals", dict))
    ):
        return False
    if not all(
        isinstance(c, dict) and isinstance(c.get("name"), str) and isinstance(c.get("type"), str)
        for c in t["columns"]
    ):
        return False
    money, currency = t.get("money_columns"), t.get("currency_column")
    if money is not None and not (
        isinstance(money, list) and all(isinstance(m, str) for m in money)
    ):
        return False
    if currency is not None and not isinstance(currency, str):
        return False
    return all(
        isinstance(by, dict) and all(_amount(a) for a in by.values()) for by in t["totals"].values()
    )


def _amount(text: Any) -> bool:
    """Whether ``text`` is a finite decimal's text (a recorded money total)."""
    from decimal import Decimal, InvalidOperation

    if not isinstance(text, str) or len(text) > 64:
        return False
    try:
        return Decimal(text).is_finite()
    except (InvalidOperation, ValueError):
        return False
