"""Benchmark: signed archive and `offboard verify` against bagit-python and the hash floor.

    make bench                      # or: .venv/bin/python bench/archive.py [--runs 3]

On a demo account with 20,000 documents (the `medium` scale, every record kind, one PDF per
invoice, quote, purchase and billing invoice up to 20,000; cached in .bench/), in the same run:

* `offboard export --out DIR` (the export folder, for reference);
* `offboard export --out A.zip --sign-key K`: the whole export into a signed archive; the
  archive stage alone (hashing, zip, deflate of the CSV files, signature) is read from its
  JSON summary;
* `offboard verify A.zip --pubkey K.pub` (full check: every hash, CSV counts and totals, every
  PDF opened) and `--fast`;
* bagit-python `make_bag(checksums=["sha256"])` then `Bag.validate()` on a copy of the export
  folder;
* the hash floor: hashlib SHA-256 of every payload file, 1 MiB reads, one process.

Each command runs in its own process; figures are medians of --runs runs; ratios are taken
within the same run.
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

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".bench"
BIN = Path(sys.executable).parent
ACCOUNT = "acc-0001"
DOCUMENTS = 20_000
BAGIT = """
import sys, time, bagit
t = time.perf_counter()
bagit.make_bag(sys.argv[1], checksums=["sha256"])
made = time.perf_counter() - t
t = time.perf_counter()
bagit.Bag(sys.argv[1]).validate()
checked = time.perf_counter() - t
print(made, checked)
"""
FLOOR = """
import hashlib, os, sys, time
t = time.perf_counter(); n = 0
for root, _, files in os.walk(sys.argv[1]):
    for name in files:
        h = hashlib.sha256()
        with open(os.path.join(root, name), "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
        n += 1
print(time.perf_counter() - t, n)
"""


def timed(cmd: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return time.perf_counter() - started, done.stdout


def dataset() -> Path:
    db = CACHE / "docs20k.db"
    stamp = CACHE / "docs20k.done"
    if not (stamp.exists() and db.exists()):
        CACHE.mkdir(exist_ok=True)
        print("generating the 20,000-document demo account (cached)...", flush=True)
        subprocess.run(
            [
                str(BIN / "offboard"),
                "demo",
                str(db),
                "--accounts",
                "1",
                "--scale",
                "medium",
                "--documents",
                str(DOCUMENTS),
                "--seed",
                "3",
                "--quiet",
            ],
            check=True,
        )
        stamp.write_text("ok\n")
    return db


def one_run(db: Path, work: Path) -> dict[str, float]:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    offboard = str(BIN / "offboard")
    subprocess.run(
        [offboard, "keygen", str(work / "k"), "--no-passphrase"], check=True, capture_output=True
    )
    common = [offboard, "export", str(db), "-a", ACCOUNT, "--allow-missing-documents", "--json"]
    r: dict[str, float] = {}
    r["export_folder"], _ = timed([*common, "--out", str(work / "folder")])
    r["export_archive"], out = timed(
        [
            *common,
            "--out",
            str(work / "a.zip"),
            "--sign-key",
            str(work / "k.key"),
            "--created-at",
            "2026-01-31T12:00:00Z",
        ]
    )
    summary = json.loads(out)
    r["archive_stage"] = summary["archive"]["seconds"]
    r["archive_bytes"] = summary["archive"]["archive_bytes"]
    r["payload_bytes"] = summary["archive"]["payload_bytes"]
    r["files"] = summary["archive"]["files"]
    r["verify"], _ = timed(
        [offboard, "verify", str(work / "a.zip"), "-p", str(work / "k.pub"), "--quiet"]
    )
    r["verify_fast"], _ = timed(
        [offboard, "verify", str(work / "a.zip"), "-p", str(work / "k.pub"), "--fast", "--quiet"]
    )
    (work / "folder" / "export-summary.json").unlink()
    subprocess.run(["cp", "-r", str(work / "folder"), str(work / "bag")], check=True)
    _, out = timed([sys.executable, "-c", BAGIT, str(work / "bag")])
    r["bagit_make"], r["bagit_validate"] = (float(x) for x in out.split())
    _, out = timed([sys.executable, "-c", FLOOR, str(work / "folder")])
    r["hash_floor"] = float(out.split()[0])
    r["ratio_vs_bagit"] = (r["bagit_make"] + r["bagit_validate"]) / (
        r["archive_stage"] + r["verify"]
    )
    r["verify_vs_floor"] = r["verify"] / r["hash_floor"]
    return r


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    db = dataset()
    runs = [one_run(db, CACHE / "out" / "archive") for _ in range(args.runs)]
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    results = {"runs": runs, "median": med}
    (CACHE / "archive-results.json").write_text(json.dumps(results, indent=2))
    print(
        f"account {ACCOUNT}: {int(med['files']):,} payload files, "
        f"{med['payload_bytes'] / 1e6:,.0f} MB payload, "
        f"{med['archive_bytes'] / 1e6:,.0f} MB archive"
    )
    rows = [
        ("offboard export to a folder", med["export_folder"]),
        ("offboard export to a signed archive (whole)", med["export_archive"]),
        ("  of which the archive stage", med["archive_stage"]),
        ("offboard verify (full)", med["verify"]),
        ("offboard verify --fast", med["verify_fast"]),
        ("bagit-python make_bag (sha256)", med["bagit_make"]),
        ("bagit-python validate", med["bagit_validate"]),
        ("hash floor: hashlib sha256 of every payload file", med["hash_floor"]),
    ]
    for label, seconds in rows:
        print(f"{label:<52} {seconds:8.2f} s")
    print(
        f"bagit make_bag+validate / offboard archive stage+verify: {med['ratio_vs_bagit']:.2f}x "
        "(target >= 2x)"
    )
    print(f"offboard verify / hash floor: {med['verify_vs_floor']:.2f}x (target <= 1.3x)")


if __name__ == "__main__":
    main()
