"""The termination gate: a subscription ends only after a verified, complete archive.

:mod:`offboard.gate.store` keeps the gate's state (cancellation requests, termination records,
the hash-chained audit log) in the source database; :mod:`offboard.gate.lock` makes sure one
run at a time works on an account.
"""

from __future__ import annotations

from .lock import account_lock, lock_path
from .store import (
    AuditEntry,
    GateStore,
    Subscription,
    TerminationRecord,
    open_store,
)

__all__ = [
    "AuditEntry",
    "GateStore",
    "Subscription",
    "TerminationRecord",
    "account_lock",
    "lock_path",
    "open_store",
]
