"""Benchmark: `offboard export` from PostgreSQL against `psql \\copy (SELECT ...) TO`, same run.

    make bench                      # or: .venv/bin/python bench/postgres.py [--runs 3]

The `large` demo database (.bench/large.db: one account, ~1M invoices, ~8M rows) is loaded
once into a PostgreSQL cluster cached in .bench/pgdata (initdb, `load_demo`, VACUUM FREEZE
ANALYZE, then a stamp .bench/pgdata.loaded; this takes minutes and is not timed). Every run
starts a server on that data directory, on 127.0.0.1 and a free port only (as the `postgres`
user when root), and stops it at the end, also on error. Then, for account acc-0001 and the
exporters' own tables and queries, in the same run:

* `psql -X -c "\\copy (<query>) TO 'FILE' WITH (FORMAT csv, HEADER)"`, one psql per table,
  one after the other, timed as one sequence: the baseline, reading the same rows (the
  exporter's query with the account bound by `bind_account`, PostgreSQL's own text output);
* the same with each query wrapped by `typed_query`, the SQL conversions the source adds
  (numeric, date and timestamp as the text the export writes), for reference;
* `offboard export postgresql://... --no-documents`, and with `--jobs 1`;
* `offboard export sqlite:///.bench/large.db --no-documents`, for reference; the CSV files
  of the PostgreSQL export are compared with it byte for byte.

offboard runs in the product venv (.bench/product-venv, as users install it), in-process under
a wrapper that reports its peak RSS (the exports use threads, not processes); psql's memory is
not measured. The server's own memory (its backends) counts for no command. Linux passes a
process's peak RSS on to the children it starts, so this script stays lean (the exporters'
queries and the load come from child processes) and reports its own peak, the floor of every
figure. Before the first run every table is read once (untimed), so that no command pays for
a cold cache. Figures are medians of --runs runs, memory the maximum; ratios are against the
psql baseline of the same run. Results go to .bench/postgres-results.json.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from archive import ACCOUNT, CACHE, MEASURED, demo_db, product_venv, timed
from pgcache import DATA, DATABASE, LOADED, Server, running

WORK = CACHE / "out" / "postgres"
RESULTS = CACHE / "postgres-results.json"
BASELINE = "psql \\copy (plain queries) (baseline)"
TYPED = "psql \\copy (typed_query)"
PG = "offboard export postgresql --no-documents"
PG_JOBS1 = "offboard export postgresql --no-documents --jobs 1"
SQLITE = "offboard export sqlite --no-documents"
#: prints the plan as JSON: the schema's hash, and per table its query with the account bound,
#: plain and wrapped by typed_query (run in a process of its own, like the load: see lean())
PLAN = """
import hashlib, json, sys
from exporters import select
from offboard.demo.postgres import postgres_schema
from offboard.sources.postgres import bind_account, typed_query
tables = []
for exporter in select(None):
    for t in exporter.tables:
        plain = bind_account(" ".join(t.query.split()), sys.argv[1])
        typed = typed_query(plain, t.schema.names, t.schema.types)
        tables.append({"name": t.name, "plain": plain, "typed": typed})
schema = hashlib.sha256(postgres_schema().encode()).hexdigest()
print(json.dumps({"schema": schema, "tables": tables}))
"""
#: loads the SQLite demo database argv[1] into the empty PostgreSQL database argv[2]
LOAD = """
import json, sys
from pathlib import Path
from offboard.demo.postgres import load_demo
print(json.dumps(load_demo(Path(sys.argv[1]), sys.argv[2])))
"""


def plan() -> dict[str, Any]:
    """The PLAN snippet's answer: {"schema": hash, "tables": [{"name", "plain", "typed"}...]}."""
    done = subprocess.run(
        [sys.executable, "-c", PLAN, ACCOUNT], check=True, capture_output=True, text=True
    )
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def lean() -> float:
    """This process's peak RSS in MB, which every command it starts inherits as its own.

    Linux keeps a process's resident high-water mark across fork and exec, so a child's
    ru_maxrss is at least its parent's peak at the time: the bench imports neither pyarrow nor
    the drivers and runs the load in a child, so that its own peak stays below what it measures.
    """
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fingerprint(db: Path, schema: str) -> dict[str, Any]:
    """What the loaded database was made from: the SQLite file and the PostgreSQL schema."""
    stat = db.stat()
    return {"db": str(db), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "schema": schema}


def ensure_loaded(server: Server, db: Path, schema: str) -> dict[str, Any]:
    """Load ``db`` into DATABASE unless the stamp says it is there; returns the stamp."""
    want = fingerprint(db, schema)
    if LOADED.exists():
        stamp: dict[str, Any] = json.loads(LOADED.read_text())
        if stamp.get("source") == want:
            return stamp
    LOADED.unlink(missing_ok=True)
    print(f"loading {db.name} into PostgreSQL (cached in {DATA.name}; minutes)...", flush=True)
    started = time.perf_counter()
    subprocess.run(
        server.psql("-c", f"DROP DATABASE IF EXISTS {DATABASE}", database="postgres"), check=True
    )
    subprocess.run(
        server.psql("-c", f"CREATE DATABASE {DATABASE}", database="postgres"), check=True
    )
    done = subprocess.run(
        [sys.executable, "-c", LOAD, str(db), server.url()],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    copied: dict[str, int] = json.loads(done.stdout)
    loaded = time.perf_counter() - started
    subprocess.run(server.psql("-c", "VACUUM (FREEZE, ANALYZE)"), check=True)
    total = time.perf_counter() - started
    stamp = {
        "source": want,
        "rows": copied,
        "load_seconds": loaded,
        "vacuum_seconds": total - loaded,
    }
    LOADED.write_text(json.dumps(stamp, indent=2) + "\n")
    rows = sum(copied.values())
    print(f"  loaded {rows:,} rows in {loaded:.0f} s (+ vacuum {total - loaded:.0f} s)", flush=True)
    return stamp


def copy_commands(
    server: Server, tables: list[dict[str, str]], out: Path, typed: bool
) -> list[list[str]]:
    """One `psql -c "\\copy (QUERY) TO 'FILE' ..."` per table (a backslash command is one line)."""
    commands = []
    for table in tables:
        query = table["typed" if typed else "plain"]
        target = str(out / f"{table['name']}.csv").replace("'", "''")
        copy = f"\\copy ({query}) TO '{target}' WITH (FORMAT csv, HEADER)"
        commands.append(server.psql("-c", copy))
    return commands


def warm(server: Server) -> None:
    """Read every table of the database once, so that the first timed command finds it cached."""
    names = subprocess.run(
        server.psql("-A", "-t", "-c", "SELECT tablename FROM pg_tables WHERE schemaname='public'"),
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    sql = "; ".join(f'SELECT count(*) FROM "{n}"' for n in names)
    subprocess.run(server.psql("-c", sql), check=True, capture_output=True)


# -- the commands ---------------------------------------------------------------------------
def run_psql(
    server: Server, tables: list[dict[str, str]], out: Path, typed: bool
) -> tuple[float, float]:
    """Seconds of the whole sequence of psql \\copy commands (no memory figure: 0)."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    commands = copy_commands(server, tables, out, typed)
    started = time.perf_counter()
    for cmd in commands:
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started, 0.0


def run_offboard(product: Path, source: str, out: Path, *extra: str) -> tuple[float, float]:
    """(seconds, peak RSS MB) of `offboard export SOURCE --no-documents` in the product venv."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = [str(product / "python"), "-c", MEASURED, "export", source, "--account", ACCOUNT]
    cmd += ["--out", str(out), "--no-documents", "--quiet", *extra]
    seconds, _, err = timed(cmd)
    memory = json.loads(err.strip().splitlines()[-1])
    if memory["code"] != 0:
        raise SystemExit(f"offboard export {source} failed: exit {memory['code']}\n{err}")
    return seconds, memory["rss_kb"] / 1024


def identical(a: Path, b: Path) -> tuple[bool, list[str]]:
    """Whether the folders ``a`` and ``b`` hold the same CSV files, byte for byte."""
    names = sorted({p.name for p in a.glob("*.csv")} | {p.name for p in b.glob("*.csv")})
    differ = [
        n
        for n in names
        if not ((a / n).exists() and (b / n).exists() and filecmp.cmp(a / n, b / n, shallow=False))
    ]
    return not differ and bool(names), differ


def one_run(
    server: Server, tables: list[dict[str, str]], product: Path, db: Path
) -> dict[str, Any]:
    url = server.url()
    sqlite = f"sqlite:///{db}"
    commands: dict[str, Callable[[], tuple[float, float]]] = {
        BASELINE: lambda: run_psql(server, tables, WORK / "psql", typed=False),
        TYPED: lambda: run_psql(server, tables, WORK / "psql-typed", typed=True),
        PG: lambda: run_offboard(product, url, WORK / "pg"),
        PG_JOBS1: lambda: run_offboard(product, url, WORK / "pg-jobs1", "--jobs", "1"),
        SQLITE: lambda: run_offboard(product, sqlite, WORK / "sqlite"),
    }
    r: dict[str, Any] = {}
    for name, command in commands.items():
        seconds, rss = command()
        r[name] = {"seconds": seconds, "rss_mb": rss}
    same, differ = identical(WORK / "pg" / "csv", WORK / "sqlite" / "csv")
    same_1, differ_1 = identical(WORK / "pg-jobs1" / "csv", WORK / "sqlite" / "csv")
    r["csv_identical"] = same and same_1
    r["csv_differ"] = sorted(set(differ) | set(differ_1))
    return r


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for key in [k for k in os.environ if k.startswith("PG")]:
        del os.environ[key]  # no PGHOST, PGPASSWORD... of the caller's in psql or libpq
    os.environ["PGCLIENTENCODING"] = "UTF8"
    # SIGTERM ends the bench like Ctrl-C does, through the `finally` that stops the server
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    db = demo_db("large", "--accounts", "1", "--scale", "large", "--seed", "3")
    product = product_venv()
    planned = plan()
    tables: list[dict[str, str]] = planned["tables"]
    with running() as server:
        stamp = ensure_loaded(server, db, planned["schema"])
        warm(server)
        floor = lean()
        runs = [one_run(server, tables, product, db) for _ in range(args.runs)]

    names = [k for k in runs[0] if isinstance(runs[0][k], dict)]
    med = {k: statistics.median(r[k]["seconds"] for r in runs) for k in names}
    peak = {k: max(r[k]["rss_mb"] for r in runs) for k in names}
    same = all(r["csv_identical"] for r in runs)
    differ = sorted({n for r in runs for n in r["csv_differ"]})
    summary = json.loads((WORK / "pg" / "export-summary.json").read_text())
    rows = sum(t["records"] for k in summary["kinds"] for t in k["tables"])
    base = med[BASELINE]

    print()
    print(
        f"account {ACCOUNT} of {db.name} in PostgreSQL {server.bindir.parent.name}: {rows:,} rows "
        f"in {len(tables)} tables; medians of {args.runs} runs (load, once: "
        f"{stamp['load_seconds']:.0f} s + vacuum {stamp['vacuum_seconds']:.0f} s, not timed)"
    )
    print()
    print("| command | seconds | ratio to psql \\copy | peak RSS MB |")
    print("| --- | ---: | ---: | ---: |")
    for name in names:
        rss = f"{peak[name]:.0f}" if peak[name] else "-"
        print(f"| {name} | {med[name]:.2f} | {med[name] / base:.2f}x | {rss} |")
    print()
    verdict = "byte-identical" if same else f"DIFFERENT ({', '.join(differ) or 'no CSV files'})"
    print(f"CSV files of the PostgreSQL exports (both) vs the SQLite export: {verdict}")
    print(f"(peak RSS of this bench process, a floor for every figure above: {floor:.0f} MB)")
    results = {
        "median": {k: {"seconds": med[k], "rss_mb": peak[k]} for k in names},
        "ratio_to_psql": {k: med[k] / base for k in names},
        "csv_identical": same,
        "csv_differ": differ,
        "rows": rows,
        "bench_rss_mb": floor,
        "load": stamp,
        "postgres": server.bindir.parent.name,
        "cores": os.cpu_count(),
        "runs": runs,
    }
    RESULTS.write_text(json.dumps(results, indent=2))
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
