"""What ``test_time_zones.py`` compares with the source: FEC dates, retain-until dates,
Factur-X XML and PDF dates, and the archive browser's dates (in Chromium, in each zone)."""

from __future__ import annotations

import json
import re
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pikepdf
import pytest

from exporters.base import DATE
from offboard.retention import Policy
from tests.offboard import zones as z

_NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}
_DATA = re.compile(rb'<script type="application/json" id="offboard-data">(.*?)</script>', re.S)
CHROMIUM = Path("/usr/bin/chromium")


def _ymd(value: Any) -> str:
    return "" if value is None else str(value).replace("-", "")


def _table(name: str) -> tuple[Any, dict[str, int]]:
    for cls in z.exporters():
        for table in cls.tables:
            if table.name == name:
                return table, {c: i for i, c in enumerate(table.column_names)}
    raise KeyError(name)


def check_fec(files: dict[str, bytes], db: Path, account: str, given: dict[Any, Any]) -> int:
    """Each FEC line's dates are its entry's (in the FEC's order: validation order); the files
    are named by their years' closing dates. Returns the lines compared."""
    years, y = _table("accounting_fiscal_years")
    entries, e = _table("accounting_entries")
    rows = z.source_rows(db, entries.query, account)
    fecs = {n: d for n, d in files.items() if n.startswith("a/data/accounting/")}
    closed = [r for r in z.source_rows(db, years.query, account) if r[y["status"]] == "closed"]
    expected = {f"a/data/accounting/{r[y['siren']]}FEC{_ymd(r[y['end_date']])}.txt" for r in closed}
    assert set(fecs) == expected and expected
    seen: dict[str, set[str]] = {"EcritureDate": set(), "DateLet": set()}
    compared = 0
    for year in closed:
        name = f"a/data/accounting/{year[y['siren']]}FEC{_ymd(year[y['end_date']])}.txt"
        lines = fecs[name].decode("utf-8").split("\r\n")
        header = lines[0].split("\t")
        got = [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:] if line]
        want = [r for r in rows if r[e["fiscal_year_id"]] == year[y["id"]]]
        assert len(got) == len(want), name
        for line, row in zip(got, want, strict=True):
            assert (line["JournalCode"], line["EcritureNum"]) == (
                row[e["journal_code"]],
                row[e["entry_number"]],
            )
            for field, column in (
                ("EcritureDate", "entry_date"),
                ("PieceDate", "piece_date"),
                ("DateLet", "lettered_on"),
                ("ValidDate", "validated_on"),
            ):
                assert line[field] == _ymd(row[e[column]]), (name, row[e["id"]], field)
            seen["EcritureDate"].add(line["EcritureDate"])
            seen["DateLet"].add(line["DateLet"])
            compared += 1
    assert {_ymd(d) for d in given[("accounting_entries", "entry_date")]} <= seen["EcritureDate"]
    assert {_ymd(d) for d in given[("accounting_entries", "lettered_on")]} <= seen["DateLet"]
    return compared


def check_retention(meta: dict[str, Any], info: dict[str, str], db: Path, account: str) -> None:
    """The retain-until date of every kind, made here from the source's own dates (the latest
    date of its tables, or its latest change's UTC day) and the default policy's rules."""
    policy = Policy.default_policy()
    assert policy.fiscal_year_end == "12-31"
    latest: dict[str, dict[str, str]] = {}
    days: list[str] = []
    for cls in z.exporters():
        for table in cls.tables:
            rows = z.source_rows(db, table.query, account)
            if not rows:
                continue
            seen = latest.setdefault(cls.name, {})
            names = table.column_names
            dates = [
                r[i] for r in rows for i, c in enumerate(table.columns) if c.type == DATE and r[i]
            ]
            days += dates
            if dates:
                seen["date"] = max([seen.get("date", ""), *dates])
            change = next((c for c in ("updated_at", "created_at") if c in names), None)
            if change is not None:
                stamps = [r[names.index(change)] for r in rows if r[names.index(change)]]
                seen["change"] = max([seen.get("change", ""), *(s[:10] for s in stamps)])
    until = {}
    for kind, seen in latest.items():
        rule = policy.rule(kind)
        if rule.after == "fiscal-year-end":
            start = f"{(seen.get('date') or seen['change'])[:4]}-12-31"
        else:
            start = seen.get("change") or seen["date"]
        year = int(start[:4]) + rule.years
        end = start[5:] if start[5:] != "02-29" or year % 4 == 0 else "02-28"
        until[kind] = (start, f"{year:04d}-{end}")
    got = {k: (v["from"], v["until"]) for k, v in meta["retention"]["kinds"].items()}
    assert got == until
    # the edges of the edge database: a day's slip would move each of these
    assert until["quotes"] == ("2026-12-31", "2031-12-31")
    assert until["sales_invoices"] == ("2027-12-31", "2037-12-31")
    assert until["contacts"] == ("2026-12-31", "2029-12-31")
    assert until["catalogue"] == ("2026-11-01", "2026-11-01")
    retain = max(u for _, u in until.values())
    assert meta["retention"]["retain_until"] == info["Offboard-Retain-Until"] == retain
    assert info["Offboard-Records-Period"] == f"{min(days)}/{max(days)}"


def check_invoice_dates(out: Path, db: Path, account: str) -> int:
    """The Factur-X XML's issue, delivery and due dates are the invoice's; each sales invoice
    PDF is dated by its record's UTC creation time, the other demo PDFs by a fixed UTC one.
    Returns the documents checked."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = {
        r[0]: r[1:]
        for r in con.execute(
            "SELECT number, issue_date, due_date, created_at FROM invoices WHERE account_id = ?",
            (account,),
        )
    }
    con.close()
    checked = 0
    folder = out / "documents" / "sales_invoices"
    for xml in sorted(folder.glob("*.xml")):
        root = ET.fromstring(xml.read_bytes())
        number = root.findtext("rsm:ExchangedDocument/ram:ID", namespaces=_NS)
        assert number is not None
        issue, due, created = rows[number]

        def day(path: str, root: ET.Element = root) -> str | None:
            return root.findtext(f".//{path}/udt:DateTimeString[@format='102']", namespaces=_NS)

        assert day("ram:IssueDateTime") == _ymd(issue), number
        assert day("ram:OccurrenceDateTime") == _ymd(issue), number
        assert day("ram:DueDateDateTime") == _ymd(due), number
        when = f"D:{re.sub('[^0-9]', '', created)}+00'00'"
        assert _pdf_dates(xml.with_suffix(".pdf")) == {when}, number
        checked += 1
    for kind in ("quotes", "billing_history"):  # reportlab's fixed date (invariant=1), in UTC
        for pdf in sorted((out / "documents" / kind).glob("*.pdf")):
            assert _pdf_dates(pdf) == {"D:20000101000000+00'00'"}, pdf.name
            checked += 1
    return checked


def _pdf_dates(path: Path) -> set[str]:
    with pikepdf.open(path) as pdf:
        return {str(pdf.docinfo[k]) for k in ("/CreationDate", "/ModDate")}


def browser_data(html: bytes) -> dict[str, Any]:
    found = _DATA.search(html)
    assert found is not None
    data: dict[str, Any] = json.loads(found[1])
    return data


def source_document_dates(db: Path, account: str) -> dict[tuple[str, str], str]:
    """(kind, number): date of every document of the source, by its exporter's query."""
    dates = {}
    for cls in z.exporters():
        if cls.documents is not None:
            for row in z.source_rows(db, cls.documents.query, account):
                dates[(cls.documents.kind, str(row[1]))] = str(row[2])
    return dates


def shown_in_chromium(index: Path, zones: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """What the archive browser shows in Chromium set to each zone: the zone it runs in, the
    export time, and the (number, date) of the documents on its first page."""
    if not CHROMIUM.is_file():
        pytest.fail(f"Chromium is not installed ({CHROMIUM}): run `make test`, which installs it")
    from playwright.sync_api import sync_playwright

    shown = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            for tz in zones:
                context = browser.new_context(timezone_id=tz)
                page = context.new_page()
                page.route(
                    "**/*",
                    lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort(),
                )
                page.goto(index.as_uri())
                page.wait_for_selector("body[data-ready]")
                shown[tz] = {
                    "zone": page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone"),
                    "created": page.text_content("#created"),
                    "rows": page.eval_on_selector_all(
                        "#documents-table tbody tr",
                        "rows => rows.map(r => [r.cells[0].textContent, r.cells[2].textContent])",
                    ),
                }
                context.close()
        finally:
            browser.close()
    return shown
