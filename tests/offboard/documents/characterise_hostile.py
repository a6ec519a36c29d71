"""Characterise the hostile PDF corpus (and the real-world PDFs) against the documents path.

Run ``.venv/bin/python -m tests.offboard.documents.characterise_hostile`` from the project root.
Each file is handed to a child process of its own, limited to 1 GiB of address space
(``RLIMIT_AS``) and killed after 60 s, which does with it what the export does with a document
(:meth:`offboard.documents.bundle.BundleWriter.add_pending`, then the part's save):

1. ``precheck``: ``%PDF-`` in the first 1024 bytes, ``%%EOF`` in the last 1024 (the export
   reports ``not a PDF`` / truncated there and never opens the file; the other steps run anyway,
   to characterise qpdf on the file);
2. ``open``: ``pikepdf.open(path)``;
3. ``pages``: ``len(pdf.pages)``;
4. ``copy``: every page copied into a new ``pikepdf.Pdf`` with ``copy_foreign(page.obj)``, its
   ``/Parent`` set and appended to ``/Kids``;
5. ``inspect``: :func:`offboard.facturx.checks.inspect` (the Factur-X attachment read,
   ``required=False`` so that only real issues show);
6. ``save``: ``/Count`` set, one outline item, saved with ``bundle.SAVE_OPTIONS``;
7. ``reopen``: the saved bundle opened again and its pages counted (what ``offboard verify``
   does with a bundle).

For each file the table gives the outcome (the first exception, with its step; a signal; a
timeout), the seconds, the child's peak RSS (``ru_maxrss``), the pages, the number of qpdf
warnings, and what the export makes of the file today (``ok``: bundled; ``problem``: reported;
``FAILS``: the export itself fails or dies), beside what the corpus expects.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
REAL_PDFS = Path("/work/shared/fixtures/real-pdfs")
STEPS = ("precheck", "open", "pages", "copy", "inspect", "save", "reopen")
WINDOW = 1024
MODULE = "tests.offboard.documents.characterise_hostile"


# --------------------------------------------------------------------------- the child


def _rss_kb() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else ""
    return f"{type(exc).__name__}: {line[:300]}"


class _Log:
    """JSON lines written (and flushed) as the child goes, so that a kill loses nothing."""

    def __init__(self, path: Path) -> None:
        self.fh = open(path, "a", encoding="utf-8")  # noqa: SIM115 - the child's lifetime

    def write(self, **entry: Any) -> None:
        self.fh.write(json.dumps(entry) + "\n")
        self.fh.flush()


def child(path: Path, log_path: Path, memory: int) -> int:
    """Run the steps on ``path``, logging each; exit 0 when all pass, 1 on an exception."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    log = _Log(log_path)
    with open(path, "rb") as fh:
        head = fh.read(WINDOW)
        fh.seek(max(0, os.fstat(fh.fileno()).st_size - WINDOW))
        tail = fh.read()
    pre = "not a PDF" if b"%PDF-" not in head else "truncated" if b"%%EOF" not in tail else "-"
    log.write(step="precheck", done=True, seconds=0.0, rss_kb=_rss_kb(), info=pre)

    import pikepdf
    from pikepdf import Array, Dictionary, Name, String

    from offboard.documents.part import SAVE_OPTIONS
    from offboard.facturx.checks import inspect

    state: dict[str, Any] = {}

    def step_open() -> str:
        state["src"] = pikepdf.open(path)
        return ""

    def step_pages() -> str:
        state["pages"] = len(state["src"].pages)
        return str(state["pages"])

    def step_copy() -> str:
        src = state["src"]
        dst = pikepdf.new()
        tree = dst.Root.Pages
        kids = tree.Kids
        copied = [dst.copy_foreign(page.obj) for page in src.pages]
        if not copied:
            raise _NoPages("no pages")
        for page in copied:
            page.Parent = tree
            kids.append(page)
        state.update(dst=dst, tree=tree, copied=copied)
        return str(len(copied))

    def step_inspect() -> str:
        finding = inspect(state["src"], required=False)
        return ",".join(sorted({i.code for i in finding.issues}))

    def step_save() -> str:
        dst, tree, copied = state["dst"], state["tree"], state["copied"]
        tree.Count = len(copied)
        root = dst.make_indirect(Dictionary(Type=Name.Outlines))
        item = dst.make_indirect(
            Dictionary(Title=String("document"), Parent=root, Dest=Array([copied[0], Name.Fit]))
        )
        root.First = root.Last = item
        root.Count = 1
        dst.Root.Outlines = root
        out = log_path.with_suffix(".bundle.pdf")
        with open(out, "wb") as fh:
            dst.save(fh, **SAVE_OPTIONS)
        state["out"] = out
        return f"{out.stat().st_size} bytes"

    def step_reopen() -> str:
        with pikepdf.open(state["out"]) as again:
            pages = len(again.pages)
        if pages != len(state["copied"]):
            raise _Mismatch(f"bundle has {pages} pages, not {len(state['copied'])}")
        return str(pages)

    actions = {
        "open": step_open,
        "pages": step_pages,
        "copy": step_copy,
        "inspect": step_inspect,
        "save": step_save,
        "reopen": step_reopen,
    }
    for name, action in actions.items():
        log.write(step=name, done=False)
        started = time.perf_counter()
        try:
            info = action()
        except BaseException as exc:  # whatever escapes is the finding
            log.write(
                step=name,
                done=True,
                seconds=time.perf_counter() - started,
                rss_kb=_rss_kb(),
                error=_short(exc),
                exc_type=type(exc).__name__,
                warnings=_warnings(state),
            )
            return 1
        log.write(
            step=name,
            done=True,
            seconds=time.perf_counter() - started,
            rss_kb=_rss_kb(),
            info=info,
            warnings=_warnings(state),
        )
    return 0


class _NoPages(Exception):
    """The document has no pages (the bundle refuses it: ``unreadable: no pages``)."""


class _Mismatch(Exception):
    """The bundle read back is not what was written."""


def _warnings(state: dict[str, Any]) -> list[str]:
    """The qpdf warnings of the source since the last call (qpdf clears them when read)."""
    src = state.get("src")
    if src is None:
        return []
    try:
        return [str(w).splitlines()[0][:200] for w in src.get_warnings()]
    except Exception:
        return []


# --------------------------------------------------------------------------- the parent


@dataclass
class Result:
    name: str
    expect: str
    size: int
    #: "ok", "error", "signal SIGKILL", "timeout", "exit N"
    outcome: str = ""
    #: the step that failed, or was running when the child died
    step: str = ""
    detail: str = ""
    exc_type: str = ""
    precheck: str = "-"
    seconds: float = 0.0
    peak_rss_mb: float = 0.0
    pages: str = ""
    warnings: int = 0
    first_warning: str = ""
    issues: str = ""
    steps: list[dict[str, Any]] = field(default_factory=list)

    @property
    def today(self) -> str:
        """What the export makes of the file today: ``ok`` (bundled), ``problem`` (reported,
        the export goes on) or ``FAILS`` (the export fails or dies)."""
        if self.precheck != "-":
            return "problem"
        if self.outcome == "ok":
            return "problem" if self.issues else "ok"
        if self.outcome == "error" and self.step in ("open", "pages", "copy"):
            return "problem"  # DocumentFault: encrypted, unreadable, no pages
        return "FAILS"

    @property
    def verdict(self) -> str:
        if self.expect not in ("ok", "problem"):
            return ""
        return "as expected" if self.today == self.expect else "MISMATCH"


def run_one(
    name: str, expect: str, path: Path, work: Path, *, timeout: float, memory: int
) -> Result:
    """Run the child on ``path`` and gather its log and resource usage."""
    log = work / f"{name}.log"
    log.unlink(missing_ok=True)
    result = Result(name=name, expect=expect, size=path.stat().st_size)
    command = [
        sys.executable,
        "-m",
        MODULE,
        "--child",
        str(path),
        str(log),
        str(memory),
    ]
    with open(work / f"{name}.stderr", "wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err)
        timed_out = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - started > timeout:
                timed_out = True
                os.kill(proc.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        result.seconds = time.perf_counter() - started
    result.peak_rss_mb = usage.ru_maxrss / 1024
    entries = _read_log(log)
    result.steps = entries
    done = [e for e in entries if e.get("done")]
    for e in done:
        if e["step"] == "precheck":
            result.precheck = e.get("info", "-")
        if e["step"] == "pages" and "info" in e:
            result.pages = e["info"]
        if e["step"] == "inspect" and "info" in e:
            result.issues = e["info"]
        found = e.get("warnings") or []
        result.warnings += len(found)
        if found and not result.first_warning:
            result.first_warning = found[0]
    running = entries[-1]["step"] if entries and not entries[-1].get("done") else ""
    if timed_out:
        result.outcome, result.step = "timeout", running
    elif os.WIFSIGNALED(status):
        result.outcome = f"signal {signal.Signals(os.WTERMSIG(status)).name}"
        result.step = running
    elif os.WEXITSTATUS(status) == 0:
        result.outcome = "ok"
    elif done and "error" in done[-1]:
        result.outcome, result.step = "error", done[-1]["step"]
        result.detail = done[-1]["error"]
        result.exc_type = done[-1].get("exc_type", "")
    else:
        result.outcome, result.step = f"exit {os.WEXITSTATUS(status)}", running
        tail = (work / f"{name}.stderr").read_text(errors="replace").strip().splitlines()
        result.detail = tail[-1][:300] if tail else ""
    return result


def _read_log(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            break  # a line cut by the kill
    return out


def table(results: list[Result]) -> str:
    """The results as a Markdown table."""
    head = (
        "| case | size | expect | today | precheck | outcome | step | s | peak RSS MB | pages "
        "| qpdf warnings | detail |"
    )
    lines = [head, "|" + "---|" * 12]
    for r in results:
        detail = r.detail
        if r.outcome == "ok" and r.issues:
            detail = f"factur-x issues: {r.issues}"
        if not detail and r.first_warning:
            detail = f"first warning: {r.first_warning}"
        detail = detail.replace("|", "\\|")[:140]
        today = r.today if not r.verdict or r.verdict == "as expected" else f"**{r.today}**"
        lines.append(
            f"| {r.name} | {_size(r.size)} | {r.expect} | {today} | {r.precheck} | {r.outcome} "
            f"| {r.step} | {r.seconds:.1f} | {r.peak_rss_mb:.0f} | {r.pages} | {r.warnings} "
            f"| {detail} |"
        )
    return "\n".join(lines)


def _size(n: int) -> str:
    if n < 10_000:
        return f"{n} B"
    if n < 10_000_000:
        return f"{n / 1000:.0f} kB"
    return f"{n / 1e6:.1f} MB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument(
        "--child", nargs=3, metavar=("PDF", "LOG", "MEMORY"), help=argparse.SUPPRESS
    )
    parser.add_argument("--write", type=Path, metavar="DIR", help=argparse.SUPPRESS)
    parser.add_argument("names", nargs="*", help="only these cases (default: all)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per file (60)")
    parser.add_argument("--memory-mb", type=int, default=1024, help="RLIMIT_AS of the child (1024)")
    parser.add_argument("--no-real", action="store_true", help=f"leave out {REAL_PDFS}")
    parser.add_argument("--real-only", action="store_true", help=f"only {REAL_PDFS}")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument(
        "--keep", type=Path, help="write the files and logs here (default: a temp dir)"
    )
    args = parser.parse_args(argv)
    if args.child:
        pdf, log, memory = args.child
        return child(Path(pdf), Path(log), int(memory))

    from tests.offboard.documents.hostile_pdfs import CASES, write_case

    if args.write:
        for case in CASES:
            if not args.names or case.name in args.names:
                write_case(case, args.write)
        return 0

    memory = args.memory_mb * 1024 * 1024
    with tempfile.TemporaryDirectory(prefix="hostile-") as temp:
        work = args.keep or Path(temp)
        work.mkdir(parents=True, exist_ok=True)
        todo: list[tuple[str, str, Path]] = []
        if not args.real_only:
            # written by another process: the children forked from this one start with its
            # resident memory counted in their ru_maxrss, which must stay small
            writer = [sys.executable, "-m", MODULE, "--write", str(work)]
            subprocess.run([*writer, *args.names], cwd=ROOT, check=True)
            for case in CASES:
                if args.names and case.name not in args.names:
                    continue
                todo.append((case.name, case.expect, work / f"{case.name}.pdf"))
        if not args.no_real and REAL_PDFS.is_dir():
            for path in sorted(REAL_PDFS.glob("*.pdf")):
                if args.names and path.stem not in args.names and path.name not in args.names:
                    continue
                todo.append((f"real: {path.name}", "-", path))
        results = []
        for name, expect, path in todo:
            safe = name.replace("real: ", "real-")
            r = run_one(safe, expect, path, work, timeout=args.timeout, memory=memory)
            r.name = name
            results.append(r)
            print(
                f"{name}: {r.outcome} {r.step} {r.seconds:.1f}s {r.peak_rss_mb:.0f}MB",
                r.detail[:80],
                file=sys.stderr,
                flush=True,
            )
    print(table(results))
    if args.json:
        args.json.write_text(
            json.dumps(
                [{**r.__dict__, "today": r.today, "verdict": r.verdict} for r in results], indent=1
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
