"""Benchmark: peak memory of `offboard verify` as archives grow and are split into parts.

    make bench                      # or: .venv/bin/python bench/verify_memory.py [--runs 2]
    .venv/bin/python bench/verify_memory.py --no-large    # without layout 5 (minutes slower)

The archive format puts at most 25,000 payload files in one part (`offboard export
--split-files N`, default and maximum 25,000), so that verifying stays in bounded memory. The
claim checked here: "verifier memory stays under 256 MB (the verify process and its document
worker together) for any archive size", i.e. memory depends on the files per part, not on the
number of parts, and not on the size of the CSV files either (CSV tables are streamed).

What is measured, in offboard's own virtual environment (.bench/product-venv), with
`bench/archive.py`'s MEASURED snippet: the peak resident set size (`ru_maxrss` of
`resource.getrusage`, RUSAGE_SELF) of `offboard verify A.zip -p K.pub --quiet` and of `verify
--fast`, the wall time of the full verify (process start to exit, median of --runs runs; memory
is the maximum of the runs), and two figures for the document worker (one per part):

* "worker": the largest worker's own peak, VmHWM of /proc/self/status, read as the worker
  reports that it is done (it is started through a small wrapper that runs
  `manifests.verify.worker` and records that figure; a worker that crashes records none);
* "rusage": RUSAGE_CHILDREN's ru_maxrss, the figure MEASURED reports. Linux keeps a process's
  high-water mark across exec, and the worker is forked from the verifier, so this is at least
  the verifier's RSS when the worker was started, not the worker's own use: kept for
  comparison, not summed.

The layouts, each exported once (signed, `--created-at 2026-01-31T12:00:00Z`):

1. the default demo database's account acc-0001 (about 700 files, one part): the base;
2. a demo account with 25,000 documents (medium scale, cached in .bench/docs25k.db), default
   splitting: a first part of 25,000 files and a small second one;
3. the same account with `--split-files 5000` (about 6 parts);
4. the same account with `--split-files 1000` (about 26 parts);
5. a `large` demo account (`offboard demo --accounts 1 --scale large --seed 3`: about 1M
   invoices, 3M invoice lines, a 1.9 GB database, about 2 minutes to make once; cached in
   .bench/large.db) with its default 20,000 documents, default splitting: the CSV volume grows
   tenfold and more, the file count does not. On by default; `--no-large` skips it.

Each layout's export is timed too (wall time, and the peak RSS of the export process and of
its largest child, from MEASURED). Beside memory, the table shows the CSV volume of each
layout, uncompressed, from the zip entries (`file_size`): the largest `.csv` member and the sum
of all of them, over all parts.

Prints a table, the margin of the worst sum under 256 MB, the slope in KB per file of the
largest part between layouts 1 and 2 (sum of verify and worker) and, with layout 5, how the
sum moved against layout 2 for the added CSV volume; writes everything to
.bench/verify-memory.json. The sum of two peaks is an upper bound of what both use at once.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from archive import ACCOUNT, CACHE, MEASURED, demo_db, product_venv, timed

LIMIT_MB = 256
DOCUMENTS = 25_000
CREATED_AT = "2026-01-31T12:00:00Z"
WORK = CACHE / "out" / "verify-memory"
RESULTS = CACHE / "verify-memory.json"
EXPORT_ATTEMPTS = 5
EXPORT_RETRY_SECONDS = 60
HWM_ENV = "OFFBOARD_BENCH_WORKER_HWM"
#: the document worker, run so that it appends its peak RSS (VmHWM, KB) to the file $HWM_ENV
#: as it reports that it is done (the verifier kills it once it has read that line)
WORKER = f"""
import os, runpy, sys
def hwm():
    with open("/proc/self/status") as status:
        kb = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(os.environ["{HWM_ENV}"], "a") as out:
        out.write(kb + "\\n")
class Out:
    def __init__(self, raw):
        self.raw = raw
    def write(self, data):
        if data.startswith(b"D\\t"):
            hwm()
        return self.raw.write(data)
    def flush(self):
        self.raw.flush()
class Stdout:
    buffer = Out(sys.stdout.buffer)
sys.stdout = Stdout()
runpy.run_module("manifests.verify.worker", run_name="__main__", alter_sys=True)
"""
#: MEASURED, with the verifier starting its document workers through WORKER
MEASURED_WORKERS = f"""
import sys
import manifests.verify.worker
manifests.verify.worker.worker_command = lambda: [sys.executable, "-c", {WORKER!r}]
{MEASURED}"""
#: name, database, --split-files (None: the default)
Layout = tuple[str, Path, int | None]
MB = 1024 * 1024


def export(
    product: Path, db: Path, out: Path, key: Path, split: int | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Export ACCOUNT of ``db`` into the signed archive ``out``: its JSON summary, and its wall
    time and peak memory (the export process, and its largest child, as MEASURED reports).

    The product venv runs the working tree, which someone may be editing: a failed export is
    tried again after a pause, up to EXPORT_ATTEMPTS times.
    """
    cmd = [
        str(product / "python"),
        "-c",
        MEASURED,
        "export",
        f"sqlite:///{db}",
        "--account",
        ACCOUNT,
        "--out",
        str(out),
        "--sign-key",
        str(key),
        "--created-at",
        CREATED_AT,
        # the demo data holds a missing and an encrypted document on purpose (exit 6 otherwise)
        "--allow-missing-documents",
        "--json",
        "--quiet",
    ]
    if split is not None:
        cmd += ["--split-files", str(split)]
    for attempt in range(1, EXPORT_ATTEMPTS + 1):
        shutil.rmtree(out.parent, ignore_errors=True)
        out.parent.mkdir(parents=True)
        started = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        lines = done.stderr.strip().splitlines()
        memory = json.loads(lines[-1]) if lines and lines[-1].startswith('{"code"') else None
        if done.returncode == 0 and memory is not None and memory["code"] == 0:
            summary: dict[str, Any] = json.loads(done.stdout)
            return summary, {
                "seconds": seconds,
                "rss_mb": memory["rss_kb"] / 1024,
                "children_rss_mb": memory["children_rss_kb"] / 1024,
            }
        code = memory["code"] if memory is not None else done.returncode
        print(
            f"  export failed (exit {code}, attempt {attempt}/{EXPORT_ATTEMPTS}): "
            f"{done.stderr.strip()[-500:]}",
            flush=True,
        )
        if attempt < EXPORT_ATTEMPTS:
            time.sleep(EXPORT_RETRY_SECONDS)
    raise SystemExit(f"offboard export {out.name} failed {EXPORT_ATTEMPTS} times")


def part_contents(part: Path) -> tuple[int, list[int]]:
    """Payload files in one part (its zip members under TOP/data/, whatever offboard.json says)
    and the uncompressed sizes (bytes) of its `.csv` members."""
    with zipfile.ZipFile(part) as zf:
        members = zf.infolist()
    files = sum(1 for m in members if m.filename.split("/", 2)[1:2] == ["data"])
    return files, [m.file_size for m in members if m.filename.endswith(".csv")]


def verify(product: Path, archive: Path, pub: Path, *extra: str) -> dict[str, Any]:
    """Run `offboard verify ARCHIVE -p PUB --quiet EXTRA...` (which must pass); its figures."""
    hwm = WORK / "worker-hwm.txt"
    hwm.unlink(missing_ok=True)
    hwm.touch()
    os.environ[HWM_ENV] = str(hwm)
    seconds, _, err = timed(
        [
            str(product / "python"),
            "-c",
            MEASURED_WORKERS,
            "verify",
            str(archive),
            "-p",
            str(pub),
            "--quiet",
            *extra,
        ]
    )
    memory = json.loads(err.strip().splitlines()[-1])
    if memory["code"] != 0:
        raise SystemExit(
            f"offboard verify {archive} {' '.join(extra)} failed: exit {memory['code']}"
        )
    workers = [int(line) for line in hwm.read_text().split()]
    return {
        "seconds": seconds,
        "rss_kb": memory["rss_kb"],
        "children_rss_kb": memory["children_rss_kb"],
        "workers": len(workers),
        "worker_hwm_kb": max(workers, default=0),
    }


def measure(layout: Layout, product: Path, key: Path, runs: int) -> dict[str, Any]:
    name, db, split = layout
    out = WORK / name / f"{ACCOUNT}.zip"
    print(f"{name}: exporting...", flush=True)
    summary, exported = export(product, db, out, key, split)
    print(
        f"{name}: exported in {exported['seconds']:.1f} s, peak {exported['rss_mb']:.0f} MB "
        f"(largest child {exported['children_rss_mb']:.0f} MB)",
        flush=True,
    )
    parts = [out.parent / p for p in summary["archive"]["parts"]]
    contents = [part_contents(p) for p in parts]
    per_part = [files for files, _ in contents]
    csv_sizes = [size for _, sizes in contents for size in sizes]
    if sum(per_part) != summary["archive"]["files"]:
        raise SystemExit(f"{name}: the parts' payload files disagree with the export summary")
    pub = key.with_suffix(".pub")
    print(f"{name}: verifying {len(parts)} part(s), {runs} run(s)...", flush=True)
    full = [verify(product, parts[0], pub) for _ in range(runs)]
    fast = [verify(product, parts[0], pub, "--fast") for _ in range(runs)]
    r: dict[str, Any] = {
        "layout": name,
        "split_files": split,
        "files": summary["archive"]["files"],
        "parts": len(parts),
        "largest_part_files": max(per_part),
        "files_per_part": per_part,
        "archive_bytes": summary["archive"]["archive_bytes"],
        "csv_files": len(csv_sizes),
        "csv_largest_mb": max(csv_sizes, default=0) / MB,
        "csv_total_mb": sum(csv_sizes) / MB,
        "export_seconds": exported["seconds"],
        "export_rss_mb": exported["rss_mb"],
        "export_children_rss_mb": exported["children_rss_mb"],
        "verify_rss_mb": max(m["rss_kb"] for m in full) / 1024,
        "worker_rss_mb": max(m["worker_hwm_kb"] for m in full) / 1024,
        "workers_done": max(m["workers"] for m in full),
        "children_rusage_mb": max(m["children_rss_kb"] for m in full) / 1024,
        "verify_fast_rss_mb": max(m["rss_kb"] for m in fast) / 1024,
        "verify_fast_workers_done": max(m["workers"] for m in fast),
        "verify_seconds": statistics.median(m["seconds"] for m in full),
        "verify_seconds_runs": [m["seconds"] for m in full],
        "verify_fast_seconds": statistics.median(m["seconds"] for m in fast),
        "runs": {"full": full, "fast": fast},
    }
    r["sum_rss_mb"] = r["verify_rss_mb"] + r["worker_rss_mb"]
    r["sum_with_rusage_mb"] = r["verify_rss_mb"] + r["children_rusage_mb"]
    shutil.rmtree(out.parent)
    return r


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument(
        "--large",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="layout 5, the large demo scale (default: on; a first run makes a 1.9 GB database)",
    )
    args = parser.parse_args()
    small = demo_db("demo-default")
    big = demo_db(
        "docs25k",
        "--accounts",
        "1",
        "--scale",
        "medium",
        "--documents",
        str(DOCUMENTS),
        "--seed",
        "3",
    )
    large = (
        demo_db("large", "--accounts", "1", "--scale", "large", "--seed", "3")
        if args.large
        else None
    )
    product = product_venv()
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    key = WORK / "k.key"
    subprocess.run(
        [str(product / "offboard"), "keygen", str(key.with_suffix("")), "--no-passphrase"],
        check=True,
        capture_output=True,
    )
    layouts: list[Layout] = [
        ("1 demo default", small, None),
        ("2 25k, default split", big, None),
        ("3 25k, --split-files 5000", big, 5000),
        ("4 25k, --split-files 1000", big, 1000),
    ]
    if large is not None:
        layouts.append(("5 large, default split", large, None))
    rows = [measure(layout, product, key, args.runs) for layout in layouts]
    base, full = rows[0], rows[1]
    slope_kb = (
        (full["sum_rss_mb"] - base["sum_rss_mb"])
        * 1024
        / (full["largest_part_files"] - base["largest_part_files"])
    )
    worst = max(rows, key=lambda r: r["sum_rss_mb"])
    margin = LIMIT_MB - worst["sum_rss_mb"]
    results = {"runs": args.runs, "limit_mb": LIMIT_MB, "layouts": rows}
    results.update({"slope_kb_per_file": slope_kb, "worst_margin_mb": margin})
    big_csv = rows[4] if len(rows) > 4 else None
    if big_csv is not None:
        results["large_vs_layout_2"] = {
            "csv_total_ratio": big_csv["csv_total_mb"] / full["csv_total_mb"],
            "sum_rss_delta_mb": big_csv["sum_rss_mb"] - full["sum_rss_mb"],
            "verify_rss_delta_mb": big_csv["verify_rss_mb"] - full["verify_rss_mb"],
        }
    RESULTS.write_text(json.dumps(results, indent=2))

    print(f"\naccount {ACCOUNT}; memory: max of {args.runs} runs, time: median")
    head = ["files", "parts", "largest", "csv max", "csv all", "verify", "worker", "sum"]
    head += ["rusage", "fast", "verify", "export"]
    unit = ["", "", "part", "MB", "MB", "MB", "MB", "MB", "MB", "MB", "s", "s"]
    print(f"{'layout':<26}" + "".join(f" {c:>7}" for c in head))
    print(f"{'':<26}" + "".join(f" {c:>7}" for c in unit))
    for r in rows:
        print(
            f"{r['layout']:<26} {r['files']:>7,} {r['parts']:>7} {r['largest_part_files']:>7,} "
            f"{r['csv_largest_mb']:>7.1f} {r['csv_total_mb']:>7.1f} "
            f"{r['verify_rss_mb']:>7.1f} {r['worker_rss_mb']:>7.1f} {r['sum_rss_mb']:>7.1f} "
            f"{r['children_rusage_mb']:>7.1f} {r['verify_fast_rss_mb']:>7.1f} "
            f"{r['verify_seconds']:>7.2f} {r['export_seconds']:>7.1f}"
        )
    print(
        "worker: the largest worker's own peak (VmHWM); rusage: RUSAGE_CHILDREN, not summed "
        "(includes the verifier's RSS at the fork); csv: uncompressed, largest member and all"
    )
    print(
        f"worst sum: {worst['sum_rss_mb']:.1f} MB ({worst['layout']}); margin under "
        f"{LIMIT_MB} MB: {margin:.1f} MB" + ("" if margin >= 0 else "  <-- OVER THE LIMIT")
    )
    print(f"slope, layout 1 -> 2 (verify + worker): {slope_kb:.2f} KB per file of the largest part")
    if big_csv is not None:
        print(
            f"layout 2 -> 5: CSV {full['csv_total_mb']:.0f} -> {big_csv['csv_total_mb']:.0f} MB "
            f"(x{big_csv['csv_total_mb'] / full['csv_total_mb']:.1f}); verify "
            f"{big_csv['verify_rss_mb'] - full['verify_rss_mb']:+.1f} MB, verify + worker "
            f"{big_csv['sum_rss_mb'] - full['sum_rss_mb']:+.1f} MB"
        )
    print("export (s, peak MB, largest child MB):")
    for r in rows:
        print(
            f"  {r['layout']:<26} {r['export_seconds']:>7.1f} {r['export_rss_mb']:>7.0f} "
            f"{r['export_children_rss_mb']:>7.0f}"
        )


if __name__ == "__main__":
    main()
