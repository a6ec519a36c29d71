"""The memory measurement of bench/peaks.py, on programs whose use is known: each process's
own peak, the peaks summed, and the bound by segments (what they use at once, at most)."""

from __future__ import annotations

import sys
from pathlib import Path

from bench.peaks import measure

#: a parent that holds 100 MB, lets it go, runs a child holding 150 MB, then holds 120 MB
#: alone; a second between them, well over the hook's 0.1 s windows
PHASES = r"""
import subprocess, sys, time
a = bytearray(100 << 20); time.sleep(0.5); del a; time.sleep(1.0)
child = "import time; b = bytearray(150 << 20); time.sleep(0.6)"
subprocess.run([sys.executable, "-c", child], check=True)
time.sleep(1.0); a = bytearray(120 << 20); time.sleep(0.5)
"""
#: a parent that holds 100 MB while its child holds 150 MB
AT_ONCE = r"""
import subprocess, sys, time
a = bytearray(100 << 20)
child = "import time; b = bytearray(150 << 20); time.sleep(0.6)"
subprocess.run([sys.executable, "-c", child], check=True)
"""


def test_peaks_that_never_meet_are_not_added(tmp_path: Path) -> None:
    p = measure([sys.executable, "-c", PHASES], tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.main_mb is not None
    assert 120 < p.main_mb < 160  # its own peak: the 120 MB phase (the reset never hides it)
    assert 150 < p.child_mb < 190
    assert p.together_mb > 270  # the two peaks summed
    assert p.bound_mb is not None
    # the child and the parent's 120 MB (or 100 MB) never meet: at most the child and what the
    # parent held beside it (a bare interpreter)
    assert p.child_mb < p.bound_mb < p.child_mb + 40, p.bound_mb


def test_peaks_that_meet_are_added(tmp_path: Path) -> None:
    p = measure([sys.executable, "-c", AT_ONCE], tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.main_mb is not None and p.bound_mb is not None
    assert p.bound_mb > 250  # 100 + 150 MB held at once
    assert p.bound_mb <= p.together_mb + 1
