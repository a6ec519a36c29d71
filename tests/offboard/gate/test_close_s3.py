"""``offboard close --out s3://…``: the archive is stored, read back and verified; the
termination checks a copy of the stored bytes; the signed receipt is stored beside it, under
the same Object Lock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from .common import OTHER, Demo, invoke, state


@pytest.fixture(scope="module")
def s3() -> Iterator[str]:
    from tests.s3server import s3_endpoint

    with s3_endpoint() as url:
        yield url


def test_close_into_a_locked_bucket(demo: Demo, s3: str) -> None:
    from manifests.signing import PublicKey
    from offboard.gate.receipt import check_receipt
    from tests.s3server import client, make_bucket

    make_bucket("closed-accounts", lock=True)
    until = (datetime.now(UTC) + timedelta(days=3650)).strftime("%Y-%m-%d")
    result = invoke(
        "close",
        "--yes",
        demo.db,
        "--account",
        OTHER,
        "--sign-key",
        demo.key,
        "--pubkey",
        demo.pub,
        "--out",
        "s3://closed-accounts/leavers",
        "--lock",
        "compliance",
        "--retain-until",
        until,
    )
    assert result.exit_code == 0, result.stderr
    assert state(demo.db, OTHER).status == "terminated"
    s3c = client()
    keys = sorted(o["Key"] for o in s3c.list_objects_v2(Bucket="closed-accounts")["Contents"])
    (archive,) = [k for k in keys if k.endswith(".zip")]
    assert archive.startswith(f"leavers/{OTHER}-")
    receipt_keys = [k for k in keys if not k.endswith(".zip")]
    assert len(receipt_keys) == 2
    for key in keys:
        head = s3c.head_object(Bucket="closed-accounts", Key=key)
        assert head["ObjectLockMode"] == "COMPLIANCE", key
    (data_key,) = [k for k in receipt_keys if k.endswith(".json")]
    (sig_key,) = [k for k in receipt_keys if k != data_key]
    data = s3c.get_object(Bucket="closed-accounts", Key=data_key)["Body"].read()
    sig = s3c.get_object(Bucket="closed-accounts", Key=sig_key)["Body"].read()
    receipt = check_receipt(data, sig, PublicKey.load(demo.pub))
    version = s3c.head_object(Bucket="closed-accounts", Key=archive)["VersionId"]
    assert receipt["archive"]["location"] == (f"s3://closed-accounts/{archive}?versionId={version}")
    verify = invoke("verify", f"s3://closed-accounts/{archive}", "--pubkey", demo.pub, "--json")
    assert verify.exit_code == 0, verify.stderr
    assert json.loads(verify.stdout)["valid"]


def test_close_with_a_lock_dated_by_the_archives_retention(demo: Demo, s3: str) -> None:
    """``--lock`` without ``--retain-until``: the archive and its receipt are locked through
    the archive's own retain-until date (its policy's: 2036-12-31 for the demo's invoices)."""
    from tests.s3server import client, make_bucket

    make_bucket("closed-own-date", lock=True)
    result = invoke(
        "close",
        "--yes",
        demo.db,
        "--account",
        OTHER,
        "--sign-key",
        demo.key,
        "--pubkey",
        demo.pub,
        "--out",
        "s3://closed-own-date",
        "--lock",
        "governance",
    )
    assert result.exit_code == 0, result.stderr
    s3c = client()
    keys = [o["Key"] for o in s3c.list_objects_v2(Bucket="closed-own-date")["Contents"]]
    assert len(keys) == 3
    for key in keys:
        head = s3c.head_object(Bucket="closed-own-date", Key=key)
        assert head["ObjectLockMode"] == "GOVERNANCE", key
        until = head["ObjectLockRetainUntilDate"].astimezone(UTC)
        assert until == datetime(2037, 1, 1, tzinfo=UTC), key
