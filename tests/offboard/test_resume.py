"""``offboard export --resume``: killed with SIGKILL at any point, then run again, it makes the
archive an uninterrupted export makes, byte for byte, and never leaves a partial file under a
final name.

The kill points are drawn (seeded) over the length of an uninterrupted run measured in the
same test session, from process start to past the end, so they fall in the imports, the
tables, the documents, the archive stage and the publication.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.manifests.conftest import Keys, make_keys

CREATED = "2026-01-31T12:00:00Z"
SEED = 20261201
POINTS = 20
ACCOUNT = "acc-0001"


def _args(db: Path, out: Path, keys: Keys, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "offboard",
        "export",
        str(db),
        "--account",
        ACCOUNT,
        "--out",
        str(out),
        "--sign-key",
        str(keys.key),
        "--created-at",
        CREATED,
        "--allow-missing-documents",
        "--quiet",
        *extra,
    ]


class Reference:
    def __init__(self, data: bytes, seconds: float, keys: Keys) -> None:
        self.data = data
        self.seconds = seconds
        self.keys = keys


@pytest.fixture(scope="module")
def reference(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """An uninterrupted export (without --resume) and how long it took."""
    folder = tmp_path_factory.mktemp("reference")
    keys = make_keys(folder / "keys")
    out = folder / "archive.zip"
    started = time.perf_counter()
    subprocess.run(_args(demo_db, out, keys), check=True, capture_output=True)
    return Reference(out.read_bytes(), time.perf_counter() - started, keys)


def _kill_points() -> list[float]:
    rng = random.Random(SEED)
    return sorted(rng.uniform(0.02, 1.15) for _ in range(POINTS))


def _final_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


@pytest.mark.slow
@pytest.mark.parametrize("fraction", _kill_points(), ids=lambda f: f"at-{f:.3f}")
def test_killed_then_resumed_gives_the_same_archive(
    fraction: float, demo_db: Path, reference: Reference, tmp_path: Path
) -> None:
    out = tmp_path / "archive.zip"
    args = _args(demo_db, out, reference.keys, "--resume")
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        proc.wait(timeout=fraction * reference.seconds)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # whatever is under a final name is whole: the archive itself, or nothing
    finals = _final_files(tmp_path)
    assert finals in ([], ["archive.zip"]), finals
    if finals:
        assert out.read_bytes() == reference.data
    resumed = (tmp_path / ".archive.zip.resume").exists()
    if finals and not resumed:
        return  # the run had finished: nothing to resume
    again = subprocess.run(args, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert out.read_bytes() == reference.data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive.zip"], "left behind"


def test_a_changed_option_starts_over(demo_db: Path, reference: Reference, tmp_path: Path) -> None:
    out = tmp_path / "archive.zip"
    work = tmp_path / ".archive.zip.resume"
    (work / "journal").mkdir(parents=True)
    (work / "run.json").write_text(json.dumps({"format": 1, "account": "another"}))
    (work / "journal" / "table-quotes.json").write_text("{}")
    done = subprocess.run(_args(demo_db, out, reference.keys, "--resume"), capture_output=True)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == reference.data
    assert not work.exists()


def test_a_changed_file_in_the_work_is_exported_again(
    demo_db: Path, reference: Reference, tmp_path: Path
) -> None:
    """A finished task whose file no longer has its recorded SHA-256 is not reused."""
    from offboard.resume import ResumeState, resume_folder

    out = tmp_path / "archive.zip"
    args = _args(demo_db, out, reference.keys, "--resume")
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    folder = resume_folder(out)
    deadline = time.monotonic() + 60
    while not (folder / "journal" / "table-quotes.json").exists():
        assert time.monotonic() < deadline and proc.poll() is None, "the run ended first"
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    csv = folder / "stage" / "csv" / "quotes.csv"
    data = bytearray(csv.read_bytes())
    data[len(data) // 2] ^= 0x01
    csv.write_bytes(bytes(data))
    assert ResumeState(folder).table("quotes") is None  # the record no longer matches
    again = subprocess.run(args, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert out.read_bytes() == reference.data


def test_without_resume_a_killed_runs_leftovers_are_cleared(
    demo_db: Path, reference: Reference, tmp_path: Path
) -> None:
    out = tmp_path / "archive.zip"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(dead.stdout)
    (tmp_path / f".archive.zip.partial-{pid}" / "csv").mkdir(parents=True)
    (tmp_path / f".archive.zip.tmp-{pid}-0").write_bytes(b"half an archive")
    done = subprocess.run(_args(demo_db, out, reference.keys), capture_output=True)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive.zip"]


def test_a_resumable_run_to_a_taken_name_leaves_no_work_behind(
    demo_db: Path, reference: Reference, tmp_path: Path
) -> None:
    """The run that was killed after it finished (its work already removed): the rerun is
    refused (exit 20), and the resume folder it opened for itself goes with it."""
    from offboard.errors import ExitCode

    out = tmp_path / "archive.zip"
    out.write_bytes(reference.data)
    again = subprocess.run(
        _args(demo_db, out, reference.keys, "--resume"), capture_output=True, text=True
    )
    assert again.returncode == ExitCode.OUTPUT_EXISTS, again.stderr
    assert "already exists" in again.stderr
    assert out.read_bytes() == reference.data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive.zip"], "left behind"
