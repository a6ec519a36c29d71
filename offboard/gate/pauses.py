"""Pause points: named places where a run can be made to wait, for the tests of concurrency.

``OFFBOARD_PAUSEPOINT=lock.held=/tmp/go offboard export ...`` makes the run wait, when it
reaches the point ``lock.held`` (the account's lock is taken and names its holder), until the
file ``/tmp/go`` exists, then go on as usual. The concurrency tests use it to keep the winner
of a race holding the lock until every other run has been refused, and to kill a run at a
known place with its lock held. Unset (always, in normal use), a pause point does nothing;
a pause never lasts more than :data:`LIMIT` seconds.

Companion of :mod:`offboard.gate.failpoints` (which kills the process at a named point).
"""

from __future__ import annotations

import os
import time

ENV = "OFFBOARD_PAUSEPOINT"
#: the longest a pause point waits for its file (then the run goes on)
LIMIT = 600.0
#: seconds between two looks for the file
POLL = 0.01

#: the points, where they are
POINTS = ("lock.held",)  # an account's lock is taken and its lock file names the holder


def pausepoint(name: str) -> None:
    """Wait here until the file exists if ``OFFBOARD_PAUSEPOINT`` is ``NAME=FILE``."""
    value = os.environ.get(ENV)
    if not value:
        return
    point, sep, file = value.partition("=")
    if not sep or point != name or not file:
        return
    deadline = time.monotonic() + LIMIT
    while not os.path.lexists(file) and time.monotonic() < deadline:
        time.sleep(POLL)
