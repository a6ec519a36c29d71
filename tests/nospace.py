"""Commands run on a small file system of their own: a tmpfs in a private mount namespace.

:func:`on_small_fs` mounts a tmpfs of ``size`` bytes over an empty folder, in a mount namespace
of its own (``unshare --user --map-root-user --mount``, or ``unshare --mount`` for root where
user namespaces are not allowed), and runs the steps there one after the other: commands
(:class:`Run`), each followed by a listing of every file and folder on the small file system,
its bytes in use and the SHA-256 of the files asked for; and resizes (:class:`Resize`, "free
some space": the same mount made larger, its files kept). Nothing of it is visible outside the
namespace, and it all goes when the steps are done: the folder is empty again.

The steps are carried out by this file run as a script inside the namespace (standard library
only), which writes what it saw as JSON for :func:`on_small_fs` to read back.

Without ``unshare`` or without the right to make the namespace, :func:`require_namespaces`
fails the test with the reason: it never skips.

:class:`FullDisk` fills a disk without a namespace: in this process, the Nth write into a
folder, and every later one, fails with ENOSPC.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

#: the namespace prefixes tried, in order (the second only works for root)
_PREFIXES = (
    ["unshare", "--user", "--map-root-user", "--mount"],
    ["unshare", "--mount"],
)
#: the shell line run inside the namespace: mount the tmpfs, then run the steps
_MOUNT = 'mount -t tmpfs -o "size=$1" offboard-small "$2" && shift 2 && exec "$@"'
#: seconds between two readings of the bytes in use while a watched command runs
_WATCH_INTERVAL = 0.001

_prefix: list[str] | None = None


@dataclass(frozen=True)
class Run:
    """Run ``argv`` (in ``cwd``, with ``env`` added to the environment); then list the small
    file system, and hash the files of ``digests`` (paths relative to the mount)."""

    argv: list[str]
    cwd: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    digests: tuple[str, ...] = ()
    #: read the bytes in use every millisecond while it runs (:attr:`Ran.peak`)
    watch: bool = False
    timeout: float = 300.0


@dataclass(frozen=True)
class Resize:
    """Make the small file system ``size`` bytes (its files stay)."""

    size: int


@dataclass(frozen=True)
class Ran:
    """What a :class:`Run` step gave."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    #: every file (its size) and folder (name ending with ``/``, size 0) on the small file
    #: system after the command, relative to the mount
    files: dict[str, int]
    #: bytes in use on the small file system after the command
    used: int
    #: the most bytes in use seen while the command ran (0 unless watched)
    peak: int
    #: SHA-256 of the files asked for (None: not there)
    digests: dict[str, str | None]

    def final_names(self) -> list[str]:
        """The files and folders whose own name is not hidden (no component starts with a
        dot): what a reader of the folder would take for output."""
        return sorted(
            p for p in self.files if not any(part.startswith(".") for part in p.split("/") if part)
        )

    def describe(self) -> str:
        shown = "\n".join(f"  {p} ({n} bytes)" for p, n in sorted(self.files.items()))
        return (
            f"$ {' '.join(self.argv)}\nexit {self.returncode}\nstderr: {self.stderr.strip()}\n"
            f"files on the small file system:\n{shown or '  (none)'}"
        )


def require_namespaces() -> list[str]:
    """The ``unshare`` prefix that can mount a tmpfs here; fails the test if there is none."""
    global _prefix
    if _prefix is not None:
        return _prefix
    import pytest

    if shutil.which("unshare") is None or shutil.which("mount") is None:
        pytest.fail(
            "unshare and mount (util-linux) are needed to run commands on a small file system: "
            "install util-linux (`make test` runs on Debian, where it is essential)"
        )
    reasons = []
    with tempfile.TemporaryDirectory(prefix="offboard-nospace-") as folder:
        for prefix in _PREFIXES:
            done = subprocess.run(
                [*prefix, "sh", "-c", _MOUNT, "sh", "64k", folder, "true"],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode == 0:
                _prefix = list(prefix)
                return _prefix
            reasons.append(f"`{' '.join(prefix)}`: {done.stderr.strip() or done.returncode}")
    pytest.fail(
        "cannot mount a small tmpfs in a private mount namespace ("
        + "; ".join(reasons)
        + "): the disk-full tests need user namespaces, or root"
    )


def on_small_fs(mount: Path, size: int, *steps: Run | Resize) -> list[Ran]:
    """Carry out ``steps`` on a tmpfs of ``size`` bytes mounted over the empty folder
    ``mount`` in a private mount namespace; what each :class:`Run` gave, in order."""
    prefix = require_namespaces()
    mount.mkdir(parents=True, exist_ok=True)
    if any(mount.iterdir()):
        raise ValueError(f"{mount} is not empty")
    with tempfile.TemporaryDirectory(prefix="offboard-nospace-plan-") as work:
        plan = Path(work) / "plan.json"
        result = Path(work) / "result.json"
        plan.write_text(
            json.dumps(
                {
                    "mount": str(mount),
                    "steps": [_step(s) for s in steps],
                }
            ),
            encoding="utf-8",
        )
        argv = [*prefix, "sh", "-c", _MOUNT, "sh", str(size), str(mount)]
        argv += [sys.executable, str(Path(__file__).resolve()), str(plan), str(result)]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not result.exists():
            raise RuntimeError(
                f"the small file system's steps did not complete (exit {done.returncode}): "
                f"{done.stderr.strip()}"
            )
        found = json.loads(result.read_text(encoding="utf-8"))
    return [Ran(**r) for r in found]


def _step(step: Run | Resize) -> dict[str, Any]:
    if isinstance(step, Resize):
        return {"op": "resize", "size": step.size}
    return {
        "op": "run",
        "argv": step.argv,
        "cwd": step.cwd,
        "env": step.env,
        "digests": list(step.digests),
        "watch": step.watch,
        "timeout": step.timeout,
    }


# -- inside the namespace ---------------------------------------------------------------------
def _used(mount: str) -> int:
    st = os.statvfs(mount)
    return (st.f_blocks - st.f_bfree) * st.f_frsize


def _listing(mount: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for folder, dirs, files in os.walk(mount):
        rel = os.path.relpath(folder, mount)
        base = "" if rel == "." else rel + "/"
        for d in dirs:
            found[f"{base}{d}/"] = 0
        for f in files:
            found[f"{base}{f}"] = os.lstat(os.path.join(folder, f)).st_size
    return found


def _digest(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except FileNotFoundError:
        return None


def _run(mount: str, step: dict[str, Any]) -> dict[str, Any]:
    env = {**os.environ, **step["env"]}
    peak = [0]
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _used(mount))
            time.sleep(_WATCH_INTERVAL)

    watcher = threading.Thread(target=watch, daemon=True) if step["watch"] else None
    if watcher is not None:
        watcher.start()
    try:
        done = subprocess.run(
            step["argv"],
            cwd=step["cwd"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=step["timeout"],
        )
    finally:
        stop.set()
        if watcher is not None:
            watcher.join()
    return {
        "argv": step["argv"],
        "returncode": done.returncode,
        "stdout": done.stdout,
        "stderr": done.stderr,
        "files": _listing(mount),
        "used": _used(mount),
        "peak": peak[0],
        "digests": {p: _digest(os.path.join(mount, p)) for p in step["digests"]},
    }


def _main(plan_path: str, result_path: str) -> int:
    with open(plan_path, encoding="utf-8") as fh:
        plan = json.load(fh)
    mount = plan["mount"]
    results = []
    for step in plan["steps"]:
        if step["op"] == "resize":
            subprocess.run(["mount", "-o", f"remount,size={step['size']}", mount], check=True)
        else:
            results.append(_run(mount, step))
    with open(result_path, "w", encoding="utf-8") as fh:
        json.dump(results, fh)
    return 0


# -- a full disk in this process: every write into a folder fails from the Nth on ------------
class FullDisk:
    """Writes into the folder ``root`` (through ``open``, ``os.write``, ``os.pwrite`` and
    Arrow's ``OSFile``) counted, and, from the ``fail_at``-th on, failing with ENOSPC as on a
    full disk (every later write too: the disk stays full). ``fail_at=None`` only counts. A
    write to a buffered file counts twice: the code's call, and the system call that writes
    the buffer out (the first to fail on a real disk).

    :attr:`sites` names the code that made each write counted before the failure
    (``module:function`` of the first frame of offboard's own, helpers left out), so a test can
    say which stage it failed in (:attr:`failed_in`).
    """

    def __init__(self, root: Path, fail_at: int | None = None) -> None:
        self.root = os.path.realpath(root)
        self.fail_at = fail_at
        self.writes = 0
        self.sites: list[str] = []
        self.failed_in: str | None = None
        self._lock = threading.Lock()

    def covers(self, path: str) -> bool:
        path = os.path.realpath(path.removesuffix(" (deleted)"))
        return path == self.root or path.startswith(self.root + os.sep)

    def write(self) -> None:
        """Count a write into the folder; raise ENOSPC if it is one that fails."""
        site = _site()
        with self._lock:
            self.writes += 1
            if self.fail_at is None or self.writes < self.fail_at:
                self.sites.append(site)
                return
            if self.failed_in is None:
                self.failed_in = site
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def fd_covered(self, fd: int) -> bool:
        try:
            return self.covers(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            return False

    def install(self, monkeypatch: Any) -> None:
        """Put the failing writes in place for the test (``monkeypatch`` undoes them)."""
        import builtins
        import io

        import pyarrow

        real_open, real_write, real_pwrite = io.open, os.write, os.pwrite
        real_osfile = pyarrow.OSFile
        disk = self

        class Raw(io.FileIO):
            def write(self, data: Any) -> int:
                disk.write()
                return super().write(data)

        class Buffered(io.BufferedWriter):  # a write the code makes (raw ones: at flushes)
            def write(self, data: Any) -> int:
                disk.write()
                return super().write(data)

        class BufferedRandom(io.BufferedRandom):
            def write(self, data: Any) -> int:
                disk.write()
                return super().write(data)

        def open_(file: Any, mode: str = "r", buffering: int = -1, *args: Any, **kw: Any) -> Any:
            path = os.readlink(f"/proc/self/fd/{file}") if isinstance(file, int) else file
            if not set(mode) & set("wxa+") or not disk.covers(os.fspath(path)):
                return real_open(file, mode, buffering, *args, **kw)
            names = ("encoding", "errors", "newline", "closefd", "opener")
            given = dict(zip(names, args, strict=False)) | kw
            raw = Raw(
                file,
                mode.replace("b", "").replace("t", ""),
                closefd=given.get("closefd", True),
                opener=given.get("opener"),
            )
            if buffering == 0:
                return raw
            size = buffering if buffering > 1 else io.DEFAULT_BUFFER_SIZE
            cls = BufferedRandom if "+" in mode else Buffered
            buffer = cls(raw, size)
            if "b" in mode:
                return buffer
            text = io.TextIOWrapper(
                buffer,
                given.get("encoding"),
                given.get("errors"),
                given.get("newline"),
                line_buffering=buffering == 1,
            )
            text.mode = mode  # type: ignore[misc]
            return text

        def write_(fd: int, data: Any) -> int:
            if disk.fd_covered(fd):
                disk.write()
            return real_write(fd, data)

        def pwrite_(fd: int, data: Any, offset: int) -> int:
            if disk.fd_covered(fd):
                disk.write()
            return real_pwrite(fd, data, offset)

        def osfile(path: Any, mode: str = "r", **kw: Any) -> Any:
            if "w" in mode and disk.covers(os.fspath(path)):
                return pyarrow.PythonFile(open_(path, "wb"), mode="w")
            return real_osfile(path, mode, **kw)

        monkeypatch.setattr(builtins, "open", open_)
        monkeypatch.setattr(io, "open", open_)
        monkeypatch.setattr(os, "write", write_)
        monkeypatch.setattr(os, "pwrite", pwrite_)
        monkeypatch.setattr(pyarrow, "OSFile", osfile)


#: the code whose frames :func:`_site` looks through to the caller
_HELPERS = (".venv/", "tests/", "offboard/fsutil.py")


def _site() -> str:
    """``module:function`` of the first frame of the project's own code up the stack."""
    root = str(Path(__file__).resolve().parent.parent) + os.sep
    frame: FrameType | None = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if name.startswith(root) and not name[len(root) :].startswith(_HELPERS):
            return f"{name[len(root) :]}:{frame.f_code.co_name}"
        frame = frame.f_back
    return "?"


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1], sys.argv[2]))
