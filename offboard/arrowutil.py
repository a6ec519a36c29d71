"""Small Arrow helpers that keep the export lean.

pyarrow probes for pandas (importing it, ~45 MB) whenever it converts Python objects with
``pa.array`` or ``pa.scalar``. The export path never needs pandas, so the few Arrow values it
makes from Python strings are built directly from buffers here. A test checks that an export
does not import pandas.
"""

from __future__ import annotations

import os
import struct

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
