"""`offboard export --out s3://…` and `offboard verify s3://…` against a real S3 endpoint.

The archive uploaded is the local archive byte for byte (same source, same --created-at); it
is read back by its version and verified before the command succeeds. moto does not check
the checksums of parts, so a store that keeps other bytes than those sent is simulated by
changing them on the way: the read-back must catch it and leave nothing under the name.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from offboard.cli import cli
from offboard.errors import ExitCode
from tests.manifests.conftest import Keys
from tests.s3server import client

CREATED = "2026-01-31T12:00:00Z"


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def export(db: Path, out: str, keys: Keys, *extra: str) -> Result:
    return run(
        "export",
        str(db),
        "--account",
        "acc-0001",
        "--out",
        out,
        "--sign-key",
        str(keys.key),
        "--created-at",
        CREATED,
        "--allow-missing-documents",
        "--quiet",
        *extra,
    )


def body(bucket: str, key: str, version: str | None = None) -> bytes:
    extra = {} if version is None else {"VersionId": version}
    data: bytes = client().get_object(Bucket=bucket, Key=key, **extra)["Body"].read()
    return data


def versions(bucket: str, prefix: str = "") -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (
        client().list_object_versions(Bucket=bucket, Prefix=prefix).get("Versions", [])
    )
    return found


def uploads(bucket: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = client().list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return found


def test_the_uploaded_archive_is_the_local_archive_byte_for_byte(
    demo_db: Path, keys: Keys, local_archive: Path, bucket: str
) -> None:
    result = export(demo_db, f"s3://{bucket}/tenants/acc-0001.zip", keys, "--json")
    assert result.exit_code == 0, result.output
    stored = body(bucket, "tenants/acc-0001.zip")
    assert (
        hashlib.sha256(stored).hexdigest() == hashlib.sha256(local_archive.read_bytes()).hexdigest()
    )
    assert uploads(bucket) == []
    (version,) = versions(bucket)
    assert f"s3://{bucket}/tenants/acc-0001.zip?versionId={version['VersionId']}" in result.output


def test_verify_reads_the_archive_from_s3(demo_db: Path, keys: Keys, bucket: str) -> None:
    assert export(demo_db, f"s3://{bucket}/acc-0001.zip", keys).exit_code == 0
    ok = run("verify", f"s3://{bucket}/acc-0001.zip", "--pubkey", str(keys.pub))
    assert ok.exit_code == 0, ok.output
    assert "valid" in ok.output.lower()
    (version,) = versions(bucket)
    by_version = run(
        "verify",
        f"s3://{bucket}/acc-0001.zip",
        "--version-id",
        version["VersionId"],
        "--pubkey",
        str(keys.pub),
    )
    assert by_version.exit_code == 0, by_version.output
    missing = run("verify", f"s3://{bucket}/nothing.zip", "--pubkey", str(keys.pub))
    assert missing.exit_code == ExitCode.UNREADABLE and "no such archive" in missing.output


def test_a_tampered_object_fails_verify(demo_db: Path, keys: Keys, bucket: str) -> None:
    assert export(demo_db, f"s3://{bucket}/acc-0001.zip", keys).exit_code == 0
    data = bytearray(body(bucket, "acc-0001.zip"))
    data[len(data) // 2] ^= 0x01
    client().put_object(Bucket=bucket, Key="acc-0001.zip", Body=bytes(data))
    bad = run("verify", f"s3://{bucket}/acc-0001.zip", "--pubkey", str(keys.pub))
    assert bad.exit_code == 1, bad.output
    (first,) = [v for v in versions(bucket) if not v["IsLatest"]]
    # the original version is still there, and still verifies
    assert (
        run(
            "verify",
            f"s3://{bucket}/acc-0001.zip",
            "--version-id",
            first["VersionId"],
            "--pubkey",
            str(keys.pub),
        ).exit_code
        == 0
    )


def test_a_split_archive_goes_up_in_parts_and_verifies(
    demo_db: Path, keys: Keys, bucket: str, tmp_path: Path
) -> None:
    result = export(demo_db, f"s3://{bucket}/x/acc-0001.zip", keys, "--split-files", "150")
    assert result.exit_code == 0, result.output
    names = sorted(v["Key"] for v in versions(bucket))
    assert len(names) >= 2 and names[0] == "x/acc-0001-part-001.zip", names
    local = tmp_path / "acc-0001.zip"
    assert export(demo_db, str(local), keys, "--split-files", "150").exit_code == 0
    for name in names:
        twin = tmp_path / name.split("/")[-1]
        assert body(bucket, name) == twin.read_bytes(), name
    for part in (names[0], names[-1]):
        ok = run("verify", f"s3://{bucket}/{part}", "--pubkey", str(keys.pub))
        assert ok.exit_code == 0, ok.output


def test_an_existing_archive_is_kept_unless_overwrite(
    demo_db: Path, keys: Keys, bucket: str
) -> None:
    out = f"s3://{bucket}/acc-0001.zip"
    assert export(demo_db, out, keys).exit_code == 0
    again = export(demo_db, out, keys)
    assert again.exit_code == ExitCode.OUTPUT_EXISTS and "already exists" in again.output
    assert len(versions(bucket)) == 1
    assert export(demo_db, out, keys, "--overwrite").exit_code == 0
    assert len(versions(bucket)) == 2  # the bucket keeps the older version


def test_a_bucket_without_versioning_is_refused_before_exporting(
    s3: str, demo_db: Path, keys: Keys
) -> None:
    from tests.s3server import make_bucket

    make_bucket("plain-bucket", versioned=False)
    result = export(demo_db, "s3://plain-bucket/acc-0001.zip", keys)
    assert result.exit_code == 2
    assert "versioning is not enabled" in result.output
    assert client().list_objects_v2(Bucket="plain-bucket").get("KeyCount") == 0
    assert uploads("plain-bucket") == []


def test_bytes_changed_on_the_way_are_caught_and_nothing_is_left(
    demo_db: Path, keys: Keys, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from offboard.storage import sink

    real = sink.MultipartSink._upload

    def corrupting(self: Any, number: int, data: bytes) -> Any:
        sent = real(self, number, data)  # the part's true SHA-256 is recorded...
        if number == 1:  # ...but the store keeps other bytes for it
            changed = bytearray(data)
            changed[100] ^= 0xFF
            self._client.upload_part(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self.upload_id,
                PartNumber=1,
                Body=bytes(changed),
            )
            etag = self._client.list_parts(
                Bucket=self.bucket, Key=self.key, UploadId=self.upload_id
            )["Parts"][0]["ETag"]
            return sink.SentPart(sent.number, etag, sent.size, sent.sha256)
        return sent

    monkeypatch.setattr(sink.MultipartSink, "_upload", corrupting)
    result = export(demo_db, f"s3://{bucket}/acc-0001.zip", keys)
    assert result.exit_code == ExitCode.UPLOAD_UNVERIFIED, result.output
    assert "part 1 read back differs from what was sent" in result.output
    assert versions(bucket) == []  # the bad version was deleted
    assert uploads(bucket) == []


def test_a_failed_upload_is_aborted(
    demo_db: Path, keys: Keys, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from offboard.storage import sink

    def failing(self: Any, number: int, data: bytes) -> Any:
        self._slots.release()
        raise OSError("connection reset by the store")

    monkeypatch.setattr(sink.MultipartSink, "_upload", failing)
    result = export(demo_db, f"s3://{bucket}/acc-0001.zip", keys)
    assert result.exit_code != 0
    assert versions(bucket) == []
    assert uploads(bucket) == []


def test_an_upload_left_by_a_killed_run_is_aborted_by_the_next(
    demo_db: Path, keys: Keys, bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    s3 = client()
    left = s3.create_multipart_upload(Bucket=bucket, Key="acc-0001.zip")
    s3.upload_part(
        Bucket=bucket, Key="acc-0001.zip", UploadId=left["UploadId"], PartNumber=1, Body=b"x"
    )
    other = s3.create_multipart_upload(Bucket=bucket, Key="another.zip")
    assert len(uploads(bucket)) == 2
    assert export(demo_db, f"s3://{bucket}/acc-0001.zip", keys).exit_code == 0
    assert [u["UploadId"] for u in uploads(bucket)] == [other["UploadId"]]
    assert "aborted an unfinished upload of acc-0001.zip" in caplog.text


def test_unsigned_archives_are_still_read_back(demo_db: Path, bucket: str) -> None:
    result = run(
        "export",
        str(demo_db),
        "--account",
        "acc-0001",
        "--out",
        f"s3://{bucket}/u.zip",
        "--unsigned",
        "--allow-missing-documents",
        "--quiet",
    )
    assert result.exit_code == 0, result.output
    assert len(versions(bucket)) == 1


def test_storage_options_need_an_s3_out(demo_db: Path, keys: Keys, tmp_path: Path) -> None:
    result = export(demo_db, str(tmp_path / "a.zip"), keys, "--sse", "AES256")
    assert result.exit_code == 2 and "need --out s3://" in result.output
    folder = run(
        "export", str(demo_db), "--account", "acc-0001", "--out", "s3://b/prefix/", "--quiet"
    )
    assert folder.exit_code == 2


def test_bad_s3_urls_are_named(keys: Keys, demo_db: Path) -> None:
    for url in ("s3://", "s3:///x.zip", "s3://bkt/../x.zip"):
        result = export(demo_db, url, keys)
        assert result.exit_code == 2, (url, result.output)


def test_an_encrypted_archive_in_s3(demo_db: Path, keys: Keys, bucket: str, tmp_path: Path) -> None:
    import json

    from pyrage import x25519

    identity = x25519.Identity.generate()
    id_file = tmp_path / "id.txt"
    id_file.write_text(f"{identity}\n", encoding="ascii")
    out = f"s3://{bucket}/sealed/acc-0001.zip"
    result = export(demo_db, out, keys, "--encrypt-to", str(identity.to_public()), "--json")
    assert result.exit_code == 0, result.output
    names = sorted(v["Key"] for v in versions(bucket))
    assert names == ["sealed/acc-0001.zip.age", "sealed/acc-0001.zip.age.minisig"]
    assert uploads(bucket) == []
    sealed = run("verify", f"{out}.age", "--pubkey", str(keys.pub), "--json")
    assert sealed.exit_code == 0, sealed.output
    assert json.loads(sealed.output)["mode"] == "sealed"
    full = run("verify", f"{out}.age", "--pubkey", str(keys.pub), "-i", str(id_file), "--json")
    assert full.exit_code == 0, full.output
    assert json.loads(full.output)["mode"] == "full"


def test_a_taken_name_is_refused_before_exporting_and_leaves_no_resume_work(
    demo_db: Path, keys: Keys, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from offboard import pipeline
    from offboard.resume import work_folder

    out = f"s3://{bucket}/acc-0001.zip"
    assert export(demo_db, out, keys).exit_code == 0

    def no_export(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("exported before the name was checked")

    monkeypatch.setattr(pipeline, "_run_tasks", no_export)
    for extra in ((), ("--resume",)):
        again = export(demo_db, out, keys, *extra)
        assert again.exit_code == ExitCode.OUTPUT_EXISTS, again.output
        assert "already exists" in again.output
    assert not work_folder(out, Path("acc-0001.zip")).exists()
    assert len(versions(bucket)) == 1 and uploads(bucket) == []
