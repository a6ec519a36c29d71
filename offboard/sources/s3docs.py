"""Documents kept in S3 (or an S3-compatible store), one object per document.

A mapping's ``[documents.KIND]`` with ``s3 = { bucket = "...", prefix = "..." }``: the
document query's ``locator`` is the object's key (after the prefix). Credentials, region and
endpoint come from the standard AWS environment and configuration (``AWS_PROFILE``,
``AWS_ACCESS_KEY_ID``, ``AWS_ENDPOINT_URL_S3`` for an S3-compatible store...), never from a
mapping or the command line. The object's size is asked first (HEAD): one above
``--max-document-size`` is reported, never downloaded; a body shorter than that size is
refused; botocore retries throttling, 5xx and connection errors (standard mode, 5 attempts).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from offboard.sources.base import DocumentRef, DocumentUnavailable
from offboard.sources.records import Materialized

_local = threading.local()


def _client() -> Any:
    """One S3 client per thread (botocore clients are made at some cost)."""
    client = getattr(_local, "client", None)
    if client is None:
        import boto3
        from botocore.config import Config

        config = Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=10)
        client = _local.client = boto3.client("s3", config=config)
    return client


def s3_document(ref: DocumentRef, bucket: str, prefix: str, limit: int, into: Materialized) -> Path:
    """The object ``prefix + locator`` of ``bucket``, written to a file of ``into``."""
    from botocore.exceptions import BotoCoreError, ClientError

    key = _key(ref, prefix)
    client = _client()
    try:
        head = client.head_object(Bucket=bucket, Key=key)
        size = int(head["ContentLength"])
        if size > limit:
            raise DocumentUnavailable(f"larger than {limit:,} bytes")
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read(limit + 1)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchKey", "NotFound"):
            raise DocumentUnavailable("missing") from None
        raise DocumentUnavailable(f"unreadable: S3 {code or 'error'}") from None
    except BotoCoreError as exc:
        raise DocumentUnavailable(f"unreadable: {type(exc).__name__}") from None
    if len(body) != size:
        raise DocumentUnavailable(f"unreadable: {len(body)} bytes of {size} came")
    return into.write(body)


def _key(ref: DocumentRef, prefix: str) -> str:
    if not ref.locator:
        raise DocumentUnavailable("no document")
    key = prefix + ref.locator
    if "\x00" in key or len(key.encode()) > 1024:
        raise DocumentUnavailable("unsafe locator")
    return key


def s3_document_size(ref: DocumentRef, bucket: str, prefix: str) -> int:
    """The size of the object ``prefix + locator`` of ``bucket`` (a HEAD; nothing is read)."""
    from botocore.exceptions import BotoCoreError, ClientError

    key = _key(ref, prefix)
    try:
        return int(_client().head_object(Bucket=bucket, Key=key)["ContentLength"])
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchKey", "NotFound"):
            raise DocumentUnavailable("missing") from None
        raise DocumentUnavailable(f"unreadable: S3 {code or 'error'}") from None
    except BotoCoreError as exc:
        raise DocumentUnavailable(f"unreadable: {type(exc).__name__}") from None
