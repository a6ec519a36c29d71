"""Reading archives back from S3: by version, compared with what was sent, or downloaded.

:func:`read_back` streams one object version and hashes it at the very part boundaries it was
uploaded with: each stretch must be the bytes of that part (the SHA-256 computed before it
was sent), and the object no longer than the parts. Neither the ETag nor HEAD is trusted (an
ETag is not a hash of the bytes for a multipart upload, nor under SSE-KMS), and neither is
the archive's local state: the bytes come from S3.

:func:`download_parts` copies object versions into a private temporary folder (mode 0700)
for the verifier, which needs random access; the folder is removed after the block.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from offboard.errors import UploadUnverified
from offboard.storage.s3client import s3_errors

if TYPE_CHECKING:
    from offboard.storage.s3 import S3Destination
    from offboard.storage.sink import SentPart

__all__ = ["download_parts", "read_back"]

#: bytes read from the response body at a time
CHUNK = 1 << 20


def _get(dest: S3Destination, name: str, version_id: str | None) -> Any:
    extra = {} if version_id is None else {"VersionId": version_id}
    return dest.client.get_object(Bucket=dest.bucket, Key=dest.key(name), **extra)


def read_back(
    dest: S3Destination,
    name: str,
    version_id: str,
    sent: Sequence[SentPart],
    into: BinaryIO | None = None,
) -> str:
    """Check that version ``version_id`` of ``name`` is the parts ``sent``, byte for byte;
    copy it to ``into`` if given; return the object's SHA-256 (hex)."""
    where = f"{dest.describe(name)} (version {version_id})"
    whole = hashlib.sha256()
    expected = sum(p.size for p in sent)
    seen = 0
    with s3_errors(f"reading back {where}"):
        body = _get(dest, name, version_id)["Body"]
        try:
            part_hash = hashlib.sha256()
            index = 0
            left = sent[0].size if sent else 0
            while True:
                chunk = body.read(CHUNK)
                if not chunk:
                    break
                if into is not None:
                    into.write(chunk)
                whole.update(chunk)
                view = memoryview(chunk)
                while view:
                    if index >= len(sent):
                        raise UploadUnverified(f"{where}: longer than the {expected:,} bytes sent")
                    take = view[:left]
                    part_hash.update(take)
                    seen += len(take)
                    left -= len(take)
                    view = view[len(take) :]
                    if left == 0:
                        _check_part(where, sent[index], part_hash.digest())
                        part_hash = hashlib.sha256()
                        index += 1
                        left = sent[index].size if index < len(sent) else 0
        finally:
            body.close()
    if seen != expected:
        raise UploadUnverified(f"{where}: {seen:,} bytes read back of the {expected:,} sent")
    return whole.hexdigest()


def _check_part(where: str, part: SentPart, found: bytes) -> None:
    if found != part.sha256:
        raise UploadUnverified(
            f"{where}: part {part.number} read back differs from what was sent "
            f"(SHA-256 {found.hex()[:16]}..., sent {part.sha256.hex()[:16]}...)"
        )


@contextmanager
def private_folder(prefix: str) -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix=prefix))  # mode 0700
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def download_parts(
    dest: S3Destination, parts: Sequence[tuple[str, str | None]]
) -> Iterator[list[Path]]:
    """Copies of these object versions (name, version or None for the latest), in a private
    temporary folder, under their own names."""
    with private_folder("offboard-s3-") as folder:
        paths = []
        for name, version_id in parts:
            if "/" in name or name.startswith("."):
                raise UploadUnverified(f"{dest.describe(name)}: not a plain archive name")
            path = folder / name
            with (
                s3_errors(f"downloading {dest.describe(name)}"),
                open(path, "xb") as fh,
            ):
                body = _get(dest, name, version_id)["Body"]
                try:
                    while chunk := body.read(CHUNK):
                        fh.write(chunk)
                finally:
                    body.close()
                fh.flush()
                os.fsync(fh.fileno())
            paths.append(path)
        yield paths
