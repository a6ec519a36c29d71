"""Benchmark: signed archive and `offboard verify` against bagit-python and the hash floor.

    make bench                      # or: .venv/bin/python bench/archive.py [--runs 3]

On a demo account with 20,000 documents (the `medium` scale, every record kind, one PDF per
invoice, quote, purchase and billing invoice up to 20,000; cached in .bench/), in the same run:

* `offboard export --out DIR` (the export folder, for reference);
* `offboard export --out A.zip --sign-key K`: the whole export into a signed archive; the
  archive stage alone (offboard.json, zip, copies of the spooled documents and of the CSV
  files, hashed and deflated as each table was written, signature, fsync) is read from its
  JSON summary;
* `offboard verify A.zip --pubkey K.pub` (full check: every hash, CSV counts and totals, every
  PDF opened) and `--fast`, with the peak memory of the verifier (its document worker's, and
  memory against archive size: bench/verify_memory.py);
* bagit-python `make_bag(checksums=["sha256"])`, then `Bag.validate()`, each in its own
  process, on a copy of the export folder;
* the hash floor: one process that reads every payload file of the export folder in 1 MiB
  chunks and feeds them to hashlib's SHA-256.

Every command is a process of its own, timed from start to exit (interpreter start and imports
included, for the baselines as for offboard); figures are medians of --runs runs, memory the
maximum; ratios are taken within the same run. offboard runs as a user installs it: from a
virtual environment of its own (.bench/product-venv, `pip install -e .` without the test and
development extras), so that libraries only the tests use (pandas pulls in NumPy, which pyarrow
then imports at start) are not counted against it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
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
DOCUMENTS = 20_000
MAKE_BAG = "import sys, bagit; bagit.make_bag(sys.argv[1], checksums=['sha256'])"
VALIDATE = "import sys, bagit; bagit.Bag(sys.argv[1]).validate()"
FLOOR = """
import hashlib, os, sys
for root, _, files in os.walk(sys.argv[1]):
    for name in files:
        h = hashlib.sha256()
        with open(os.path.join(root, name), "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
"""
#: the checks `offboard verify` must make, each alone and bare, in one thread: what they cost
#: at the least (prints CPU seconds per check, as JSON)
MANDATED = """
import glob, hashlib, json, os, sys, time, zipfile
t = time.process_time()
import pyarrow as pa, pyarrow.csv as pacsv
import pypdfium2_raw as pdfium
from isal import isal_zlib
out = {"imports": time.process_time() - t}
folder, archive = sys.argv[1], sys.argv[2]
meta = json.loads(next(zipfile.ZipFile(archive).read(n) for n in zipfile.ZipFile(archive).namelist()
                       if n.endswith("/offboard.json")))
paths = [os.path.join(r, f) for r, _, fs in os.walk(folder) for f in fs]
data = {p: open(p, "rb").read() for p in paths}
t = time.process_time()
for d in data.values():
    hashlib.sha256(d).digest()
out["sha256"] = time.process_time() - t
csvs = {t["path"][len("data/"):]: t for t in meta["tables"]}
packed = []
for rel, table in csvs.items():
    c = isal_zlib.compressobj(2, isal_zlib.DEFLATED, -15)
    packed.append(c.compress(data[os.path.join(folder, rel)]) + c.flush())
t = time.process_time()
for z in packed:
    isal_zlib.decompressobj(-15).decompress(z)
out["inflate"] = time.process_time() - t
t = time.process_time()
for rel, table in csvs.items():
    money = list(table["money_columns"])
    money += [table["currency_column"]] if table["currency_column"] else []
    pacsv.read_csv(pa.BufferReader(data[os.path.join(folder, rel)]),
                   read_options=pacsv.ReadOptions(use_threads=False),
                   parse_options=pacsv.ParseOptions(delimiter=meta["csv"]["delimiter"],
                                                    newlines_in_values=True),
                   convert_options=pacsv.ConvertOptions(include_columns=money or None,
                       column_types={m: pa.decimal128(38, 2) for m in table["money_columns"]}))
out["csv_parse"] = time.process_time() - t
pdfium.FPDF_InitLibrary()
t = time.process_time()
for p, d in data.items():
    if p.endswith(".pdf"):
        doc = pdfium.FPDF_LoadMemDocument64(d, len(d), None)
        if doc:
            pdfium.FPDF_GetPageCount(doc)
            pdfium.FPDF_CloseDocument(doc)
out["pdf_open"] = time.process_time() - t
print(json.dumps(out))
"""
#: runs `offboard ARGS...` in this process and reports its peak memory and its workers'
MEASURED = """
import json, resource, sys
from offboard.cli import cli
try:
    cli(sys.argv[1:], prog_name="offboard")
except SystemExit as exc:
    code = exc.code
else:
    code = 0
me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"code": code, "rss_kb": me, "children_rss_kb": kids}), file=sys.stderr)
"""


def product_venv() -> Path:
    """The bin folder of a virtual environment with offboard installed as users install it."""
    venv = CACHE / "product-venv"
    stamp = venv / ".installed"
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not (stamp.exists() and stamp.read_text() == want):
        print("installing offboard into .bench/product-venv (cached)...", flush=True)
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "--quiet", "-e", str(ROOT)], check=True
        )
        stamp.write_text(want)
    return venv / "bin"


def timed(cmd: list[str]) -> tuple[float, str, str]:
    """Seconds from start to exit, standard output and error of ``cmd`` (which must succeed)."""
    started = time.perf_counter()
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return time.perf_counter() - started, done.stdout, done.stderr


def demo_db(name: str, *options: str) -> Path:
    """A cached demo database .bench/NAME.db made with `offboard demo DB OPTIONS...`."""
    db = CACHE / f"{name}.db"
    stamp = CACHE / f"{name}.done"
    if not is_current(stamp, db):
        CACHE.mkdir(exist_ok=True)
        print(f"generating the demo database {db.name} (cached)...", flush=True)
        subprocess.run([str(BIN / "offboard"), "demo", str(db), *options, "--quiet"], check=True)
        stamp.write_text(demo_version() + "\n")
    return db


def dataset() -> Path:
    """The 20,000-document account (medium scale)."""
    return demo_db(
        "docs20k",
        "--accounts",
        "1",
        "--scale",
        "medium",
        "--documents",
        str(DOCUMENTS),
        "--seed",
        "3",
    )


def verify(product: Path, archive: Path, pub: Path, *extra: str) -> tuple[float, dict[str, int]]:
    python = str(product / "python")
    seconds, _, err = timed(
        [python, "-c", MEASURED, "verify", str(archive), "-p", str(pub), "--quiet", *extra]
    )
    memory = json.loads(err.strip().splitlines()[-1])
    if memory["code"] != 0:
        raise SystemExit(f"offboard verify {archive} failed: exit {memory['code']}")
    return seconds, memory


def one_run(db: Path, work: Path, product: Path) -> dict[str, float]:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    offboard = str(product / "offboard")
    subprocess.run(
        [offboard, "keygen", str(work / "k"), "--no-passphrase"], check=True, capture_output=True
    )
    common = [offboard, "export", str(db), "-a", ACCOUNT, "--allow-missing-documents", "--json"]
    r: dict[str, float] = {}
    r["export_folder"], _, _ = timed([*common, "--out", str(work / "folder")])
    r["export_archive"], out, _ = timed(
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
    # past 25,000 files (Factur-X invoices have an XML file beside their PDF) the archive is
    # in parts: verify is given the first, and checks them all
    archive = work / "a.zip" if (work / "a.zip").exists() else work / "a-part-001.zip"
    r["verify"], memory = verify(product, archive, work / "k.pub")
    r["verify_rss_mb"] = memory["rss_kb"] / 1024
    # the document worker's own peak is not RUSAGE_CHILDREN's (Linux carries the verifier's
    # high-water mark over the fork): bench/verify_memory.py measures it
    r["verify_fast"], memory = verify(product, archive, work / "k.pub", "--fast")
    r["verify_fast_rss_mb"] = memory["rss_kb"] / 1024
    (work / "folder" / "export-summary.json").unlink()
    subprocess.run(["cp", "-r", str(work / "folder"), str(work / "bag")], check=True)
    r["bagit_make"], _, _ = timed([sys.executable, "-c", MAKE_BAG, str(work / "bag")])
    r["bagit_validate"], _, _ = timed([sys.executable, "-c", VALIDATE, str(work / "bag")])
    r["hash_floor"], _, _ = timed([sys.executable, "-c", FLOOR, str(work / "folder")])
    _, out, _ = timed([str(product / "python"), "-c", MANDATED, str(work / "folder"), str(archive)])
    work_cpu = json.loads(out)
    r["mandated_cpu"] = sum(work_cpu.values())
    for name, seconds in work_cpu.items():
        r[f"mandated_{name}"] = seconds
    #: verify cannot take less than its mandated work spread perfectly over every core
    r["verify_bound"] = r["mandated_cpu"] / (os.cpu_count() or 1)
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
    product = product_venv()
    runs = [one_run(db, CACHE / "out" / "archive", product) for _ in range(args.runs)]
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    peak = {k: max(r[k] for r in runs) for k in runs[0] if k.endswith("_rss_mb")}
    results = {"runs": runs, "median": med, "peak": peak, "cores": os.cpu_count()}
    (CACHE / "archive-results.json").write_text(json.dumps(results, indent=2))
    print(
        f"account {ACCOUNT}: {int(med['files']):,} payload files, "
        f"{med['payload_bytes'] / 1e6:,.0f} MB payload, "
        f"{med['archive_bytes'] / 1e6:,.0f} MB archive; medians of {args.runs} runs"
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
        f"peak memory (max of runs): verify {peak['verify_rss_mb']:.0f} MB (its document worker: "
        f"bench/verify_memory.py); verify --fast {peak['verify_fast_rss_mb']:.0f} MB"
    )
    print(
        f"bagit make_bag+validate / offboard archive stage+verify: {med['ratio_vs_bagit']:.2f}x "
        "(target >= 2x)"
    )
    print(f"offboard verify / hash floor: {med['verify_vs_floor']:.2f}x (target <= 1.3x)")
    parts = ", ".join(
        f"{k[len('mandated_') :]} {med[k]:.2f}"
        for k in med
        if k.startswith("mandated_") and k != "mandated_cpu"
    )
    print(
        f"the checks verify must make, bare, one thread: {med['mandated_cpu']:.2f} CPU s "
        f"({parts}); spread over {os.cpu_count()} cores at best {med['verify_bound']:.2f} s = "
        f"{med['verify_bound'] / med['hash_floor']:.2f}x the hash floor"
    )


if __name__ == "__main__":
    main()
