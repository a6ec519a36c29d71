"""The documents stage: each business document copied, checked and bundled into the export.

For one kind (sales invoices, quotes, purchases...), :func:`export_documents` copies every
document the source holds to ``documents/<kind>/<number>.pdf`` under a safe, unique name, checks
that it is a PDF qpdf can read, and bundles all of them into ``documents/<kind>-bundle-NNN.pdf``
with one bookmark per document. Documents that cannot be exported are reported as
:class:`DocumentProblem` and their bytes, when there are any, are kept under
``documents/<kind>/_problems/``.
"""

from __future__ import annotations

from offboard.documents.export import export_documents
from offboard.documents.model import DocumentProblem, DocumentResult, KindDocuments
from offboard.documents.names import NameAllocator, safe_file_name

__all__ = [
    "DocumentProblem",
    "DocumentResult",
    "KindDocuments",
    "NameAllocator",
    "export_documents",
    "safe_file_name",
]
