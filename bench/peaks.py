"""The peak memory of a command and of every Python process it starts, each its own.

    peaks = measure([python, "-m", "offboard", "verify", ...], work=Path("scratch"))
    peaks.main_mb, peaks.child_mb, peaks.together_mb

Used by bench/resources.py and tests/offboard/test_resources.py. Why not ``ru_maxrss``: Linux
starts a new program's high-water mark at its parent's (``exec`` keeps the old address
space's peak, and ``vfork`` shares the parent's), so the ``RUSAGE_SELF`` of a command started
by a 500 MB process says 500 MB, and ``RUSAGE_CHILDREN`` is the largest of those. VmHWM (in
/proc/PID/status) is the peak of the program's own address space.

How: a ``sitecustomize`` module (:data:`HOOK`) on ``PYTHONPATH`` makes every Python process
of the command (the command itself, the export's document worker, the verifier's) write its
VmHWM into a folder when it exits, and every 0.1 s before that, for a process that is killed
(the verifier kills its worker once it reports; a figure of the last 0.1 s may be missed).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

HWM_ENV = "OFFBOARD_PEAKS_DIR"
#: imported first by every Python process started with the hook's folder on PYTHONPATH
HOOK = f'''
import atexit, json, os, sys, threading, time

_DIR = os.environ.get("{HWM_ENV}")


def _record():
    with open("/proc/self/status") as status:
        kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    path = os.path.join(_DIR, f"{{os.getpid()}}.json")
    with open(path + ".tmp", "w") as out:
        json.dump({{"pid": os.getpid(), "ppid": os.getppid(), "argv": sys.argv[:3], "kb": kb}}, out)
    os.replace(path + ".tmp", path)


def _sample():
    while True:
        time.sleep(0.1)
        try:
            _record()
        except OSError:
            return


if _DIR:
    atexit.register(_record)
    threading.Thread(target=_sample, name="peaks", daemon=True).start()
'''


@dataclass(frozen=True)
class Peaks:
    """What :func:`measure` found: the command's own peak and its largest Python child's."""

    returncode: int
    seconds: float
    #: VmHWM of the command's process, MB (None: it is not a Python program)
    main_mb: float | None
    #: the largest VmHWM of the Python processes it started, MB (0: none)
    child_mb: float
    children: int
    stdout: str
    stderr: str

    @property
    def together_mb(self) -> float:
        """The command and its largest child summed: what they use at once, at most, when it
        runs one child at a time."""
        return (self.main_mb or 0.0) + self.child_mb


def measure(cmd: list[str], work: Path, env: dict[str, str] | None = None) -> Peaks:
    """Run ``cmd`` (a Python program, or a program starting Python ones) to its end."""
    hook, marks = work / "peaks-hook", work / "peaks"
    hook.mkdir(parents=True, exist_ok=True)
    (hook / "sitecustomize.py").write_text(HOOK)
    shutil.rmtree(marks, ignore_errors=True)
    marks.mkdir()
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(hook), env.get("PYTHONPATH")) if p)
    env[HWM_ENV] = str(marks)
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    out, err = proc.communicate()
    seconds = time.perf_counter() - started
    records = [json.loads(p.read_text()) for p in marks.glob("*.json")]
    main = next((r["kb"] for r in records if r["pid"] == proc.pid), None)
    children = [r["kb"] for r in records if r["pid"] != proc.pid]
    return Peaks(
        returncode=proc.returncode,
        seconds=seconds,
        main_mb=None if main is None else main / 1024,
        child_mb=max(children, default=0) / 1024,
        children=len(children),
        stdout=out,
        stderr=err,
    )


def polled(cmd: list[str]) -> Peaks:
    """Run a program that is not Python, its VmHWM read from /proc every 20 ms."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = 0
    while proc.poll() is None:
        try:
            with open(f"/proc/{proc.pid}/status") as status:
                peak = max([peak, *(int(x.split()[1]) for x in status if x.startswith("VmHWM:"))])
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
    err = proc.stderr.read() if proc.stderr else ""
    return Peaks(proc.returncode, time.perf_counter() - started, peak / 1024, 0.0, 0, "", err)
