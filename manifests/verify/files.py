"""The files an exporter wrote of its own (``offboard.json`` ``files``): a FEC is checked again.

A FEC member is read once, on the table lane (:mod:`manifests.verify.tables`), as the CSV files
are: hashed, and fed to :class:`offboard.accounting.fec_check.FecChecker`, which reports every
rule it breaks by line; its figures (lines, entries, total debit and credit, encoding, SIREN,
closing date) are compared with the facts ``offboard.json`` records. So a FEC changed and
re-signed, which no checksum can catch, is still reported (``fec-invalid``).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from manifests import problems as P

if TYPE_CHECKING:
    from manifests.zipfmt import ZipEntry
    from manifests.zipfmt.reader import MemberData

#: problems listed per FEC file; the rest are counted in one more problem
MAX_LISTED = 100


def is_fec(spec: dict[str, Any]) -> bool:
    return spec.get("kind") == "fec"


def file_specs(meta: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``offboard.json``'s ``files`` by path (none when the section is malformed: see
    :func:`file_problems`); each has ``facts``, which tells them from the tables."""
    if file_problems(meta):
        return {}
    return {f["path"]: {**f, "facts": f.get("facts", {})} for f in meta.get("files", [])}


def file_problems(meta: dict[str, Any]) -> list[str]:
    """What keeps ``offboard.json``'s ``files`` section from being read (absent: none)."""
    files = meta.get("files", [])
    if not isinstance(files, list):
        return ["'files' is not a list"]
    out = []
    for i, f in enumerate(files):
        if not (
            isinstance(f, dict)
            and isinstance(f.get("path"), str)
            and isinstance(f.get("kind"), str)
            and isinstance(f.get("bytes"), int)
            and isinstance(f.get("sha256"), str)
            and isinstance(f.get("facts", {}), dict)
        ):
            out.append(f"files[{i}] malformed")
    return out


def check_fec(
    out: list[P.Problem],
    reader: MemberData,
    entry: ZipEntry,
    rel: str,
    spec: dict[str, Any],
) -> str | None:
    """Check the FEC member ``entry`` (``rel`` in the bag) against the rules and ``spec`` (its
    ``offboard.json`` entry); append the problems to ``out``; its SHA-256 (None if its data is
    corrupt)."""
    import hashlib

    from manifests.zipfmt import CorruptDataError
    from offboard.accounting.fec_check import FecChecker
    from offboard.accounting.fec_format import money_text

    facts = spec.get("facts") or {}
    encoding = facts.get("encoding")
    start = None
    year = facts.get("fiscal_year")
    if isinstance(year, dict) and isinstance(year.get("start"), str):
        try:
            start = date.fromisoformat(year["start"])
        except ValueError:
            out.append(P.FecInvalid(rel, "offboard.json: fiscal_year.start is not a date"))
    if encoding not in ("utf-8", "iso-8859-15"):
        out.append(
            P.FecInvalid(
                rel,
                "offboard.json: unknown FEC encoding",
                expected="utf-8 or iso-8859-15",
                found=str(encoding),
            )
        )
        encoding = None
    checker = FecChecker(
        rel.rsplit("/", 1)[-1], encoding=encoding, start=start, max_problems=MAX_LISTED
    )
    sha = hashlib.sha256()
    try:
        for chunk in reader.iter_data(entry):
            sha.update(chunk)
            checker.feed(chunk)
    except CorruptDataError as exc:
        out.append(exc.problem)
        return None
    report = checker.finish()
    for p in report.problems:
        where = "" if p.line is None else f"line {p.line}: "
        out.append(P.FecInvalid(rel, f"{where}{p.rule}: {p.message}"))
    if report.unlisted:
        out.append(P.FecInvalid(rel, f"and {report.unlisted:,} more problem(s) not listed"))
    found = {
        "lines": report.lines,
        "entries": report.entries,
        "debit": money_text(report.debit),
        "credit": money_text(report.credit),
        "siren": report.siren,
    }
    if isinstance(year, dict):
        found["fiscal_year.end"] = report.closing_date
    for name, value in found.items():
        if name == "fiscal_year.end":
            want = year.get("end") if isinstance(year, dict) else None
        else:
            want = facts.get(name)
        if want is not None and want != value:
            out.append(
                P.FecInvalid(
                    rel,
                    f"{name} differs from offboard.json",
                    expected=str(want),
                    found=str(value),
                )
            )
    if spec.get("records") is not None and spec["records"] != report.lines:
        out.append(
            P.FecInvalid(
                rel,
                "line count differs from offboard.json's records",
                expected=str(spec["records"]),
                found=str(report.lines),
            )
        )
    return sha.hexdigest()
