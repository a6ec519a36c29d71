"""An S3 endpoint (moto in server mode on 127.0.0.1), buckets, keys and a local reference."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.manifests.conftest import CREATED, Keys, make_archive, make_keys

_names = itertools.count()


@pytest.fixture(scope="session")
def s3() -> Iterator[str]:
    from tests.s3server import s3_endpoint

    with s3_endpoint() as url:
        yield url


@pytest.fixture
def bucket(s3: str) -> str:
    """A new, empty, versioned bucket."""
    from tests.s3server import make_bucket

    name = f"archives-{next(_names)}"
    make_bucket(name)
    return name


@pytest.fixture
def locked_bucket(s3: str) -> str:
    """A new bucket with Object Lock enabled (and so versioning)."""
    from tests.s3server import make_bucket

    name = f"locked-{next(_names)}"
    make_bucket(name, lock=True)
    return name


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return make_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="session")
def local_archive(demo_db: Path, keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The archive of acc-0001 written to a local file, at the tests' creation time."""
    return make_archive(demo_db, tmp_path_factory.mktemp("local") / "acc-0001.zip", keys)


__all__ = ["CREATED", "Keys"]
