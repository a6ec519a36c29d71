"""What the document worker and its supervisor send each other beyond plain JSON values.

The supervisor reads what the worker sends as untrusted: every field is checked for its type
and its bounds before it is used.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from offboard.errors import OutputError
from offboard.facturx.checks import Finding, Issue

_MAX_REASON = 300


def finding_to_wire(finding: Finding) -> dict[str, Any]:
    """A Factur-X finding as JSON (the XML in base64)."""
    return {
        "xml": None if finding.xml is None else base64.b64encode(finding.xml).decode("ascii"),
        "profile": finding.profile,
        "values": finding.values,
        "issues": [[issue.code, issue.reason] for issue in finding.issues],
    }


def text(value: Any, default: str) -> str:
    if not isinstance(value, str) or not value:
        return default
    return value if len(value) <= _MAX_REASON else value[: _MAX_REASON - 1] + "…"


def count(value: Any) -> int:
    if type(value) is not int or value < 1:
        raise OutputError(f"the document worker gave a page count that is not one: {value!r}")
    return value


def finding_from_wire(wire: Any) -> Finding:
    """The Factur-X finding the worker sent, checked field by field."""
    from offboard.facturx import MAX_XML_BYTES
    from offboard.facturx.xml import FIELDS

    bad = OutputError("the document worker sent a Factur-X finding that is not understood")
    if not isinstance(wire, dict):
        raise bad
    xml_text, profile, values, issues = (
        wire.get("xml"),
        wire.get("profile"),
        wire.get("values"),
        wire.get("issues"),
    )
    xml = None
    if xml_text is not None:
        if not isinstance(xml_text, str) or len(xml_text) > (MAX_XML_BYTES // 3 + 1) * 4:
            raise bad
        try:
            xml = base64.b64decode(xml_text, validate=True)
        except ValueError:
            raise bad from None
    if profile is not None and (not isinstance(profile, str) or len(profile) > 200):
        raise bad
    if values is not None:
        if not isinstance(values, dict) or not set(values) <= set(FIELDS):
            raise bad
        if not all(v is None or (isinstance(v, str) and len(v) <= 1000) for v in values.values()):
            raise bad
    if not isinstance(issues, list) or not all(
        isinstance(i, list) and len(i) == 2 and all(isinstance(t, str) for t in i) for i in issues
    ):
        raise bad
    digest = None if xml is None else hashlib.sha256(xml).hexdigest()
    return Finding(
        xml, digest, profile, values, [Issue(c[:40], text(r, "(no reason)")) for c, r in issues]
    )
