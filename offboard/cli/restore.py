"""The restore command: a verified archive back into a database."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from offboard.cli.common import cli, handle_errors, json_option, load_pubkey, quiet_option
from offboard.cli.storage_options import identity_option
from offboard.errors import ConfigError

if TYPE_CHECKING:
    from offboard.restore.run import RestoreResult


@cli.command()
@click.argument("archive", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--pubkey",
    "-p",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="PUB",
    help="The signer's public key (PREFIX.pub). Never taken from the archive.",
)
@click.option(
    "--into",
    "into",
    required=True,
    metavar="TARGET",
    help="The database to restore into: sqlite:///new.db (created if absent; documents go "
    "beside it, in new-documents/) or postgresql://user@host:port/db?documents=PATH.",
)
@click.option("--allow-unsigned", is_flag=True, help="Accept an archive without a signature.")
@identity_option
@json_option
@quiet_option
@handle_errors
def restore(
    archive: Path,
    pubkey: Path | None,
    into: str,
    allow_unsigned: bool,
    identity: Path | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Rebuild the account of ARCHIVE in a database, after verifying the archive fully.

    The database is in the reference schema and is an offboard source again: exporting the
    account from it gives the archive's files byte for byte. An archive that does not verify
    is refused (exit 1) and nothing is written; an account already in the database is refused
    (exit 20). For a split archive, name any part. An encrypted archive (NAME.zip.age) needs
    --identity FILE: its seal is checked, then it is decrypted into a private temporary folder
    and restored from there.
    """
    from offboard.restore.members import RestoreRefused
    from offboard.restore.run import RestoreRequest, restore

    key = load_pubkey(pubkey, allow_unsigned)
    from manifests.verify.sealed import is_sealed

    if is_sealed(archive) and (identity is None or key is None):
        raise ConfigError(f"{archive} is encrypted: give --identity FILE and --pubkey PUB")
    if identity is not None and not is_sealed(archive):
        raise ConfigError("--identity applies to an encrypted archive, NAME.zip.age")
    try:
        with _plain(archive, key, identity) as plain:
            request = RestoreRequest(
                archive=plain, into=into, pubkey=key, allow_unsigned=allow_unsigned
            )
            with _progress(enabled=not quiet and not as_json) as progress:
                result = restore(request, progress)
    except RestoreRefused as refused:
        if as_json:
            verdict = {"restored": False, "verify": refused.report.to_dict()}
            click.echo(json.dumps(verdict, indent=2, ensure_ascii=False))
        elif not quiet:
            from offboard.ui import print_verify_report

            print_verify_report(refused.report)
        raise
    if as_json:
        click.echo(json.dumps({"restored": True, **result.to_dict()}, indent=2, ensure_ascii=False))
    elif not quiet:
        _print_result(result)


@contextmanager
def _plain(archive: Path, key: Any, identity: Path | None) -> Iterator[Path]:
    """The archive itself, or the decrypted copy of an encrypted one."""
    if identity is None:
        yield archive
        return
    from manifests.encryption import load_identities
    from manifests.verify.sealed import opened_sealed

    with opened_sealed(archive, key, load_identities(identity)) as plain:
        yield plain


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str, int], None] | None]:
    """A bar per table (and one for the documents) on a terminal; nothing otherwise."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress, TextColumn, TimeElapsedColumn

    bars = Progress(
        TextColumn("{task.description:<34}"),
        TextColumn("{task.completed:>12,} restored"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    )
    tasks: dict[str, Any] = {}

    def advance(step: str, n: int) -> None:
        if step not in tasks:
            tasks[step] = bars.add_task(step, total=None)
        bars.advance(tasks[step], n)

    with bars:
        yield advance


def _print_result(result: RestoreResult) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from offboard.ui import human_bytes

    console = Console(highlight=False, width=max(100, shutil.get_terminal_size((100, 24))[0]))
    table = Table(title=escape(f"Restore of account {result.account} ({result.account_name})"))
    for name, justify in (("table", "left"), ("into", "left"), ("records", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for t in result.tables:
        table.add_row(escape(t.table), escape(t.into), f"{t.records:,}")
    if result.documents:
        table.add_row(
            "documents", escape(result.documents_root or ""), f"{result.documents:,}", style="dim"
        )
    console.print(table)
    if result.problems:
        console.print(
            f"[bold yellow]{len(result.problems)} document problem(s) listed by the archive[/] "
            f"({result.without_bytes} restored without their bytes, as in the source):"
        )
        for p in result.problems:
            line = f"  {p['kind']} {p['number']} (record {p['record_id']}): {p['reason']}"
            console.print(line, markup=False)
    for note in result.notes:
        console.print(f"note: {note}", markup=False)
    console.print(
        f"Restored {result.records:,} records and {result.documents:,} documents "
        f"({human_bytes(result.document_bytes)}) from {result.archive} into {result.into} "
        f"in {result.seconds:.1f} s",
        markup=False,
        soft_wrap=True,
    )
