"""`offboard check`: every archive of a destination verified fast, a subset in full; tampering,
unreadable and renamed archives are named."""

from __future__ import annotations

import json
import shutil
import struct
import zipfile
from contextlib import AbstractContextManager
from datetime import date
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from offboard.backup.check import Subset, group_of
from offboard.cli import cli
from offboard.errors import ConfigError, ExitCode, StorageError
from offboard.storage import StoredArchive
from offboard.storage.local import LocalDestination
from tests.offboard.backup.signed_backups import (  # noqa: F401 - the fixtures
    Backups,
    backup_template_fixture,
    backups_fixture,
)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def check(backups: Backups, *args: str) -> tuple[int, dict[str, Any], str]:
    code, out, err = run(
        "check", str(backups.folder), "--pubkey", str(backups.keys.pub), "--json", *args
    )
    return code, json.loads(out), err


def flip(path: Path, member_suffix: str, *, stored_only: bool = False) -> str:
    """Change one byte in the middle of the data of the first member ending in
    ``member_suffix``; returns the member's name."""
    with zipfile.ZipFile(path) as zf:
        info = next(
            i
            for i in zf.infolist()
            if i.filename.endswith(member_suffix)
            and (not stored_only or i.compress_type == zipfile.ZIP_STORED)
            and i.compress_size > 100
        )
    raw = bytearray(path.read_bytes())
    n, m = struct.unpack("<HH", raw[info.header_offset + 26 : info.header_offset + 30])
    raw[info.header_offset + 30 + n + m + info.compress_size // 2] ^= 0x01
    path.write_bytes(bytes(raw))
    return info.filename


def test_every_archive_is_checked_fast(backups: Backups) -> None:
    code, report, err = check(backups)
    assert code == 0, err
    assert [a["archive"] for a in report["archives"]] == backups.names
    assert {a["mode"] for a in report["archives"]} == {"fast"}
    assert all(a["valid"] and a["problems"] == [] for a in report["archives"])
    assert report["archives"][0]["account"] == "acc-0001" and report["archives"][0]["files"] > 0
    assert report["summary"] == {"archives": 3, "full": 0, "fast": 3, "invalid": 0, "problems": 0}


def test_text_output(backups: Backups) -> None:
    code, out, _ = run("check", str(backups.folder), "-p", str(backups.keys.pub))
    assert code == 0
    assert all(n in out for n in backups.names) and "all valid" in out


def test_groups_cover_every_archive_once(backups: Backups) -> None:
    modes: dict[str, list[str]] = {n: [] for n in backups.names}
    for n in (1, 2, 3):
        code, report, _ = check(backups, "--read-data-subset", f"{n}/3")
        assert code == 0 and report["read_data_subset"] == f"group {n} of 3"
        for a in report["archives"]:
            modes[a["archive"]].append(a["mode"])
            assert (a["mode"] == "full") == (group_of(a["archive"], 3) == n)
    assert all(sorted(m) == ["fast", "fast", "full"] for m in modes.values())


def test_all_of_them_in_full(backups: Backups) -> None:
    code, report, _ = check(backups, "--read-data-subset", "100%")
    assert code == 0 and {a["mode"] for a in report["archives"]} == {"full"}


def test_a_changed_byte_names_exactly_that_archive(backups: Backups) -> None:
    target = backups.folder / backups.names[1]
    member = flip(target, "bag-info.txt")
    code, report, err = check(backups)
    assert code == 1
    assert [a["archive"] for a in report["archives"] if not a["valid"]] == [target.name]
    (bad,) = [a for a in report["archives"] if not a["valid"]]
    assert "corrupt-data" in {p["code"] for p in bad["problems"]}
    assert member in {p["path"] for p in bad["problems"]}
    assert f"1 of 3 archive(s) invalid: {target.name}" in err
    # the text report names the archive on each problem line
    code, out, _ = run("check", str(backups.folder), "-p", str(backups.keys.pub))
    assert code == 1
    lines = [line for line in out.splitlines() if "corrupt-data" in line]
    assert lines and all(line.startswith(f"{target.name}: corrupt-data: ") for line in lines)


def test_a_full_read_finds_what_a_fast_check_cannot(backups: Backups) -> None:
    target = backups.folder / backups.names[0]
    member = flip(target, ".pdf", stored_only=True)  # payload bytes only a full read hashes
    code, report, _ = check(backups)
    assert code == 0 and report["valid"]
    group = group_of(target.name, 5)
    code, report, _ = check(backups, "--read-data-subset", f"{group}/5")
    assert code == 1
    (bad,) = [a for a in report["archives"] if not a["valid"]]
    assert bad["archive"] == target.name and bad["mode"] == "full"
    assert any(p["path"] == member for p in bad["problems"])


def test_a_truncated_archive_is_invalid(backups: Backups) -> None:
    target = backups.folder / backups.names[2]
    target.write_bytes(target.read_bytes()[:1000])
    code, report, _ = check(backups)
    assert code == 1
    assert [a["archive"] for a in report["archives"] if not a["valid"]] == [target.name]


def test_a_renamed_archive_is_a_name_mismatch(backups: Backups) -> None:
    # acc-0002's archive stored under a name of acc-0001 (and of another night)
    renamed = backups.folder / "acc-0001_2026-02-01T023000Z.zip"
    shutil.copy(backups.folder / backups.names[2], renamed)
    code, report, _ = check(backups)
    assert code == 1
    (bad,) = [a for a in report["archives"] if not a["valid"]]
    assert bad["archive"] == renamed.name
    assert [(p["code"], p["expected"], p["found"]) for p in bad["problems"]] == [
        ("name-mismatch", "acc-0002", "acc-0001"),
        ("name-mismatch", "2026-01-31T02:31:00Z", "2026-02-01T02:30:00Z"),
    ]


class Unreachable(LocalDestination):
    """A destination from which one archive cannot be fetched."""

    def __init__(self, folder: Path, failing: str) -> None:
        super().__init__(folder)
        self.failing = failing

    def local_copy(self, archive: StoredArchive) -> AbstractContextManager[Path]:
        if archive.name == self.failing:
            raise StorageError(f"s3://bucket/{archive.name}: GetObject: 503 Slow Down")
        return super().local_copy(archive)


def test_an_unreadable_archive_is_invalid_and_the_others_are_checked(
    backups: Backups, monkeypatch: pytest.MonkeyPatch
) -> None:
    destination = Unreachable(backups.folder, backups.names[0])
    monkeypatch.setattr("offboard.storage.open_destination", lambda url: destination)
    code, report, _ = check(backups)
    assert code == 1
    first, *others = report["archives"]
    assert [p["code"] for p in first["problems"]] == ["unreadable"]
    assert "503 Slow Down" in first["problems"][0]["detail"]
    assert all(a["valid"] for a in others) and len(others) == 2


def test_the_wrong_key_makes_every_archive_invalid(backups: Backups, tmp_path: Path) -> None:
    from tests.manifests.conftest import make_keys

    other = make_keys(tmp_path / "other")
    code, out, _ = run("check", str(backups.folder), "-p", str(other.pub), "--json")
    assert code == 1
    assert all(
        "signature-invalid" in {p["code"] for p in a["problems"]}
        for a in json.loads(out)["archives"]
    )


def test_usage_errors(backups: Backups, tmp_path: Path) -> None:
    code, _, err = run("check", str(backups.folder), "-p", str(tmp_path / "none.pub"))
    assert code == ExitCode.KEY and "none.pub" in err  # a key file that cannot be read
    for subset in ("0/3", "4/3", "1/0", "0%", "101%", "half", "-5%"):
        code, _, err = run(
            "check", str(backups.folder), "-p", str(backups.keys.pub), "--read-data-subset", subset
        )
        assert code == 2 and "--read-data-subset" in err, subset


def test_an_empty_destination_is_valid_with_a_warning(backups: Backups, tmp_path: Path) -> None:
    code, out, err = run("check", str(tmp_path), "-p", str(backups.keys.pub), "--json")
    assert code == 0 and json.loads(out)["archives"] == [] and "no archive" in err


# -- the subsets, without archives ---------------------------------------------------------------
NAMES = [f"acc-{a:04d}_2026-01-{d:02d}T023000Z.zip" for a in range(1, 6) for d in range(1, 29)]


def test_group_is_stable_and_in_range() -> None:
    assert group_of("acc-0001_2026-01-01T023000Z.zip", 7) == group_of(
        "acc-0001_2026-01-01T023000Z.zip", 7
    )
    groups = [group_of(n, 7) for n in NAMES]
    assert set(groups) == set(range(1, 8))
    chosen = [Subset.parse(f"{n}/7").select(NAMES, date(2026, 1, 1)) for n in range(1, 8)]
    assert sum(len(c) for c in chosen) == len(NAMES) and set().union(*chosen) == set(NAMES)


def test_percent_is_fixed_for_a_day_and_rolls_with_the_date() -> None:
    subset = Subset.parse("5%")
    assert subset.percent == Fraction(5)
    today = subset.select(NAMES, date(2026, 3, 1))
    assert len(today) == 7  # 5% of 140
    assert subset.select(list(reversed(NAMES)), date(2026, 3, 1)) == today
    assert subset.select(NAMES, date(2026, 3, 2)) != today
    seen = set().union(*(subset.select(NAMES, date(2026, 3, d)) for d in range(1, 29)))
    assert len(seen) > len(NAMES) / 2  # rolling: four weeks read most of them


def test_percent_rounds_down_but_reads_at_least_one() -> None:
    assert len(Subset.parse("2.5%").select(NAMES, date(2026, 1, 1))) == 3
    assert len(Subset.parse("0.1%").select(NAMES[:3], date(2026, 1, 1))) == 1
    assert Subset.parse("100%").select(NAMES, date(2026, 1, 1)) == set(NAMES)
    assert Subset.parse("50%").select([], date(2026, 1, 1)) == set()


def test_subset_syntax() -> None:
    assert Subset.parse(" 2/7 ") == Subset(n=2, t=7)
    assert Subset.parse("1/1").select(NAMES, date(2026, 1, 1)) == set(NAMES)
    for bad in ("", "1/", "/3", "3/2", "5", "5 %", "1e2%", "200%"):
        with pytest.raises(ConfigError):
            Subset.parse(bad)
