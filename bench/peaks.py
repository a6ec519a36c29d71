"""The peak memory of a command and of every Python process it starts, each its own.

    peaks = measure([python, "-m", "offboard", "verify", ...], work=Path("scratch"))
    peaks.main_mb, peaks.child_mb, peaks.together_mb, peaks.bound_mb, peaks.sampled_mb

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
once, loosely (peaks that never meet are added); ``bound_mb`` bounds it by segments, cut
whenever a process's children change (:func:`_bound`); the sum of the samples
(``sampled_mb``) is what they were seen to use at once, a figure that may miss a short peak.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HWM_ENV = "OFFBOARD_PEAKS_DIR"
#: imported first by every Python process started with the hook's folder on PYTHONPATH
HOOK = f'''
import atexit, glob, json, os, sys, threading, time

_DIR = os.environ.get("{HWM_ENV}")
_LOCK = threading.Lock()
_PEAK = [0]  # the largest VmHWM read (it is reset after each reading: see _record)


def _now():
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def _birth():
    # the process's start, in clock ticks since boot (/proc/PID/stat field 22): its fork,
    # before this module runs
    with open("/proc/self/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return int(fields[19]) / os.sysconf("SC_CLK_TCK")


_START = [_birth()]
_BORN = _START[0]


def _status():
    with open("/proc/self/status") as status:
        found = dict(line.split(":", 1) for line in status if line.startswith(("VmHWM", "VmRSS")))
    return int(found["VmHWM"].split()[0]), int(found["VmRSS"].split()[0])


def _children():
    kids = set()
    for path in glob.glob("/proc/self/task/*/children"):
        try:
            with open(path) as listed:
                kids.update(int(p) for p in listed.read().split())
        except (OSError, ValueError):
            pass
    return sorted(kids)


def _write(name, text):
    path = os.path.join(_DIR, f"{{os.getpid()}}.{{name}}")
    temp = f"{{path}}.{{threading.get_ident()}}.tmp"  # the sampler and atexit may both write
    with open(temp, "w") as out:
        out.write(text)
    os.replace(temp, path)


def _record(final=False):
    # close a window: its own peak (the high-water mark is reset after each reading), its
    # span, and the children alive at its end
    with _LOCK:
        hwm, _ = _status()
        now = _now()
        _PEAK[0] = max(_PEAK[0], hwm)
        kids = " ".join(map(str, _children()))
        with open(os.path.join(_DIR, f"{{os.getpid()}}.win"), "a") as windows:
            windows.write(f"{{_START[0]:.3f}} {{now:.3f}} {{hwm}} {{kids}}\\n")
        _START[0] = now
        if not final:
            with open("/proc/self/clear_refs", "w") as clear:
                clear.write("5")
        record = {{"pid": os.getpid(), "ppid": os.getppid(), "argv": sys.argv[:3]}}
        record.update(kb=_PEAK[0], born=_BORN, seen=now, exited=final)
        _write("json", json.dumps(record))


def _last():
    try:
        _record(final=True)
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
    #: what the command and its children use at once, at most, MB, by segments (see
    #: :func:`_bound`): never below what they use at once, never above ``together_mb``
    bound_mb: float | None = None

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
        bound_mb=_root_bound(marks, proc.pid, records),
    )


#: how long after its exit handlers a process may still hold its memory, s (its last
#: finalisation; then the system frees it at once)
_EXIT_SLACK = 0.05


def _root_bound(marks: Path, root: int, records: list[dict[str, Any]]) -> float | None:
    """:func:`_bound` of the command, MB; None if it recorded no window."""
    by_pid = {r["pid"]: r for r in records}
    bound = _bound(marks, root, by_pid)
    return None if bound is None else bound / 1024


def _bound(marks: Path, pid: int, records: dict[int, dict[str, Any]]) -> int | None:
    """What process ``pid`` and its descendants use at once, at most, KB.

    Every 0.1 s the hook closes a window of the process: it reads its VmHWM, which is then the
    peak of that window alone, resets it (``/proc/self/clear_refs``), and lists the children
    alive at the window's end. A child's life runs from its fork (``/proc/PID/stat``'s start
    time) to its exit handlers (plus :data:`_EXIT_SLACK`), or, killed, to the end of the first
    of its parent's windows that no longer lists it. The bound is the largest of the windows'
    peaks plus the bounds of the children whose lives meet the window. Peaks are read, not
    sampled, so a short one is never missed (``sampled_mb`` may miss it); processes that never
    live at the same time are not added (``together_mb`` adds their peaks).
    """
    windows = _windows(marks / f"{pid}.win")
    if not windows:
        return None
    lives = {}
    for kid, record in records.items():
        if record.get("ppid") != pid:
            continue
        born, end = record["born"], float("inf")
        if record.get("exited"):
            end = record["seen"] + _EXIT_SLACK
        gone = next((t1 for t0, t1, _, kids in windows if t1 > born and kid not in kids), None)
        if gone is not None:
            end = min(end, gone)
        own = _bound(marks, kid, records)
        lives[kid] = (born, end, max(own or 0, record["kb"]))
    best = 0
    for t0, t1, hwm, _kids in windows:
        beside = sum(kb for born, end, kb in lives.values() if born <= t1 and end >= t0)
        best = max(best, hwm + beside)
    last = windows[-1][1]
    # a child that outlived the windows (its parent was killed) is counted with the last one
    late = sum(kb for born, end, kb in lives.values() if born > last)
    return best + late


def _windows(path: Path) -> list[tuple[float, float, int, set[int]]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        t0, t1, hwm, *kids = line.split()
        out.append((float(t0), float(t1), int(hwm), {int(k) for k in kids}))
    return out


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
