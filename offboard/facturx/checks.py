"""One PDF's Factur-X: its XML found, checked and compared with the invoice's CSV row.

An :class:`Issue` has a stable ``code`` (what ``offboard.json`` records and ``offboard verify``
compares) and a ``reason`` (what the export's problem list says):

========================  =======================================================
code                      reason (after ``factur-x:``)
========================  =======================================================
``no-xml``                no XML attachment (only when Factur-X is required)
``unreadable``            the attachment cannot be read (filter, corrupt stream...)
``too-large``             the attachment or its XML is past the bounds
``refused``               a DTD or entity declarations, or not UTF-8
``malformed``             not well-formed XML
``not-cii``               not a CII invoice, or an unknown profile
``xsd``                   not valid against its profile's XSD
``no-row``                no CSV row for the invoice
``number-mismatch``       the XML's number is not the row's
``date-mismatch``         the XML's issue date is not the row's
``type-mismatch``         an invoice in the XML and a credit note in the row, or back
``currency-mismatch``     the XML's currency is not the row's
``total-mismatch``        net, VAT or gross total differs from the row's (exact decimals)
========================  =======================================================
"""

from __future__ import annotations

import hashlib
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from offboard.facturx import MAX_XML_BYTES
from offboard.facturx.attachment import AttachmentError, find_xml
from offboard.facturx.xml import CREDIT_NOTE_TYPES, FIELDS, XmlIssue, read

#: the CSV columns a row is compared on, and the XML value each is compared with
ROW_COLUMNS = {
    "number": "number",
    "issue_date": "issue_date",
    "currency": "currency",
    "total_ht": "net",
    "total_vat": "vat",
    "total_ttc": "gross",
}
#: the row's column that says invoice or credit note, and its credit-note value
KIND_COLUMN, CREDIT_NOTE = "kind", "credit_note"
#: the codes of issues with the XML itself (the others compare it with the CSV row)
XML_CODES = frozenset(
    {"no-xml", "unreadable", "too-large", "refused", "malformed", "not-cii", "xsd"}
)


class Issue(NamedTuple):
    code: str
    reason: str

    @property
    def problem(self) -> str:
        """The reason as a document problem of the export lists it."""
        return f"factur-x: {self.reason}"


class Finding(NamedTuple):
    """What one PDF's Factur-X is."""

    #: the attachment's bytes (None when there is none, or it could not be read)
    xml: bytes | None
    sha256: str | None
    #: its profile and values (None unless the XML is valid against its XSD)
    profile: str | None
    values: dict[str, str | None] | None
    issues: list[Issue]

    @property
    def keeps_xml(self) -> bool:
        """Whether the XML is written out beside its PDF: it was read whole and is XML that
        was parsed safely (an XML refused or past the bounds is not copied out)."""
        return self.xml is not None and not any(
            i.code in ("refused", "too-large", "unreadable") for i in self.issues
        )


def inspect(pdf: Any, *, required: bool, limit: int = MAX_XML_BYTES) -> Finding:
    """The Factur-X of ``pdf`` (a ``pikepdf.Pdf``): never raises for a hostile PDF."""
    try:
        found = find_xml(pdf, limit)
    except AttachmentError as exc:
        return Finding(None, None, None, None, [Issue(exc.code, exc.reason)])
    if found is None:
        issues = [Issue("no-xml", "no XML attachment (factur-x.xml)")] if required else []
        return Finding(None, None, None, None, issues)
    return inspect_xml(found.data)


def inspect_xml(data: bytes) -> Finding:
    """The Factur-X finding of the XML ``data`` (an attachment's bytes)."""
    digest = hashlib.sha256(data).hexdigest()
    try:
        invoice = read(data)
    except XmlIssue as exc:
        return Finding(data, digest, None, None, [Issue(exc.code, exc.reason)])
    except Exception as exc:  # lxml on hostile bytes: whatever it raises is a finding
        reason = f"invalid XML: {type(exc).__name__}: {str(exc)[:160]}"
        return Finding(data, digest, None, None, [Issue("malformed", reason)])
    return Finding(data, digest, invoice.profile, invoice.values, [])


def compare_row(values: dict[str, Any], row: dict[str, str | None] | None) -> list[Issue]:
    """The issues of an XML's ``values`` against its invoice's CSV ``row`` (None: no row).

    Amounts are compared as exact decimals; a credit note's amounts are positive in the XML
    (its type code says it is a credit note) and negative in the row.
    """
    if row is None:
        return [Issue("no-row", "no CSV row for this invoice")]
    out: list[Issue] = []
    credit = values.get("type_code") in CREDIT_NOTE_TYPES
    kind = row.get(KIND_COLUMN)
    if kind is not None and (kind == CREDIT_NOTE) != credit:
        out.append(
            Issue(
                "type-mismatch",
                f"type mismatch: XML type code {values.get('type_code')}, CSV kind {kind}",
            )
        )
    totals = []
    for column, field in ROW_COLUMNS.items():
        if column not in row:
            continue
        want, got = row[column], values.get(field)
        if field in ("net", "vat", "gross"):
            if not _same_amount(got, want, -1 if credit else 1):
                totals.append(f"{column} XML {got}, CSV {want}")
        elif (got or "") != (want or ""):
            code = {"number": "number", "issue_date": "date", "currency": "currency"}[column]
            out.append(Issue(f"{code}-mismatch", f"{code} mismatch: XML {got!r}, CSV {want!r}"))
    if totals:
        out.append(Issue("total-mismatch", "total mismatch: " + "; ".join(totals)))
    return out


def _same_amount(xml: Any, csv: str | None, sign: int) -> bool:
    try:
        return Decimal(str(xml)) * sign == Decimal(str(csv).replace(",", "."))
    except (InvalidOperation, ValueError):
        return False


def record(finding: Finding, xml_path: str | None) -> dict[str, Any]:
    """The ``facturx`` entry of a document in ``offboard.json`` (and the export's result).

    ``xml``: the XML file beside the PDF (export-relative) or None; ``sha256``: the
    attachment's; ``profile``; ``checked``: the values read from the XML, compared with the
    CSV row, in one text (:func:`pack_values`: an object would cost the verifier ten parsed
    values per invoice, see ``manifests.verify.bounds``); ``issues``: the codes of the issues
    found, comma-separated, left out when there are none. Absent values are null.
    """
    out: dict[str, Any] = {
        "xml": xml_path,
        "sha256": finding.sha256,
        "profile": finding.profile,
        "checked": None if finding.values is None else pack_values(finding.values),
    }
    codes = sorted({i.code for i in finding.issues})
    if codes:
        out["issues"] = ",".join(codes)
    return out


def pack_values(values: dict[str, str | None]) -> str:
    """``number|issue_date|type_code|currency|net|vat|gross`` (``%`` and ``|`` in a value
    percent-encoded; an absent value empty)."""
    return "|".join((values.get(f) or "").replace("%", "%25").replace("|", "%7C") for f in FIELDS)


def unpack_values(text: Any) -> dict[str, str | None] | None:
    """The values :func:`pack_values` packed (None if ``text`` is not such a text)."""
    if not isinstance(text, str):
        return None
    parts = text.split("|")
    if len(parts) != len(FIELDS):
        return None
    return {
        f: (v.replace("%7C", "|").replace("%25", "%") or None)
        for f, v in zip(FIELDS, parts, strict=True)
    }


def issues_of(entry: dict[str, Any]) -> set[str]:
    """The issue codes an entry records."""
    text = entry.get("issues")
    return set(text.split(",")) if isinstance(text, str) and text else set()


def add_issues(entry: dict[str, Any], codes: set[str]) -> None:
    """Record ``codes`` in ``entry`` beside those it has."""
    entry["issues"] = ",".join(sorted(issues_of(entry) | codes))
