"""``offboard terminate``: a subscription ends only after a verified, complete archive.

The steps, each of which can be interrupted (a crash, SIGKILL) without harm::

    lock       the account's lock (another run holding it: AccountLocked, nothing done)
    state      a termination already done: its receipt is shown again, nothing changes
    verify     the archive, fully, with the operator's pinned public key, read through file
               descriptors opened once: the bytes hashed for the receipt are the bytes verified
    live       the live source exported again and compared with the archive (ArchiveStale);
               not for a pending termination, whose signed receipt already records that check
    pending    receipt built and signed; the termination recorded as pending with its
               idempotency key and receipt, committed before the billing system is called
    billing    the backend terminates; for the local backend in the same transaction that
               marks the termination done, for a remote one just before it
    receipt    the receipt and its signature written beside the archive

After a crash before ``pending`` nothing was changed; after it, a rerun with the same archive
finds the pending record and completes it with the same idempotency key, so the billing system
sees one termination, however many times it was asked.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from offboard import __version__
from offboard.errors import ArchiveInvalid, ArchiveStale, GateRefused, UnknownAccount
from offboard.gate import receipt as R
from offboard.gate.failpoints import failpoint

if TYPE_CHECKING:
    from manifests.signing import PublicKey, SecretKey
    from manifests.verify import VerifyReport
    from offboard.gate.store import GateStore, Subscription, TerminationRecord


@dataclass(frozen=True)
class TerminateRequest:
    source: str
    account: str
    archive: Path
    pubkey: PublicKey
    sign_key: SecretKey
    billing: str = "local"
    billing_options: Mapping[str, str] = field(default_factory=dict)
    jobs: int = 2
    #: where the archive is kept when ``archive`` is a local copy of it (an S3 URL with its
    #: version), recorded in the receipt
    location: str | None = None


@dataclass
class TerminateOutcome:
    receipt: dict[str, Any]
    receipt_files: tuple[Path, Path]
    #: the account was terminated by an earlier run: nothing was changed now
    already: bool = False
    changes: list[str] = field(default_factory=list)


def terminate(
    request: TerminateRequest,
    *,
    now: datetime | None = None,
    env: Mapping[str, str] | None = None,
) -> TerminateOutcome:
    """Run the whole flow (see the module's documentation); raise the refusal's error."""
    from offboard.gate.lock import account_lock
    from offboard.gate.store import open_store

    env = os.environ if env is None else env
    with open_store(request.source) as store:
        store.migrate()
        with account_lock(store.path, request.account):
            failpoint("terminate.locked")
            return _locked(store, request, now or datetime.now(UTC), env)


def _locked(
    store: GateStore, req: TerminateRequest, now: datetime, env: Mapping[str, str]
) -> TerminateOutcome:
    record = store.termination(req.account)
    if record is not None and record.state == "done":
        return _already(record, req)
    sub = _subscription(store, req.account, record)
    if record is None:
        _due(sub, now)
    report, digest, names = _verified(req)
    failpoint("terminate.verified")
    # A pending termination was checked when it began: its receipt, signed and committed,
    # says so, and the billing system may have been called since. Checking again would leave
    # it pending for ever once the source changes; it is completed with its own archive.
    live = _live(req, report) if record is None else None
    failpoint("terminate.checked")
    backend = _backend(req, env)
    if record is None:
        signed = _new_receipt(req, sub, report, digest, names, live, now)
        key = secrets.token_hex(16)
        with store.transaction():
            record = store.begin_termination(
                req.account,
                sub.id,
                idempotency_key=key,
                archive=req.archive.name,
                archive_sha256=digest,
                receipt=signed.data.decode(),
                receipt_signature=signed.signature.decode(),
                now=now,
            )
    elif record.archive_sha256 != digest:
        raise GateRefused(
            f"a termination of account {req.account!r} with another archive "
            f"({record.archive}, sha256 {record.archive_sha256[:16]}...) is pending: "
            "run offboard terminate again with that archive to complete it"
        )
    failpoint("terminate.pending")
    signed = R.SignedReceipt(
        _json(record.receipt), record.receipt.encode(), record.receipt_signature.encode()
    )
    _bill(store, backend, record, signed.receipt, now)
    failpoint("terminate.committed")
    files = R.write_beside(req.archive, signed)
    failpoint("terminate.receipt-written")
    return TerminateOutcome(signed.receipt, files)


def _already(record: TerminationRecord, req: TerminateRequest) -> TerminateOutcome:
    """The account is terminated: show its receipt; write it beside the archive if missing."""
    signed = R.SignedReceipt(
        _json(record.receipt), record.receipt.encode(), record.receipt_signature.encode()
    )
    files = R.receipt_paths(req.archive)
    if req.archive.name == record.archive and not all(p.exists() for p in files):
        files = R.write_beside(req.archive, signed)
    return TerminateOutcome(signed.receipt, files, already=True)


def _subscription(store: GateStore, account: str, record: TerminationRecord | None) -> Subscription:
    sub = store.subscription(account)
    if sub is None:
        known = store.conn.execute("SELECT 1 FROM accounts WHERE id = ?", (account,)).fetchone()
        if not known:
            raise UnknownAccount(account)
        raise GateRefused(f"account {account!r} has no subscription: there is nothing to terminate")
    if record is not None:
        return sub  # a pending termination: it was checked when it began
    if sub.status == "terminated":
        raise GateRefused(
            f"subscription {sub.id!r} of account {account!r} is already terminated "
            "(outside offboard: there is no receipt)"
        )
    if sub.status != "cancellation_requested":
        raise GateRefused(
            f"subscription {sub.id!r} of account {account!r} is {sub.status}: no cancellation "
            "was requested (run offboard cancel first)"
        )
    return sub


def _due(sub: Subscription, now: datetime) -> None:
    """The cancellation must have taken effect: access continues until the effective date."""
    effective = sub.cancellation_effective_on
    if effective is not None and effective > now.astimezone(UTC).strftime("%Y-%m-%d"):
        raise GateRefused(
            f"the cancellation of subscription {sub.id!r} takes effect on {effective}: the "
            "account keeps its access until then (offboard cancel --now ends it today)"
        )


def _verified(req: TerminateRequest) -> tuple[VerifyReport, str, list[str]]:
    """Verify the archive through descriptors opened once; (report, sha256, part names).

    For a split archive the SHA-256 is that of the part files' SHA-256 lines, in order.
    """
    from manifests.verify import find_parts, verify_archive

    if not req.archive.is_file():
        raise GateRefused(
            f"no archive at {str(req.archive)!r}: export the account first "
            "(offboard export SOURCE --account ID --out NAME.zip --sign-key KEY)"
        )
    parts, _ = find_parts(req.archive)
    opened: dict[Path, int] = {}
    try:
        for part in parts:
            opened[part] = os.open(part, os.O_RDONLY)
        before = {p: _hash_fd(fd) for p, fd in opened.items()}
        report = verify_archive(req.archive, req.pubkey, opened=opened)
        after = {p: _hash_fd(fd) for p, fd in opened.items()}
    finally:
        for fd in opened.values():
            os.close(fd)
    if before != after:
        raise GateRefused(f"archive {str(req.archive)!r} changed while it was being verified")
    if not report.valid:
        codes = {p.code for p in report.problems}
        if codes == {"signature-missing"}:
            why = "it is not signed"
        elif "signature-invalid" in codes and len(codes) == 1:
            why = "its signature is not by the key given (--pubkey) or does not verify"
        else:
            why = "it does not verify: it was changed, or is damaged"
        raise ArchiveInvalid(
            f"archive {str(req.archive)!r} refused: {why} "
            f"({len(report.problems)} problem(s); first: {report.problems[0]})",
            report.problems,
        )
    if report.account != req.account:
        raise GateRefused(
            f"archive {str(req.archive)!r} is an export of account {report.account!r}, "
            f"not of {req.account!r}"
        )
    names = [p.name for p in parts]
    if len(parts) == 1:
        return report, before[parts[0]], names
    lines = "".join(f"{before[p]}  {p.name}\n" for p in parts).encode()
    return report, hashlib.sha256(lines).hexdigest(), names


def _live(req: TerminateRequest, report: VerifyReport) -> Any:
    from offboard.gate.completeness import check_live
    from offboard.sources import open_source

    assert report.metadata is not None
    source = open_source(req.source)
    try:
        live = check_live(
            source,
            req.account,
            report.metadata,
            report.manifest,
            report.documents,
            jobs=req.jobs,
        )
    finally:
        source.close()
    if not live.complete:
        raise ArchiveStale(
            f"account {req.account!r} changed since the archive was made "
            f"({len(live.changes)} change(s); first: {live.changes[0]}): export it again, "
            "verify the new archive, then terminate with it",
            live.changes,
        )
    return live


def _backend(req: TerminateRequest, env: Mapping[str, str]) -> Any:
    from offboard.billing import BillingContext, get_backend

    return get_backend(req.billing)(BillingContext(dict(req.billing_options), env))


def _new_receipt(
    req: TerminateRequest,
    sub: Subscription,
    report: VerifyReport,
    digest: str,
    names: list[str],
    live: Any,
    now: datetime,
) -> R.SignedReceipt:
    stamp = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    meta = report.metadata or {}
    receipt = {
        "format": R.FORMAT,
        "format_version": R.FORMAT_VERSION,
        "receipt_id": secrets.token_hex(16),
        "account": {"id": req.account, "name": (meta.get("account") or {}).get("name")},
        "subscription": {
            "id": sub.id,
            "plan": sub.plan,
            "cancellation_reason": sub.cancellation_reason,
            "cancellation_requested_at": sub.cancellation_requested_at,
            "cancellation_effective_on": sub.cancellation_effective_on,
        },
        "archive": {
            "file": req.archive.name,
            **({} if req.location is None else {"location": req.location}),
            "parts": names,
            "sha256": digest,
            "archive_id": report.archive_id,
            "created_at": report.created_at,
            "signed_by": report.signed_by,
        },
        "verify": {
            "valid": report.valid,
            "mode": report.mode,
            "files": report.files,
            "bytes": report.bytes,
            "problems": len(report.problems),
        },
        "source_checked": {
            "at": stamp,
            "source": meta.get("source"),
            "tables": live.tables,
            "documents": live.documents,
            "changes": 0,
        },
        "billing": {"backend": req.billing},
        "terminated_at": stamp,
        "tool": {"name": "offboard", "version": __version__},
    }
    return R.sign(receipt, req.sign_key)


def _bill(
    store: GateStore,
    backend: Any,
    record: TerminationRecord,
    receipt: dict[str, Any],
    now: datetime,
) -> None:
    from offboard.billing import TerminationRequest

    sub = receipt["subscription"]
    request = TerminationRequest(
        account=record.account_id,
        subscription_id=record.subscription_id,
        idempotency_key=record.idempotency_key,
        reason=sub.get("cancellation_reason"),
        requested_at=sub.get("cancellation_requested_at") or receipt["terminated_at"],
        effective_at=receipt["terminated_at"],
        archive_sha256=record.archive_sha256,
        archive_id=receipt["archive"]["archive_id"],
        receipt_id=receipt["receipt_id"],
    )
    if backend.remote:
        result = backend.terminate(request, store.conn)
        failpoint("terminate.billed")
        with store.transaction() as conn:
            _mark_terminated(conn, record, now)
            store.finish_termination(record.account_id, now, _billing_detail(result))
        return
    with store.transaction() as conn:
        result = backend.terminate(request, conn)
        failpoint("terminate.billed")
        store.finish_termination(record.account_id, now, _billing_detail(result))


def _mark_terminated(conn: Any, record: TerminationRecord, now: datetime) -> None:
    stamp = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    conn.execute(
        "UPDATE subscriptions SET status = 'terminated', terminated_at = ?, updated_at = ? "
        "WHERE id = ? AND account_id = ? AND status != 'terminated'",
        (stamp, stamp, record.subscription_id, record.account_id),
    )


def _billing_detail(result: Any) -> dict[str, Any]:
    return {"backend": result.backend, "reference": result.reference, "replayed": result.replayed}


def _json(text: str) -> dict[str, Any]:
    import json

    value: dict[str, Any] = json.loads(text)
    return value


def _hash_fd(fd: int) -> str:
    h = hashlib.sha256()
    offset = 0
    while chunk := os.pread(fd, 1 << 20, offset):
        h.update(chunk)
        offset += len(chunk)
    return h.hexdigest()
