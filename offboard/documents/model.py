"""What the documents stage reports: exported documents, problems, and the outcome per kind."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class DocumentResult:
    """One document copied into the export and checked to be a readable PDF."""

    kind: str
    record_id: str
    number: str
    date: str
    party: str
    #: relative to the export root, with ``/``: ``documents/sales_invoices/FA-2025-00042.pdf``
    path: str
    pages: int
    bytes: int
    sha256: str
    #: the Factur-X XML found in it and what was checked (:func:`offboard.facturx.checks.record`),
    #: for a kind whose documents are Factur-X invoices; None otherwise
    facturx: dict[str, Any] | None = None


@dataclass(frozen=True)
class DocumentProblem:
    """A document that could not be exported as a readable PDF.

    ``reason`` is ``missing``, ``encrypted``, ``not a PDF``, ``unreadable: <detail>`` or the
    reason the source gave (``unsafe locator``, ``too large``...).
    """

    kind: str
    record_id: str
    number: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "record_id": self.record_id,
            "number": self.number,
            "reason": self.reason,
        }


@dataclass
class KindDocuments:
    """The outcome of exporting the documents of one kind."""

    kind: str
    documents: list[DocumentResult] = field(default_factory=list)
    problems: list[DocumentProblem] = field(default_factory=list)
    #: the bundle parts, relative to the export root: ``documents/<kind>-bundle-001.pdf``...
    bundles: list[str] = field(default_factory=list)
    #: pages in all bundle parts together
    bundle_pages: int = 0
    #: pages of each bundle part, in the order of ``bundles``
    bundle_part_pages: list[int] = field(default_factory=list)
    #: bytes of the exported documents (bundles and problem copies not counted)
    bytes: int = 0
    seconds: float = 0.0
