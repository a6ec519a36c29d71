"""File-system helpers: temporary names, durable renames."""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
from pathlib import Path

_counter = itertools.count()
_lock = threading.Lock()


def temp_name(final: Path) -> Path:
    """A hidden temporary name beside ``final``, unique in this process and across processes."""
    with _lock:
        n = next(_counter)
    return final.with_name(f".{final.name}.tmp-{os.getpid()}-{n}")


def fsync_dir(path: Path) -> None:
    """Make a rename inside ``path`` durable."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def is_within(path: Path, root: Path) -> bool:
    """True when ``path`` (resolved) is ``root`` or lies below it."""
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def write_atomic(final: Path, data: bytes) -> None:
    """Write ``data`` to ``final`` durably: a temporary name, fsync, rename, fsync the folder.

    ``final`` holds either its previous content or ``data``, never a part of it.
    """
    temp = temp_name(final)
    try:
        with open(temp, "xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    fsync_dir(final.parent)
