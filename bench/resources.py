"""Benchmark: peak memory of `offboard export` and `offboard verify` against the 256 MB bound.

    make bench                      # or: .venv/bin/python bench/resources.py [--runs 1]
    .venv/bin/python bench/resources.py --no-large     # the 5 GB archive only
    .venv/bin/python bench/resources.py --no-big       # the large demo account only

The claim checked: "verifier and exporter peak RSS stay under 256 MB on the large demo account
and on a 5 GB archive". Two inputs, each exported to a folder and to a signed archive, and the
archive verified (full, then `--fast`):

1. the large demo account (`offboard demo --accounts 1 --scale large --seed 3`, cached in
   .bench/large.db, shared with bench/verify_memory.py): about 8M records, 1 GB of CSV files,
   20,000 PDFs, one part;
2. an account whose archive is 5.4 GB in one zip (bench/bigdocs.py, cached in .bench/bigdocs.db):
   ten PDFs of 268 MB and the demo's small tables; `--max-document-size 300MB --split-size 8GB`.

Each command runs as a process of its own (`python -m offboard ...`), in offboard's own virtual
environment (.bench/product-venv, as bench/archive.py makes it). Its peak and the peak of every
Python process it starts (the export's document worker, the verifier's) are each that
process's own VmHWM, recorded by bench/peaks.py (not `ru_maxrss`, which Linux starts at the
parent's peak). Reported per command: the main process, its largest child, the two peaks
summed (a loose upper bound of what they use at once: it adds peaks that never meet), what
they use at once, at most (bench/peaks.py's bound by 0.1 s windows, whose peaks are read, not
sampled: the figure the claim is judged on) and the largest sum of their resident sets seen at
one time (sampled every 0.1 s, so it may miss a short peak),
against the bound and against baselines of the same run: `python -c "import offboard.cli"`
(the interpreter and offboard's command line), the same with the libraries the commands load
(pyarrow, pikepdf, PDFium, ISA-L), and `sha256sum` of the 5 GB archive (reading it at all).

Figures: memory is the maximum of --runs runs, time the median. Results go to
.bench/resources.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from archive import ACCOUNT, CACHE, demo_db, product_venv
from bigdocs import EXPORT_OPTIONS, bigdocs_db
from peaks import Peaks, measure, polled
from verify_memory import CREATED_AT, LIMIT_MB

WORK = CACHE / "out" / "resources"
RESULTS = CACHE / "resources.json"
#: the baseline: the interpreter and offboard's command line, imported
IMPORT_ONLY = "import offboard.cli"
#: a second one: the libraries the commands load besides
LIBRARIES = "import offboard.cli, pyarrow.csv, pikepdf, pypdfium2_raw, isal.isal_zlib"


class Failed(Exception):
    """A measured command did not exit 0."""


def run(product: Path, *args: str) -> dict[str, Any]:
    """Run `python -m offboard ARGS...` in the product venv; its time and peaks (MB)."""
    return _figures(measure([str(product / "python"), "-m", "offboard", *args], WORK))


def _figures(p: Peaks) -> dict[str, Any]:
    if p.returncode != 0:
        raise Failed(f"exit {p.returncode}: {p.stderr[-800:]}")
    return {
        "seconds": p.seconds,
        "main_mb": p.main_mb or 0.0,
        "child_mb": p.child_mb,
        "children": p.children,
        "together_mb": p.together_mb,
        "bound_mb": p.together_mb if p.bound_mb is None else p.bound_mb,
        "sampled_mb": p.sampled_mb or p.together_mb,
        "stdout": p.stdout,
    }


def measure_input(
    name: str, db: Path, product: Path, key: Path, runs: int, extra: list[str]
) -> list[dict[str, Any]]:
    """The four commands on one input; the rows of the table."""
    out = WORK / name
    source = f"sqlite:///{db}"
    common = ["export", source, "--account", ACCOUNT, "--allow-missing-documents", "--quiet"]
    common += extra
    rows: list[dict[str, Any]] = []

    def row(label: str, results: list[dict[str, Any]], **facts: Any) -> dict[str, Any]:
        r: dict[str, Any] = {"input": name, "command": label, "runs": len(results), **facts}
        r["seconds"] = statistics.median(x["seconds"] for x in results)
        for k in ("main_mb", "child_mb", "together_mb", "bound_mb", "sampled_mb"):
            r[k] = max(x.get(k) or 0 for x in results)
        rows.append(r)
        return r

    def fresh() -> None:
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)

    folder_runs = []
    for _ in range(runs):
        fresh()
        print(f"{name}: export to a folder...", flush=True)
        folder_runs.append(run(product, *common, "--out", str(out / "folder")))
    row("offboard export --out DIR", folder_runs)
    archive_runs = []
    for _ in range(runs):
        fresh()
        print(f"{name}: export to a signed archive...", flush=True)
        signed = ["--out", str(out / "a.zip"), "--sign-key", str(key), "--created-at", CREATED_AT]
        r = run(product, *common, *signed, "--json")
        archive_runs.append(r)
    summary = json.loads(archive_runs[-1]["stdout"])["archive"]
    parts = [Path(p) for p in summary["parts"]]
    facts = {"files": summary["files"], "archive_bytes": summary["archive_bytes"]}
    facts["parts"] = len(parts)
    row("offboard export --out A.zip --sign-key K", archive_runs, **facts)
    pub = str(key.with_suffix(".pub"))
    print(f"{name}: verify ({summary['archive_bytes'] / 1e9:.2f} GB, {len(parts)} part(s))...")
    for flags in ([], ["--fast"]):
        checks = [
            run(product, "verify", str(parts[0]), "-p", pub, "-q", *flags) for _ in range(runs)
        ]
        row(" ".join(["offboard verify", *flags]), checks, **facts)
    if name == "5 GB archive":
        print(f"{name}: sha256sum...", flush=True)
        hashed = _figures(polled(["sha256sum", *map(str, parts)]))
        row("sha256sum (baseline: reading it)", [hashed], **facts)
    shutil.rmtree(out, ignore_errors=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--large", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--big", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    inputs: list[tuple[str, Path, list[str]]] = []
    if args.large:
        large = demo_db("large", "--accounts", "1", "--scale", "large", "--seed", "3")
        inputs.append(("large demo account", large, []))
    if args.big:
        inputs.append(("5 GB archive", bigdocs_db(), list(EXPORT_OPTIONS)))
    product = product_venv()
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    key = WORK / "k.key"
    subprocess.run(
        [str(product / "offboard"), "keygen", str(key.with_suffix("")), "--no-passphrase"],
        check=True,
        capture_output=True,
    )
    rows = []
    for label, code in (("baseline", IMPORT_ONLY), ("its libraries", LIBRARIES)):
        figures = _figures(measure([str(product / "python"), "-c", code], WORK))
        figures.pop("stdout")
        rows.append({"input": "-", "command": f'python -c "{code}" ({label})', **figures})
    base = rows[0]
    for name, db, extra in inputs:
        rows += measure_input(name, db, product, key, args.runs, extra)
    RESULTS.write_text(
        json.dumps({"limit_mb": LIMIT_MB, "runs": args.runs, "rows": rows}, indent=2)
    )
    report(rows, base["main_mb"])


def report(rows: list[dict[str, Any]], base_mb: float) -> None:
    print(f"\nbound {LIMIT_MB} MB; baseline {base_mb:.0f} MB (python -c 'import offboard.cli')")
    head = "| input | command | s | main MB | largest child MB | peaks summed MB | at once MB |"
    print(head + " seen at once MB | at once / bound | at once / baseline |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    over = []
    for r in rows:
        together = r["together_mb"]
        bound = r.get("bound_mb") or together
        mark = "" if bound < LIMIT_MB else " **over**"
        if mark:
            over.append(f"{r['input']}: {r['command']}")
        child = r.get("child_mb")
        print(
            f"| {r['input']} | {r['command']} | {r['seconds']:.1f} | {r['main_mb']:.0f} | "
            f"{'-' if not child else f'{child:.0f}'} | {together:.0f} | {bound:.0f} | "
            f"{r.get('sampled_mb') or together:.0f} | {bound / LIMIT_MB:.2f}x{mark} | "
            f"{bound / base_mb:.1f}x |"
        )
    print(
        "main: the command's process; largest child: its largest Python child (each its own "
        "VmHWM); peaks summed: the two added; at once: what they use at once, at most (peaks "
        "read in 0.1 s windows, a child counted with every window it was alive in, "
        "bench/peaks.py); seen at once: the largest sum of their resident sets sampled every "
        "0.1 s"
    )
    if over:
        print("past the bound: " + "; ".join(over))
    else:
        print(f"every command stays under {LIMIT_MB} MB")


if __name__ == "__main__":
    main()
