"""``bag-info.txt`` against the payload present and against ``offboard.json``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from manifests import bag
from manifests import problems as P
from manifests.metadata import DATA

if TYPE_CHECKING:
    from manifests.verify.part import PartResult
    from manifests.zipfmt import ZipEntry

#: (problem class, path, detail, expected, found)
Finding = tuple[type[P.Problem], str, str, str | None, str | None]
REQUIRED_LABELS = (
    "Source-Organization",
    "External-Identifier",
    "Bagging-Date",
    "Payload-Oxum",
    "Bag-Software-Agent",
    "Offboard-Archive-Id",
    "Offboard-Created-At",
)
_COUNT = re.compile(r"([1-9][0-9]*) of ([1-9][0-9]*)")


def check_info(
    data: bytes | None,
    meta: dict[str, Any] | None,
    members: dict[str, ZipEntry],
    when: datetime | None,
    result: PartResult,
) -> Iterator[Finding]:
    if data is None:
        return
    try:
        fields = bag.parse_bag_info(data)
        values = {label: bag.info_value(fields, label) for label in {k for k, _ in fields}}
    except bag.TagError as exc:
        yield P.TagFileSyntax, bag.BAG_INFO, str(exc), None, None
        return
    result.info = fields
    for label in REQUIRED_LABELS:
        if values.get(label) is None:
            yield P.TagFileSyntax, bag.BAG_INFO, f"{label} missing", label, None
    payload = [e for rel, e in members.items() if rel.startswith(f"{DATA}/")]
    result.files = len(payload)
    result.bytes = sum(e.size for e in payload)
    found_oxum = bag.payload_oxum(e.size for e in payload)
    oxum = values.get("Payload-Oxum")
    if oxum is not None and oxum != found_oxum:
        yield P.OxumMismatch, bag.BAG_INFO, "payload octets.files differ", oxum, found_oxum
    yield from _count(values, meta, result)
    if meta is None:
        return
    pairs = (
        ("External-Identifier", meta["account"]["id"]),
        ("Offboard-Archive-Id", meta["archive_id"]),
        ("Offboard-Created-At", meta["created_at"]),
        ("Bagging-Date", meta["created_at"][:10]),
    )
    for label, want in pairs:
        got = values.get(label)
        if got is not None and got != want:
            yield (
                P.MetadataMismatch,
                bag.BAG_INFO,
                f"{label} disagrees with offboard.json",
                want,
                got,
            )
    yield from _retention(values, meta)
    if when is not None:
        stamp = meta["created_at"]
        created = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")
        created = created.replace(second=created.second - created.second % 2)
        if when != created:
            yield (
                P.NonCanonical,
                "",
                "member times differ from the archive's creation time",
                created.isoformat(),
                when.isoformat(),
            )


def _retention(values: dict[str, str | None], meta: dict[str, Any]) -> Iterator[Finding]:
    """The retain-until date, recomputed from the archive's own tables and policy, must be
    the one ``offboard.json`` and ``bag-info.txt`` give (archives before policies have none)."""
    section = meta.get("retention")
    label = values.get("Offboard-Retain-Until")
    if section is None:
        if label is not None:
            yield (
                P.RetentionMismatch,
                bag.BAG_INFO,
                "a retain-until date without a policy",
                None,
                label,
            )
        return
    from offboard.errors import ConfigError
    from offboard.retention import Policy, retain_until

    try:
        if not isinstance(section, dict) or not isinstance(section.get("policy"), dict):
            raise ConfigError("no policy")
        policy = Policy.from_dict(section["policy"], "offboard.json retention.policy")
        _dated(meta["tables"])
        again = retain_until(policy, meta["tables"])
    except (ConfigError, LookupError, TypeError, ValueError) as exc:
        yield (
            P.RetentionMismatch,
            bag.METADATA,
            f"retention cannot be recomputed: {exc}",
            None,
            None,
        )
        return
    want = None if again.until is None else again.until.isoformat()
    if section.get("retain_until") != want or section.get("kinds") != again.kinds:
        yield (
            P.RetentionMismatch,
            bag.METADATA,
            "retention is not what the archive's policy gives for its tables",
            want,
            str(section.get("retain_until")),
        )
    if label != want:
        yield (
            P.RetentionMismatch,
            bag.BAG_INFO,
            "Offboard-Retain-Until disagrees with the archive's retention",
            want,
            label,
        )


def _count(
    values: dict[str, str | None], meta: dict[str, Any] | None, result: PartResult
) -> Iterator[Finding]:
    count_text = values.get("Bag-Count")
    group = values.get("Bag-Group-Identifier")
    expected_count = meta["parts"]["count"] if meta is not None else None
    if count_text is None:
        result.number, result.count = 1, 1
        if expected_count not in (None, 1):
            yield (
                P.PartMismatch,
                bag.BAG_INFO,
                "Bag-Count missing from a part of a split archive",
                f"k of {expected_count}",
                None,
            )
        return
    match = _COUNT.fullmatch(count_text)
    if match is None or int(match[1]) > int(match[2]):
        yield P.TagFileSyntax, bag.BAG_INFO, "Bag-Count is not 'N of T'", "N of T", count_text
        return
    result.number, result.count = int(match[1]), int(match[2])
    if expected_count is not None and result.count != expected_count:
        yield (
            P.PartMismatch,
            bag.BAG_INFO,
            "Bag-Count total disagrees with offboard.json",
            str(expected_count),
            str(result.count),
        )
    if meta is not None and group != meta["archive_id"]:
        yield (
            P.PartMismatch,
            bag.BAG_INFO,
            "Bag-Group-Identifier is not the archive id",
            meta["archive_id"],
            group,
        )


def _dated(tables: list[Any]) -> None:
    """:class:`ValueError` if a kind has records but no table of it a date to count from (an
    export always has one: the policy's computation takes it for granted)."""
    dated: dict[str, bool] = {}
    for table in tables:
        if table.get("records"):
            kind = str(table["kind"])
            when = bool(table.get("period") or table.get("last_change"))
            dated[kind] = dated.get(kind, False) or when
    undated = sorted(kind for kind, ok in dated.items() if not ok)
    if undated:
        raise ValueError(f"kind {undated[0]!r} has records but neither a period nor a last change")
