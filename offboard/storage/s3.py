"""An S3 bucket and prefix of archives (``s3://BUCKET/PREFIX``).

Writing (:class:`S3Parts`): each part of the archive is one multipart upload, written as the
archive stage makes it (:mod:`offboard.storage.sink`), every part of it with its SHA-256. The
uploads are completed only once every part of the archive is written, then each object is read
back by the VersionId its completion returned and compared byte for byte with what was sent
(:mod:`offboard.storage.readback`), and the archive verified from those bytes when the signing
key is known. Only then are Object Lock retention and legal hold applied and checked (before,
a failed archive can still be removed). On any error every upload is aborted and every
object already completed is deleted by version; an upload left by a killed run is aborted
by the next run that writes the same name, and by ``offboard prune`` a day after it began.

The bucket must have versioning enabled: an archive is named by its version, and an
overwrite never destroys the previous one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from offboard.errors import ArchiveError, ConfigError, StorageError
from offboard.storage import (
    STATE_DIR,
    Destination,
    StoredArchive,
    StoredPart,
    archive_name,
    check_state_name,
    group_parts,
    is_archive_file,
)
from offboard.storage.retained import META_KEY, end_of
from offboard.storage.s3client import error_code, s3_client, s3_errors
from offboard.storage.s3parts import LOCK_MODES, SSE_MODES, S3Parts

__all__ = ["LOCK_MODES", "SSE_MODES", "S3Destination", "S3Parts"]

log = logging.getLogger(__name__)


class S3Destination(Destination):
    def __init__(self, bucket: str, prefix: str, client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.url = f"s3://{bucket}/{prefix}".rstrip("/")
        self._client = client

    @classmethod
    def from_url(cls, url: str) -> S3Destination:
        rest = url[len("s3://") :]
        bucket, _, prefix = rest.partition("/")
        if not bucket or any(c in bucket for c in "\\?#") or "\x00" in prefix:
            raise ConfigError(f"{url!r}: give s3://BUCKET/PREFIX")
        parts = [p for p in prefix.split("/") if p]
        if any(p in (".", "..") for p in parts):
            raise ConfigError(f"{url!r}: a prefix may not hold '.' or '..'")
        return cls(bucket, "".join(f"{p}/" for p in parts))

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = s3_client()
        return self._client

    def key(self, name: str) -> str:
        return self.prefix + name

    # -- listing -------------------------------------------------------------------------------
    def list_archives(self) -> list[StoredArchive]:
        parts: list[StoredPart] = []
        with s3_errors(f"listing {self.url}"):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix, Delimiter="/"
            )
            for page in pages:
                for obj in page.get("Contents", []):
                    name = obj["Key"][len(self.prefix) :]
                    if is_archive_file(name):
                        parts.append(StoredPart(name, int(obj["Size"]), obj["LastModified"]))
        archives = group_parts(parts)
        for archive in archives:
            self._fill_lock(archive)
        return archives

    def _fill_lock(self, archive: StoredArchive) -> None:
        filled = []
        for part in archive.parts:
            head = self.head(part.name)
            until = head.get("ObjectLockRetainUntilDate")
            if until is not None:
                archive.retain_to(until.astimezone(UTC))
            own = (head.get("Metadata") or {}).get(META_KEY)
            if own:
                try:
                    archive.retain_to(end_of(date.fromisoformat(own)))
                except ValueError:
                    archive.retention_unreadable = f"{META_KEY} {own[:40]!r} is not a date"
            archive.legal_hold |= head.get("ObjectLockLegalHoldStatus") == "ON"
            filled.append(
                StoredPart(part.name, part.size, part.modified, head.get("VersionId") or None)
            )
        archive.parts = filled

    def head(self, name: str, version_id: str | None = None) -> dict[str, Any]:
        extra = {} if version_id is None else {"VersionId": version_id}
        with s3_errors(f"HEAD {self.describe(name)}"):
            answer: dict[str, Any] = self.client.head_object(
                Bucket=self.bucket, Key=self.key(name), **extra
            )
            return answer

    def exists(self, name: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key(name))
        except ClientError as exc:
            if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise StorageError(
                f"HEAD {self.describe(name)}: S3 refused ({error_code(exc)})"
            ) from None
        return True

    # -- writing -------------------------------------------------------------------------------
    def target(self, name: str, **options: Any) -> S3Parts:
        return S3Parts(self, name, **options)

    def require_versioning(self) -> None:
        with s3_errors(f"GetBucketVersioning of s3://{self.bucket}"):
            status = self.client.get_bucket_versioning(Bucket=self.bucket).get("Status")
        if status != "Enabled":
            raise ConfigError(
                f"s3://{self.bucket}: versioning is not enabled; archives are kept by version "
                f"(aws s3api put-bucket-versioning --bucket {self.bucket} "
                "--versioning-configuration Status=Enabled)"
            )

    def require_object_lock(self) -> None:
        from botocore.exceptions import ClientError

        try:
            config = self.client.get_object_lock_configuration(Bucket=self.bucket)
        except ClientError as exc:
            raise ConfigError(
                f"s3://{self.bucket}: Object Lock is not enabled on the bucket "
                f"({error_code(exc)}); --lock and --legal-hold need a bucket made with it"
            ) from None
        enabled = config.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled")
        if enabled != "Enabled":
            raise ConfigError(f"s3://{self.bucket}: Object Lock is not enabled on the bucket")

    def abort_stale_uploads(self, names: set[str] | None = None, stem: str | None = None) -> int:
        """Abort the unfinished multipart uploads of these names (or of every name starting
        with ``stem``, or all under the prefix); return how many."""
        aborted = 0
        with s3_errors(f"listing the unfinished uploads of {self.url}"):
            pages = self.client.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.bucket, Prefix=self.prefix + (stem or "")
            )
            uploads = [u for page in pages for u in page.get("Uploads", [])]
        for upload in uploads:
            name = upload["Key"][len(self.prefix) :]
            if names is not None and name not in names:
                continue
            if stem is not None and archive_name(name) != f"{stem}.zip":
                continue
            with s3_errors(f"aborting the unfinished upload of {self.describe(name)}"):
                self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                )
            log.warning("aborted an unfinished upload of %s (left by an interrupted run)", name)
            aborted += 1
        return aborted

    def abandoned_uploads(self, before: datetime, *, abort: bool) -> list[str]:
        with s3_errors(f"listing the unfinished uploads of {self.url}"):
            pages = self.client.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.bucket, Prefix=self.prefix
            )
            uploads = [u for page in pages for u in page.get("Uploads", [])]
        found = []
        for upload in uploads:
            name = upload["Key"][len(self.prefix) :]
            if "/" in name or not is_archive_file(name) or upload["Initiated"] >= before:
                continue  # not an archive of this destination, or an upload under way
            if abort:
                with s3_errors(f"aborting the unfinished upload of {self.describe(name)}"):
                    self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                    )
            found.append(name)
        return sorted(found)

    # -- reading -------------------------------------------------------------------------------
    @contextmanager
    def local_copy(self, archive: StoredArchive) -> Iterator[Path]:
        from offboard.storage.readback import download_parts

        names = [p.name for p in archive.parts]
        with download_parts(self, [(p.name, p.version_id) for p in archive.parts]) as paths:
            yield paths[names.index(archive.first.name)]

    @contextmanager
    def fetch(self, name: str, version_id: str | None = None) -> Iterator[Path]:
        """A local copy of the archive holding the part file ``name``: every part of a split
        archive, the one named first (``version_id``: that version, for a single part)."""
        from offboard.storage.readback import download_parts

        whole = archive_name(name)
        parts: list[tuple[str, str | None]]
        if version_id is not None:
            if whole != name:
                raise ConfigError("--version-id names one object: not for a split archive")
            parts = [(name, version_id)]
        else:
            stem = whole.removesuffix(".age").removesuffix(".zip")
            found = [a for a in self._listed(stem) if a.name == whole]
            if not found:
                raise ArchiveError(f"{self.describe(name)}: no such archive")
            parts = [(p.name, None) for p in found[0].parts]
            if whole != name and name not in {n for n, _ in parts}:
                raise ArchiveError(f"{self.describe(name)}: no such archive part")
        if whole.endswith(".age") and version_id is not None:
            raise ConfigError("--version-id names one object: not for an encrypted archive")
        with download_parts(self, parts) as paths:
            names = [n for n, _ in parts]
            first = next(i for i, n in enumerate(names) if not n.endswith(".minisig"))
            yield paths[names.index(name)] if name in names else paths[first]

    @contextmanager
    def fetch_locations(self, locations: list[str]) -> Iterator[list[Path]]:
        """Local copies of the object versions ``s3://bucket/key?versionId=V`` of this
        destination (as :meth:`S3Parts.commit` returns them)."""
        from offboard.storage.readback import download_parts

        parts: list[tuple[str, str | None]] = []
        for location in locations:
            where, _, version = location.partition("?versionId=")
            folder, _, name = where.rpartition("/")
            if folder != self.url or not version:
                raise ConfigError(f"{location!r} is not a version in {self.url}")
            parts.append((name, version))
        with download_parts(self, parts) as paths:
            yield paths

    def put_small(self, name: str, data: bytes, **options: Any) -> str:
        """Store a small file (a receipt) beside the archives, with the archives' lock and
        encryption options; return its location with its version."""
        import base64
        import hashlib

        target = S3Parts(self, name, **options)
        extra: dict[str, Any] = {}
        if target.sse is not None:
            extra["ServerSideEncryption"] = target.sse
        if target.kms_key_id is not None:
            extra["SSEKMSKeyId"] = target.kms_key_id
        checksum = base64.b64encode(hashlib.sha256(data).digest()).decode()
        with s3_errors(f"PUT {self.describe(name)}"):
            answer = self.client.put_object(
                Bucket=self.bucket, Key=self.key(name), Body=data, ChecksumSHA256=checksum, **extra
            )
        version = answer.get("VersionId")
        with s3_errors(f"reading back {self.describe(name)}"):
            back = self.client.get_object(Bucket=self.bucket, Key=self.key(name), VersionId=version)
            if back["Body"].read() != data:
                from offboard.errors import UploadUnverified

                raise UploadUnverified(
                    f"{self.describe(name)}: read back differs from what was sent"
                )
        target.lock_version(name, version)
        return f"{self.describe(name)}?versionId={version}"

    def _listed(self, stem: str) -> list[StoredArchive]:
        parts: list[StoredPart] = []
        with s3_errors(f"listing {self.describe(stem)}*"):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.key(stem)
            )
            for page in pages:
                for obj in page.get("Contents", []):
                    name = obj["Key"][len(self.prefix) :]
                    if "/" not in name and is_archive_file(name):
                        parts.append(StoredPart(name, int(obj["Size"]), obj["LastModified"]))
        return group_parts(parts)

    # -- deleting and state --------------------------------------------------------------------
    def delete(self, archive: StoredArchive, *, now: datetime) -> None:
        self.check_deletable(archive, now)
        for part in archive.parts:
            extra = {} if part.version_id is None else {"VersionId": part.version_id}
            with s3_errors(f"deleting {self.describe(part.name)}"):
                self.client.delete_object(Bucket=self.bucket, Key=self.key(part.name), **extra)

    def read_state(self, name: str) -> bytes | None:
        key = f"{self.prefix}{STATE_DIR}/{check_state_name(name)}"
        from botocore.exceptions import ClientError

        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
            data: bytes = body.read(1 << 20)
            return data
        except ClientError as exc:
            if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise StorageError(
                f"GET s3://{self.bucket}/{key}: S3 refused ({error_code(exc)})"
            ) from None

    def write_state(self, name: str, data: bytes) -> None:
        import base64
        import hashlib

        key = f"{self.prefix}{STATE_DIR}/{check_state_name(name)}"
        checksum = base64.b64encode(hashlib.sha256(data).digest()).decode()
        with s3_errors(f"PUT s3://{self.bucket}/{key}"):
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ChecksumSHA256=checksum)
