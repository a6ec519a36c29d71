"""Time zones and clocks: the same source gives the same bytes whatever the machine's zone and
whatever its clock does, and no calendar date is ever shifted.

Every command runs in a subprocess under ``TZ`` = each of :data:`~tests.offboard.zones.ZONES`:
the demo generator, ``export`` to a signed archive (``--created-at``) and to a folder,
``backup`` (``--created-at``), and ``close`` (which takes the time from the clock: it runs on
libfaketime's clock, stopped at one instant). Then, with
``TZ=Europe/Paris``, the clock runs ten times fast and the command starts three seconds before
the spring-forward (2026-03-29 01:59:57+01:00, then 03:00+02:00) or the fall-back (2026-10-25
02:59:57+02:00, then 02:00+01:00), so that the export runs across the change: the
archive is still the UTC one, byte for byte, and without ``--created-at`` every time recorded
is UTC and the same as an explicit one. The dates of every date column, of the FEC, of the
Factur-X XML and PDFs, of the retain-until date and of the archive browser are compared with
the source's, on a copy of the demo whose dates sit on year and month edges and DST days.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sqlite3
import zipfile
from collections.abc import Iterator
from concurrent.futures import Future
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.offboard import zone_checks as zc
from tests.offboard import zones as z
from tests.offboard.zones import ZONES, Clock, Jobs, Run, folder, offboard, results, stamp, utc

CREATED = "2026-03-29T01:30:00Z"
#: when Europe/Paris changes its offset (UTC)
CHANGES = {"spring": utc("2026-03-29T01:00:00Z"), "autumn": utc("2026-10-25T01:00:00Z")}
OFFSETS = {"spring": ("+0100", "+0200"), "autumn": ("+0200", "+0100")}
#: the instant the closing runs at, on a stopped clock
CLOSE_AT = utc("2026-03-29T00:59:58Z")
ACCOUNT = "acc-0001"
#: the CSV file of a source table, where the names differ
CSV_TABLES = {"invoices": "sales_invoices"}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def digests(root: Path) -> dict[str, str]:
    return {path: sha(data) for path, data in z.tree(root).items()}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The demo database made once under every zone (that of UTC is the source of every test),
    a signing key, and every run of the module, submitted at once. Each run reads a copy of
    the source of its own (same name, so the same archive): runs of one account from one
    source would wait for each other's lock."""
    root = tmp_path_factory.mktemp("zones")
    jobs = Jobs()
    make = ["demo", "demo.db", "--accounts", "2", "--scale", "small", "--seed", "1"]
    generated = results(jobs.zones(lambda tz: offboard(make, root / "gen" / folder(tz), tz)))
    offboard(["keygen", "k", "--no-passphrase"], root, "UTC").ok()
    db = root / "gen" / "UTC" / "demo.db"
    edge = root / "edge" / "edge.db"
    edge.parent.mkdir()
    given = z.make_edge_db(db, edge, ACCOUNT)
    key = ["--sign-key", str(root / "k.key")]

    def run(
        where: str, tz: str, args: list[str], clock: Clock | None = None, src: Path = db
    ) -> Run:
        """``offboard ARGS`` in ``root/where``, SOURCE standing for a copy of ``src``."""
        url = f"sqlite:///{z.source_copy(src, root / where / 'source')}"
        return offboard([url if a == "SOURCE" else a for a in args], root / where, tz, clock)

    export = ["export", "SOURCE", "--account", ACCOUNT, "--allow-missing-documents", "--quiet"]
    archive = [*export, *key, "--out", "a.zip"]
    fixed = [*archive, "--created-at", CREATED]
    backup = ["backup", "SOURCE", "--dest", "backups", *key, "--quiet", "--workers", "1"]
    backup += ["--allow-missing-documents", "--report", "report.json"]
    close = ["close", "SOURCE", "--account", "acc-0002", "--out", "closed", "--yes", *key]
    close += ["--pubkey", str(root / "k.pub"), "--allow-missing-documents"]
    edges = ["export", "SOURCE", "--account", ACCOUNT, "--no-documents", "--quiet", *key]
    edges += ["--out", "a.zip", "--created-at", CREATED]

    def across(season: str, name: str, args: list[str]) -> Run:
        change = CHANGES[season]
        clock = Clock(change - timedelta(seconds=60), 10, go=change - timedelta(seconds=3))
        return run(f"dst/{season}-{name}", "Europe/Paris", args, clock)

    def unfixed(season: str) -> tuple[Run, Run]:
        """Without --created-at across the change, then in UTC at the time it recorded."""
        first = across(season, "now", [*archive, "--json"])
        created = meta(first.ok().cwd / "a.zip")["created_at"]
        return first, run(f"dst/{season}-again", "UTC", [*archive, "--created-at", created])

    def zones(name: str, args: list[str], **kw: Any) -> dict[str, Future[Run]]:
        return jobs.zones(lambda tz: run(f"{name}/{folder(tz)}", tz, args, **kw))

    yield {
        "db": db,
        "edge": edge,
        "given": given,
        "generated": generated,
        "archive": zones("archive", fixed),
        "folder": zones("folder", [*export, "--out", "out"]),
        "backup": zones("backup", [*backup, "--accounts", ACCOUNT, "--created-at", CREATED]),
        "edges": zones("edges", edges, src=edge),
        "close": zones("close", close, clock=Clock(CLOSE_AT, frozen=True)),
        "fixed": {s: jobs.submit(across, s, "fixed", fixed) for s in CHANGES},
        "unfixed": {s: jobs.submit(unfixed, s) for s in CHANGES},
        "backup-now": jobs.submit(across, "spring", "backup", [*backup, "--accounts", "all"]),
    }
    jobs.pool.shutdown(wait=True, cancel_futures=True)
    shutil.rmtree(root, ignore_errors=True)  # some 600 MB, not kept to the end of the run


def members(archive: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(archive) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def meta(archive: Path) -> dict[str, Any]:
    with zipfile.ZipFile(archive) as zf:
        name = next(n for n in zf.namelist() if n.endswith("/offboard.json"))
        data: dict[str, Any] = json.loads(zf.read(name))
        return data


def bag_info(archive: Path) -> dict[str, str]:
    with zipfile.ZipFile(archive) as zf:
        name = next(n for n in zf.namelist() if n.endswith("/bag-info.txt"))
        lines = zf.read(name).decode().splitlines()
    return dict(line.split(": ", 1) for line in lines)


def same(runs: dict[str, bytes]) -> None:
    reference = runs["UTC"]
    for tz, data in runs.items():
        assert data == reference, f"{tz} differs from UTC"


# -- (a) the demo generator --------------------------------------------------------------------
def test_the_demo_database_and_documents_are_the_same_bytes_in_every_zone(
    demo: dict[str, Any],
) -> None:
    trees = {tz: digests(run.ok().cwd) for tz, run in demo["generated"].items()}
    reference = trees["UTC"]
    assert "demo.db" in reference and len(reference) > 1000
    for tz, tree in trees.items():
        assert tree == reference, (tz, sorted(set(tree.items()) ^ set(reference.items()))[:5])


# -- (b) exports, backups and closings in every zone -------------------------------------------
def test_signed_archives_are_byte_identical_in_every_zone(demo: dict[str, Any]) -> None:
    runs = results(demo["archive"])
    same({tz: (r.ok().cwd / "a.zip").read_bytes() for tz, r in runs.items()})
    archive = runs["UTC"].cwd / "a.zip"
    assert meta(archive)["created_at"] == CREATED
    info = bag_info(archive)
    assert (info["Offboard-Created-At"], info["Bagging-Date"]) == (CREATED, "2026-03-29")
    with zipfile.ZipFile(archive) as zf:
        assert {i.date_time for i in zf.infolist()} == {(2026, 3, 29, 1, 30, 0)}


def test_folder_exports_are_byte_identical_in_every_zone(demo: dict[str, Any]) -> None:
    trees = {tz: z.tree(r.ok().cwd / "out") for tz, r in results(demo["folder"]).items()}
    summaries = {}
    for tz, tree in trees.items():
        summary = json.loads(tree.pop("export-summary.json"))
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", summary["started_at"]), tz
        summaries[tz] = json.dumps(z.without(summary, ("started_at", "seconds"))).encode()
    same(summaries)
    assert len(trees["UTC"]) > 900
    for tz, tree in trees.items():
        assert tree.keys() == trees["UTC"].keys(), tz
        for path, data in tree.items():
            assert data == trees["UTC"][path], (tz, path)


def test_backups_are_byte_identical_and_named_by_utc_time_in_every_zone(
    demo: dict[str, Any],
) -> None:
    trees, reports = {}, {}
    for tz, run in results(demo["backup"]).items():
        run.ok()
        trees[tz] = json.dumps(digests(run.cwd / "backups"), sort_keys=True).encode()
        report = json.loads((run.cwd / "report.json").read_text())
        assert report["created_at"] == CREATED
        # the source's URL names its copy
        reports[tz] = json.dumps(z.without(report, ("source", "started_at", "seconds"))).encode()
    same(trees)
    same(reports)
    backups = results(demo["backup"])["UTC"].cwd / "backups"
    names = sorted(p.name for p in backups.glob("*.zip"))
    assert names == ["acc-0001_2026-03-29T013000Z.zip"]
    assert meta(backups / names[0])["created_at"] == CREATED


def test_closing_at_the_same_instant_gives_the_same_archive_and_receipt_in_every_zone(
    demo: dict[str, Any],
) -> None:
    name = "acc-0002-20260329T005958Z"
    archives, receipts, rows = {}, {}, {}
    for tz, run in results(demo["close"]).items():
        closed = run.ok().cwd / "closed"
        archives[tz] = (closed / f"{name}.zip").read_bytes()
        receipt = json.loads((closed / f"{name}.termination-receipt.json").read_text())
        assert len(receipt.pop("receipt_id")) == 32  # random, by design
        receipts[tz] = json.dumps(receipt, sort_keys=True).encode()
        con = sqlite3.connect(run.cwd / "source" / "demo.db")
        rows[tz] = repr(
            con.execute("SELECT * FROM subscriptions WHERE account_id = 'acc-0002'").fetchall()
            + con.execute("SELECT at, event FROM offboard_audit_log ORDER BY id").fetchall()
        ).encode()
        con.close()
    same(archives)
    same(receipts)
    same(rows)
    receipt = json.loads(receipts["UTC"])
    at = stamp(CLOSE_AT)
    assert receipt["terminated_at"] == receipt["archive"]["created_at"] == at
    assert receipt["subscription"]["cancellation_requested_at"] == at
    assert receipt["source_checked"]["at"] == at
    con = sqlite3.connect(results(demo["close"])["UTC"].cwd / "source" / "demo.db")
    assert {r[0] for r in con.execute("SELECT at FROM offboard_audit_log")} == {at}
    con.close()
    assert receipt["subscription"]["cancellation_effective_on"] == "2026-03-29"  # the UTC day


# -- (c) the clock across the changes of offset ------------------------------------------------
def crossed(run: Run, season: str) -> None:
    """The process's own clock did run across the change, as Europe/Paris sees it."""
    before, after = run.seen("before"), run.seen("after")
    assert CHANGES[season] - timedelta(seconds=4) < before < CHANGES[season] < after, run.clock
    assert (run.clock["before"]["offset"], run.clock["after"]["offset"]) == OFFSETS[season]


@pytest.mark.parametrize("season", sorted(CHANGES))
def test_an_archive_made_across_a_change_of_offset_is_the_utc_one(
    demo: dict[str, Any], season: str
) -> None:
    run = demo["fixed"][season].result().ok()
    crossed(run, season)
    reference = results(demo["archive"])["UTC"].cwd / "a.zip"
    assert (run.cwd / "a.zip").read_bytes() == reference.read_bytes()


@pytest.mark.parametrize("season", sorted(CHANGES))
def test_without_created_at_every_time_recorded_is_utc(demo: dict[str, Any], season: str) -> None:
    run, again = demo["unfixed"][season].result()
    crossed(run, season)
    archive = run.cwd / "a.zip"
    created = meta(archive)["created_at"]
    assert created.endswith("Z")
    low = run.seen("before").replace(microsecond=0)
    assert low <= utc(created) <= run.seen("after"), (created, run.clock)
    summary = json.loads(run.stdout)
    assert utc(created) <= utc(summary["started_at"]) <= run.seen("after")
    info = bag_info(archive)
    assert (info["Offboard-Created-At"], info["Bagging-Date"]) == (created, created[:10])
    when = utc(created)
    with zipfile.ZipFile(archive) as zf:
        times = {i.date_time for i in zf.infolist()}
    assert times == {(*when.timetuple()[:5], when.second - when.second % 2)}
    assert (again.ok().cwd / "a.zip").read_bytes() == archive.read_bytes()


def test_a_backup_across_the_spring_change_is_named_by_its_utc_time(demo: dict[str, Any]) -> None:
    run = demo["backup-now"].result().ok()
    crossed(run, "spring")
    report = json.loads((run.cwd / "report.json").read_text())
    created = report["created_at"]
    assert run.seen("before").replace(microsecond=0) <= utc(created) <= run.seen("after")
    named = utc(created).strftime("%Y-%m-%dT%H%M%SZ")
    archives = sorted((run.cwd / "backups").glob("*.zip"))
    assert [p.name for p in archives] == [f"acc-000{n}_{named}.zip" for n in (1, 2)]
    assert {meta(p)["created_at"] for p in archives} == {created}


# -- (d) dates are never shifted ---------------------------------------------------------------
def test_no_date_or_timestamp_column_shifts_in_any_zone(demo: dict[str, Any]) -> None:
    runs = results(demo["edges"])
    same({tz: (r.ok().cwd / "a.zip").read_bytes() for tz, r in runs.items()})
    compared = 0
    for run in runs.values():
        files = members(run.cwd / "a.zip")
        for cls in z.exporters():
            for table in cls.tables:
                rows = z.source_rows(demo["edge"], table.query, ACCOUNT)
                csv_rows = z.read_csv(files[f"a/data/csv/{table.name}.csv"])
                assert csv_rows[0] == table.column_names
                for name, i, column, _ in z.date_columns(cls):
                    if name != table.name:
                        continue
                    want = ["" if r[i] is None else str(r[i]) for r in rows]
                    assert [r[i] for r in csv_rows[1:]] == want, (table.name, column)
                    compared += len(want)
    assert compared > 30_000
    for run in runs.values():
        archive = run.cwd / "a.zip"
        files = members(archive)
        for (table, column), days in demo["given"].items():
            got = z.read_csv(files[f"a/data/csv/{CSV_TABLES.get(table, table)}.csv"])
            index = got[0].index(column)
            assert set(days) <= {r[index] for r in got[1:]}, (table, column)
        assert zc.check_fec(files, demo["edge"], ACCOUNT, demo["given"]) > 1500
        zc.check_retention(meta(archive), bag_info(archive), demo["edge"], ACCOUNT)


def test_factur_x_and_pdf_dates_are_the_invoices_in_every_zone(demo: dict[str, Any]) -> None:
    for run in results(demo["folder"]).values():
        assert zc.check_invoice_dates(run.ok().cwd / "out", demo["db"], ACCOUNT) > 400


def test_the_archive_browser_shows_the_source_dates_in_every_zone(
    demo: dict[str, Any], tmp_path: Path
) -> None:
    dates = zc.source_document_dates(demo["db"], ACCOUNT)
    for tz, run in results(demo["archive"]).items():
        data = zc.browser_data(members(run.ok().cwd / "a.zip")["a/index.html"])
        listed = {(d[1], d[0]): d[2] for d in data["documents"]}
        assert len(listed) > 600 and listed.items() <= dates.items(), tz
    with zipfile.ZipFile(results(demo["archive"])["UTC"].cwd / "a.zip") as zf:
        zf.extractall(tmp_path)
    shown = zc.shown_in_chromium(tmp_path / "a" / "index.html", ZONES)
    by_number = {number: day for (_, number), day in dates.items()}
    for tz, page in shown.items():
        assert (page["zone"], page["created"]) == (tz, CREATED)
        assert page["rows"] and all(by_number[n] == day for n, day in page["rows"]), tz
        assert page["rows"] == shown["UTC"]["rows"]


def test_a_creation_time_given_in_another_zone_is_written_in_utc(
    demo: dict[str, Any], tmp_path: Path
) -> None:
    """Through the API, ``created_at`` may be a Paris time, or naive (taken as UTC): the
    archive is the one made at the same instant given in UTC, never Paris's wall time with a
    Z (the zip members were converted, bag-info.txt and offboard.json were not)."""
    from manifests.build import ArchiveOptions
    from offboard.pipeline import ExportOptions, export_account
    from offboard.sources import open_source

    instant = utc(CREATED)
    made = {}
    for name, when in (
        ("utc", instant),
        ("paris", instant.astimezone(ZoneInfo("Europe/Paris"))),  # 03:30+02:00
        ("naive", instant.replace(tzinfo=None)),
    ):
        assert ArchiveOptions(created_at=when, sign_key=None).created_at == instant
        source = open_source(str(demo["db"]))
        try:
            out = tmp_path / name / "a.zip"
            out.parent.mkdir()
            options = ExportOptions(kinds=["catalogue"], documents=False, jobs=1)
            archive = ArchiveOptions(created_at=when, sign_key=None)
            export_account(source, ACCOUNT, out, options, archive=archive)
        finally:
            source.close()
        made[name] = out.read_bytes()
        assert bag_info(out)["Offboard-Created-At"] == meta(out)["created_at"] == CREATED
    assert made["paris"] == made["utc"] == made["naive"]
