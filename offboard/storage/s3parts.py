"""Writing an archive's parts into S3: :class:`S3Parts` (see :mod:`offboard.storage.s3`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from offboard.errors import ConfigError, OutputExists, StorageError, UploadUnverified
from offboard.storage.retained import META_KEY, end_of
from offboard.storage.s3client import s3_errors

if TYPE_CHECKING:
    from manifests.signing import PublicKey
    from offboard.storage.s3 import S3Destination
    from offboard.storage.sink import MultipartSink

log = logging.getLogger(__name__)

LOCK_MODES = {"compliance": "COMPLIANCE", "governance": "GOVERNANCE"}
SSE_MODES = ("AES256", "aws:kms")


@dataclass
class _Part:
    name: str
    sink: MultipartSink
    version_id: str | None = None
    sha256: str = ""


class S3Parts:
    """The :class:`~manifests.targets.PartTarget` of an S3 destination (see the module doc
    of :mod:`offboard.storage.s3`)."""

    def __init__(
        self,
        dest: S3Destination,
        name: str,
        *,
        lock: str | None = None,
        retain_until: datetime | None = None,
        legal_hold: bool = False,
        sse: str | None = None,
        kms_key_id: str | None = None,
        now: datetime | None = None,
    ) -> None:
        if lock is not None and lock not in LOCK_MODES:
            raise ConfigError(f"--lock {lock!r}: choose compliance or governance")
        if retain_until is not None and lock is None:
            raise ConfigError("--retain-until needs --lock compliance|governance")
        if retain_until is not None:
            if retain_until.tzinfo is None:
                retain_until = retain_until.replace(tzinfo=UTC)
            retain_until = retain_until.replace(microsecond=0)
            if retain_until <= (now or datetime.now(UTC)):
                raise ConfigError(f"--retain-until {retain_until:%Y-%m-%d}: not in the future")
        if sse is not None and sse not in SSE_MODES:
            raise ConfigError(f"--sse {sse!r}: choose AES256 or aws:kms")
        if kms_key_id is not None and sse != "aws:kms":
            raise ConfigError("--kms-key-id needs --sse aws:kms")
        self.dest = dest
        self.name = name
        self.lock = None if lock is None else LOCK_MODES[lock]
        self.retain_until = retain_until
        self.legal_hold = legal_hold
        self.sse = sse
        self.kms_key_id = kms_key_id
        self._parts: list[_Part] = []
        self._stale: list[str] = []
        self._small: list[tuple[str, bytes]] = []
        self.lock_option = lock
        self._verify_key: PublicKey | None = None
        #: the archive's own retain-until date (its retention policy's), once known
        self.archive_until: date | None = None
        dest.require_versioning()
        if lock is not None or legal_hold:
            dest.require_object_lock()

    def set_retention(self, until: date | None) -> None:
        """The archive's own retain-until date: stored with each object (metadata), and the
        Object Lock date when ``--lock`` came without ``--retain-until``."""
        self.archive_until = until
        if self.lock is not None and self.retain_until is None:
            if until is None:
                raise ConfigError(
                    "--lock without --retain-until takes the archive's retention date, and "
                    "this archive has none (no records its policy keeps): give --retain-until"
                )
            self.retain_until = end_of(until)

    def verify_with(self, key: PublicKey) -> None:
        """After the read-back, verify the archive with ``key`` (the signer's public key)."""
        self._verify_key = key

    # -- PartTarget ----------------------------------------------------------------------------
    def check(self, out: Path, finals: list[Path], overwrite: bool) -> None:
        stem = out.name[: -len(".zip")]
        self.dest.abort_stale_uploads(stem=stem)
        names = [f.name for f in finals]
        existing = [a for a in self.dest._listed(stem) if a.name == out.name]
        taken = [p.name for a in existing for p in a.parts]
        if taken and not overwrite:
            raise OutputExists(
                f"archive {self.dest.describe(taken[0])!r} already exists; choose another "
                "--out or pass --overwrite (the bucket keeps the older version)"
            )
        self._stale = [n for n in taken if n not in names]

    def open(self, final: Path, expected_size: int) -> BinaryIO:
        from offboard.storage.sink import MultipartSink, part_size_for

        extra: dict[str, Any] = {}
        if self.sse is not None:
            extra["ServerSideEncryption"] = self.sse
        if self.kms_key_id is not None:
            extra["SSEKMSKeyId"] = self.kms_key_id
        if self.archive_until is not None:
            extra["Metadata"] = {META_KEY: self.archive_until.isoformat()}
        key = self.dest.key(final.name)
        with s3_errors(f"starting the upload of {self.dest.describe(final.name)}"):
            upload = self.dest.client.create_multipart_upload(
                Bucket=self.dest.bucket,
                Key=key,
                ContentType="application/zip",
                ChecksumAlgorithm="SHA256",
                **extra,
            )
        sink = MultipartSink(
            self.dest.client,
            self.dest.bucket,
            key,
            upload["UploadId"],
            part_size=part_size_for(expected_size),
        )
        self._parts.append(_Part(final.name, sink))
        return sink  # type: ignore[return-value]

    def finish(self, final: Path, fh: BinaryIO) -> None:
        part = next(p for p in self._parts if p.name == final.name)
        with s3_errors(f"uploading {self.dest.describe(final.name)}"):
            part.sink.finish()

    def add_small(self, final: Path, data: bytes) -> None:
        self._small.append((final.name, data))

    def commit(self) -> list[str]:
        for part in self._parts:
            self._complete(part)
        self._read_back()
        for part in self._parts:
            self._apply_lock(part)
        for name, data in self._small:
            options = {"lock": self.lock_option, "retain_until": self.retain_until}
            self.dest.put_small(
                name,
                data,
                **{k: v for k, v in options.items() if v is not None},
                legal_hold=self.legal_hold,
                sse=self.sse,
                kms_key_id=self.kms_key_id,
            )
        for name in self._stale:  # parts of the older archive of this name: a delete marker
            with s3_errors(f"deleting {self.dest.describe(name)} (an older archive's part)"):
                self.dest.client.delete_object(Bucket=self.dest.bucket, Key=self.dest.key(name))
        return [f"{self.dest.describe(p.name)}?versionId={p.version_id}" for p in self._parts]

    def abort(self) -> None:
        for part in self._parts:
            try:
                if part.version_id is None:
                    part.sink.discard()
                    self.dest.client.abort_multipart_upload(
                        Bucket=self.dest.bucket, Key=part.sink.key, UploadId=part.sink.upload_id
                    )
                else:
                    self.dest.client.delete_object(
                        Bucket=self.dest.bucket, Key=part.sink.key, VersionId=part.version_id
                    )
            except Exception as exc:  # an error is being raised already: report, go on
                log.error("could not remove %s: %s", self.dest.describe(part.name), exc)

    # -- helpers -------------------------------------------------------------------------------
    def _complete(self, part: _Part) -> None:
        sent = part.sink.parts
        with s3_errors(f"completing the upload of {self.dest.describe(part.name)}"):
            answer = self.dest.client.complete_multipart_upload(
                Bucket=self.dest.bucket,
                Key=part.sink.key,
                UploadId=part.sink.upload_id,
                MultipartUpload={
                    "Parts": [
                        {"PartNumber": p.number, "ETag": p.etag, "ChecksumSHA256": p.checksum}
                        for p in sent
                    ]
                },
            )
        version = answer.get("VersionId")
        if not version or version == "null":
            raise StorageError(f"{self.dest.describe(part.name)}: S3 gave the object no version")
        part.version_id = version

    def _read_back(self) -> None:
        from manifests.verify import verify_archive
        from offboard.storage.readback import private_folder, read_back

        with private_folder("offboard-readback-") as folder:
            for part in self._parts:
                assert part.version_id is not None
                if self._verify_key is None:
                    part.sha256 = read_back(self.dest, part.name, part.version_id, part.sink.parts)
                    continue
                with open(folder / part.name, "xb") as fh:
                    part.sha256 = read_back(
                        self.dest, part.name, part.version_id, part.sink.parts, fh
                    )
            if self._verify_key is None:
                return
            report = verify_archive(folder / self._parts[0].name, self._verify_key)
            if not report.valid:
                first = report.problems[0]
                raise UploadUnverified(
                    f"{self.dest.describe(self.name)}: the archive read back does not verify "
                    f"({len(report.problems)} problem(s); first: {first.path}: {first.detail})"
                )

    def _apply_lock(self, part: _Part) -> None:
        assert part.version_id is not None
        self.lock_version(part.name, part.version_id)

    def lock_version(self, name: str, version_id: str) -> None:
        """Apply this target's retention and legal hold to a version, and check they hold."""
        if self.lock is None and not self.legal_hold:
            return
        client, bucket, key = self.dest.client, self.dest.bucket, self.dest.key(name)
        where = f"{self.dest.describe(name)} (version {version_id})"
        with s3_errors(f"locking {where}"):
            if self.lock is not None:
                client.put_object_retention(
                    Bucket=bucket,
                    Key=key,
                    VersionId=version_id,
                    Retention={"Mode": self.lock, "RetainUntilDate": self.retain_until},
                )
            if self.legal_hold:
                client.put_object_legal_hold(
                    Bucket=bucket, Key=key, VersionId=version_id, LegalHold={"Status": "ON"}
                )
        head = self.dest.head(name, version_id)
        if self.lock is not None:
            until = head.get("ObjectLockRetainUntilDate")
            assert self.retain_until is not None
            if head.get("ObjectLockMode") != self.lock or not until or until < self.retain_until:
                raise StorageError(f"{where}: the Object Lock retention did not take effect")
        if self.legal_hold and head.get("ObjectLockLegalHoldStatus") != "ON":
            raise StorageError(f"{where}: the legal hold did not take effect")
