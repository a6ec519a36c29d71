"""``offboard verify`` and ``index.html``: a signed tag file, made again from the verified
``offboard.json`` and compared (``browser-mismatch``); ``parts.contents`` checked against each
part's files; archives of format version 2 (no page) still verify."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest

from manifests import bag
from manifests.signing import PublicKey
from manifests.verify import verify_archive
from tests.manifests.conftest import Keys, Made, make_archive, resign

V2 = Path(__file__).resolve().parents[2] / "fixtures" / "archive-v2"


def problems(path: Path, pub: Path) -> list[tuple[str, str]]:
    report = verify_archive(path, PublicKey.load(pub))
    return [(p.code, p.path) for p in report.problems]


def test_the_page_is_listed_in_the_signed_tag_manifest(archive: Made) -> None:
    with zipfile.ZipFile(archive.path) as zf:
        listed, errors = bag.parse_manifest(zf.read("acc-0001/tagmanifest-sha256.txt"))
        page = zf.read("acc-0001/index.html")
    assert errors == [] and set(listed) == {*bag.TAG_FILES} and bag.BROWSER in listed
    assert listed[bag.BROWSER] == hashlib.sha256(page).hexdigest()


def test_a_changed_page_is_reported(archive: Made, tmp_path: Path) -> None:
    bad = tmp_path / "acc-0001.zip"
    with zipfile.ZipFile(archive.path) as zf, zipfile.ZipFile(bad, "w") as out:
        for info in zf.infolist():
            data = zf.read(info)
            if info.filename == "acc-0001/index.html":
                data = data.replace(b'kind-records">', b'kind-records">1', 1)
            out.writestr(info, data)
    found = set(problems(bad, archive.keys.pub))
    assert {("checksum-mismatch", "index.html"), ("browser-mismatch", "index.html")} <= found


@pytest.mark.parametrize(
    "edit",
    [
        lambda page: page.replace(b'kind-records">', b'kind-records">9', 1),  # a lying count
        lambda page: page.replace(b"</body>", b"<script>alert(1)</script></body>"),
        lambda page: page + b"\n",
    ],
    ids=["count", "script", "one-byte"],
)
def test_a_re_signed_page_that_differs_is_reported(
    archive: Made, tmp_path: Path, edit: Any
) -> None:
    """The key holder re-signed it: the signature and the checksums hold, the page does not."""

    def change(files: dict[str, bytes]) -> None:
        files[bag.BROWSER] = edit(files[bag.BROWSER])

    bad = resign(archive.path, tmp_path / "acc-0001.zip", archive.keys, change)
    report = verify_archive(bad, PublicKey.load(archive.keys.pub))
    assert [(p.code, p.path) for p in report.problems] == [("browser-mismatch", "index.html")]
    assert "not the page offboard.json gives" in report.problems[0].detail
    fast = verify_archive(bad, PublicKey.load(archive.keys.pub), fast=True)
    assert [p.code for p in fast.problems] == ["browser-mismatch"]


def test_a_version_3_archive_without_its_page_is_reported(archive: Made, tmp_path: Path) -> None:
    src = tmp_path / "src.zip"
    with zipfile.ZipFile(archive.path) as zf, zipfile.ZipFile(src, "w") as out:
        for info in zf.infolist():
            if info.filename != "acc-0001/index.html":
                out.writestr(info, zf.read(info))
    # the tag manifest made again without it, and re-signed
    bad = resign(src, tmp_path / "acc-0001.zip", archive.keys, lambda files: None)
    assert set(problems(bad, archive.keys.pub)) == {
        ("bag-layout", "index.html"),
        ("missing-file", "index.html"),
    }


def test_a_hand_made_offboard_json_gets_its_own_page_checked(archive: Made, tmp_path: Path) -> None:
    """A key holder who edits offboard.json and makes the page again from it passes the page
    check: what the page says is then what offboard.json says, which the other checks test."""
    from manifests.metadata import encode

    def recount(files: dict[str, bytes]) -> None:
        meta = json.loads(files[bag.METADATA])
        meta["tables"][0]["records"] += 1
        files[bag.METADATA] = encode(meta)  # resign makes the page again from it

    bad = resign(archive.path, tmp_path / "acc-0001.zip", archive.keys, recount)
    codes = {code for code, _ in problems(bad, archive.keys.pub)}
    assert "record-mismatch" in codes and "browser-mismatch" not in codes


# -- parts.contents ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def split(demo_db: Path, keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    out = tmp_path_factory.mktemp("split-contents") / "acc-0001.zip"
    make_archive(demo_db, out, keys, split_files=250)
    return sorted(out.parent.glob("acc-0001-part-*.zip"))


def test_what_each_part_holds_is_in_every_part(split: list[Path]) -> None:
    metas = []
    for part in split:
        with zipfile.ZipFile(part) as zf:
            top = part.name[: -len(".zip")]
            metas.append(json.loads(zf.read(f"{top}/offboard.json")))
            payload = sorted(
                (i for i in zf.infolist() if i.filename.startswith(f"{top}/data/")),
                key=lambda i: i.filename.encode(),
            )
        n = metas[-1]["parts"]["number"]
        entry = metas[-1]["parts"]["contents"][n - 1]
        assert entry == {
            "number": n,
            "files": len(payload),
            "bytes": sum(i.file_size for i in payload),
            "documents": len(metas[-1]["documents"]),
            "first": payload[0].filename.split("/", 1)[1],
            "last": payload[-1].filename.split("/", 1)[1],
        }
    assert all(m["parts"]["contents"] == metas[0]["parts"]["contents"] for m in metas)


def test_a_part_that_holds_other_than_its_contents_say_is_reported(
    split: list[Path], keys: Keys, tmp_path: Path
) -> None:
    """parts.contents changed the same way in every part (and each page made again): the
    parts agree with each other, and the first part's files show it."""
    from manifests.metadata import encode

    parts = []
    for p in split:
        parts.append(tmp_path / p.name)
        shutil.copy(p, parts[-1])

    def more(files: dict[str, bytes]) -> None:
        meta = json.loads(files[bag.METADATA])
        meta["parts"]["contents"][0]["files"] += 1
        files[bag.METADATA] = encode(meta)

    for p in parts:
        resign(p, p, keys, more)
    report = verify_archive(parts[0], PublicKey.load(keys.pub))
    assert [(p.code, p.part, p.expected, p.found) for p in report.problems] == [
        (
            "part-mismatch",
            parts[0].name,
            str(json.loads(_read(split[0], "offboard.json"))["parts"]["contents"][0]["files"]),
            str(json.loads(_read(split[0], "offboard.json"))["parts"]["contents"][0]["files"] + 1),
        )
    ]


def _read(part: Path, rel: str) -> bytes:
    with zipfile.ZipFile(part) as zf:
        return zf.read(f"{part.name[: -len('.zip')]}/{rel}")


# -- format version 2 ------------------------------------------------------------------------
def test_a_version_2_archive_still_verifies() -> None:
    archive = V2 / "one" / "acc-0001.zip"
    assert json.loads(_read(archive, "offboard.json"))["format_version"] == 2
    with zipfile.ZipFile(archive) as zf:
        assert "acc-0001/index.html" not in zf.namelist()
    report = verify_archive(archive, PublicKey.load(V2 / "v2.pub"))
    assert report.valid, [str(p) for p in report.problems]
    assert report.documents and report.trusted_comment is not None
    assert report.trusted_comment.startswith("offboard-archive:2\t")


def test_a_version_2_split_archive_still_verifies() -> None:
    parts = sorted((V2 / "split").glob("*.zip"))
    assert len(parts) == 5
    report = verify_archive(parts[1], PublicKey.load(V2 / "v2.pub"))
    assert report.valid, [str(p) for p in report.problems]
    assert report.parts == [p.name for p in parts]


def test_a_version_2_archive_with_a_tampered_file_fails(tmp_path: Path) -> None:
    src = V2 / "one" / "acc-0001.zip"
    out = tmp_path / "acc-0001.zip"
    with zipfile.ZipFile(src) as zf, zipfile.ZipFile(out, "w") as dst:
        for info in zf.infolist():
            data = zf.read(info)
            if info.filename.endswith("data/csv/catalogue.csv"):
                data = data.replace(b"1", b"2", 1)
            dst.writestr(info, data)
    assert "checksum-mismatch" in {code for code, _ in problems(out, V2 / "v2.pub")}


def test_a_page_slipped_into_a_version_2_archive_is_unlisted(tmp_path: Path) -> None:
    src = V2 / "one" / "acc-0001.zip"
    out = tmp_path / "acc-0001.zip"
    with zipfile.ZipFile(src) as zf, zipfile.ZipFile(out, "w") as dst:
        for info in zf.infolist():
            dst.writestr(info, zf.read(info))
        dst.writestr("acc-0001/index.html", b"<!DOCTYPE html><p>all is well</p>")
    assert ("unlisted-file", "index.html") in problems(out, V2 / "v2.pub")


def test_the_page_is_made_from_what_the_verifier_parses(
    demo_db: Path, keys: Keys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The builder renders each part's page from the metadata it holds, not from the bytes
    parsed again: that metadata must be exactly what parsing ``offboard.json`` gives (lists,
    never tuples), in every part of a split archive."""
    from manifests import metadata

    made: list[metadata.Encoded] = []
    get = metadata.LazyMetadata.get

    def keeping(self: metadata.LazyMetadata, number: int) -> metadata.Encoded:
        encoded = get(self, number)
        made.append(encoded)
        return encoded

    monkeypatch.setattr(metadata.LazyMetadata, "get", keeping)
    make_archive(demo_db, tmp_path / "acc-0001.zip", keys, split_files=40)
    assert len({m.metadata for m in made}) >= 3, "a split archive, several parts"
    for encoded in made:
        assert json.loads(encoded.metadata) == encoded.content
        assert encoded.content["parts"]["files"]  # each part lists its payload files
