"""The reference export the source tests compare with: acc-0001 of the demo, from SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.offboard.sources.exports import export, files


@pytest.fixture(scope="session")
def sqlite_export(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Every file but the summary of ``export sqlite:///demo_db -a acc-0001`` (do not modify)."""
    out = tmp_path_factory.mktemp("sqlite-export") / "out"
    code, output = export(f"sqlite:///{demo_db}", out)
    assert code == 0, output
    return files(out)
