"""CSV output: dialects, injection-safe cells and the streaming table writer."""

from __future__ import annotations

from .cells import neutralise_cell, restore_cell
from .dialects import DIALECTS, EXCEL_FR, STANDARD, Dialect, get_dialect

__all__ = [
    "DIALECTS",
    "EXCEL_FR",
    "STANDARD",
    "Dialect",
    "get_dialect",
    "neutralise_cell",
    "restore_cell",
]
