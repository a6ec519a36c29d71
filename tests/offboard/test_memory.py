"""offboard.memory: the allocator settings the large commands use (glibc, Linux)."""

from __future__ import annotations

import subprocess
import sys

import pytest

#: fills the C heap with blocks of 1 KB (past Python's own small-object allocator, under glibc's
#: mapping threshold), frees all but every 64th (so the heap's top stays in use and freeing
#: alone gives nothing back), then trims: the resident set before and after, KB
FRAGMENTED = r"""
import sys
from offboard.memory import release_free_memory

def rss():
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) for l in status if l.startswith("VmRSS"))

held = [bytes(1000) + bytes([i % 251]) for i in range(100_000)]
kept = held[::64]
del held
before = rss()
released = release_free_memory()
print(before, rss(), released)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_free_pages_in_the_heap_go_back_to_the_system() -> None:
    done = subprocess.run(
        [sys.executable, "-c", FRAGMENTED], capture_output=True, text=True, check=True
    )
    before, after, released = done.stdout.split()
    assert released == "True"
    # some 100 MB of blocks freed inside the heap: most of it is given back
    assert int(before) - int(after) > 40_000, done.stdout


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_the_mapping_threshold_is_held() -> None:
    code = "from offboard.memory import hold_mmap_threshold as h; print(h(), h())"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.split() == ["True", "True"], done.stderr
