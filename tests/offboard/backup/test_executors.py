"""The executors: local worker processes and a real Dask cluster (``distributed.LocalCluster``,
two worker processes of one thread each) give the same report and the same archives; a worker
killed in the middle of an account is that account failing, never a hang."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from manifests.signing import SecretKey, write_keypair
from offboard.backup.executors import LocalExecutor, open_executor
from offboard.backup.report import BackupReport
from offboard.backup.run import BackupPlan, run_backup
from offboard.errors import ConfigError, ExitCode

WHEN = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
ACCOUNTS = ["acc-0001", "acc-0002"]
KILLED = "acc-0002"
FAILPOINT = f"backup.export:{KILLED}"


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    secret, _ = write_keypair(tmp_path_factory.mktemp("key") / "k", SecretKey.generate(), None)
    return Path(secret)


def start_cluster(**options: Any) -> Any:
    distributed = pytest.importorskip("distributed")
    return distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",
        silence_logs=logging.ERROR,
        **options,
    )


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """The executor spec of a running two-worker Dask cluster."""
    with start_cluster() as running:
        yield "dask://" + running.scheduler_address.removeprefix("tcp://")


def plan(db: Path, dest: Path, key: Path, **more: Any) -> BackupPlan:
    return BackupPlan(
        source=f"sqlite:///{db}",
        destination=str(dest),
        sign_key=key,
        created_at=WHEN,
        allow_missing_documents=True,
        **more,
    )


def comparable(report: BackupReport) -> dict[str, Any]:
    """The report without timings and without what names the executor or the destination."""
    data = report.to_dict()
    for name in ("executor", "workers", "started_at", "destination"):
        data.pop(name)
    data["totals"].pop("seconds")
    for account in data["accounts"]:
        account.pop("seconds")
        if account["location"]:
            account["location"] = Path(account["location"]).name
    return data


def test_dask_and_local_give_the_same_report_and_archives(
    demo_db: Path, tmp_path: Path, key: Path, cluster: str
) -> None:
    local = run_backup(plan(demo_db, tmp_path / "local", key), open_executor("local", 2))
    dask = run_backup(plan(demo_db, tmp_path / "dask", key), open_executor(cluster, None))
    assert [a.outcome for a in local.accounts] == ["backed-up", "backed-up"]
    assert comparable(dask) == comparable(local)
    assert local.executor == "local" and local.workers == 2
    assert dask.executor == cluster and dask.workers == 2
    for account in local.accounts:
        assert account.archive is not None
        mine = (tmp_path / "local" / account.archive).read_bytes()
        assert (tmp_path / "dask" / account.archive).read_bytes() == mine
    again = run_backup(plan(demo_db, tmp_path / "dask", key), open_executor(cluster, None))
    assert [a.outcome for a in again.accounts] == ["unchanged", "unchanged"]


def test_a_local_worker_killed_mid_account_fails_that_account_only(
    demo_db: Path, tmp_path: Path, key: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OFFBOARD_FAILPOINT", FAILPOINT)  # the workers' environment
    executor = LocalExecutor(1)  # one worker: the next account needs its replacement
    report = run_backup(plan(demo_db, tmp_path / "d", key, accounts=[KILLED, "acc-0001"]), executor)
    killed, other = report.accounts
    assert (killed.account, killed.outcome, killed.exit_code) == (
        KILLED,
        "failed",
        ExitCode.INTERRUPTED,
    )
    assert "worker process died (killed by SIGKILL)" in (killed.error or "")
    assert (other.account, other.outcome) == ("acc-0001", "backed-up")
    assert sorted(p.name for p in (tmp_path / "d").glob("*.zip")) == [
        "acc-0001_2026-11-30T020000Z.zip"
    ]


def test_a_dask_worker_killed_mid_account_fails_that_account_only(
    demo_db: Path, tmp_path: Path, key: Path
) -> None:
    import dask

    # allowed-failures 0: the first death fails the task (by default it is tried 3 more times)
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        start_cluster(env={"OFFBOARD_FAILPOINT": FAILPOINT}) as running,
    ):
        spec = "dask://" + running.scheduler_address.removeprefix("tcp://")
        report = run_backup(plan(demo_db, tmp_path / "d", key), open_executor(spec, None))
    by = {a.account: a for a in report.accounts}
    assert by[KILLED].outcome == "failed" and by[KILLED].exit_code == ExitCode.INTERRUPTED
    assert "the Dask worker running it died" in (by[KILLED].error or "")
    assert by["acc-0001"].outcome == "backed-up"


def test_executor_specs() -> None:
    local = open_executor("local", 3)
    assert (local.name, local.slots) == ("local", 3)
    local.close()
    for bad in ("dask://nowhere", "spark://h:1", "dask://:8786"):
        with pytest.raises(ConfigError):
            open_executor(bad, None)
