"""Commands about mapping files: check."""

from __future__ import annotations

import json
from pathlib import Path

import click

from offboard.cli.common import (
    _kinds,
    account_option,
    cli,
    handle_errors,
    json_option,
    mapping_option,
    open_mapped,
    source_argument,
)


@cli.group()
def mapping() -> None:
    """Mapping files: how a source's own schema gives each table (docs/mappings.md)."""


@mapping.command("check")
@source_argument
@mapping_option
@account_option
@click.option("--kinds", "-k", metavar="A,B", help="Only these kinds; default: all.")
@json_option
@handle_errors
def check(
    source: str, mapping_file: Path | None, account: str, kinds: str | None, as_json: bool
) -> None:
    """Run every table and document query of the mapping on one account of SOURCE.

    Prints what each exporter would get: rows, a sample row, and the problem an export would
    stop with. Reads everything, writes nothing. Exit 0 when every query works; 22 when
    one does not (each problem is listed).
    """
    from offboard.errors import SchemaError
    from offboard.sources.check import check_source
    from offboard.ui import print_mapping_check

    src = open_mapped(source, mapping_file)
    try:
        result = check_source(src, account, _kinds(kinds))
    finally:
        src.close()
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False, default=str))
    else:
        print_mapping_check(result)
    if not result.ok:
        failing = [t.table for t in result.tables if t.problem] + [
            f"{d.kind} documents" for d in result.documents if d.problem
        ]
        raise SchemaError(f"mapping {result.mapping}: problems in {', '.join(failing)}")


@mapping.command("reference")
@handle_errors
def reference() -> None:
    """Print the reference schema's mapping: every query offboard runs by default.

    A starting point for a mapping of another schema (docs/mappings.md).
    """
    from offboard.sources.mapping import reference_toml

    click.echo(reference_toml(), nl=False)
