"""A document worker that fails on purpose at one file: ``faulty_worker.py MODE TARGET``.

MODE is ``crash`` (abort while checking TARGET), ``crash-early`` (abort while first reading
it), ``hang``, ``garbage`` (write a line that is not the protocol's), ``crash-all`` (abort on
every file) or ``no-start`` (exit before saying anything). TARGET ends a member's path.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from manifests.verify import docs, worker

MODE, TARGET = sys.argv[1], sys.argv[2]
REAL_PREPARE = docs.prepare


def fault() -> None:
    if MODE in ("crash", "crash-early", "crash-all"):
        os.abort()
    if MODE == "hang":
        time.sleep(3600)
    if MODE == "garbage":
        sys.stdout.buffer.write(b"this is not the protocol\n")
        sys.stdout.flush()
        time.sleep(3600)


def prepare(reader: Any, entry: Any, *, open_pdf: bool) -> Any:
    if MODE == "crash-early" and entry.name.endswith(TARGET):
        fault()
    return REAL_PREPARE(reader, entry, open_pdf=open_pdf)


def check(reader: Any, item: Any, pre: Any) -> Any:
    if MODE == "crash-all" or (MODE != "crash-early" and item.rel.endswith(TARGET)):
        fault()
    return docs.check_item(reader, item, pre)


if __name__ == "__main__":
    if MODE == "no-start":
        sys.exit(3)
    worker.prepare = docs.prepare = prepare  # type: ignore[assignment]
    sys.exit(worker.serve(check))
