"""Process-wide allocator settings for the commands that read or write large archives.

glibc's ``malloc`` serves a large block from a mapping of its own only while the block is
larger than a threshold, and it raises that threshold (up to 32 MiB) each time such a block is
freed. A verifier frees many large blocks (tag files, 1 MiB reads, Arrow buffers), so the
threshold climbs and later large blocks come from the heap, where freed space is kept and
fragments: measured on a 20,000-document archive, 25-30 MB more peak memory than with the
threshold held. :func:`hold_mmap_threshold` holds it at glibc's starting 128 KiB, so that
every larger block gets a mapping of its own, returned to the system when freed. Measured
(bench/verify_memory.py): held at 2 MiB instead, the 1 MiB reads stay on the heap and verify
is about 7 % faster, but a part with 1 GB of CSV then peaks 37 MB higher (the CSV parser holds
some thirty reads at a time, and the heap keeps what they leave); the bound comes first.
"""

from __future__ import annotations

import sys
from typing import Any

#: glibc's ``mallopt`` parameter number for the mapping threshold
_M_MMAP_THRESHOLD = -3
#: blocks above this size get mappings of their own (glibc's starting threshold)
THRESHOLD = 128 * 1024

_held = False


def hold_mmap_threshold(threshold: int = THRESHOLD) -> bool:
    """Keep blocks above ``threshold`` bytes in mappings of their own (glibc only; once per
    process). True if the allocator took the setting."""
    global _held
    if _held:
        return True
    mallopt = _glibc("mallopt", "c_int", "c_int")
    if mallopt is None:
        return False
    _held = bool(mallopt(_M_MMAP_THRESHOLD, threshold))
    return _held


def release_free_memory() -> bool:
    """Give the free pages of the C heap back to the system (glibc's ``malloc_trim``; a no-op
    elsewhere). True if some memory was released.

    Called between stages that leave much freed memory behind: freed small blocks stay in the
    heap for reuse, and the next stage's high-water mark counts them again. Measured on the
    large demo account, at the start of the archive stage: 18 MB released.
    """
    trim = _glibc("malloc_trim", "c_size_t")
    return trim is not None and bool(trim(0))


def _glibc(name: str, *argtypes: str) -> Any:
    """The C library's function ``name`` (taking ``argtypes``, ctypes' names; returning an
    int), or None off Linux or when the library has none."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        function = getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None
    function.argtypes = [getattr(ctypes, t) for t in argtypes]
    function.restype = ctypes.c_int
    return function
