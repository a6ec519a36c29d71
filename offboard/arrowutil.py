"""Small Arrow helpers that keep the export lean.

pyarrow probes for pandas (importing it, ~45 MB) whenever it converts Python objects with
``pa.array`` or ``pa.scalar``. The export path never needs pandas, so the few Arrow values it
makes from Python strings are built directly from buffers here. A test checks that an export
does not import pandas.
"""

from __future__ import annotations

import os
import struct
import sys
import time

import pyarrow as pa


def strings(values: list[str]) -> pa.StringArray:
    """A string array (no nulls) built from buffers."""
    encoded = [v.encode("utf-8") for v in values]
    offsets = [0]
    for e in encoded:
        offsets.append(offsets[-1] + len(e))
    data = pa.py_buffer(b"".join(encoded))
    offsets_buffer = pa.py_buffer(struct.pack(f"<{len(offsets)}i", *offsets))
    array: pa.StringArray = pa.Array.from_buffers(
        pa.string(), len(values), [None, offsets_buffer, data]
    )
    return array


def string_scalar(value: str) -> pa.StringScalar:
    scalar: pa.StringScalar = strings([value])[0]
    return scalar


def int_scalar(value: int, type: pa.DataType) -> pa.Scalar:
    """An integer scalar of ``type`` (int32 or int64) built from buffers."""
    fmt = {pa.int32(): "<i", pa.int64(): "<q"}[type]
    data = pa.py_buffer(struct.pack(fmt, value))
    return pa.Array.from_buffers(type, 1, [None, data])[0]


def lean_memory_pool() -> None:
    """Use the C library's allocator for Arrow buffers.

    Arrow's default allocator (mimalloc) keeps freed memory per thread for reuse; with a batch
    of a few thousand rows in flight per thread, the system allocator gives the same speed with
    a peak resident set about 60 MB lower (measured in BENCHMARKS.md). ``ARROW_DEFAULT_MEMORY_POOL``
    still wins when set.
    """
    if not os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        pa.set_memory_pool(pa.system_memory_pool())


def references(obj: object) -> int:
    """How many references to ``obj`` there are, for :func:`let_go` (call both alike)."""
    return sys.getrefcount(obj)


def let_go(obj: object, before: int, timeout: float = 0.5) -> bool:
    """Wait, up to ``timeout`` seconds, until Arrow's threads hold no reference to ``obj`` (a
    file Arrow read), ``before`` being :func:`references` of it before Arrow was given it. True
    if they let go.

    Arrow's CSV reader reads a Python file on its own I/O threads, and the last of their tasks
    may let go of the file after the reader itself is gone, dropping its reference on that
    thread. Were that to happen while the interpreter shuts down, the thread, refused the
    interpreter, would be ended in the middle of C++ code and the process would abort
    ("terminate called without an active exception", seen once at the end of ``offboard
    verify``). So a reader that has read a Python file to its end drops its reader, then waits
    here, and the file is let go before it returns. (Not after an error: Arrow may then still
    hold reads queued, and the file, until the process ends.)
    """
    deadline = time.monotonic() + timeout
    pause = 0.0005
    # this frame's own reference (``obj``) is one more than the caller's count had
    while references(obj) > before + 1:
        if time.monotonic() > deadline:
            return False
        time.sleep(pause)
        pause = min(pause * 2, 0.02)
    return True
