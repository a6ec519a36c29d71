"""Object Lock, legal hold and server-side encryption of archives stored in S3.

Each lock is read back from S3 after the upload (not assumed from the request), and the
tests try to delete the locked version: S3 must refuse.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.manifests.conftest import Keys
from tests.offboard.storage.test_s3_export import export, versions
from tests.s3server import client


def _until(days: int = 30) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%d")


def _head(bucket: str, key: str) -> dict[str, object]:
    (version,) = [v for v in versions(bucket, key) if v["Key"] == key]
    head: dict[str, object] = client().head_object(
        Bucket=bucket, Key=key, VersionId=version["VersionId"]
    )
    head["VersionId"] = version["VersionId"]
    return head


@pytest.mark.parametrize("mode", ["compliance", "governance"])
def test_a_locked_archive_cannot_be_deleted(
    demo_db: Path, keys: Keys, locked_bucket: str, mode: str
) -> None:
    until = _until()
    result = export(
        demo_db, f"s3://{locked_bucket}/acc-0001.zip", keys, "--lock", mode, "--retain-until", until
    )
    assert result.exit_code == 0, result.output
    head = _head(locked_bucket, "acc-0001.zip")
    assert head["ObjectLockMode"] == mode.upper()
    retain = head["ObjectLockRetainUntilDate"]
    assert isinstance(retain, datetime)
    assert retain.astimezone(UTC).strftime("%Y-%m-%d") == until
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="AccessDenied"):
        client().delete_object(
            Bucket=locked_bucket, Key="acc-0001.zip", VersionId=str(head["VersionId"])
        )


def test_a_legal_hold_denies_deletes(demo_db: Path, keys: Keys, locked_bucket: str) -> None:
    result = export(demo_db, f"s3://{locked_bucket}/held.zip", keys, "--legal-hold")
    assert result.exit_code == 0, result.output
    head = _head(locked_bucket, "held.zip")
    assert head["ObjectLockLegalHoldStatus"] == "ON"
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="AccessDenied"):
        client().delete_object(
            Bucket=locked_bucket, Key="held.zip", VersionId=str(head["VersionId"])
        )


def test_lock_options_are_checked_before_exporting(
    demo_db: Path, keys: Keys, bucket: str, locked_bucket: str
) -> None:
    no_lock = export(
        demo_db, f"s3://{bucket}/a.zip", keys, "--lock", "compliance", "--retain-until", _until()
    )
    assert no_lock.exit_code == 2 and "Object Lock is not enabled" in no_lock.output
    past = export(
        demo_db,
        f"s3://{locked_bucket}/a.zip",
        keys,
        "--lock",
        "governance",
        "--retain-until",
        "2020-01-01",
    )
    assert past.exit_code == 2 and "not in the future" in past.output
    alone = export(demo_db, f"s3://{locked_bucket}/a.zip", keys, "--retain-until", _until())
    assert alone.exit_code == 2 and "needs --lock" in alone.output
    bad_date = export(
        demo_db,
        f"s3://{locked_bucket}/a.zip",
        keys,
        "--lock",
        "governance",
        "--retain-until",
        "31/12/2036",
    )
    assert bad_date.exit_code == 2 and "--retain-until" in bad_date.output
    kms_alone = export(demo_db, f"s3://{bucket}/a.zip", keys, "--kms-key-id", "k")
    assert kms_alone.exit_code == 2 and "--sse aws:kms" in kms_alone.output
    assert versions(bucket) == [] and versions(locked_bucket) == []


def test_server_side_encryption_aes256(demo_db: Path, keys: Keys, bucket: str) -> None:
    assert export(demo_db, f"s3://{bucket}/e.zip", keys, "--sse", "AES256").exit_code == 0
    assert _head(bucket, "e.zip")["ServerSideEncryption"] == "AES256"


def test_server_side_encryption_with_a_kms_key(demo_db: Path, keys: Keys, bucket: str) -> None:
    key_id = client("kms").create_key()["KeyMetadata"]["KeyId"]
    result = export(
        demo_db, f"s3://{bucket}/k.zip", keys, "--sse", "aws:kms", "--kms-key-id", key_id
    )
    assert result.exit_code == 0, result.output
    head = _head(bucket, "k.zip")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert key_id in str(head["SSEKMSKeyId"])


def test_lock_alone_takes_the_archives_own_retention_date(
    demo_db: Path, keys: Keys, locked_bucket: str
) -> None:
    """The default policy keeps the demo's invoices 10 years after their fiscal year: the
    version is locked through 2036-12-31, and carries the date in its metadata."""
    result = export(demo_db, f"s3://{locked_bucket}/own.zip", keys, "--lock", "compliance")
    assert result.exit_code == 0, result.output
    head = _head(locked_bucket, "own.zip")
    assert head["ObjectLockMode"] == "COMPLIANCE"
    retain = head["ObjectLockRetainUntilDate"]
    assert isinstance(retain, datetime)
    assert retain.astimezone(UTC) == datetime(2037, 1, 1, tzinfo=UTC)
    assert head["Metadata"] == {"offboard-retain-until": "2036-12-31"}
