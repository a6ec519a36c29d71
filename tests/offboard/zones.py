"""Helpers of ``test_time_zones.py``: running offboard under a time zone and a faked clock,
a demo database with dates at the calendar's edges, and the source values to compare with.

A faked clock is libfaketime's (Debian's ``faketime``): preloaded into the process, it moves
the wall clock seen by everything in it, C code included (``clock_gettime``, ``time``,
``gettimeofday``), from a given instant on, at a given rate. The process runs offboard's CLI
through :data:`DRIVER`, which records the clock (UTC seconds and the local UTC offset) before
and after the command, so that a test can show that the command did run across a change of
offset.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest

from exporters.base import DATE, TIMESTAMP, Exporter
from exporters.registry import load_all

#: UTC; one hour ahead with EU daylight saving time; UTC-3:30 with North American DST (a
#: half-hour zone); UTC+14, where the local day is mostly another than UTC's
ZONES = ("UTC", "Europe/Paris", "America/St_Johns", "Pacific/Kiritimati")
#: offboard's CLI in the process, recording the clock before and after it (JSON in argv[1]);
#: with argv[2] an instant (UTC seconds), it first sleeps until then, its modules imported,
#: so that a slow start cannot move the command's start
DRIVER = """
import json, sys, time
def clock():
    t = time.time()
    return {"epoch": t, "offset": time.strftime("%z", time.localtime(t))}
record, until, sys.argv = sys.argv[1], sys.argv[2], ["offboard", *sys.argv[3:]]
from offboard.cli import main
if until != "-":
    time.sleep(max(float(until) - time.time(), 0.0))
before = clock()
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else 1
with open(record, "w", encoding="utf-8") as fh:
    json.dump({"before": before, "after": clock(), "code": code}, fh)
sys.exit(code)
"""
#: days where a date might slip: year and month ends and starts, 29 February, and the days
#: of the EU (last Sundays of March and October) and North American (second Sunday of March,
#: first of November) changes of offset
EDGE_DAYS = (
    "2024-02-29",
    "2024-10-27",
    "2024-11-03",
    "2024-12-31",
    "2025-01-01",
    "2025-03-09",
    "2025-03-30",
    "2025-04-30",
    "2025-05-01",
    "2025-10-26",
    "2025-11-02",
    "2025-12-31",
    "2026-01-01",
    "2026-03-08",
    "2026-03-29",
    "2026-10-25",
    "2026-11-01",
)
#: the date columns of the source given those days: (table, column)
EDGE_COLUMNS = (
    ("invoices", "issue_date"),
    ("invoices", "due_date"),
    ("quotes", "issue_date"),
    ("quotes", "valid_until"),
    ("purchases", "issue_date"),
    ("purchases", "due_date"),
    ("bank_transactions", "booking_date"),
    ("bank_transactions", "value_date"),
    ("billing_invoices", "issue_date"),
    ("billing_invoices", "period_start"),
    ("billing_invoices", "period_end"),
    ("billing_invoices", "paid_on"),
)
#: entries of closed fiscal years moved to these days (entry and piece dates)
ENTRY_DAYS = ("2024-10-27", "2024-11-03", "2025-03-09", "2025-03-30", "2025-10-26", "2025-11-02")
#: lettering groups lettered on these days
LETTERED_DAYS = ("2025-03-30", "2025-10-26")

T = TypeVar("T")


def utc(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Clock:
    """libfaketime's clock: from ``start`` (UTC) on, at ``rate`` times the real one; or
    ``frozen`` at ``start``. With ``go``, the command starts at that instant of it."""

    start: datetime
    rate: float = 1.0
    frozen: bool = False
    go: datetime | None = None


@dataclass(frozen=True)
class Run:
    """One offboard command run: where, its result, and the clock its process saw."""

    cwd: Path
    code: int
    stdout: str
    stderr: str
    #: ``{"before": {"epoch", "offset"}, "after": {...}}``
    clock: dict[str, Any]

    def ok(self) -> Run:
        assert self.code == 0, f"exit {self.code} in {self.cwd}: {self.stderr}"
        return self

    def seen(self, when: str) -> datetime:
        return datetime.fromtimestamp(self.clock[when]["epoch"], UTC)


def faketime() -> str:
    found = shutil.which("faketime")
    if found is None:
        pytest.fail("faketime is not installed (Debian package faketime): run `make test`")
    return found


def offboard(args: list[str], cwd: Path, tz: str, clock: Clock | None = None) -> Run:
    """``offboard ARGS`` in ``cwd`` under ``TZ=tz``, on libfaketime's ``clock`` if given."""
    cwd.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAKETIME")}
    env["TZ"] = tz
    record = cwd.with_name(f"{cwd.name}.clock.json")
    go = "-" if clock is None or clock.go is None else str(clock.go.timestamp())
    command = [sys.executable, "-c", DRIVER, str(record), go, *args]
    if clock is not None:
        # FAKETIME_FMT=%s: the start as UTC seconds, never read in the local zone
        env["FAKETIME_FMT"] = "%s"
        start = int(clock.start.timestamp())
        spec = str(start) if clock.frozen else f"@{start} x{clock.rate:g}"
        command = [faketime(), "-m", "-f", spec, *command]
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=180, check=False
    )
    seen = json.loads(record.read_text()) if record.is_file() else {}
    return Run(cwd, done.returncode, done.stdout, done.stderr, seen)


class Jobs:
    """Runs submitted at once (the subprocesses mostly wait), each awaited by the test that
    needs it."""

    def __init__(self, workers: int = 4) -> None:
        self.pool = ThreadPoolExecutor(workers)

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        return self.pool.submit(fn, *args)

    def zones(self, fn: Callable[[str], T]) -> dict[str, Future[T]]:
        return {tz: self.pool.submit(fn, tz) for tz in ZONES}


def results(futures: dict[str, Future[T]]) -> dict[str, T]:
    return {tz: f.result() for tz, f in futures.items()}


def source_copy(db: Path, where: Path) -> Path:
    """A copy of the SQLite source ``db`` and its documents (hard links) in ``where``, under
    the same name: a source of its own, whose account locks no other run waits for."""
    where.mkdir(parents=True, exist_ok=True)
    copy = where / db.name
    shutil.copyfile(db, copy)
    documents = db.with_name(f"{db.stem}-documents")
    if documents.is_dir():
        shutil.copytree(documents, where / documents.name, copy_function=os.link)
    return copy


def folder(tz: str) -> str:
    return tz.replace("/", "_")


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (relative POSIX path: bytes)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def without(data: Any, keys: Iterable[str]) -> Any:
    """``data`` without the keys ``keys`` at any depth (the times and durations of a run)."""
    drop = set(keys)
    if isinstance(data, dict):
        return {k: without(v, drop) for k, v in data.items() if k not in drop}
    if isinstance(data, list):
        return [without(v, drop) for v in data]
    return data


# -- the source --------------------------------------------------------------------------------
def exporters() -> list[type[Exporter]]:
    return [cls for _, cls in sorted(load_all().items())]


def source_rows(db: Path, query: str, account: str) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute(query, (account,)).fetchall()
    finally:
        con.close()


def date_columns(cls: type[Exporter]) -> Iterable[tuple[str, int, str, str]]:
    """(table, index, column, "date" | "timestamp") of every date and timestamp column."""
    for table in cls.tables:
        for i, column in enumerate(table.columns):
            if column.type in (DATE, TIMESTAMP):
                yield table.name, i, column.name, "date" if column.type == DATE else "timestamp"


def read_csv(data: bytes) -> list[list[str]]:
    """The rows of a CSV file of the standard dialect, header first."""
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def make_edge_db(demo: Path, out: Path, account: str) -> dict[tuple[str, str], list[str]]:
    """A copy of ``demo`` whose ``account`` has dates on :data:`EDGE_DAYS` in every
    column of :data:`EDGE_COLUMNS`, entries and lettering on DST days (a FEC that stays
    valid), the latest dates of some kinds on a year's edge (for the retain-until date), and
    last changes just before a UTC midnight that is already the next day in Europe and Asia.
    Returns the days given to each column."""
    src = sqlite3.connect(demo)
    con = sqlite3.connect(out)
    src.backup(con)
    src.close()
    given: dict[tuple[str, str], list[str]] = {}
    for n, (table, column) in enumerate(EDGE_COLUMNS):
        ids = [
            r[0]
            for r in con.execute(
                f"SELECT id FROM {table} WHERE account_id = ? ORDER BY id", (account,)
            )
        ]
        assert len(ids) >= len(EDGE_DAYS), (table, len(ids))
        step = len(ids) // len(EDGE_DAYS)
        days = EDGE_DAYS[n % len(EDGE_DAYS) :] + EDGE_DAYS[: n % len(EDGE_DAYS)]
        for i, day in enumerate(days):
            con.execute(f"UPDATE {table} SET {column} = ? WHERE id = ?", (day, ids[i * step]))
        given[(table, column)] = list(days)
    _edge_latest(con, account)
    given[("accounting_entries", "entry_date")] = _move_entries(con, account)
    given[("accounting_entries", "lettered_on")] = _letter_on(con, account)
    con.commit()
    con.close()
    return given


def _edge_latest(con: sqlite3.Connection, account: str) -> None:
    """Latest dates and changes on an edge, so that a slip of a day moves the retain-until."""
    one = "SELECT id FROM {} WHERE account_id = ? ORDER BY id DESC LIMIT 1"
    for table, column, value in (
        ("bank_accounts", "opening_date", "2024-02-29"),
        ("subscriptions", "started_on", "2024-02-29"),
        ("subscriptions", "current_period_start", "2026-10-25"),
        ("subscriptions", "current_period_end", "2026-11-01"),
        ("quotes", "valid_until", "2026-12-31"),  # quotes kept until 2031-12-31, not 2032's
        ("invoices", "due_date", "2027-01-01"),  # sales invoices until 2037-12-31
        ("companies", "updated_at", "2026-12-31T23:30:00Z"),  # contacts until 2029-12-31
        ("products", "updated_at", "2026-11-01T02:00:00Z"),  # St John's: still 31 October
    ):
        (row,) = con.execute(one.format(table), (account,)).fetchone()
        con.execute(f"UPDATE {table} SET {column} = ? WHERE id = ?", (value, row))


def _move_entries(con: sqlite3.Connection, account: str) -> list[str]:
    """Move one entry of a closed year to each of :data:`ENTRY_DAYS`, keeping the FEC's
    rules (within its year, not after its validation nor its lettering)."""
    moved = []
    for day in ENTRY_DAYS:
        found = con.execute(
            """
            SELECT e.journal_code, e.entry_number FROM accounting_entries e
            JOIN fiscal_years f ON f.id = e.fiscal_year_id
            WHERE e.account_id = ? AND f.status = 'closed' AND ? BETWEEN f.start_date AND
                  f.end_date AND e.entry_date < ? AND e.validated_on >= ?
            GROUP BY e.journal_code, e.entry_number
            HAVING MIN(COALESCE(e.lettered_on, '9999-12-31')) >= ?
            ORDER BY MAX(e.entry_date) DESC, e.journal_code, e.entry_number LIMIT 1
            """,
            (account, day, day, day, day),
        ).fetchone()
        assert found is not None, day
        con.execute(
            "UPDATE accounting_entries SET entry_date = ?, piece_date = ? "
            "WHERE account_id = ? AND journal_code = ? AND entry_number = ?",
            (day, day, account, *found),
        )
        moved.append(day)
    return moved


def _letter_on(con: sqlite3.Connection, account: str) -> list[str]:
    """Letter one group (lettered earlier) again on each of :data:`LETTERED_DAYS`."""
    for day in LETTERED_DAYS:
        found = con.execute(
            """
            SELECT account_number, auxiliary_number, lettering FROM accounting_entries
            WHERE account_id = ? AND lettering IS NOT NULL
            GROUP BY account_number, auxiliary_number, lettering
            HAVING MAX(entry_date) <= ? AND MAX(lettered_on) < ?
            ORDER BY MAX(entry_date) DESC, account_number, auxiliary_number, lettering LIMIT 1
            """,
            (account, day, day),
        ).fetchone()
        assert found is not None, day
        con.execute(
            "UPDATE accounting_entries SET lettered_on = ? WHERE account_id = ? AND "
            "account_number = ? AND auxiliary_number IS ? AND lettering = ?",
            (day, account, *found),
        )
    return list(LETTERED_DAYS)
