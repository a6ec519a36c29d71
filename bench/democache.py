"""Whether a cached demo database was made by the demo generator of this tree.

Each cached database has a stamp file beside it holding :func:`demo_version`, the SHA-256 of
the generator's sources (``offboard/demo``): a change to the demo's schema or data makes the
benchmarks generate it again instead of running on a database of another shape.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

DEMO = Path(__file__).resolve().parents[1] / "offboard" / "demo"


def demo_version() -> str:
    h = hashlib.sha256()
    for path in sorted(DEMO.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".sql"):
            h.update(path.relative_to(DEMO).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def is_current(stamp: Path, db: Path) -> bool:
    """The database exists and its stamp names this generator."""
    try:
        return db.exists() and stamp.read_text().split("\n")[0].strip() == demo_version()
    except OSError:
        return False
