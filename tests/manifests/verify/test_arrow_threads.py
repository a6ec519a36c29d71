"""A verification lets go of every file Arrow read on a thread of its own (the tables lane, the
caller), never on one of Arrow's: dropped there while the interpreter shuts down, the last
reference aborted `offboard verify` once ("terminate called without an active exception")."""

from __future__ import annotations

import threading
import weakref
from typing import Any

import pytest

from manifests.signing import PublicKey
from manifests.verify import content, verify_archive
from offboard.facturx import rows
from tests.manifests.conftest import Made


def test_every_file_arrow_read_is_let_go_on_a_thread_of_the_verifier(
    archive: Made, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[str] = []
    ours = {"MainThread", "offboard-tables", threading.current_thread().name}
    for cls in (content.HashingStream, rows._Chunks):
        made = cls.__init__

        def init(self: Any, *args: Any, _made: Any = made, **kwargs: Any) -> None:
            _made(self, *args, **kwargs)
            weakref.finalize(self, lambda: threads.append(threading.current_thread().name))

        monkeypatch.setattr(cls, "__init__", init)
    key = PublicKey.load(archive.keys.pub)
    for _ in range(5):
        assert verify_archive(archive.path, key).problems == []
    assert len(threads) > 5 * 10  # every table of every run, and the invoices' rows
    assert set(threads) <= ours, sorted(set(threads) - ours)
