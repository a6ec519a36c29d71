"""Fixtures for the documents stage tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.offboard.documents.docs_support import MakePdf, write_pdf


@pytest.fixture
def make_pdf(tmp_path: Path) -> MakePdf:
    """``make_pdf("name", pages=2)`` writes ``<tmp>/src/name.pdf`` and returns its path."""
    folder = tmp_path / "src"
    folder.mkdir(exist_ok=True)

    def make(name: str, pages: int = 1, label: str = "") -> Path:
        return write_pdf(folder / f"{name}.pdf", pages, label)

    return make


@pytest.fixture
def out(tmp_path: Path) -> Path:
    root = tmp_path / "export"
    root.mkdir()
    return root
