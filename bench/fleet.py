"""Benchmark: `offboard backup` of fleets of 10, 100 and 1,000 small accounts, against one plain
`offboard export` of one such account, in the same run.

    .venv/bin/python bench/fleet.py [--runs 3] [--workers N]

The demo (cached in .bench/): `offboard demo .bench/fleet.db --accounts 1000 --scale small
--documents 5 --seed 5`, 1,000 accounts of ~300 invoices, ~300 quotes, ~150 purchases, ~600
bank transactions each and 5 PDFs per account (a small document count, so that generating the
demo, timed once when it is made, is not what the benchmark waits for). Then, in each run:

* the baseline: `offboard export sqlite:///.bench/fleet.db --account acc-0001 --out A.zip
  --sign-key K --allow-missing-documents`, one account into a signed archive, one process
  timed from start to exit (interpreter start and imports included);
* for N = 10, 100 and 1,000: `offboard backup ... --accounts <the first N> --dest <a new
  folder> --sign-key K --executor local --workers W` (W: the number of cores), timed from start
  to exit; accounts per minute, wall seconds per account (and their ratio to the baseline),
  and the mean of the accounts' own seconds from the run report (an account's time in its
  worker, which with W workers is about W times the wall seconds per account);
* the same command again on the same folder: every account is `unchanged` (its fingerprint is
  taken, compared and the account skipped), which is what a nightly run costs for the accounts
  that did not change.

Each command runs in its own process; figures are medians of --runs runs, ratios are taken
within a run. offboard runs from the project's virtual environment (.venv, the interpreter
running this script) for the baseline and the fleets alike. Results go to
.bench/fleet-results.json.
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
from pathlib import Path
from typing import Any

from democache import demo_version, is_current

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".bench"
OFFBOARD = str(Path(sys.executable).parent / "offboard")
SIZES = (10, 100, 1000)
DOCUMENTS = 5
CREATED_AT = "2026-11-30T02:00:00Z"


def timed(cmd: list[str]) -> tuple[float, str]:
    """Seconds from start to exit and standard output of ``cmd`` (which must succeed)."""
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])}... failed ({done.returncode}): {done.stderr}")
    return seconds, done.stdout


def fleet_db() -> Path:
    """The cached 1,000-account demo; its generation time is recorded when it is made."""
    db = CACHE / "fleet.db"
    stamp = CACHE / "fleet.done"
    if not is_current(stamp, db):
        CACHE.mkdir(exist_ok=True)
        print(f"generating the demo database {db.name} (cached)...", flush=True)
        seconds, _ = timed(
            [
                *(OFFBOARD, "demo", str(db), "--accounts", str(max(SIZES)), "--scale", "small"),
                *("--documents", str(DOCUMENTS), "--seed", "5", "--quiet"),
            ]
        )
        record = json.dumps({"generated_seconds": round(seconds, 1)})
        stamp.write_text(f"{demo_version()}\n{record}\n")
    return db


def one_run(db: Path, work: Path, workers: int) -> dict[str, Any]:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    subprocess.run(
        [OFFBOARD, "keygen", str(work / "k"), "--no-passphrase"], check=True, capture_output=True
    )
    key = str(work / "k.key")
    source = f"sqlite:///{db}"
    r: dict[str, Any] = {}
    r["export"], _ = timed(
        [
            *(OFFBOARD, "export", source, "--account", "acc-0001", "--out", str(work / "one.zip")),
            *("--sign-key", key, "--allow-missing-documents", "--quiet"),
            *("--created-at", CREATED_AT),
        ]
    )
    for n in SIZES:
        accounts = "all" if n == max(SIZES) else ",".join(f"acc-{i:04d}" for i in range(1, n + 1))
        dest, report = work / f"fleet-{n}", work / f"fleet-{n}.json"
        command = [OFFBOARD, "backup", source, "--accounts", accounts, "--dest", str(dest)]
        command += ["--sign-key", key, "--allow-missing-documents", "--quiet"]
        command += ["--created-at", CREATED_AT, "--workers", str(workers)]
        command += ["--report", str(report)]
        r[f"backup_{n}"], _ = timed(command)
        data = json.loads(report.read_text())
        assert data["totals"]["backed-up"] == n, data["totals"]
        r[f"task_{n}"] = statistics.mean(a["seconds"] for a in data["accounts"])
        r[f"bytes_{n}"] = data["totals"]["bytes_written"]
        r[f"unchanged_{n}"], _ = timed(command)
        data = json.loads(report.read_text())
        assert data["totals"]["unchanged"] == n, data["totals"]
        r[f"check_{n}"] = statistics.mean(a["seconds"] for a in data["accounts"])
        shutil.rmtree(dest)
    return r


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    db = fleet_db()
    generated = json.loads((CACHE / "fleet.done").read_text().split("\n")[1])["generated_seconds"]
    runs = [one_run(db, CACHE / "out" / "fleet", args.workers) for _ in range(args.runs)]
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    ratios = {n: statistics.median(r[f"backup_{n}"] / n / r["export"] for r in runs) for n in SIZES}
    results = {
        "runs": runs,
        "median": med,
        "ratio_per_account_to_export": ratios,
        "workers": args.workers,
        "cores": os.cpu_count(),
        "demo_generated_seconds": generated,
    }
    (CACHE / "fleet-results.json").write_text(json.dumps(results, indent=2))
    print(
        f"{max(SIZES):,} small accounts ({DOCUMENTS} PDFs each; demo generated once in "
        f"{generated:.0f} s); {args.workers} workers on {os.cpu_count()} cores; medians of "
        f"{args.runs} runs"
    )
    print(f"baseline: one `offboard export` of acc-0001 to a signed archive: {med['export']:.2f} s")
    print(
        f"{'accounts':>8} {'wall s':>8} {'acc/min':>8} {'s/acc':>7} {'x export':>8} "
        f"{'task s':>7} {'MB':>7} | {'unchanged: wall s':>17} {'s/acc':>7} {'task s':>7}"
    )
    for n in SIZES:
        wall, again = med[f"backup_{n}"], med[f"unchanged_{n}"]
        print(
            f"{n:>8,} {wall:>8.2f} {n / wall * 60:>8.0f} {wall / n:>7.3f} {ratios[n]:>7.2f}x "
            f"{med[f'task_{n}']:>7.3f} {med[f'bytes_{n}'] / 1e6:>7.1f} | {again:>17.2f} "
            f"{again / n:>7.3f} {med[f'check_{n}']:>7.3f}"
        )


if __name__ == "__main__":
    main()
