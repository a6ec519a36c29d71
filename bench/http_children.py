"""The child processes of bench/http_source.py, as code for ``python -c``: the demo API's
server, the raw fetch client, the tables' names (each in its own process, so that the bench
process stays lean and the server's CPU is not the client's)."""

from __future__ import annotations

#: the names of every exporter's tables, as JSON (in a child: this process stays lean)
TABLES = """
import json
from exporters import select
print(json.dumps([t.name for e in select(None) for t in e.tables]))
"""
#: serves argv[1] with token argv[2] (account argv[3]'s tables encoded once), prints
#: {"base_url", "pid", "warm_seconds"}; stops on SIGTERM, SIGINT or the end of its stdin, then
#: prints {"cpu_seconds", "errors"}
SERVE = """
import json, os, resource, signal, sys, threading, time
stops = {signal.SIGTERM, signal.SIGINT}
signal.pthread_sigmask(signal.SIG_BLOCK, stops)  # in every thread, pyarrow's included
from tests.httpapi import DemoApi, _Handler
_Handler.disable_nagle_algorithm = True
db, token, account = sys.argv[1:4]
started = time.perf_counter()
api = DemoApi(db, token=token)
encoded = {name: api._table_rows(account, name) for name in api.tables}
stock = api._table_rows
api._table_rows = lambda a, name: encoded[name] if a == account else stock(a, name)
warm = time.perf_counter() - started
def orphaned():
    sys.stdin.buffer.read()
    os.kill(os.getpid(), signal.SIGTERM)
threading.Thread(target=orphaned, daemon=True).start()
api.start()
print(json.dumps({"base_url": api.base_url, "pid": os.getpid(), "warm_seconds": warm}),
      flush=True)
signal.sigwait(stops)
api.stop()
use = resource.getrusage(resource.RUSAGE_SELF)
errors = [repr(e) for e in api.errors]
print(json.dumps({"cpu_seconds": use.ru_utime + use.ru_stime, "errors": errors}), flush=True)
"""
#: the raw fetch: argv base_url token page_size account table...; prints its figures as JSON
FETCH = """
import http.client, json, resource, sys, time, urllib.parse
base, token, size, account, *tables = sys.argv[1:]
split = urllib.parse.urlsplit(base)
headers = {"Authorization": f"Bearer {token}", "Accept": "application/json",
           "User-Agent": "offboard-bench"}
conn = http.client.HTTPConnection(split.hostname, split.port, timeout=60)
pages = records = size_bytes = 0
parse = 0.0
started = time.perf_counter()
for table in tables:
    target = f"{split.path}/accounts/{account}/tables/{table}?limit={size}"
    first = True
    while target is not None:
        conn.request("GET", target, headers=headers)
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise SystemExit(f"GET {target}: {response.status} {body[:200]!r}")
        pages += 1
        size_bytes += len(body)
        if first:
            t = time.perf_counter()
            records += json.loads(body)["meta"]["total"]
            parse += time.perf_counter() - t
            first = False
        tail = body[body.rindex(b'"links":') + len(b'"links":') : -1]
        link = json.loads(tail)["next"]
        target = None if link is None else urllib.parse.urlsplit(link)._replace(
            scheme="", netloc="").geturl()
fetch = time.perf_counter() - started - parse
conn.close()
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"fetch_seconds": fetch, "parse_seconds": parse, "pages": pages,
                  "records": records, "bytes": size_bytes, "rss_kb": rss}))
"""
