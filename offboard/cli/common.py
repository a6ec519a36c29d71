"""What the commands share: the group, option decorators, error handling, passphrases."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from offboard import __version__
from offboard.errors import (
    ConfigError,
    ExitCode,
    OffboardError,
    exit_code_of,
    no_space_cause,
    one_line,
)

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


def _fail(message: str, code: int) -> NoReturn:
    """Print the error's one line and exit with ``code``.

    The line is always one line: a newline, an ANSI escape or any other control character that
    came into the message from the input (a file name, a CSV cell, an API's answer) is shown
    escaped (:func:`offboard.errors.one_line`).
    """
    click.echo(f"offboard: error: {one_line(message)}", err=True)
    sys.exit(code)


def detail(text: str) -> None:
    """One indented line of detail on standard error, before an error's line (a problem, a
    change): escaped like the error itself."""
    click.echo(f"  {one_line(text)}", err=True)


def _no_space_message(exc: OSError) -> str:
    where = f" writing {exc.filename!s}" if exc.filename else ""
    return (
        f"no space left on the device{where} ({exc.strerror or exc}); nothing was left under "
        "a final name: free some space and run the command again"
    )


def _message(exc: OffboardError) -> str:
    """The one line shown for ``exc``: a full disk is always said to be one."""
    full = no_space_cause(exc)
    text = str(exc)
    if full is not None and "no space" not in text.lower():
        text = f"{text} (no space left on the device)"
    return text


def handle_errors(f: F) -> F:
    """Turn offboard's errors into a one-line message and the documented exit code."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except OffboardError as exc:
            _fail(_message(exc), int(exit_code_of(exc)))
        except KeyboardInterrupt:
            _fail("interrupted; nothing was left under a final name", int(ExitCode.INTERRUPTED))
        except click.Abort:  # Ctrl-C at a prompt, or "no" to a confirmation (click: exit 1)
            stopped = "stopped at the prompt; nothing was left under a final name"
            _fail(stopped, int(ExitCode.INTERRUPTED))
        except BrokenPipeError:
            sys.exit(int(ExitCode.OK))
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as exc:
            if os.environ.get("OFFBOARD_DEBUG"):
                raise
            full = no_space_cause(exc)
            if full is not None:
                _fail(_no_space_message(full), int(ExitCode.NO_SPACE))
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
    """The public key of ``--pubkey`` (None only with ``--allow-unsigned``); a key file that
    cannot be read or is no public key is a :class:`KeyFileError` (exit 10), as everywhere."""
    if pubkey is None:
        if not allow_unsigned:
            raise ConfigError("--pubkey PUB is required (the public key of whoever signed it)")
        return None
    from manifests.signing import PublicKey

    return PublicKey.load(pubkey)
