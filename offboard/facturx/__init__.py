"""Factur-X: the CII XML invoice a PDF/A-3 invoice carries, extracted and checked.

A Factur-X invoice is a PDF/A-3 file with an attachment ``factur-x.xml``: the invoice as UN/CEFACT
Cross Industry Invoice (CII) XML, in one of five profiles (MINIMUM, BASIC WL, BASIC, EN 16931,
EXTENDED). offboard never trusts the PDF it reads:

* :mod:`offboard.facturx.attachment` finds the attachment in a PDF opened with qpdf, bounded in
  every way (name-tree depth and size, attachment size, decompressed size, filters);
* :mod:`offboard.facturx.xml` parses it with lxml refusing any DTD or entity declaration
  (XXE, billion laughs), without network access, ``huge_tree`` off, after a count of its
  elements; validates it against the XSD of its profile (the XSD files the ``factur-x``
  package ships, compiled once per process) and reads the values checked against the
  invoice's CSV row: number, issue date, type, currency, net, VAT and gross totals;
* :mod:`offboard.facturx.rows` reads those CSV rows back, exactly (decimals as text);
* :mod:`offboard.facturx.checks` puts it together: one :class:`~offboard.facturx.checks.Finding`
  per document, with the issues found (stable codes, so that a verifier compares them).

The same code runs in the export (``exporters`` / :mod:`offboard.documents`) and in ``offboard
verify``'s document worker. See ``docs/facturx.md``.
"""

from __future__ import annotations

#: the attachment names read as the Factur-X XML (ZUGFeRD 2.0 used the second)
ATTACHMENT_NAMES = ("factur-x.xml", "zugferd-invoice.xml")
#: largest attachment accepted, compressed in the PDF or not (a large CII invoice of a few
#: thousand lines is well under 1 MB)
MAX_XML_BYTES = 4 * 1024 * 1024
#: most elements (counted as ``<``) an accepted XML may hold: bounds the parsed tree's memory
MAX_XML_ELEMENTS = 100_000
#: what an exporter's document set says about Factur-X (``--factur-x`` overrides it)
REQUIRED, OPTIONAL, OFF = "required", "optional", "off"
POLICIES = (REQUIRED, OPTIONAL, OFF)
