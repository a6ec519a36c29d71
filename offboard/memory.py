"""Process-wide allocator setting for the commands that read large archives.

glibc's ``malloc`` serves a large block from a mapping of its own only while the block is
larger than a threshold, and it raises that threshold (up to 32 MiB) each time such a block is
freed. A verifier frees many large blocks (tag files, 1 MiB reads, Arrow buffers), so the
threshold climbs and later large blocks come from the heap, where freed space is kept and
fragments: measured on a 20,000-document archive, 25-30 MB more peak memory than with the
threshold held. :func:`hold_mmap_threshold` holds it at 2 MiB: the 1 MiB reads still come
from the heap, reused without new page faults (held at glibc's starting 128 KiB, each read
maps fresh pages: 7 % slower for 15 MB less), and anything larger gets a mapping of its own,
returned to the system when freed.
"""

from __future__ import annotations

import sys

#: glibc's ``mallopt`` parameter number for the mapping threshold
_M_MMAP_THRESHOLD = -3
#: blocks above this size get mappings of their own (the reads of 1 MiB stay under it)
THRESHOLD = 2 << 20

_held = False


def hold_mmap_threshold(threshold: int = THRESHOLD) -> bool:
    """Keep blocks above ``threshold`` bytes in mappings of their own (glibc only; once per
    process). True if the allocator took the setting."""
    global _held
    if _held:
        return True
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    _held = bool(mallopt(_M_MMAP_THRESHOLD, threshold))
    return _held
