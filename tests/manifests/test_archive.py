"""Signed archives: layout, metadata, determinism, splitting, and independent tools agreeing."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest

from manifests.verify import verify_archive
from tests.manifests.conftest import CREATED, Made, make_archive, require

ROOT = Path(__file__).resolve().parents[2]


def members(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as zf:
        return zf.namelist()


def read(path: Path, name: str) -> bytes:
    with zipfile.ZipFile(path) as zf:
        return zf.read(name)


def pubkey(made: Made):  # type: ignore[no-untyped-def]
    from manifests.signing import PublicKey

    return PublicKey.load(made.keys.pub)


def test_layout_is_one_bag_in_one_folder(archive: Made) -> None:
    names = members(archive.path)
    assert all(n.startswith("acc-0001/") for n in names)
    rel = [n.split("/", 1)[1] for n in names]
    assert rel[:4] == ["bagit.txt", "bag-info.txt", "offboard.json", "index.html"]
    assert rel[-3:] == [
        "manifest-sha256.txt",
        "tagmanifest-sha256.txt",
        "tagmanifest-sha256.txt.minisig",
    ]
    payload = rel[4:-3]
    assert payload == sorted(payload, key=lambda p: p.encode())
    assert all(p.startswith("data/") for p in payload)
    assert "data/csv/sales_invoices.csv" in payload
    assert any(p.startswith("data/documents/sales_invoices/") for p in payload)
    assert "data/export-summary.json" not in payload


def test_csv_is_deflated_and_pdfs_stored(archive: Made) -> None:
    with zipfile.ZipFile(archive.path) as zf:
        for info in zf.infolist():
            if info.filename.endswith(".pdf"):
                assert info.compress_type == zipfile.ZIP_STORED, info.filename
            if info.filename.endswith(".csv"):
                assert info.compress_type == zipfile.ZIP_DEFLATED, info.filename
            assert info.date_time == (2026, 1, 31, 12, 0, 0)


def test_bag_info_fields(archive: Made) -> None:
    text = read(archive.path, "acc-0001/bag-info.txt").decode()
    fields = dict(line.split(": ", 1) for line in text.splitlines())
    assert fields["External-Identifier"] == "acc-0001"
    assert fields["Bagging-Date"] == "2026-01-31"
    assert fields["Offboard-Created-At"] == "2026-01-31T12:00:00Z"
    assert fields["Bag-Software-Agent"].startswith("offboard ")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d/\d{4}-\d\d-\d\d", fields["Offboard-Records-Period"])
    with zipfile.ZipFile(archive.path) as zf:
        payload = [i for i in zf.infolist() if i.filename.startswith("acc-0001/data/")]
    assert fields["Payload-Oxum"] == f"{sum(i.file_size for i in payload)}.{len(payload)}"
    assert "Bag-Count" not in fields


def test_metadata_matches_the_source(archive: Made, demo_db: Path) -> None:
    import sqlite3

    meta = json.loads(read(archive.path, "acc-0001/offboard.json"))
    assert meta["format"] == "offboard-archive" and meta["format_version"] == 3
    assert meta["account"]["id"] == "acc-0001"
    assert meta["created_at"] == "2026-01-31T12:00:00Z"
    tables = {t["table"]: t for t in meta["tables"]}
    con = sqlite3.connect(demo_db)
    (n,) = con.execute("SELECT count(*) FROM invoices WHERE account_id = 'acc-0001'").fetchone()
    assert tables["sales_invoices"]["records"] == n
    rows = con.execute(
        "SELECT currency, total_ttc FROM invoices WHERE account_id = 'acc-0001'"
    ).fetchall()
    by_currency: dict[str, Decimal] = {}
    for currency, amount in rows:
        by_currency[currency] = by_currency.get(currency, Decimal(0)) + Decimal(amount)
    totals = {c: Decimal(a) for c, a in tables["sales_invoices"]["totals"]["total_ttc"].items()}
    assert totals == by_currency
    numbering = tables["sales_invoices"]["numbering"]
    assert numbering["count"] == n and numbering["series"]
    for s in numbering["series"]:
        assert s["count"] >= 1 and s["first"] <= s["last"]
    docs = meta["documents"]
    assert docs and all(d["pages"] >= 1 and len(d["sha256"]) == 64 for d in docs)
    reasons = {p["reason"] for p in meta["problems"]}
    assert {"missing", "encrypted"} <= reasons  # the demo's two deliberate problems
    assert meta["parts"]["count"] == 1 and meta["parts"]["number"] == 1
    assert meta["parts"]["files"] == sorted(
        (n.split("/", 1)[1] for n in members(archive.path) if "/data/" in n), key=str.encode
    )


def test_signed_archive_verifies(archive: Made) -> None:
    report = verify_archive(archive.path, pubkey(archive))
    assert report.valid, [str(p) for p in report.problems]
    assert report.account == "acc-0001"
    assert report.signed_by == pubkey(archive).key_id_hex
    assert "account:acc-0001" in (report.trusted_comment or "")
    fast = verify_archive(archive.path, pubkey(archive), fast=True)
    assert fast.valid and fast.mode == "fast"


def test_excel_fr_archive_verifies(archive_fr: Made) -> None:
    report = verify_archive(archive_fr.path, pubkey(archive_fr))
    assert report.valid, [str(p) for p in report.problems]


def test_same_created_at_gives_identical_bytes(
    demo_db: Path, tmp_path: Path, archive: Made
) -> None:
    again = make_archive(demo_db, tmp_path / "acc-0001.zip", archive.keys)
    assert again.read_bytes() == archive.path.read_bytes()


def test_other_created_at_gives_other_archive(demo_db: Path, tmp_path: Path, archive: Made) -> None:
    from datetime import timedelta

    other = make_archive(
        demo_db, tmp_path / "acc-0001.zip", archive.keys, created=CREATED + timedelta(seconds=2)
    )
    assert other.read_bytes() != archive.path.read_bytes()
    assert verify_archive(other, pubkey(archive)).valid


def test_no_temporary_or_staging_file_is_left(archive: Made) -> None:
    assert sorted(p.name for p in archive.path.parent.iterdir()) == ["acc-0001.zip"]


def test_split_archive(demo_db: Path, tmp_path: Path, archive: Made) -> None:
    out = tmp_path / "split.zip"
    make_archive(demo_db, out, archive.keys, split_size=300_000)
    parts = sorted(tmp_path.glob("split-part-*.zip"))
    assert len(parts) >= 3 and not out.exists()
    infos = []
    for p in parts:
        text = read(p, f"{p.stem}/bag-info.txt").decode()
        infos.append(dict(line.split(": ", 1) for line in text.splitlines()))
    assert [i["Bag-Count"] for i in infos] == [
        f"{n} of {len(parts)}" for n in range(1, len(parts) + 1)
    ]
    assert len({i["Bag-Group-Identifier"] for i in infos}) == 1
    report = verify_archive(parts[1], pubkey(archive))
    assert report.valid, [str(p) for p in report.problems]
    assert report.parts == [p.name for p in parts]
    parts[-1].unlink()
    broken = verify_archive(parts[0], pubkey(archive))
    assert [p.code for p in broken.problems] == ["missing-part"]
    assert broken.problems[0].expected == f"{len(parts)} of {len(parts)}"


def test_part_of_a_split_archive_renamed_alone_is_reported(
    demo_db: Path, tmp_path: Path, archive: Made
) -> None:
    make_archive(demo_db, tmp_path / "s.zip", archive.keys, split_size=300_000)
    lone = tmp_path / "lone.zip"
    (tmp_path / "s-part-001.zip").rename(lone)
    codes = {p.code for p in verify_archive(lone, pubkey(archive)).problems}
    assert "missing-part" in codes


def test_bagit_python_validates_the_unpacked_bag(archive: Made, tmp_path: Path) -> None:
    import bagit

    with zipfile.ZipFile(archive.path) as zf:
        zf.extractall(tmp_path)  # our own archive, just verified: safe to unpack here
    bag = bagit.Bag(str(tmp_path / "acc-0001"))
    bag.validate()
    assert bag.info["External-Identifier"] == "acc-0001"


def test_minisign_cli_verifies_the_signature(archive: Made, tmp_path: Path) -> None:
    minisign = require("minisign")
    with zipfile.ZipFile(archive.path) as zf:
        for name in ("tagmanifest-sha256.txt", "tagmanifest-sha256.txt.minisig"):
            (tmp_path / name).write_bytes(zf.read(f"acc-0001/{name}"))
    done = subprocess.run(
        [minisign, "-Vm", str(tmp_path / "tagmanifest-sha256.txt"), "-p", str(archive.keys.pub)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "account:acc-0001" in done.stdout


def test_qpdf_checks_every_bundle(archive: Made, tmp_path: Path) -> None:
    qpdf = require("qpdf")
    with zipfile.ZipFile(archive.path) as zf:
        bundles = [n for n in zf.namelist() if "-bundle-" in n]
        assert bundles
        for name in bundles:
            target = tmp_path / Path(name).name
            target.write_bytes(zf.read(name))
            done = subprocess.run([qpdf, "--check", str(target)], capture_output=True, text=True)
            assert done.returncode == 0, (name, done.stdout[-500:], done.stderr[-500:])


def test_unzip_tests_the_archive(archive: Made) -> None:
    unzip = require("unzip")
    done = subprocess.run([unzip, "-tq", str(archive.path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def readme_block() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Verify without offboard", 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match is not None
    return match.group(1)


def test_readme_verify_without_offboard_runs_as_written(archive: Made, tmp_path: Path) -> None:
    for tool in ("unzip", "minisign", "sha256sum"):
        require(tool)
    demo = tmp_path / "demo"
    demo.mkdir()
    (demo / "acc-0001.zip").write_bytes(archive.path.read_bytes())
    (demo / "demo-signing.pub").write_bytes(archive.keys.pub.read_bytes())
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "LC_ALL": "C.UTF-8"}
    script = "set -euo pipefail\n" + readme_block()
    done = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def test_readme_block_fails_on_a_tampered_payload(archive: Made, tmp_path: Path) -> None:
    """The hand-run commands are not a formality: they catch a changed file."""
    demo = tmp_path / "demo"
    demo.mkdir()
    (demo / "demo-signing.pub").write_bytes(archive.keys.pub.read_bytes())
    with zipfile.ZipFile(archive.path) as src, zipfile.ZipFile(demo / "acc-0001.zip", "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("data/csv/contacts_people.csv"):
                data = data.replace(b"a", b"b", 1)
            dst.writestr(info, data)
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "LC_ALL": "C.UTF-8"}
    done = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + readme_block()],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    assert "contacts_people.csv" in done.stdout + done.stderr


@pytest.mark.parametrize("allow", [False, True])
def test_unsigned_archive(demo_db: Path, tmp_path: Path, allow: bool) -> None:
    out = make_archive(demo_db, tmp_path / "u.zip", None)
    report = verify_archive(out, None, allow_unsigned=allow)
    codes = [p.code for p in report.problems]
    assert codes == ([] if allow else ["signature-missing"])


def test_every_problem_type_is_documented() -> None:
    from manifests.problems import ALL_PROBLEMS, Problem

    doc = (ROOT / "docs" / "archive-format.md").read_text()
    assert {c.code for c in ALL_PROBLEMS} == {c.code for c in Problem.__subclasses__()}
    for cls in ALL_PROBLEMS:
        assert f"| `{cls.code}` |" in doc, cls.code


# -- offboard.json: one byte form, a line per table, document and file ------------------------
def test_offboard_json_layout(archive: Made) -> None:
    from manifests.metadata import encode

    data = read(archive.path, "acc-0001/offboard.json")
    text = data.decode("utf-8")
    assert text.endswith("}\n") and not text.endswith("\n\n")

    def sorted_pairs(pairs: list[tuple[str, object]]) -> dict[str, object]:
        keys = [k for k, _ in pairs]
        assert keys == sorted(keys)
        return dict(pairs)

    meta = json.loads(text, object_pairs_hook=sorted_pairs)
    assert encode(meta) == data  # the layout is a function of the content
    lines = text.split("\n")
    for key in ("tables", "documents", "bundles", "problems"):
        start = lines.index(f'  "{key}": [')
        items = [
            json.loads(line.strip().rstrip(",")) for line in lines[start + 1 :][: len(meta[key])]
        ]
        assert items == meta[key]
    start = lines.index('    "files": [')
    files = lines[start + 1 :][: len(meta["parts"]["files"])]
    assert [json.loads(line.strip().rstrip(",")) for line in files] == meta["parts"]["files"]


def test_metadata_encoding() -> None:
    from manifests.metadata import encode

    value = {
        "b": [1, {"z": None, "a": [True, 1.5, "x"]}, [], {}],
        "a": {"\u00e9t\u00e9": {"q": '\u65e5\n"', "p": False}, "e": {}, "l": []},
        "c": -3,
    }
    text = encode(value).decode("utf-8")
    assert text == (
        "{\n"
        '  "a": {\n'
        '    "e": {},\n'
        '    "l": [],\n'
        '    "\u00e9t\u00e9": {\n'
        '      "p": false,\n'
        '      "q": "\u65e5\\n\\""\n'
        "    }\n"
        "  },\n"
        '  "b": [\n'
        "    1,\n"
        '    {"a": [true, 1.5, "x"], "z": null},\n'
        "    [],\n"
        "    {}\n"
        "  ],\n"
        '  "c": -3\n'
        "}\n"
    )
    assert json.loads(text) == value
    with pytest.raises(TypeError):
        encode({"a": {1: 2}})


# -- the payload: what is listed, what is refused ---------------------------------------------
def test_payload_files(tmp_path: Path) -> None:
    import os

    from manifests.build import payload_files
    from offboard.errors import OutputError

    (tmp_path / "csv").mkdir()
    (tmp_path / "csv" / "a.csv").write_bytes(b"x" * 7)
    (tmp_path / "documents" / "k" / "deep").mkdir(parents=True)
    (tmp_path / "documents" / "k" / "deep" / "\u00e9.pdf").write_bytes(b"%PDF")
    (tmp_path / "documents" / "k" / ".1.pdf.tmp-12-3").write_bytes(b"partial")
    (tmp_path / "export-summary.json").write_text("{}")
    assert payload_files(tmp_path) == {"data/csv/a.csv": 7, "data/documents/k/deep/\u00e9.pdf": 4}
    (tmp_path / "csv" / "link.csv").symlink_to(tmp_path / "csv" / "a.csv")
    with pytest.raises(OutputError, match="link"):
        payload_files(tmp_path)
    (tmp_path / "csv" / "link.csv").unlink()
    (tmp_path / "documents" / "linked").symlink_to(tmp_path / "csv", target_is_directory=True)
    with pytest.raises(OutputError, match="link"):
        payload_files(tmp_path)
    (tmp_path / "documents" / "linked").unlink()
    os.mkfifo(tmp_path / "csv" / "fifo")
    with pytest.raises(OutputError, match=r"non-regular file .*fifo"):
        payload_files(tmp_path)


# -- the two ways of reading a file, and files that change -------------------------------------
@pytest.fixture
def streamed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file larger than 4 KiB is streamed (read in chunks), not read whole."""
    from manifests.zipfmt import ZipWriter

    add_files = ZipWriter.add_files

    def small_chunks(self: ZipWriter, members, **kwargs):  # type: ignore[no-untyped-def]
        return add_files(self, members, **{**kwargs, "chunk_size": 4096})

    monkeypatch.setattr(ZipWriter, "add_files", small_chunks)


def test_streamed_files_give_the_same_archive(
    demo_db: Path, tmp_path: Path, archive: Made, streamed: None
) -> None:
    import gc

    again = make_archive(demo_db, tmp_path / "acc-0001.zip", archive.keys)
    assert again.read_bytes() == archive.path.read_bytes()
    assert gc.isenabled()


@pytest.mark.parametrize("how", ["whole", "streamed"])
def test_a_file_changed_while_archived_is_named(
    demo_db: Path,
    tmp_path: Path,
    archive: Made,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    how: str,
) -> None:
    """With the CSV files staged for the archive stage (not packed as they are written)."""
    import manifests.build as build
    from offboard.errors import OutputError

    if how == "streamed":
        request.getfixturevalue("streamed")
    listed = build.payload_files

    def then_changed(stage: Path) -> dict[str, int]:
        sizes = listed(stage)
        with open(stage / "csv" / "contacts_people.csv", "ab") as fh:
            fh.write(b"one more line\n")
        return sizes

    monkeypatch.setattr(build, "payload_files", then_changed)
    out = tmp_path / "out" / "acc-0001.zip"
    out.parent.mkdir()
    with pytest.raises(OutputError, match=r"contacts_people\.csv: changed while being archived"):
        make_archive(demo_db, out, archive.keys, pack_tables=False)
    assert list(out.parent.iterdir()) == []
