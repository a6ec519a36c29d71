"""The retain-until date is recomputed by verify from the archive's own tables and policy: a
re-signed archive whose date was moved (in bag-info.txt or offboard.json) or whose policy was
edited without the date is reported (``retention-mismatch``)."""

from __future__ import annotations

import json
from pathlib import Path

from manifests.signing import PublicKey
from manifests.verify import verify_archive
from tests.manifests.conftest import Made, resign


def _codes(path: Path, made: Made) -> list[str]:
    report = verify_archive(path, PublicKey.load(made.keys.pub))
    return [p.code for p in report.problems]


def test_the_archive_carries_its_retention(archive: Made) -> None:
    report = verify_archive(archive.path, PublicKey.load(archive.keys.pub))
    assert report.valid, report.problems
    assert report.metadata is not None
    retention = report.metadata["retention"]
    assert retention["retain_until"] == "2036-12-31"
    assert retention["policy"]["name"] == "fr-default"
    assert retention["kinds"]["sales_invoices"]["basis"].startswith("Code de commerce L123-22")


def test_a_moved_date_in_bag_info_is_caught(archive: Made, tmp_path: Path) -> None:
    def change(data: dict[str, bytes]) -> None:
        text = data["bag-info.txt"].decode()
        data["bag-info.txt"] = text.replace(
            "Retain-Until: 2036-12-31", "Retain-Until: 2027-01-01"
        ).encode()

    out = resign(archive.path, tmp_path / archive.path.name, archive.keys, change)
    assert _codes(out, archive) == ["retention-mismatch"]


def test_a_moved_date_in_offboard_json_is_caught(archive: Made, tmp_path: Path) -> None:
    def change(data: dict[str, bytes]) -> None:
        meta = json.loads(data["offboard.json"])
        meta["retention"]["retain_until"] = "2027-01-01"
        data["offboard.json"] = json.dumps(meta).encode()
        text = data["bag-info.txt"].decode()
        data["bag-info.txt"] = text.replace("2036-12-31", "2027-01-01").encode()

    out = resign(archive.path, tmp_path / archive.path.name, archive.keys, change)
    assert "retention-mismatch" in _codes(out, archive)


def test_a_shortened_policy_without_its_dates_is_caught(archive: Made, tmp_path: Path) -> None:
    def change(data: dict[str, bytes]) -> None:
        meta = json.loads(data["offboard.json"])
        meta["retention"]["policy"]["kinds"]["sales_invoices"]["years"] = 1
        data["offboard.json"] = json.dumps(meta).encode()

    out = resign(archive.path, tmp_path / archive.path.name, archive.keys, change)
    assert "retention-mismatch" in _codes(out, archive)


def test_a_broken_policy_is_reported_not_raised(archive: Made, tmp_path: Path) -> None:
    def change(data: dict[str, bytes]) -> None:
        meta = json.loads(data["offboard.json"])
        meta["retention"]["policy"] = {"format": 1, "name": "x", "kinds": {"../x": 3}}
        data["offboard.json"] = json.dumps(meta).encode()

    out = resign(archive.path, tmp_path / archive.path.name, archive.keys, change)
    assert "retention-mismatch" in _codes(out, archive)
