"""The retention command group: show the policy in force."""

from __future__ import annotations

import json
from pathlib import Path

import click

from offboard.cli.common import cli, handle_errors, json_option


@cli.group()
def retention() -> None:
    """Retention policies: how long archives are kept (docs/retention.md)."""


@retention.command("show")
@click.option(
    "--policy",
    "policy_file",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="FILE",
    help="Show this policy (checked) instead of the default.",
)
@json_option
@handle_errors
def show(policy_file: Path | None, as_json: bool) -> None:
    """Print the retention policy: the default (French law's, as TOML, the starting point of a
    policy of your own), or FILE's once checked."""
    from offboard.retention import Policy, default_text

    if policy_file is None and not as_json:
        click.echo(default_text(), nl=False)
        return
    policy = Policy.default_policy() if policy_file is None else Policy.load(policy_file)
    if as_json:
        click.echo(json.dumps(policy.to_dict(), indent=2, ensure_ascii=False))
        return
    click.echo(f"{policy.name}: fiscal year ends {policy.fiscal_year_end}")
    for kind, rule in sorted(policy.kinds.items()):
        click.echo(f"  {kind:<18} {rule.years:>2} years after the {rule.after}  {rule.basis}")
    d = policy.default
    click.echo(f"  {'(other kinds)':<18} {d.years:>2} years after the {d.after}  {d.basis}")
