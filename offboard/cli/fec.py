"""``offboard fec-check``: check a FEC file against the rules of LPF art. A47 A-1."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import click

from offboard.cli.common import _fail, cli, handle_errors, json_option, quiet_option
from offboard.errors import ConfigError, ExitCode


@cli.command("fec-check")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--encoding",
    type=click.Choice(["auto", "utf-8", "iso-8859-15"]),
    default="auto",
    show_default=True,
    help="The file's encoding; auto: UTF-8, unless a line is not, then ISO 8859-15 throughout.",
)
@click.option(
    "--start",
    metavar="AAAAMMJJ",
    help="The fiscal year's first day (default: entry dates are checked against the closing "
    "date of the file name and the longest fiscal year, 24 months).",
)
@click.option(
    "--max-problems",
    type=click.IntRange(1),
    default=100,
    show_default=True,
    help="List at most N problems (all are counted).",
)
@json_option
@quiet_option
@handle_errors
def fec_check(
    file: Path,
    encoding: str,
    start: str | None,
    max_problems: int,
    as_json: bool,
    quiet: bool,
) -> None:
    """Check FILE, a FEC (Fichier des Écritures Comptables): its name, header, fields,
    encoding, dates, amounts, balances, chronology and lettering (see docs/fec.md).

    Lists every problem with its line number. Exit 0: valid; 1: invalid; 19: the file cannot
    be read; 2: a bad option.
    """
    from offboard.accounting.fec_check import check_file
    from offboard.accounting.fec_format import parse_date

    first: date | None = None
    if start is not None:
        first = parse_date(start)
        if first is None:
            raise ConfigError(f"--start {start!r}: a date as AAAAMMJJ, e.g. 20250101")
    try:
        report = check_file(
            file,
            encoding=None if encoding == "auto" else encoding,
            start=first,
            max_problems=max_problems,
        )
    except OSError as exc:
        _fail(f"{file}: cannot be read: {exc.strerror or exc}", int(ExitCode.UNREADABLE))
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    elif not quiet:
        state = "VALID" if report.valid else "INVALID"
        click.echo(
            f"{state} {file.name}: {report.lines:,} lines, {report.entries:,} entries, "
            f"encoding {report.encoding or 'ascii'}, debit {_amount(report.debit)}, "
            f"credit {_amount(report.credit)}"
        )
        for p in report.problems:
            click.echo(f"  {p}")
        if report.unlisted:
            click.echo(
                f"  ... and {report.unlisted:,} more problem(s) (--max-problems to list more)"
            )
    if not report.valid:
        _fail(
            f"{file}: not a valid FEC: {report.total_problems:,} problem(s) found",
            int(ExitCode.INVALID),
        )


def _amount(cents: int) -> str:
    from offboard.accounting.fec_format import money_text

    return money_text(cents)
