"""The text of the archive browser's page (:mod:`manifests.browser`): values as shown, escaped
for HTML, labels in English and French, and the JSON data block of the page's large tables.

Part of the frozen page of format version 3, like the template (see :mod:`manifests.browser`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from html import escape
from typing import Any
from urllib.parse import quote

#: the built-in kinds' names, in English and French (other kinds show their id)
KIND_LABELS = {
    "sales_invoices": ("Sales invoices", "Factures de vente"),
    "quotes": ("Quotes", "Devis"),
    "purchases": ("Purchases", "Achats"),
    "contacts": ("Contacts", "Contacts"),
    "catalogue": ("Catalogue", "Catalogue"),
    "bank": ("Bank", "Banque"),
    "billing_history": ("Subscription and billing", "Abonnement et facturation"),
    "fec": ("Accounting entries (FEC)", "Écritures comptables (FEC)"),
}


# -- values ------------------------------------------------------------------------------------
def _text(value: Any) -> str:
    """Any JSON value as the text shown (None as empty)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _e(value: Any) -> str:
    """A value as HTML text or attribute content: ``< > & " '`` escaped."""
    return escape(_text(value), quote=True)


def _count(value: Any) -> str:
    """An integer grouped by thousands with narrow no-break spaces (``12 345``), which read
    the same in English and French; anything else as text."""
    if type(value) is int:
        return f"{value:,}".replace(",", "\u202f")
    return _text(value)


def _size(value: Any) -> str:
    if type(value) is not int:
        return _text(value)
    size = float(value)
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{value} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def href(path: str) -> str:
    """A relative link to the bag path ``path``: every segment percent-encoded (UTF-8), so the
    link is a file path and nothing else (no scheme, query or fragment)."""
    return quote(path, safe="/")


def _bi(english: str, french: str) -> str:
    """A label in English, with the French beside it (the same words are said once)."""
    if english == french:
        return escape(english)
    return f'{escape(english)} <span lang="fr">{escape(french)}</span>'


def _kind_label(kind: Any) -> str:
    labels = KIND_LABELS.get(kind) if isinstance(kind, str) else None
    if labels is None:
        return f"<code>{_e(kind)}</code>"
    return f'{_bi(*labels)} <code class="muted">{_e(kind)}</code>'


_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _data_block(data: dict[str, Iterable[Any]]) -> Iterator[str]:
    """``data`` (lists, given as iterables) as the text of a ``<script type="application/json">``
    element, a row at a time: compact JSON, keys sorted, with ``<``, ``>`` and ``&`` (and the
    line separators) written as JSON escapes, so that nothing inside can close the element or
    open a comment. The text is what ``json.dumps`` gives for the whole, made row by row so
    that a part of 12,000 documents is never held as one text (it was, five times over:
    20 MB at once)."""
    yield "{"
    for n, key in enumerate(sorted(data)):
        yield f"{',' if n else ''}{_safe(_JSON.encode(key))}:["
        for i, row in enumerate(data[key]):
            yield ("," if i else "") + _safe(_JSON.encode(row))
        yield "]"
    yield "}"


def _safe(text: str) -> str:
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _amount(document: dict[str, Any]) -> str | None:
    """The amount of a document, when ``offboard.json`` has one: its ``amount``, or the gross
    total and currency of the Factur-X invoice found in it (``facturx.gross``)."""
    if "amount" in document:
        return _text(document["amount"])
    facturx = document.get("facturx")
    if isinstance(facturx, dict) and facturx.get("gross") is not None:
        currency = facturx.get("currency")
        return " ".join(_text(v) for v in (facturx["gross"], currency) if v is not None)
    return None


def _int(value: Any, default: int) -> int:
    return value if type(value) is int else default


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _sort_key(path: str) -> bytes:
    return path.encode("utf-8", "surrogatepass")
