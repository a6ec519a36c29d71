"""The Factur-X checks of ``offboard verify``: each invoice's XML, against its PDF, its CSV row
and what ``offboard.json`` records.

A document of ``offboard.json`` with a ``facturx`` entry (see docs/facturx.md) is checked three
ways, every problem collected:

* in the document lane (:func:`check_pdf`, in the worker process that already opens the
  PDFs): the PDF's attachment is extracted again, under the export's bounds, and checked again
  (refused constructs, XSD of its profile); its SHA-256, profile and values must be those
  recorded, and the issues found with it (none, for a valid XML) those recorded;
* against the manifests (:func:`check_files`): the XML file beside the PDF is listed, in
  whichever part, with the SHA-256 recorded for the attachment, so the file in the archive is
  byte for byte the copy inside the PDF (the file's own bytes are hashed like any payload
  file's);
* against the CSV file (:func:`check_rows`): the recorded values against the invoice's row of
  ``csv/sales_invoices.csv``, read back from the archive, exact decimals; the differences must
  be the ones recorded.

An XML found invalid where ``offboard.json`` records none is ``facturx-invalid``; any other
difference is ``facturx-mismatch``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from manifests import problems as P

#: the members of a ``facturx`` entry (text or null)
_TEXT = ("xml", "sha256", "profile", "checked", "issues")


def entry_problem(entry: Any) -> str | None:
    """Why ``entry`` is not a ``facturx`` entry this verifier reads (None: it is one)."""
    from offboard.facturx.checks import unpack_values

    if not isinstance(entry, dict):
        return "not an object"
    for key in _TEXT:
        if entry.get(key) is not None and not isinstance(entry.get(key), str):
            return f"{key} is not text"
    if entry.get("checked") is not None and unpack_values(entry["checked"]) is None:
        return "checked is not number|issue_date|type_code|currency|net|vat|gross"
    return None


def check_pdf(rel: str, pdf: Any, entry: dict[str, Any]) -> list[P.Problem]:
    """The problems of the Factur-X of the PDF ``rel`` (opened with qpdf as ``pdf``)."""
    from offboard.facturx.checks import XML_CODES, inspect, issues_of, unpack_values

    finding = inspect(pdf, required=True)
    out: list[P.Problem] = []
    found = {i.code for i in finding.issues}
    recorded = issues_of(entry) & XML_CODES
    for issue in finding.issues:
        if issue.code not in recorded:
            out.append(
                P.FacturxInvalid(
                    rel,
                    f"factur-x: {issue.reason}",
                    expected="a valid Factur-X XML",
                    found=issue.code,
                )
            )
    for code in sorted(recorded - found):
        out.append(
            P.FacturxMismatch(
                rel, "factur-x: offboard.json records an issue the XML does not have", code, None
            )
        )
    if finding.sha256 is not None and finding.sha256 != entry.get("sha256"):
        out.append(
            P.FacturxMismatch(
                rel,
                "factur-x: the PDF's embedded XML is not the one offboard.json records",
                entry.get("sha256"),
                finding.sha256,
            )
        )
    if finding.values is not None:
        if finding.profile != entry.get("profile"):
            out.append(
                P.FacturxMismatch(
                    rel, "factur-x: profile differs", entry.get("profile"), finding.profile
                )
            )
        checked = unpack_values(entry.get("checked")) or {}
        for key, value in finding.values.items():
            if checked.get(key) != value:
                out.append(
                    P.FacturxMismatch(
                        rel,
                        f"factur-x: {key} differs from offboard.json",
                        checked.get(key),
                        value,
                    )
                )
    return out


def check_files(
    documents: Iterable[dict[str, Any]], manifest: dict[str, str], *, parts_missing: bool = False
) -> list[P.Problem]:
    """Each recorded XML file is in the archive's manifests with the attachment's SHA-256
    (``parts_missing``: a file not found may be in a part that is absent, already reported)."""
    out: list[P.Problem] = []
    for doc in documents:
        entry = doc.get("facturx")
        if entry is None:
            continue
        why = entry_problem(entry)
        if why is not None:
            out.append(P.TagFileSyntax("offboard.json", f"{doc.get('path')}: facturx {why}"))
            continue
        xml = entry.get("xml")
        if xml is None:
            continue
        listed = manifest.get(xml)
        if listed is None and parts_missing:
            continue
        if listed is None:
            out.append(
                P.FacturxInvalid(
                    xml, "factur-x: the XML file offboard.json records is not in the archive"
                )
            )
        elif listed != entry.get("sha256"):
            out.append(
                P.FacturxMismatch(
                    xml,
                    "factur-x: the XML file is not the copy embedded in its PDF",
                    entry.get("sha256"),
                    listed,
                )
            )
    return out


def check_rows(
    documents: Iterable[dict[str, Any]],
    chunks: Iterable[bytes] | None,
    csv: dict[str, Any],
    table_path: str,
) -> list[P.Problem]:
    """The recorded values of ``documents`` against their rows of the CSV ``table_path``
    (streamed as ``chunks``; None when the archive does not hold it)."""
    from offboard.facturx.checks import XML_CODES, issues_of
    from offboard.facturx.rows import row_issues

    checked = {
        str(d.get("record_id")): d
        for d in documents
        if isinstance(d.get("facturx"), dict)
        and entry_problem(d["facturx"]) is None
        and d["facturx"].get("checked")
    }
    if not checked:
        return []
    if chunks is None:
        return [
            P.FacturxMismatch(
                table_path, "factur-x: the CSV file the invoices' XML is checked against is absent"
            )
        ]
    try:
        differences = row_issues(
            chunks, csv, {i: d["facturx"]["checked"] for i, d in checked.items()}
        )
    except ValueError as exc:
        return [P.FacturxMismatch(table_path, f"factur-x: cannot read the rows: {exc}")]
    out: list[P.Problem] = []
    for record_id, doc in checked.items():
        entry = doc["facturx"]
        issues = differences.get(record_id, [])
        recorded = issues_of(entry) - XML_CODES
        found = {i.code for i in issues}
        for issue in issues:
            if issue.code not in recorded:
                out.append(
                    P.FacturxMismatch(
                        doc.get("path", ""),
                        f"factur-x: {issue.reason}",
                        expected="the XML's values in its CSV row",
                        found=issue.code,
                    )
                )
        for code in sorted(recorded - found):
            out.append(
                P.FacturxMismatch(
                    doc.get("path", ""),
                    "factur-x: offboard.json records a difference the CSV row does not have",
                    code,
                    None,
                )
            )
    return out
