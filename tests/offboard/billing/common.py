"""Requests shared by the billing tests."""

from __future__ import annotations

import hashlib
from typing import Any

from offboard.billing import TerminationRequest

SECRET = "s3cret-shared-with-billing"


def make_request(**changes: Any) -> TerminationRequest:
    fields: dict[str, Any] = {
        "account": "acc-t001",
        "subscription_id": "sub-acc-t001",
        "idempotency_key": "term-acc-t001-5f2b9c1e",
        "reason": "Fermeture du compte demandée par le client",
        "requested_at": "2025-04-01T09:30:00Z",
        "effective_at": "2025-04-30T23:59:59Z",
        "archive_sha256": hashlib.sha256(b"archive").hexdigest(),
        "archive_id": "arc-01",
        "receipt_id": "rcp-01",
    }
    fields.update(changes)
    return TerminationRequest(**fields)
