"""Documents kept in S3: a real S3 endpoint on 127.0.0.1 (moto in server mode).

The demo's purchase PDFs are put in a bucket under their paths; read through a mapping that
says so, the export's documents are the reference export's, byte for byte. A key that is not
there is reported missing, an object above the size limit is never downloaded.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from offboard.errors import ExitCode
from tests.offboard.sources.exports import export, files

BUCKET = "acme-documents"
PREFIX = "tenant-files/"


@pytest.fixture(scope="module")
def s3(demo_db: Path) -> Iterator[str]:
    """An S3 endpoint holding the demo's purchase PDFs; its URL (the AWS environment set)."""
    import boto3

    from tests.s3server import s3_endpoint

    with s3_endpoint() as url:
        yield from _filled(demo_db, url, boto3)


def _filled(demo_db: Path, url: str, boto3: Any) -> Iterator[str]:
    import sqlite3

    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    docs = demo_db.parent / f"{demo_db.stem}-documents"
    conn = sqlite3.connect(demo_db)
    paths = [
        r[0] for r in conn.execute("SELECT pdf_path FROM purchases WHERE pdf_path IS NOT NULL")
    ]
    conn.close()
    for path in paths:
        if (docs / path).is_file():  # the demo's one missing purchase stays missing
            client.put_object(Bucket=BUCKET, Key=PREFIX + path, Body=(docs / path).read_bytes())
    yield url


def mapping(tmp_path: Path) -> Path:
    from exporters import select

    (purchases,) = [e for e in select(["purchases"])]
    assert purchases.documents is not None
    path = tmp_path / "s3.toml"
    path.write_text(
        '[mapping]\nformat = 1\nname = "documents in S3"\n\n[documents.purchases]\n'
        f'query = """{purchases.documents.query}"""\n'
        f's3 = {{ bucket = "{BUCKET}", prefix = "{PREFIX}" }}\n',
        encoding="utf-8",
    )
    return path


def test_documents_from_s3_are_the_files_byte_for_byte(
    s3: str, demo_db: Path, sqlite_export: dict[str, bytes], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    code, output = export(
        f"sqlite:///{demo_db}", out, "--mapping", str(mapping(tmp_path)), "--kinds", "purchases"
    )
    assert code == 0, output
    got = files(out)
    wanted = {n: v for n, v in sqlite_export.items() if n.startswith("documents/purchases")}
    assert wanted and {n: got.get(n) for n in wanted} == wanted
    summary = json.loads((out / "export-summary.json").read_text())
    assert {p["reason"] for p in summary["problems"]} == {"missing", "encrypted"}


def test_an_object_above_the_size_limit_is_not_downloaded(
    s3: str, demo_db: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    code, output = export(
        f"sqlite:///{demo_db}",
        out,
        "--mapping",
        str(mapping(tmp_path)),
        "--kinds",
        "purchases",
        "--max-document-size",
        "1KB",
    )
    assert code == 0, output
    summary = json.loads((out / "export-summary.json").read_text())
    assert "larger than 1,000 bytes" in {p["reason"] for p in summary["problems"]}
    assert not list((out / "documents" / "purchases").glob("*.pdf"))


def test_a_bad_s3_section_is_refused(tmp_path: Path, demo_db: Path) -> None:
    bad = mapping(tmp_path)
    bad.write_text(bad.read_text().replace(f'bucket = "{BUCKET}"', 'bucket = "Not A Bucket"'))
    code, output = export(f"sqlite:///{demo_db}", tmp_path / "out", "--mapping", str(bad))
    assert code == ExitCode.MAPPING and "s3 bucket must be an S3 bucket name" in output
