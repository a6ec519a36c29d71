"""Benchmark: `offboard export` from an HTTP JSON API against the raw page fetch rate, same run.

    make bench                      # or: .venv/bin/python bench/http_source.py [--runs 3]

The medium demo account (.bench/docs20k.db, acc-0001: ~900,000 records in 14 tables; tables
only) is served by the test suite's JSON API (tests/httpapi.py, `DemoApi`) in a process of its
own, on 127.0.0.1 with a fixed token, started once and stopped at the end, also on error (its
stdin is a pipe from this process: it also stops when the bench dies). Stock `DemoApi` runs the
table's query and encodes all of its rows again for every page it serves (a paged read of a
table is quadratic: ~2.8 s per page of sales_invoice_lines, hours for the account), so the
server process encodes every table of the account once at start (untimed) and serves each page
as a slice of that: what is timed is the paging, not the toy server's query. It also sets
TCP_NODELAY on its sockets, as production servers do: http.server writes the headers and the
body of an answer apart, and with Nagle on, a body under one loopback segment (~64 KB) waits
for the client's delayed ACK (~40 ms), which stalls a keep-alive client (the raw fetch ran at
33 pages/s at page size 200) but not offboard, which opens a connection per page. Then, for each
page size (the mapping's, 200, and 500: copies of docs/mappings/demo-api.toml with `page_size`
changed, in .bench/out/http/), in the same run:

* the raw fetch (baseline): one process, one keep-alive `http.client` connection, every page
  of `/accounts/acc-0001/tables/<table>` of every exporter's table, first `?limit=N` then
  `links.next`, as offboard asks; the bodies are only read (the next link is cut out of the
  tail of the body; the first page of each table is parsed once for `meta.total`, timed apart
  and left out of the fetch time);
* `offboard export <base url> --mapping M --account acc-0001 --no-documents` (the token in
  OFFBOARD_DEMO_API_TOKEN), and with `--jobs 1`;

and once per run `offboard export sqlite:///.bench/docs20k.db --no-documents`, for reference:
the CSV files of every HTTP export are compared with it byte for byte.

Every command is a process of its own, timed from start to exit (interpreter start and imports
included: the raw client's fetch time alone is reported too). offboard runs in the product venv
(.bench/product-venv, as users install it), in-process under a wrapper that reports its peak
RSS. The CPU seconds of each command (this process's RUSAGE_CHILDREN before and after; the
server is not reaped until the end) and of the server during it (/proc/<pid>/stat) tell which
side is the bottleneck: a server busy close to 100% of the command's time is (it is one Python
process, under one GIL). Figures are medians of --runs runs, memory the maximum; ratios are
taken within the same run. Results go to .bench/http-results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from archive import ACCOUNT, CACHE, MEASURED, ROOT, dataset, product_venv, timed
from http_children import FETCH, SERVE, TABLES
from postgres import identical

WORK = CACHE / "out" / "http"
RESULTS = CACHE / "http-results.json"
MAPPING = ROOT / "docs" / "mappings" / "demo-api.toml"
TOKEN_ENV = "OFFBOARD_DEMO_API_TOKEN"
TOKEN = "offboard-bench-token"
#: page sizes besides the mapping's own (the server clamps a limit at 500)
EXTRA_PAGE_SIZES = (500,)
RAW = "raw fetch (http.client, keep-alive)"
HTTP = "offboard export http --no-documents"
HTTP_JOBS1 = "offboard export http --no-documents --jobs 1"
SQLITE = "offboard export sqlite --no-documents"
CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- the server -----------------------------------------------------------------------------
class Server:
    """The DemoApi process: its base URL and pid, and its CPU seconds so far."""

    def __init__(self, db: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVE, str(db), TOKEN, ACCOUNT],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.final: dict[str, Any] = {}
        out = self._stdout()
        line = out.readline()
        if not line:
            self.stop()
            raise SystemExit("the DemoApi server process did not start")
        hello = json.loads(line)
        self.base_url: str = hello["base_url"]
        self.pid: int = hello["pid"]
        self.warm_seconds: float = hello["warm_seconds"]

    def _stdout(self) -> IO[str]:
        assert self.process.stdout is not None
        return self.process.stdout

    def cpu(self) -> float:
        """User + system CPU seconds of the server process so far (/proc/<pid>/stat)."""
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime

    def stop(self) -> None:
        """SIGTERM, then its last line (CPU seconds, server errors); killed if it lingers."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            out, _ = self.process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, _ = self.process.communicate()
        lines = [line for line in (out or "").splitlines() if line.startswith("{")]
        if lines:
            self.final = json.loads(lines[-1])


# -- the commands ---------------------------------------------------------------------------
def children_cpu() -> float:
    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime


def lean() -> float:
    """This process's peak RSS in MB: every command it starts inherits it (see postgres.py)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def mapping_with(size: int, default: int) -> Path:
    """The demo API mapping, or a copy of it in WORK with `page_size = size`."""
    if size == default:
        return MAPPING
    text, changed = re.subn(
        r"^page_size = \d+$", f"page_size = {size}", MAPPING.read_text(), flags=re.M
    )
    if changed != 1:
        raise SystemExit(f"{MAPPING}: expected one `page_size = N` line, found {changed}")
    path = WORK / f"demo-api-{size}.toml"
    WORK.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def run_raw(server: Server, tables: list[str], size: int) -> dict[str, Any]:
    cmd = [sys.executable, "-c", FETCH, server.base_url, TOKEN, str(size), ACCOUNT, *tables]
    seconds, out, _ = timed(cmd)
    figures: dict[str, Any] = json.loads(out)
    figures["seconds"] = seconds
    figures["rss_mb"] = figures.pop("rss_kb") / 1024
    return figures


def run_offboard(product: Path, source: str, out: Path, *extra: str) -> dict[str, Any]:
    """Seconds, peak RSS and records of `offboard export SOURCE --no-documents`."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = [str(product / "python"), "-c", MEASURED, "export", source, "--account", ACCOUNT]
    cmd += ["--out", str(out), "--no-documents", "--quiet", *extra]
    try:
        seconds, _, err = timed(cmd)
    except subprocess.CalledProcessError as exc:
        raise SystemExit(f"offboard export {source} failed:\n{exc.stderr}") from None
    memory = json.loads(err.strip().splitlines()[-1])
    if memory["code"] != 0:
        raise SystemExit(f"offboard export {source} failed: exit {memory['code']}\n{err}")
    summary = json.loads((out / "export-summary.json").read_text())
    records = sum(t["records"] for k in summary["kinds"] for t in k["tables"])
    return {"seconds": seconds, "rss_mb": memory["rss_kb"] / 1024, "records": records}


def measured(server: Server, command: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``command``'s figures, with its own CPU seconds and the server's during it."""
    client, served = children_cpu(), server.cpu()
    figures = command()
    figures["cpu_seconds"] = children_cpu() - client
    figures["server_cpu_seconds"] = server.cpu() - served
    return figures


def one_run(
    server: Server, tables: list[str], sizes: list[int], default: int, product: Path, db: Path
) -> dict[str, Any]:
    base = server.base_url
    commands: dict[str, Callable[[], dict[str, Any]]] = {}
    for size in sizes:
        m = str(mapping_with(size, default))
        commands[f"{RAW} @{size}"] = lambda s=size: run_raw(server, tables, s)  # type: ignore[misc]
        commands[f"{HTTP} @{size}"] = lambda m=m, s=size: run_offboard(  # type: ignore[misc]
            product, base, WORK / f"http-{s}", "--mapping", m
        )
        commands[f"{HTTP_JOBS1} @{size}"] = lambda m=m, s=size: run_offboard(  # type: ignore[misc]
            product, base, WORK / f"http-{s}-jobs1", "--mapping", m, "--jobs", "1"
        )
    commands[SQLITE] = lambda: run_offboard(product, f"sqlite:///{db}", WORK / "sqlite")
    r: dict[str, Any] = {}
    for name, command in commands.items():
        r[name] = measured(server, command)
    differ: set[str] = set()
    same = True
    for size in sizes:
        for folder in (f"http-{size}", f"http-{size}-jobs1"):
            ok, names = identical(WORK / folder / "csv", WORK / "sqlite" / "csv")
            same = same and ok
            differ |= {f"{folder}/{n}" for n in names}
    r["csv_identical"] = same
    r["csv_differ"] = sorted(differ)
    for size in sizes:
        raw = r[f"{RAW} @{size}"]
        for name in (HTTP, HTTP_JOBS1):
            got = r[f"{name} @{size}"]
            if got["records"] != raw["records"]:
                raise SystemExit(
                    f"{name} @{size}: {got['records']:,} records, the API reports "
                    f"{raw['records']:,}"
                )
            got["time_ratio"] = got["seconds"] / raw["seconds"]
            got["rate_ratio"] = raw["seconds"] / got["seconds"]
    return r


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    # SIGTERM ends the bench like Ctrl-C does, through the `finally` that stops the server
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    os.environ[TOKEN_ENV] = TOKEN
    db = dataset()
    product = product_venv()
    tables: list[str] = json.loads(
        subprocess.run(
            [sys.executable, "-c", TABLES], cwd=ROOT, check=True, capture_output=True, text=True
        ).stdout
    )
    default = int(tomllib.loads(MAPPING.read_text())["http"]["page_size"])
    sizes = [default, *(s for s in EXTRA_PAGE_SIZES if s != default)]
    started = time.perf_counter()
    server = Server(db)
    try:
        floor = lean()
        runs = [one_run(server, tables, sizes, default, product, db) for _ in range(args.runs)]
    finally:
        server.stop()
    elapsed = time.perf_counter() - started

    names = [k for k in runs[0] if isinstance(runs[0][k], dict)]
    keys: tuple[str, ...] = (
        "seconds",
        "cpu_seconds",
        "server_cpu_seconds",
        "time_ratio",
        "rate_ratio",
    )
    keys += ("fetch_seconds", "parse_seconds")  # the raw fetch's
    med = {
        n: {k: statistics.median(r[n][k] for r in runs) for k in keys if k in runs[0][n]}
        for n in names
    }
    for n in names:
        med[n]["rss_mb"] = max(r[n]["rss_mb"] for r in runs)
        med[n]["records"] = runs[0][n]["records"]
    same = all(r["csv_identical"] for r in runs)
    differ = sorted({n for r in runs for n in r["csv_differ"]})
    records = med[f"{RAW} @{default}"]["records"]

    print()
    print(
        f"account {ACCOUNT} of {db.name} over HTTP (tests/httpapi.py DemoApi, own process; "
        f"tables encoded once at start in {server.warm_seconds:.1f} s, untimed): {records:,} "
        f"records in {len(tables)} tables; medians of {args.runs} runs; {os.cpu_count()} cores"
    )
    print()
    print(
        "| command | page size | pages | seconds | records/s | pages/s | offboard/raw time "
        "| offboard/raw records/s | client CPU s | server CPU s (busy) | peak RSS MB |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n in names:
        m = med[n]
        name, _, page_size = n.partition(" @")
        pages = runs[0][f"{RAW} @{page_size}"]["pages"] if page_size else None
        busy = m["server_cpu_seconds"] / m["seconds"]
        cells = [
            name,
            page_size or "-",
            f"{pages:,}" if pages else "-",
            f"{m['seconds']:.2f}",
            f"{m['records'] / m['seconds']:,.0f}",
            f"{pages / m['seconds']:,.0f}" if pages else "-",
            f"{m['time_ratio']:.2f}x" if "time_ratio" in m else "-",
            f"{m['rate_ratio']:.2f}x" if "rate_ratio" in m else "-",
            f"{m['cpu_seconds']:.2f}",
            f"{m['server_cpu_seconds']:.2f} ({busy:.0%})",
            f"{m['rss_mb']:.0f}",
        ]
        print("| " + " | ".join(cells) + " |")
    print()
    for size in sizes:
        m = med[f"{RAW} @{size}"]
        fetched = runs[0][f"{RAW} @{size}"]["pages"]
        mb = runs[0][f"{RAW} @{size}"]["bytes"] / 1e6
        print(
            f"raw fetch @{size}, the fetch loop alone: {m['fetch_seconds']:.2f} s = "
            f"{records / m['fetch_seconds']:,.0f} records/s, {fetched / m['fetch_seconds']:,.0f} "
            f"pages/s, {mb / m['fetch_seconds']:,.0f} MB/s of {mb:,.0f} MB "
            f"(+ {m['parse_seconds']:.3f} s parsing the first pages, left out)"
        )
    verdict = "byte-identical" if same else f"DIFFERENT ({', '.join(differ) or 'no CSV files'})"
    print(f"CSV files of every HTTP export vs the SQLite export: {verdict}")
    print(
        f"(server: {server.final.get('cpu_seconds', float('nan')):.1f} CPU s in all, errors "
        f"{len(server.final.get('errors', []))}; peak RSS of this bench process, a floor for "
        f"every figure: {floor:.0f} MB; bench {elapsed:.0f} s)"
    )
    results = {
        "median": med,
        "csv_identical": same,
        "csv_differ": differ,
        "records": records,
        "tables": tables,
        "page_sizes": sizes,
        "server": {"warm_seconds": server.warm_seconds, **server.final},
        "bench_rss_mb": floor,
        "bench_seconds": elapsed,
        "cores": os.cpu_count(),
        "runs": runs,
    }
    RESULTS.write_text(json.dumps(results, indent=2))
    if not same or server.final.get("errors"):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
