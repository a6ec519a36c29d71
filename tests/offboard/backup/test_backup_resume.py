"""``offboard backup --resume`` killed with SIGKILL at seeded points and run again (without
``--created-at``: the interrupted run's time is taken again) stores the archives an
uninterrupted run makes, byte for byte; ``--encrypt-to`` backs up encrypted archives that
are skipped as unchanged like any other."""

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

WHEN = "2026-11-30T02:00:00Z"
SEED = 61
POINTS = 20


def _args(db: Path, dest: Path, keys: Keys, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "offboard",
        "backup",
        f"sqlite:///{db}",
        "--accounts",
        "all",
        "--dest",
        str(dest),
        "--sign-key",
        str(keys.key),
        "--allow-missing-documents",
        "--workers",
        "1",
        "--quiet",
        *extra,
    ]


def _archives(dest: Path) -> dict[str, bytes]:
    return {
        p.name: p.read_bytes()
        for p in sorted(dest.glob("*.zip*"))
        if p.is_file() and not p.name.startswith(".")
    }


@pytest.fixture(scope="module")
def reference(
    demo_db: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Keys, dict[str, bytes], float]:
    folder = tmp_path_factory.mktemp("backup-reference")
    keys = make_keys(folder / "keys")
    started = time.perf_counter()
    subprocess.run(
        _args(demo_db, folder / "dest", keys, "--created-at", WHEN),
        check=True,
        capture_output=True,
    )
    return keys, _archives(folder / "dest"), time.perf_counter() - started


def _points() -> list[float]:
    rng = random.Random(SEED)
    return sorted(rng.uniform(0.05, 1.1) for _ in range(POINTS))


@pytest.mark.slow
@pytest.mark.parametrize("fraction", _points(), ids=lambda f: f"at-{f:.3f}")
def test_a_killed_backup_resumes_into_the_same_archives(
    fraction: float,
    demo_db: Path,
    reference: tuple[Keys, dict[str, bytes], float],
    tmp_path: Path,
) -> None:
    keys, archives, seconds = reference
    dest = tmp_path / "dest"
    first = _args(demo_db, dest, keys, "--resume", "--created-at", WHEN)
    proc = subprocess.Popen(
        first, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        proc.wait(timeout=fraction * seconds)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the run and its workers
    proc.wait()
    for name, data in _archives(dest).items():  # what is there is whole
        assert archives[name] == data, name
    pending = dest / ".offboard-state" / "pending-run.json"
    # killed before the run recorded its time, there is no run to resume: a new one is made
    when = [] if pending.exists() else ["--created-at", WHEN]
    again = subprocess.run(
        _args(demo_db, dest, keys, "--resume", *when), capture_output=True, text=True
    )
    assert again.returncode == 0, again.stderr
    assert _archives(dest) == archives
    assert not list(dest.glob(".*.resume")), "work left behind"
    assert json.loads(pending.read_text()) == {}


def test_encrypted_backups_are_skipped_when_unchanged(
    demo_db: Path, reference: tuple[Keys, dict[str, bytes], float], tmp_path: Path
) -> None:
    from pyrage import x25519

    keys = reference[0]
    recipient = str(x25519.Identity.generate().to_public())
    dest = tmp_path / "dest"
    args = _args(demo_db, dest, keys, "--encrypt-to", recipient, "--json")
    done = subprocess.run([*args, "--created-at", WHEN], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    names = sorted(_archives(dest))
    assert names == [
        "acc-0001_2026-11-30T020000Z.zip.age",
        "acc-0001_2026-11-30T020000Z.zip.age.minisig",
        "acc-0002_2026-11-30T020000Z.zip.age",
        "acc-0002_2026-11-30T020000Z.zip.age.minisig",
    ]
    again = subprocess.run(
        [*args, "--created-at", "2026-12-01T02:00:00Z"], capture_output=True, text=True
    )
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert [a["outcome"] for a in report["accounts"]] == ["unchanged", "unchanged"]
    verify = subprocess.run(
        [
            sys.executable,
            "-m",
            "offboard",
            "verify",
            str(dest / names[0]),
            "--pubkey",
            str(keys.pub),
        ],
        capture_output=True,
        text=True,
    )
    assert verify.returncode == 0, verify.stderr
