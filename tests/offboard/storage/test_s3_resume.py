"""`offboard export --out s3://… --resume` killed with SIGKILL, then run again: the object is
the local archive of the same export byte for byte, and no unfinished upload is left (the
rerun aborts the one the killed run left)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from offboard.errors import ExitCode
from tests.manifests.conftest import Keys
from tests.offboard.storage.test_s3_export import body, uploads

CREATED = "2026-01-31T12:00:00Z"


def _args(db: Path, out: str, keys: Keys) -> list[str]:
    return [
        sys.executable,
        "-m",
        "offboard",
        "export",
        str(db),
        "--account",
        "acc-0001",
        "--out",
        out,
        "--sign-key",
        str(keys.key),
        "--created-at",
        CREATED,
        "--allow-missing-documents",
        "--quiet",
        "--resume",
    ]


@pytest.mark.slow
@pytest.mark.parametrize("fraction", sorted(random.Random(7).uniform(0.3, 1.0) for _ in range(3)))
def test_a_killed_upload_resumes_into_the_same_object(
    fraction: float,
    demo_db: Path,
    keys: Keys,
    local_archive: Path,
    bucket: str,
    tmp_path: Path,
) -> None:
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    out = f"s3://{bucket}/acc-0001.zip"
    started = time.perf_counter()
    timed = subprocess.run(
        _args(demo_db, f"s3://{bucket}/timing.zip", keys), env=env, capture_output=True
    )
    assert timed.returncode == 0, timed.stderr
    seconds = time.perf_counter() - started
    proc = subprocess.Popen(
        _args(demo_db, out, keys), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        proc.wait(timeout=fraction * seconds)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    again = subprocess.run(_args(demo_db, out, keys), env=env, capture_output=True, text=True)
    if again.returncode == ExitCode.OUTPUT_EXISTS and "already exists" in again.stderr:
        pass  # the killed run had finished: its object is checked below
    else:
        assert again.returncode == 0, again.stderr
    assert body(bucket, "acc-0001.zip") == local_archive.read_bytes()
    assert uploads(bucket) == []
    assert not any((tmp_path / "state" / "offboard" / "resume").glob("*/run.json"))
