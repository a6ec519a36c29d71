"""Exporters: one per record kind, discovered through the ``offboard.exporters`` entry points."""

from __future__ import annotations

from .base import Column, DocumentSet, Exporter, Table
from .registry import load_all, register, select, unregister

__all__ = [
    "Column",
    "DocumentSet",
    "Exporter",
    "Table",
    "load_all",
    "register",
    "select",
    "unregister",
]
