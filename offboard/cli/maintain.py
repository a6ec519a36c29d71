"""Commands that look after a backup destination: prune, check, schedule."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from offboard.cli.common import F, cli, handle_errors, json_option
from offboard.errors import ArchiveInvalid, OutputError

#: a retention rule's option, its help, in restic's order
_RULES = (
    ("last", "Keep the N latest archives of each account."),
    ("hourly", "Keep the newest archive of each of the last N hours that have one."),
    ("daily", "Keep the newest archive of each of the last N days that have one."),
    ("weekly", "Keep the newest archive of each of the last N ISO weeks that have one."),
    ("monthly", "Keep the newest archive of each of the last N months that have one."),
    ("yearly", "Keep the newest archive of each of the last N years that have one."),
)
_DEFAULT_REPORT = "/var/log/offboard/backup-report.json"


def _keep_count(ctx: click.Context, param: click.Parameter, value: str) -> int:
    """A number of periods: 0 or more, or ``unlimited`` (-1)."""
    text = value.strip().lower()
    if text == "unlimited":
        return -1
    if not text.isascii() or not text.isdigit():
        raise click.BadParameter(f"{value!r}: give a number of at least 0, or 'unlimited'")
    return int(text)


def keep_options(f: F) -> F:
    for rule, text in reversed(_RULES):
        f = click.option(
            f"--keep-{rule}",
            f"keep_{rule}",
            default="0",
            callback=_keep_count,
            metavar="N",
            help=f"{text} 'unlimited': all of them.",
        )(f)
    return f


def _policy(options: dict[str, int]) -> Any:
    from offboard.backup.retention import Policy

    return Policy(**{rule: options[f"keep_{rule}"] for rule, _ in _RULES})


def _dest_argument(f: F) -> F:
    return click.argument("dest", metavar="DEST")(f)


# -- prune --------------------------------------------------------------------------------------
@cli.command()
@_dest_argument
@keep_options
@click.option("--dry-run", "-n", is_flag=True, help="Show what would be kept and removed.")
@json_option
@handle_errors
def prune(dest: str, dry_run: bool, as_json: bool, **keep: int) -> None:
    """Remove the archives of DEST that the retention policy does not keep.

    restic's `forget` rules: for each account, each --keep-* rule keeps the newest archive of
    each of its last N periods that have archives; an archive any rule keeps is kept. Archives
    under legal hold or retained (Object Lock) are kept whatever the policy; files that are not
    backup archives are never touched. Exit 7 if a deletion failed (the others are done).
    """
    from offboard.backup.prune import print_prune_report
    from offboard.backup.prune import prune as run_prune
    from offboard.backup.retention import require_rules
    from offboard.storage import open_destination

    policy = _policy(keep)
    require_rules(policy)
    report = run_prune(open_destination(dest), policy, now=datetime.now(UTC), dry_run=dry_run)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        print_prune_report(report)
    if report.failed:
        names = ", ".join(o.decision.name for o in report.failed)
        raise OutputError(
            f"{len(report.failed)} deletion(s) failed in {dest} ({names}); "
            f"{report.count('removed')} archive(s) were removed"
        )


# -- check --------------------------------------------------------------------------------------
@cli.command()
@_dest_argument
@click.option(
    "--pubkey",
    "-p",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="PUB",
    help="The signer's public key (PREFIX.pub). Never taken from an archive.",
)
@click.option(
    "--read-data-subset",
    "subset",
    metavar="n/t|x%",
    help="Also re-read these archives in full: n/t, group n of t (stable: 1/7 ... 7/7 on "
    "successive nights read everything), or x%, a share chosen afresh each UTC day.",
)
@json_option
@handle_errors
def check(dest: str, pubkey: Path, subset: str | None, as_json: bool) -> None:
    """Verify every archive of DEST: signature and structure (fast), and a subset in full.

    Every problem of every archive is listed. Exit 0: all valid; 1: an archive is invalid
    or cannot be read; 2: bad usage; 10: the public key cannot be read.
    """
    from manifests.signing import PublicKey
    from offboard.backup.check import Subset, check_destination, print_check_report
    from offboard.storage import open_destination

    chosen = None if subset is None else Subset.parse(subset)
    key = PublicKey.load(pubkey)
    today = datetime.now(UTC).date()
    report = check_destination(open_destination(dest), key, chosen, today=today)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        print_check_report(report)
    if not report.archives:
        click.echo(f"offboard: warning: no archive in {dest}", err=True)
    if not report.valid:
        bad = report.invalid
        raise ArchiveInvalid(
            f"{len(bad)} of {len(report.archives)} archive(s) invalid: "
            + ", ".join(a.name for a in bad),
            [p for a in bad for p in a.problems],
        )


# -- schedule -----------------------------------------------------------------------------------
@cli.command()
@click.option("--source", required=True, metavar="SOURCE", help="What to back up.")
@click.option("--dest", required=True, metavar="DEST", help="A folder or s3://BUCKET/PREFIX.")
@click.option(
    "--sign-key",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="KEY",
    help="The secret key that signs the archives.",
)
@click.option("--accounts", default="all", show_default=True, metavar="all|ID,ID...")
@click.option("--at", "at", default="02:30", show_default=True, metavar="HH:MM")
@click.option("--user", metavar="USER", help="The user the job runs as (not root, ideally).")
@click.option(
    "--env-file",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="FILE",
    help="KEY=value lines the job reads (OFFBOARD_PASSPHRASE, PGPASSWORD, AWS_...).",
)
@click.option(
    "--report",
    type=click.Path(path_type=Path, dir_okay=False),
    default=_DEFAULT_REPORT,
    show_default=True,
    metavar="FILE",
    help="Where the backup writes its JSON report.",
)
@keep_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["cron", "systemd", "all"]),
    default="all",
    show_default=True,
)
@click.option("--name", default="offboard-backup", show_default=True, help="Unit / file name.")
@click.option(
    "--random-delay",
    type=click.IntRange(0, 720),
    default=30,
    show_default=True,
    metavar="MINUTES",
    help="systemd: start up to this late, at random (RandomizedDelaySec).",
)
@click.option(
    "--offboard",
    "offboard_path",
    metavar="PATH",
    help="The offboard executable the job runs. Default: this installation's.",
)
@json_option
@handle_errors
def schedule(
    source: str,
    dest: str,
    sign_key: Path,
    accounts: str,
    at: str,
    user: str | None,
    env_file: Path | None,
    report: Path,
    fmt: str,
    name: str,
    random_delay: int,
    offboard_path: str | None,
    as_json: bool,
    **keep: int,
) -> None:
    """Print a cron line, and a systemd service and timer, for the nightly backup.

    The job runs `offboard backup` and, when --keep-* options are given, `offboard prune`
    after a successful backup. Paths are made absolute and quoted for each format. Nothing is
    installed: copy the output where its comments say.
    """
    import os
    import shutil

    from offboard.backup import schedule as sched

    command = sched.default_command()
    if offboard_path is not None:
        found = shutil.which(offboard_path) if os.sep not in offboard_path else offboard_path
        command = [os.path.abspath(found or offboard_path)]
    policy = _policy(keep)
    plan = sched.Schedule(
        command=tuple(command),
        source=sched.absolute_source(source),
        dest=sched.absolute_dest(dest),
        sign_key=os.path.abspath(sign_key),
        accounts=accounts,
        report=os.path.abspath(report),
        at=sched.parse_at(at),
        user=user,
        env_file=None if env_file is None else os.path.abspath(env_file),
        policy=None if policy.empty else policy,
        name=name,
        random_delay=random_delay,
    )
    texts: dict[str, str] = {}
    if fmt in ("cron", "all"):
        texts["cron"] = sched.cron_entry(plan)
    if fmt in ("systemd", "all"):
        texts["service"] = sched.systemd_service(plan)
        texts["timer"] = sched.systemd_timer(plan)
    if as_json:
        click.echo(json.dumps({"commands": plan.commands(), **texts}, indent=2))
    else:
        click.echo("\n".join(texts.values()), nl=False)
