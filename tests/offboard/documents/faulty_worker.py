"""The document worker with faults injected by document name, for the sandbox tests.

Started as a script (``python faulty_worker.py FD MEMORY``). A document whose name (``shown``)
starts with ``crash-`` kills the worker with SIGSEGV, ``abort-`` with SIGABRT, ``hang-``
sleeps for an hour, ``hog-`` allocates until the memory limit stops it, ``garbage-`` answers
with bytes that are not JSON, ``limit-`` answers with the worker's address-space limit as its
fault reason; any other document is handled by the real worker.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from offboard.documents import worker

_real_add = worker._Worker.add


def _add(self: Any, request: dict[str, Any]) -> dict[str, Any]:
    shown = str(request["shown"])
    if shown.startswith("crash-"):
        os.kill(os.getpid(), signal.SIGSEGV)
    if shown.startswith("abort-"):
        os.kill(os.getpid(), signal.SIGABRT)
    if shown.startswith("hang-"):
        time.sleep(3600)
    if shown.startswith("hog-"):
        hoard = []
        while True:
            hoard.append(bytearray(16 << 20))
    if shown.startswith("garbage-"):
        self.sock.sendall(b"\x00\xffnot json\n")
        return {"pages": 1, "facturx": None}
    if shown.startswith("limit-"):
        import resource

        return {"fault": f"limit {resource.getrlimit(resource.RLIMIT_AS)[0]}"}
    result: dict[str, Any] = _real_add(self, request)
    return result


worker._Worker.add = _add  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(worker.main(sys.argv[1:]))
