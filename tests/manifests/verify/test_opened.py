"""Verifying through descriptors the caller opened: the bytes checked are the bytes it holds."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from manifests.signing import PublicKey
from manifests.verify import verify_archive
from tests.manifests.conftest import Made


def test_the_opened_file_is_verified_not_the_name(archive: Made, tmp_path: Path) -> None:
    path = tmp_path / archive.path.name
    shutil.copyfile(archive.path, path)
    fd = os.open(path, os.O_RDONLY)
    try:
        tampered = bytearray(path.read_bytes())
        tampered[len(tampered) // 2] ^= 0xFF
        (tmp_path / "swap").write_bytes(bytes(tampered))
        (tmp_path / "swap").replace(path)  # the name now holds a changed archive
        key = PublicKey.load(archive.keys.pub)
        assert not verify_archive(path, key).valid
        report = verify_archive(path, key, opened={path: fd})
        assert report.valid, report.problems
        assert report.metadata is not None and report.metadata["account"]["id"] == archive.account
        assert report.manifest and all(len(v) == 64 for v in report.manifest.values())
    finally:
        os.close(fd)
