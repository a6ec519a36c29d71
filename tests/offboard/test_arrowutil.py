"""offboard.arrowutil.let_go: a reader of a Python file waits until Arrow's threads have let
go of it (tests/manifests/verify/test_arrow_threads.py checks it in a verification)."""

from __future__ import annotations

import threading

from offboard.arrowutil import let_go, references


def test_let_go_waits_for_the_last_reference_and_gives_up_in_time() -> None:
    class File:
        pass

    file = File()
    before = references(file)
    held = [file]
    threading.Timer(0.1, held.clear).start()
    assert let_go(file, before)
    assert not held
    kept = [file]
    assert not let_go(file, before, timeout=0.05)
    assert kept
