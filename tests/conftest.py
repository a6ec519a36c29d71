from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.tinydb import make_tiny_db


@pytest.fixture(scope="session")
def _state_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("xdg-state")


@pytest.fixture(autouse=True)
def _private_state_home(_state_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Locks and resume journals kept under $XDG_STATE_HOME go to a folder of the test session,
    never to the home folder of whoever runs the tests (a test may set its own)."""
    monkeypatch.setenv("XDG_STATE_HOME", str(_state_home))


@pytest.fixture
def tiny_db(tmp_path: Path) -> Path:
    return make_tiny_db(tmp_path / "tiny.db", with_documents=True)


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated demo database with two accounts (built once per test session)."""
    from offboard.demo import generate_demo

    path = tmp_path_factory.mktemp("demo") / "demo.db"
    generate_demo(path, accounts=2, scale="small", seed=7, jobs=1)
    return path


@pytest.fixture
def extra_exporter() -> Iterator[type]:
    """An exporter defined only inside the tests, registered like a plugin."""
    from exporters import register, unregister
    from tests.exporters.plugin import AccountsProfileExporter

    register(AccountsProfileExporter)
    yield AccountsProfileExporter
    unregister(AccountsProfileExporter.name)
