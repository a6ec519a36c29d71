"""Split archives in format version 2: each part lists its own files, parts stay bounded.

Also: archives written in format version 1 (one whole-archive ``offboard.json`` in every part)
still verify, from fixtures made by the release that wrote them.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from manifests.signing import PublicKey
from manifests.verify import verify_archive
from tests.manifests.conftest import Keys, Made, make_archive, resign

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "archive-v1"
V1_KEY = FIXTURES / "v1.pub"


def pubkey(keys: Keys) -> PublicKey:
    return PublicKey.load(keys.pub)


def metadata(part: Path) -> dict[str, Any]:
    with zipfile.ZipFile(part) as zf:
        name = next(n for n in zf.namelist() if n.endswith("/offboard.json"))
        meta: dict[str, Any] = json.loads(zf.read(name))
    return meta


def codes(report: Any) -> list[str]:
    return [p.code for p in report.problems]


def by_path(items: Any) -> list[dict[str, Any]]:
    return sorted(items, key=lambda d: str(d["path"]))


def resign_metadata(part: Path, keys: Keys, edit: Callable[[dict[str, Any]], None]) -> None:
    """Rewrite ``part``'s offboard.json with ``edit``, and re-sign the part."""
    from manifests.metadata import encode

    def change(files: dict[str, bytes]) -> None:
        meta = json.loads(files["offboard.json"])
        edit(meta)
        files["offboard.json"] = encode(meta)

    resign(part, part, keys, change)


# -- format version 1 -------------------------------------------------------------------------
def test_a_version_1_archive_still_verifies() -> None:
    archive = FIXTURES / "one" / "acc-0001.zip"
    assert metadata(archive)["format_version"] == 1
    report = verify_archive(archive, PublicKey.load(V1_KEY))
    assert report.valid, [str(p) for p in report.problems]
    assert report.documents == metadata(archive)["documents"] and report.documents


def test_a_version_1_split_archive_still_verifies(tmp_path: Path) -> None:
    parts = sorted((FIXTURES / "split").glob("*.zip"))
    assert len(parts) == 5 and {metadata(p)["format_version"] for p in parts} == {1}
    report = verify_archive(parts[2], PublicKey.load(V1_KEY))
    assert report.valid, [str(p) for p in report.problems]
    assert report.parts == [p.name for p in parts]
    assert report.documents == metadata(parts[0])["documents"]
    for p in parts:
        shutil.copy(p, tmp_path / p.name)
    (tmp_path / parts[3].name).unlink()
    broken = verify_archive(tmp_path / parts[0].name, PublicKey.load(V1_KEY))
    assert codes(broken) == ["missing-part"]


def test_a_version_1_archive_with_a_tampered_file_fails(tmp_path: Path) -> None:
    src = FIXTURES / "one" / "acc-0001.zip"
    out = tmp_path / "acc-0001.zip"
    with zipfile.ZipFile(src) as zf, zipfile.ZipFile(out, "w") as dst:
        for info in zf.infolist():
            data = zf.read(info)
            if info.filename.endswith("data/csv/catalogue.csv"):
                data = data.replace(b"1", b"2", 1)
            dst.writestr(info, data)
    assert "checksum-mismatch" in codes(verify_archive(out, PublicKey.load(V1_KEY)))


# -- format version 2: parts cut by files -----------------------------------------------------
@pytest.fixture(scope="module")
def split(demo_db: Path, keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """acc-0001 in parts of at most 120 files; do not modify them."""
    out = tmp_path_factory.mktemp("split-files") / "acc-0001.zip"
    make_archive(demo_db, out, keys, split_files=120)
    return sorted(out.parent.glob("acc-0001-part-*.zip"))


def test_parts_are_cut_by_files(split: list[Path], archive: Made) -> None:
    whole = metadata(archive.path)
    files = len(whole["parts"]["files"])
    assert len(split) == -(-files // 120) >= 3
    metas = [metadata(p) for p in split]
    for n, meta in enumerate(metas, 1):
        assert meta["parts"]["number"] == n and meta["parts"]["count"] == len(split)
        assert len(meta["parts"]["files"]) == (120 if n < len(split) else files - 120 * (n - 1))
        here = set(meta["parts"]["files"])
        assert {d["path"] for d in meta["documents"]} <= here
        assert {b["path"] for b in meta["bundles"]} <= here
    assert [f for m in metas for f in m["parts"]["files"]] == whole["parts"]["files"]
    assert by_path(d for m in metas for d in m["documents"]) == by_path(whole["documents"])
    assert by_path(b for m in metas for b in m["bundles"]) == by_path(whole["bundles"])
    for key in ("tables", "problems", "account", "csv", "period"):
        assert all(m[key] == whole[key] for m in metas), key


def test_a_split_archive_verifies_and_reports_every_document(
    split: list[Path], keys: Keys, archive: Made
) -> None:
    report = verify_archive(split[1], pubkey(keys))
    assert report.valid, [str(p) for p in report.problems]
    assert report.parts == [p.name for p in split]
    assert by_path(report.documents) == by_path(metadata(archive.path)["documents"])


def test_no_part_lists_the_files_of_another(split: list[Path]) -> None:
    whole = sum(len(metadata(p)["documents"]) for p in split)
    sizes = []
    for p in split:
        assert len(metadata(p)["documents"]) <= 120 < whole
        sizes.append(len(zipfile.ZipFile(p).read(f"{p.stem}/offboard.json")))
    assert max(sizes) < sum(sizes) / 2  # each part's file is a fraction of the whole


def _copy(parts: list[Path], folder: Path) -> list[Path]:
    folder.mkdir()
    return [Path(shutil.copy(p, folder / p.name)) for p in parts]


def test_a_part_that_says_it_is_another_is_reported(
    split: list[Path], keys: Keys, tmp_path: Path
) -> None:
    parts = _copy(split, tmp_path / "s")

    def renumber(meta: dict[str, Any]) -> None:
        meta["parts"]["number"] = 1

    resign_metadata(parts[1], keys, renumber)
    report = verify_archive(parts[0], pubkey(keys))
    assert [(p.code, p.part, p.detail) for p in report.problems] == [
        ("part-mismatch", parts[1].name, "parts.number disagrees with Bag-Count")
    ]


def test_shared_sections_that_differ_between_parts_are_reported(
    split: list[Path], keys: Keys, tmp_path: Path
) -> None:
    parts = _copy(split, tmp_path / "s")
    last = metadata(parts[-1])
    table = next(t for t in last["tables"] if t["path"] not in last["parts"]["files"])

    def recount(meta: dict[str, Any]) -> None:
        for t in meta["tables"]:
            if t["path"] == table["path"]:
                t["records"] += 1

    resign_metadata(parts[-1], keys, recount)
    report = verify_archive(parts[0], pubkey(keys))
    assert [(p.code, p.part) for p in report.problems] == [("part-mismatch", parts[-1].name)]
    assert "different archives" in report.problems[0].detail


def test_a_file_missing_from_its_parts_list_is_reported(
    split: list[Path], keys: Keys, tmp_path: Path
) -> None:
    parts = _copy(split, tmp_path / "s")
    dropped = metadata(parts[1])["parts"]["files"][3]

    def drop(meta: dict[str, Any]) -> None:
        meta["parts"]["files"].remove(dropped)

    resign_metadata(parts[1], keys, drop)
    report = verify_archive(parts[1], pubkey(keys))
    assert [(p.code, p.path) for p in report.problems] == [("part-mismatch", dropped)]


def test_parts_out_of_path_order_are_reported(
    demo_db: Path, keys: Keys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer that dealt files to parts out of path order (one file could then be in two
    parts unseen) is caught from each part's first and last path."""
    import manifests.build
    from manifests.metadata import PartPlan

    def dealt(sizes: dict[str, int], split_size: int, split_files: int) -> PartPlan:
        ordered = sorted(sizes, key=str.encode)
        return PartPlan(
            files={p: 1 + i % 2 for i, p in enumerate(ordered)}, sizes=dict(sizes), count=2
        )

    monkeypatch.setattr(manifests.build, "plan_parts", dealt)
    out = make_archive(demo_db, tmp_path / "d.zip", keys)
    report = verify_archive(out.with_name("d-part-001.zip"), pubkey(keys))
    assert codes(report) == ["part-mismatch"]
    assert "out of order" in report.problems[0].detail


def test_parts_hold_at_most_the_format_s_files() -> None:
    from manifests.build import DEFAULT_SPLIT_FILES
    from manifests.metadata import MAX_PART_FILES
    from manifests.payload import plan_parts
    from manifests.zipfmt import Limits

    sizes = {f"data/documents/x/{i:06d}.pdf": 10 for i in range(MAX_PART_FILES * 2 + 1)}
    plan = plan_parts(sizes, 10**12, DEFAULT_SPLIT_FILES)
    assert plan.count == 3
    assert [list(plan.files.values()).count(n) for n in (1, 2, 3)] == [MAX_PART_FILES] * 2 + [1]
    assert Limits().max_members >= MAX_PART_FILES + 6  # a full part and its tag files
