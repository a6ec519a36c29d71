"""The peak memory of a command and of every Python process it starts, each its own.

    peaks = measure([python, "-m", "offboard", "verify", ...], work=Path("scratch"))
    peaks.main_mb, peaks.child_mb, peaks.together_mb, peaks.sampled_mb

Used by bench/resources.py and tests/offboard/test_resources.py. Why not ``ru_maxrss``: Linux
starts a new program's high-water mark at its parent's (``exec`` keeps the old address
space's peak, and ``vfork`` shares the parent's), so the ``RUSAGE_SELF`` of a command started
by a 500 MB process says 500 MB, and ``RUSAGE_CHILDREN`` is the largest of those. VmHWM (in
/proc/PID/status) is the peak of the program's own address space.

How: a ``sitecustomize`` module (:data:`HOOK`) on ``PYTHONPATH`` makes every Python process
of the command (the command itself, the export's document worker, the verifier's) write its
VmHWM into a folder when it exits, and every 0.1 s before that, for a process that is killed
(the verifier kills its worker once it reports; a figure of the last 0.1 s may be missed), and
its VmRSS every 0.1 s: the processes' peaks summed (``together_mb``) bound what they use at
once; the sum of the samples (``sampled_mb``) is what they were seen to use at once.
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


def _status():
    with open("/proc/self/status") as status:
        found = dict(line.split(":", 1) for line in status if line.startswith(("VmHWM", "VmRSS")))
    return int(found["VmHWM"].split()[0]), int(found["VmRSS"].split()[0])


def _record():
    hwm, _ = _status()
    path = os.path.join(_DIR, f"{{os.getpid()}}.json")
    temp = f"{{path}}.{{threading.get_ident()}}.tmp"  # the sampler and atexit may both write
    with open(temp, "w") as out:
        json.dump({{"pid": os.getpid(), "argv": sys.argv[:3], "kb": hwm}}, out)
    os.replace(temp, path)


def _last():
    try:
        _record()
    except OSError:
        pass


def _sample():
    with open(os.path.join(_DIR, f"{{os.getpid()}}.rss"), "a", buffering=1) as series:
        while True:
            time.sleep(0.1)
            try:
                series.write(f"{{time.monotonic():.3f}} {{_status()[1]}}\\n")
                _record()
            except (OSError, ValueError):
                return


if _DIR:
    atexit.register(_last)
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
    #: the largest sum of the processes' resident sets at one time, MB, sampled every 0.1 s
    #: (a short peak between samples is missed: ``together_mb`` is the bound)
    sampled_mb: float = 0.0

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
        sampled_mb=_at_once(marks) / 1024,
    )


def _at_once(marks: Path) -> int:
    """The largest sum of the sampled resident sets (KB) of the processes alive at one time: at
    each sample, every process's latest sample of the last 0.25 s."""
    series: list[list[tuple[float, int]]] = []
    for path in marks.glob("*.rss"):
        samples = []
        for line in path.read_text().splitlines():
            stamp, _, kb = line.partition(" ")
            if kb.isdigit():
                samples.append((float(stamp), int(kb)))
        series.append(samples)
    best = 0
    for when in sorted(t for samples in series for t, _ in samples):
        total = 0
        for samples in series:
            latest = [kb for t, kb in samples if when - 0.25 <= t <= when]
            total += latest[-1] if latest else 0
        best = max(best, total)
    return best


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
