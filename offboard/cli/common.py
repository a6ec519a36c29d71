"""What the commands share: the group, option decorators, error handling, passphrases."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from offboard import __version__
from offboard.errors import ConfigError, ExitCode, OffboardError

F = TypeVar("F", bound=Callable[..., Any])


# -- shared options ---------------------------------------------------------------------------
def source_argument(f: F) -> F:
    return click.argument("source", metavar="SOURCE")(f)


def mapping_option(f: F) -> F:
    return click.option(
        "--mapping",
        "mapping_file",
        type=click.Path(path_type=Path, dir_okay=False),
        metavar="FILE",
        help="A mapping file (TOML) saying how the source's own schema gives each table "
        "(docs/mappings.md). Default: the reference schema.",
    )(f)


def open_mapped(source: str, mapping_file: Path | None) -> Any:
    """The source named by SOURCE, reading through ``mapping_file`` if one is given."""
    from offboard.sources import Mapping, open_source

    mapping = None if mapping_file is None else Mapping.load(mapping_file)
    return open_source(source, mapping)


def account_option(f: F) -> F:
    return click.option(
        "--account", "-a", required=True, metavar="ID", help="The account to export."
    )(f)


def kinds_option(f: F) -> F:
    return click.option(
        "--kinds",
        "-k",
        metavar="A,B",
        help="Only these kinds (see `offboard kinds`); default: all.",
    )(f)


def json_option(f: F) -> F:
    return click.option(
        "--json", "as_json", is_flag=True, help="Print the result as JSON on standard output."
    )(f)


def quiet_option(f: F) -> F:
    return click.option(
        "--quiet", "-q", is_flag=True, help="No progress bars and no summary table."
    )(f)


def _kinds(value: str | None) -> list[str] | None:
    if value is None:
        return None
    kinds = [k.strip() for k in value.split(",") if k.strip()]
    if not kinds:
        raise ConfigError("--kinds: give at least one kind, e.g. --kinds sales_invoices,bank")
    return kinds


def _fail(message: str, code: int) -> None:
    click.echo(f"offboard: error: {message}", err=True)
    sys.exit(code)


def handle_errors(f: F) -> F:
    """Turn offboard's errors into a one-line message and the documented exit code."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except OffboardError as exc:
            _fail(str(exc), int(exc.exit_code))
        except KeyboardInterrupt:
            _fail("interrupted; nothing was left under a final name", int(ExitCode.INTERRUPTED))
        except BrokenPipeError:
            sys.exit(int(ExitCode.OK))
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except Exception as exc:
            if os.environ.get("OFFBOARD_DEBUG"):
                raise
            _fail(
                f"internal error: {type(exc).__name__}: {exc} "
                "(a bug: rerun with OFFBOARD_DEBUG=1 for the traceback and report it)",
                int(ExitCode.INTERNAL),
            )

    return wrapper  # type: ignore[return-value]


# -- the group --------------------------------------------------------------------------------
@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="offboard")
def cli() -> None:
    """Export everything from a SaaS account, completely and provably.

    Start with `offboard demo` to create a demo account database, then
    `offboard export sqlite:///demo/offboard-demo.db --account acc-0001 --out export`.
    """


def _passphrase(key: Path, confirm: bool = False) -> Callable[[], str]:
    """Where a passphrase comes from: OFFBOARD_PASSPHRASE, else a prompt on a terminal."""

    def ask() -> str:
        from offboard.errors import KeyFileError

        env = os.environ.get("OFFBOARD_PASSPHRASE")
        if env is not None:
            return env
        if not sys.stdin.isatty():
            raise KeyFileError(
                f"{key} is protected by a passphrase: set OFFBOARD_PASSPHRASE or run on a terminal"
            )
        value: str = click.prompt(
            f"Passphrase for {key}", hide_input=True, confirmation_prompt=confirm, err=True
        )
        return value

    return ask


def load_pubkey(pubkey: Path | None, allow_unsigned: bool) -> Any:
    """The public key of ``--pubkey`` (None only with ``--allow-unsigned``)."""
    from offboard.errors import KeyFileError

    if pubkey is None:
        if not allow_unsigned:
            raise ConfigError("--pubkey PUB is required (the public key of whoever signed it)")
        return None
    from manifests.signing import PublicKey

    try:
        return PublicKey.load(pubkey)
    except KeyFileError as exc:
        raise ConfigError(str(exc)) from None
