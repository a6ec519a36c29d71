"""A real S3 endpoint on 127.0.0.1 for the tests: moto in server mode, in a thread.

:func:`s3_endpoint` starts one and sets the standard AWS environment (dummy credentials, a
region, ``AWS_ENDPOINT_URL_S3``) for the block, so that offboard's own S3 clients, made from
that environment as in production, talk to it. moto checks neither the upload checksums nor
Object Lock settings given when a multipart upload starts; the tests do not rely on either.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextmanager
def s3_endpoint() -> Iterator[str]:
    """Start moto's S3 on 127.0.0.1 (a free port); yield its URL with the environment set."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server._server.server_address  # type: ignore[attr-defined]
    url = f"http://{host}:{port}"
    patch = pytest.MonkeyPatch()
    for name, value in {**ENV, "AWS_ENDPOINT_URL_S3": url, "AWS_ENDPOINT_URL": url}.items():
        patch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        patch.delenv(name, raising=False)
    try:
        yield url
    finally:
        patch.undo()
        server.stop()


def client(service: str = "s3") -> Any:
    import boto3

    return boto3.client(service)


def make_bucket(name: str, *, versioned: bool = True, lock: bool = False) -> None:
    s3 = client()
    if lock:
        s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
        return
    s3.create_bucket(Bucket=name)
    if versioned:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
