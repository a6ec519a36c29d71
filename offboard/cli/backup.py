"""``offboard backup``: one signed archive per account of a source, into a destination."""

from __future__ import annotations

from pathlib import Path

import click

from offboard.cli.common import (
    _kinds,
    _passphrase,
    cli,
    handle_errors,
    json_option,
    kinds_option,
    mapping_option,
    quiet_option,
    source_argument,
)
from offboard.cli.storage_options import (
    encrypt_option,
    load_retention,
    retention_option,
    storage_options,
    store_kwargs,
)
from offboard.errors import ConfigError


@cli.command()
@source_argument
@click.option(
    "--accounts",
    required=True,
    metavar="all|ID,...",
    help="The accounts to back up: all (every account of SOURCE), or ids separated by commas.",
)
@click.option(
    "--dest",
    required=True,
    metavar="DIR|s3://BUCKET/PREFIX",
    help="Where the archives go: a folder, or a bucket and prefix of S3.",
)
@click.option(
    "--sign-key",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="KEY",
    help="Secret key (from `offboard keygen`) that signs every archive.",
)
@mapping_option
@click.option(
    "--executor",
    default="local",
    show_default=True,
    metavar="local|dask://HOST:PORT",
    help="local: worker processes of this machine; dask://HOST:PORT: the workers of the Dask "
    "cluster whose scheduler is there (docs/backups.md).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 1024),
    default=None,
    help="Accounts backed up at once (default: local, the number of cores; Dask, the "
    "cluster's threads).",
)
@click.option(
    "--report",
    "report_file",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="FILE",
    help="Write the run report (JSON: every account's outcome) to FILE, atomically.",
)
@click.option(
    "--created-at",
    metavar="TIME",
    help="Creation time of every archive of the run (UTC, e.g. 2026-01-31T02:00:00Z; "
    "default: now, to the second).",
)
@click.option("--force", is_flag=True, help="Back up accounts that did not change, too.")
@kinds_option
@click.option(
    "--allow-missing-documents",
    is_flag=True,
    help="Count an account as backed up even when documents are missing, unreadable or "
    "encrypted (still reported in its archive).",
)
@click.option(
    "--lock-dir",
    type=click.Path(path_type=Path, file_okay=False),
    metavar="DIR",
    help="Where the accounts' locks are kept (default: DEST/.offboard-locks for a folder, "
    "$XDG_STATE_HOME/offboard/locks/<hash of DEST> for s3://).",
)
@storage_options
@encrypt_option
@retention_option
@click.option(
    "--resume",
    is_flag=True,
    help="Keep each account's work until its archive is stored, and reuse what an "
    "interrupted run finished; without --created-at, an interrupted run's time is taken "
    "again, so its archives are the same, byte for byte.",
)
@json_option
@quiet_option
@handle_errors
def backup(
    source: str,
    accounts: str,
    dest: str,
    sign_key: Path,
    mapping_file: Path | None,
    executor: str,
    workers: int | None,
    report_file: Path | None,
    created_at: str | None,
    force: bool,
    kinds: str | None,
    allow_missing_documents: bool,
    lock_dir: Path | None,
    lock: str | None,
    retain_until: str | None,
    legal_hold: bool,
    sse: str | None,
    kms_key_id: str | None,
    encrypt_to: tuple[str, ...],
    retention_file: Path | None,
    resume: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Back up accounts of SOURCE: one signed archive per account into --dest.

    Each archive is named <account>_<time>.zip, all of one run with the same time. An
    account whose records and documents did not change since its last archive (which is
    still in --dest) is skipped as unchanged; a locked account (another run is backing it up)
    is reported and skipped; a failing account never stops the others. Exits 0 when every
    account is backed up or unchanged, 11 when every other one was locked by another run,
    16 when an account found the disk full, else 15; --report FILE (or --json) lists each one.
    """
    from exporters import select
    from manifests.signing import SecretKey
    from offboard.backup.executors import open_executor
    from offboard.backup.report import account_line, write_report
    from offboard.backup.run import BackupPlan, parse_accounts, run_backup
    from offboard.backup.task import AccountResult
    from offboard.options import parse_created_at
    from offboard.storage import is_s3_url, open_destination

    store = store_kwargs(lock, retain_until, legal_hold, sse, kms_key_id)
    if store and not is_s3_url(dest):
        raise ConfigError(f"{', '.join('--' + k.replace('_', '-') for k in store)}: s3:// only")
    chosen = _kinds(kinds)
    select(chosen)  # an unknown kind stops the run here
    given: list[str] = []
    ask = _passphrase(sign_key)

    def remember() -> str:
        given.append(ask())
        return given[-1]

    SecretKey.load(sign_key, remember)  # a bad key or passphrase stops the run here
    load_retention(retention_file)  # a bad policy stops the run here
    if encrypt_to:
        from manifests.encryption import parse_recipients

        parse_recipients(list(encrypt_to))  # a bad recipient stops the run here
    when = parse_created_at(created_at)
    if resume:
        from offboard.backup.run import resumed_time

        when = resumed_time(dest, when, given_explicitly=created_at is not None)
    plan = BackupPlan(
        source=source,
        destination=dest,
        sign_key=sign_key,
        created_at=when,
        encrypt_to=encrypt_to,
        resume=resume,
        retention=None if retention_file is None else str(retention_file),
        accounts=parse_accounts(accounts),
        mapping_file=mapping_file,
        kinds=chosen,
        allow_missing_documents=allow_missing_documents,
        force=force,
        store=store,
        lock_dir=lock_dir,
        passphrase=given[-1] if given else None,
    )

    def show(result: AccountResult) -> None:
        if not as_json and not quiet:
            click.echo(account_line(result))

    report = run_backup(plan, open_executor(executor, workers), show)
    if resume:  # the run reached its end: nothing left to resume (a failed account is not)
        from offboard.backup.run import PENDING

        open_destination(dest).write_state(PENDING, b"{}\n")
    if report_file is not None:
        write_report(report_file, report)
    if as_json:
        click.echo(report.to_json(), nl=False)
    elif not quiet:
        click.echo(report.summary_line())
    if not report.complete:
        from offboard.backup.run import incomplete_error

        raise incomplete_error(report, report_file)
