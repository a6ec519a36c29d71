"""Failpoints: named places where the termination flow can be made to die as in a crash.

``OFFBOARD_FAILPOINT=terminate.pending offboard terminate ...`` kills the process with SIGKILL
(no cleanup, no ``finally``, like a power cut or the OOM killer) when the flow reaches the
point named. The crash tests use them to prove that every step can be interrupted: afterwards
the subscription is either not terminated, or terminated with its receipt, and a rerun
completes the flow. Unset (always, in normal use), a failpoint does nothing.
"""

from __future__ import annotations

import os
import signal

ENV = "OFFBOARD_FAILPOINT"

#: the points of ``offboard terminate``, in the order the flow reaches them
TERMINATE_POINTS = (
    "terminate.locked",  # the account's lock is held
    "terminate.verified",  # the archive is verified
    "terminate.checked",  # the live source matches the archive
    "terminate.pending",  # the termination is recorded as pending, with its receipt
    "terminate.billed",  # the billing backend has terminated (not yet committed here)
    "terminate.committed",  # terminated and receipt committed in the database
    "terminate.receipt-written",  # the receipt files are beside the archive
)


def failpoint(name: str) -> None:
    """Die here, with SIGKILL, if ``OFFBOARD_FAILPOINT`` names this point."""
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
