"""Benchmark: `offboard export` against `sqlite3 -csv` and pandas, in the same run.

    make bench                      # or: .venv/bin/python bench/run.py [--runs 3]

Generates the `large` demo (one account: ~1M invoices, ~3M lines, ~1M bank transactions) and
the `medium` one (~100k invoices) once, cached in .bench/, then times, for the same account and
the same tables (the exporters' own queries):

* `sqlite3 -csv -header` of every table, one after the other (the baseline);
* pandas `read_sql(chunksize=100_000)` + `to_csv`;
* `offboard export --no-documents` (the CSV part, comparable to the two above);
* `offboard export` with documents (copy, page count, bundles), reported on its own.

Each command runs in its own process; peak RSS is that process's maximum resident set size.
Figures are medians of --runs runs; ratios are against the sqlite3 baseline of the same run,
since these machines are shared and their speed varies.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from democache import demo_version, is_current

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".bench"
BIN = Path(sys.executable).parent
ACCOUNT = "acc-0001"
PANDAS_SCRIPT = """
import sqlite3, sys
import pandas as pd
from exporters import load_all
db, account, out = sys.argv[1:4]
con = sqlite3.connect(db)
for cls in load_all().values():
    for t in cls.tables:
        first = True
        for chunk in pd.read_sql(t.query, con, params=(account,), chunksize=100_000):
            chunk.to_csv(f"{out}/{t.name}.csv", mode="w" if first else "a", header=first,
                         index=False)
            first = False
"""


def generate(name: str, scale: str) -> Path:
    db = CACHE / f"{name}.db"
    stamp = CACHE / f"{name}.done"
    if is_current(stamp, db):
        return db
    CACHE.mkdir(exist_ok=True)
    print(f"generating the {scale} demo into {db} (cached for later runs)...", flush=True)
    started = time.perf_counter()
    subprocess.run(
        [str(BIN / "offboard"), "demo", str(db), "--accounts", "1", "--scale", scale, "--quiet"],
        check=True,
    )
    print(f"  generated in {time.perf_counter() - started:.0f} s", flush=True)
    stamp.write_text(demo_version() + "\n")
    return db


def measure(cmd: list[str], stdout_to: Path | None = None) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of ``cmd`` run in a fresh process."""
    wrapper = (
        "import resource, subprocess, sys, time\n"
        "out = open(sys.argv[1], 'wb') if sys.argv[1] != '-' else subprocess.DEVNULL\n"
        "t = time.perf_counter()\n"
        "subprocess.run(sys.argv[2:], check=True, stdout=out)\n"
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", wrapper, str(stdout_to) if stdout_to else "-", *cmd],
        check=True,
        capture_output=True,
        text=True,
    )
    seconds, rss_kb = res.stdout.split()
    return float(seconds), int(rss_kb) / 1024


def tables() -> list[tuple[str, str]]:
    from exporters import load_all

    return [(t.name, t.query) for cls in load_all().values() for t in cls.tables]


def run_sqlite3(db: Path, out: Path) -> tuple[float, float]:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    total, peak = 0.0, 0.0
    for name, query in tables():
        sql = " ".join(query.split()).replace("?", f"'{ACCOUNT}'")
        seconds, rss = measure(["sqlite3", "-csv", "-header", str(db), sql], out / f"{name}.csv")
        total += seconds
        peak = max(peak, rss)
    return total, peak


def run_pandas(db: Path, out: Path) -> tuple[float, float]:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    return measure([sys.executable, "-c", PANDAS_SCRIPT, str(db), ACCOUNT, str(out)])


def run_offboard(db: Path, out: Path, *extra: str) -> tuple[float, float]:
    shutil.rmtree(out, ignore_errors=True)
    cmd = [str(BIN / "offboard"), "export", f"sqlite:///{db}", "--account", ACCOUNT]
    cmd += ["--out", str(out), "--quiet", "--allow-missing-documents", *extra]
    return measure(cmd)


def median_of(runs: int, fn, *args) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    results = [fn(*args) for _ in range(runs)]
    return statistics.median(r[0] for r in results), max(r[1] for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    large = generate("large", "large")
    medium = generate("medium", "medium")
    work = CACHE / "out"
    rows: dict[str, tuple[float, float]] = {}

    rows["sqlite3 -csv (baseline)"] = median_of(args.runs, run_sqlite3, large, work / "sqlite3")
    rows["pandas read_sql + to_csv"] = median_of(1, run_pandas, large, work / "pandas")
    rows["offboard export --no-documents"] = median_of(
        args.runs, run_offboard, large, work / "offboard", "--no-documents"
    )
    rows["offboard export --no-documents --jobs 1"] = median_of(
        args.runs, run_offboard, large, work / "offboard1", "--no-documents", "--jobs", "1"
    )
    rows["offboard export (with documents)"] = median_of(
        args.runs, run_offboard, large, work / "full"
    )
    medium_rss = median_of(1, run_offboard, medium, work / "medium", "--no-documents")[1]

    summary = json.loads((work / "full" / "export-summary.json").read_text())
    rows_exported = sum(t["records"] for k in summary["kinds"] for t in k["tables"])
    pages = sum((k["documents"] or {}).get("bundle_pages", 0) for k in summary["kinds"])
    doc_seconds = max((k["documents"] or {}).get("seconds", 0) for k in summary["kinds"])

    base = rows["sqlite3 -csv (baseline)"][0]
    print()
    print(f"large account: {rows_exported:,} rows in {len(tables())} tables; {pages:,} PDF pages")
    print()
    print("| command | seconds | ratio to sqlite3 -csv | peak RSS MB |")
    print("| --- | ---: | ---: | ---: |")
    for name, (seconds, rss) in rows.items():
        print(f"| {name} | {seconds:.2f} | {seconds / base:.2f}x | {rss:.0f} |")
    print()
    print(
        f"peak RSS of `offboard export --no-documents`: medium (~100k invoices) {medium_rss:.0f}"
        f" MB, large (~1M invoices) {rows['offboard export --no-documents'][1]:.0f} MB"
    )
    print(f"documents: {pages:,} bundled pages, longest document kind took {doc_seconds:.1f} s")
    results = {k: {"seconds": v[0], "rss_mb": v[1]} for k, v in rows.items()}
    results["medium_rss_mb"] = {"seconds": 0.0, "rss_mb": medium_rss}
    (CACHE / "results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
