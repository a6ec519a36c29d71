"""What keeps a verifier's memory bounded: files per part, names, tag files, offboard.json.

Each bound is passed by a clean archive of the format's size and refused, with a problem that
says which, by an archive past it; hostile ``offboard.json`` files never crash the verifier.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from manifests.signing import PublicKey
from manifests.verify import verify_archive
from manifests.verify.bounds import METADATA_BUDGET, parse_cost, part_limits
from tests.manifests.conftest import Keys, Made, resign


def resign_raw(
    src: Path, dst: Path, keys: Keys, rel: str, change: Callable[[bytes], bytes]
) -> Path:
    """``src`` with the tag file ``rel`` changed and re-signed (as only a key holder can)."""

    def edit(files: dict[str, bytes]) -> None:
        files[rel] = change(files[rel])

    return resign(src, dst, keys, edit)


def problems(path: Path, keys: Keys, **kw: object) -> list[tuple[str, str]]:
    report = verify_archive(path, PublicKey.load(keys.pub), **kw)  # type: ignore[arg-type]
    return [(p.code, p.path) for p in report.problems]


def test_a_part_of_more_files_than_allowed_is_refused_before_reading(archive: Made) -> None:
    members = len(zipfile.ZipFile(archive.path).namelist())
    assert problems(archive.path, archive.keys, limits=part_limits(members - 16)) == []
    report = verify_archive(
        archive.path, PublicKey.load(archive.keys.pub), limits=part_limits(members - 17)
    )
    assert [(p.code, p.expected, p.found) for p in report.problems] == [
        ("bomb", str(members - 1), str(members))
    ]


def test_the_cli_names_the_option_that_allows_more_files(archive: Made) -> None:
    from offboard.cli import cli

    args = ["verify", str(archive.path), "-p", str(archive.keys.pub), "--max-files"]
    done = CliRunner().invoke(cli, [*args, "10"])
    assert done.exit_code == 1 and "holds more than 10 files: `--max-files N`" in done.output
    assert CliRunner().invoke(cli, [*args, "0"]).exit_code == 2
    assert CliRunner().invoke(cli, [*args, "100000"]).exit_code == 0


def test_a_directory_of_overlong_names_is_refused(tmp_path: Path) -> None:
    from manifests.zipfmt import Limits, ZipReader

    path = tmp_path / "long.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(40):
            zf.writestr(f"t/{'n' * 900}{i}", b"")
    with ZipReader(path, limits=Limits(max_directory_size=20_000)) as zr:
        assert [p.code for p in zr.problems] == ["bomb"] and zr.entries == []
    with ZipReader(path, limits=Limits(max_directory_size=60_000)) as zr:
        assert len(zr.entries) == 40


def test_the_format_s_limits_allow_a_full_part_of_long_names() -> None:
    from manifests.metadata import MAX_PART_FILES

    limits = part_limits()
    assert limits.max_members == MAX_PART_FILES + 16
    # a 46-byte record and a 255-byte folder name + data/documents/<kind>/<number>.pdf each
    assert limits.max_directory_size > limits.max_members * (46 + 255 + 1 + 100)


@pytest.mark.parametrize(
    "text",
    [
        b"[" * 200_000 + b"]" * 200_000,  # nested deeper than the parser recurses
        b'{"a": ' * 100_000 + b"1" + b"}" * 100_000,
    ],
    ids=["arrays", "objects"],
)
def test_deeply_nested_offboard_json_is_reported_not_raised(
    archive: Made, tmp_path: Path, text: bytes
) -> None:
    bad = resign_raw(
        archive.path, tmp_path / "a.zip", archive.keys, "offboard.json", lambda _: text
    )
    found = problems(bad, archive.keys)
    assert ("tag-syntax", "offboard.json") in found


def test_an_offboard_json_that_would_parse_too_large_is_refused(
    archive: Made, tmp_path: Path
) -> None:
    count = METADATA_BUDGET // 96 // 2 + 1000
    text = b'{"documents": [' + b"{}," * count + b"{}]}"
    assert len(text) < 5_000_000 < METADATA_BUDGET < parse_cost(text)
    bad = resign_raw(
        archive.path, tmp_path / "a.zip", archive.keys, "offboard.json", lambda _: text
    )
    assert ("bomb", "offboard.json") in problems(bad, archive.keys)


def test_parse_cost_bounds_what_parsing_takes() -> None:
    """The bound holds for the costliest shapes of JSON values (measured, not assumed)."""
    import tracemalloc

    shapes = [b'{"a":"b"},', b"{},", b"[],", b'"x",', b"1000,", b'["a"],', b'{"k":[1,2]},']
    for shape in shapes:
        text = b"[" + shape * 20_000 + b"0]"
        tracemalloc.start()
        value = json.loads(text.decode())
        used = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert value and used < parse_cost(text), shape


def test_a_real_offboard_json_is_well_within_its_budget(archive: Made) -> None:
    from manifests.metadata import encode

    with zipfile.ZipFile(archive.path) as zf:
        data = zf.read("acc-0001/offboard.json")
    meta = json.loads(data)
    documents = len(meta["documents"])
    files = len(meta["parts"]["files"])
    assert files >= documents > 500
    invoices = [d for d in meta["documents"] if d.get("facturx")]
    assert invoices, "the demo's sales invoices are Factur-X"
    # the sections that do not grow with the part (tables, totals, problems...) once, and
    # what each file adds (a document's entry and its path; a Factur-X invoice's XML file,
    # a second file of the part, its path): a part holds at most 25,000 files
    meta["documents"], meta["parts"]["files"] = [], []
    fixed = parse_cost(encode(meta))
    per_file = (parse_cost(data) - fixed) / files
    # a full part's documents and file list, at this rate, leave a quarter of the budget free
    assert fixed + per_file * 25_000 < METADATA_BUDGET * 0.75
    # and so does a part of Factur-X invoices only: 12,500 invoices, each an entry, its PDF's
    # path and its XML file's path
    listed = {d["path"]: d for d in invoices}
    entry = max(parse_cost(encode({"documents": [d]})) for d in listed.values())
    paths = max(
        parse_cost(encode({"files": [d["path"], d["facturx"]["xml"]]})) for d in listed.values()
    )
    assert fixed + (entry + paths) * 12_500 < METADATA_BUDGET * 0.75
