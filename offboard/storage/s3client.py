"""The S3 client, and S3's errors as offboard's.

Credentials, region and endpoint come from the standard AWS environment and configuration
(``AWS_PROFILE``, ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``,
``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL`` for an S3-compatible store), never from the
command line. botocore retries throttling, 5xx answers and dropped connections (standard mode,
5 attempts); what still fails is raised as :class:`~offboard.errors.StorageError`, naming the
request, bucket and key.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from offboard.errors import ConfigError, StorageError

__all__ = ["error_code", "s3_client", "s3_errors"]


def s3_client() -> Any:
    """A new S3 client (a client per thread or process: botocore's are not fork-safe)."""
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"max_attempts": 5, "mode": "standard"},
        connect_timeout=10,
        read_timeout=120,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    try:
        return boto3.client("s3", config=config)
    except Exception as exc:  # NoRegionError, ProfileNotFound, bad endpoint URL...
        raise ConfigError(f"S3: {exc}") from None


def error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


@contextlib.contextmanager
def s3_errors(what: str) -> Iterator[None]:
    """Raise S3 and connection errors met in the block as StorageError about ``what``."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        code = error_code(exc)
        message = exc.response.get("Error", {}).get("Message") or ""
        detail = f"{code}: {message}" if message and message != code else code or "error"
        raise StorageError(f"{what}: S3 refused ({detail})") from None
    except BotoCoreError as exc:
        raise StorageError(f"{what}: {exc}") from None
