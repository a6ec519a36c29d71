"""The ``offboard`` command line. The only module that imports click.

Heavy libraries (Arrow, the SQLite driver, qpdf, rich) are imported inside the commands so that
``offboard --help`` answers at once.
"""

from __future__ import annotations

import functools
import json
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


def account_option(f: F) -> F:
    return click.option(
        "--account", "-a", required=True, metavar="ID", help="The account to export."
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


# -- commands ---------------------------------------------------------------------------------
@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="offboard")
def cli() -> None:
    """Export everything from a SaaS account, completely and provably.

    Start with `offboard demo` to create a demo account database, then
    `offboard export sqlite:///demo/offboard-demo.db --account acc-0001 --out export`.
    """


@cli.command()
@click.argument("path", type=click.Path(path_type=Path), default=Path("demo/offboard-demo.db"))
@click.option("--accounts", type=click.IntRange(1, 9999), default=3, show_default=True)
@click.option(
    "--scale",
    type=click.Choice(["small", "medium", "large"]),
    default="small",
    show_default=True,
    help="small: a few hundred records per kind; medium: ~100k invoices; large: ~1M invoices.",
)
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same data.")
@click.option(
    "--documents",
    type=click.IntRange(0),
    default=None,
    help="How many records per account get a PDF (default: all; 20,000 at large scale).",
)
@quiet_option
@handle_errors
def demo(
    path: Path, accounts: int, scale: str, seed: int, documents: int | None, quiet: bool
) -> None:
    """Write a demo SaaS database (SQLite) with ACCOUNTS tenant accounts and their PDFs.

    PATH defaults to demo/offboard-demo.db; documents go in the folder beside it.
    """
    from offboard.demo import generate_demo

    def progress(stage: str, done: int, total: int) -> None:
        if not quiet and sys.stderr.isatty():
            click.echo(f"\r{stage}: {done}/{total}   ", nl=False, err=True)

    try:
        result = generate_demo(
            path, accounts=accounts, scale=scale, seed=seed, documents=documents, progress=progress
        )
    except ValueError as exc:
        raise ConfigError(f"offboard demo: {exc}") from exc
    if not quiet and sys.stderr.isatty():
        click.echo("", err=True)
    click.echo(f"Demo database: {result.path}")
    click.echo(f"Documents:     {result.documents_dir}")
    click.echo(f"Accounts:      {', '.join(result.account_ids)}")
    click.echo(f"Source URL:    sqlite:///{result.path}")


@cli.command()
@source_argument
@account_option
@click.option(
    "--out",
    "-o",
    required=True,
    type=click.Path(path_type=Path),
    help="The folder to write (it must not exist or be empty), or NAME.zip for a signed archive.",
)
@click.option(
    "--sign-key",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="KEY",
    help="Secret key (from `offboard keygen`) that signs the archive; needed for NAME.zip.",
)
@click.option("--unsigned", is_flag=True, help="Write NAME.zip without a signature.")
@click.option(
    "--created-at",
    metavar="TIME",
    help="Archive creation time (UTC, e.g. 2026-01-31T12:00:00Z; default: now). The same "
    "source and time give a byte-identical archive.",
)
@click.option(
    "--split-size",
    default="2GB",
    show_default=True,
    metavar="SIZE",
    help="Split the archive into NAME-part-001.zip... above this payload size (e.g. 700MB).",
)
@click.option(
    "--kinds", "-k", metavar="A,B", help="Only these kinds (see `offboard kinds`); default: all."
)
@click.option(
    "--dialect",
    type=click.Choice(["standard", "excel-fr"]),
    default="standard",
    show_default=True,
    help="standard: UTF-8, comma, RFC 4180; excel-fr: BOM, semicolon, decimal comma.",
)
@click.option("--no-documents", is_flag=True, help="Export the CSV tables only.")
@click.option(
    "--allow-missing-documents",
    is_flag=True,
    help="Exit 0 even when documents are missing, unreadable or encrypted (still reported).",
)
@click.option("--overwrite", is_flag=True, help="Replace the contents of a non-empty --out.")
@click.option(
    "--bundle-size",
    type=click.IntRange(1),
    default=200,
    show_default=True,
    metavar="MB",
    help="Start a new bundled PDF above this size.",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(1, 64),
    default=None,
    help="Tables and document sets exported at once (default: the number of cores).",
)
@json_option
@quiet_option
@handle_errors
def export(
    source: str,
    account: str,
    out: Path,
    kinds: str | None,
    dialect: str,
    no_documents: bool,
    allow_missing_documents: bool,
    overwrite: bool,
    bundle_size: int,
    jobs: int | None,
    as_json: bool,
    quiet: bool,
    sign_key: Path | None,
    unsigned: bool,
    created_at: str | None,
    split_size: str,
) -> None:
    """Export one account of SOURCE into the folder --out, or into a signed archive.

    SOURCE is a URL such as sqlite:///demo/offboard-demo.db (or a path to a .db file).
    Writes OUT/csv/*.csv, OUT/documents/<kind>/<number>.pdf, one bundled PDF per kind and
    OUT/export-summary.json. With --out NAME.zip, writes the same files as a BagIt archive
    signed with --sign-key (see docs/archive-format.md); check it with `offboard verify`.
    """
    from exporters import select
    from offboard.csvio import get_dialect
    from offboard.errors import DocumentsIncomplete
    from offboard.pipeline import ExportOptions, export_account
    from offboard.sources import open_source
    from offboard.ui import print_summary, progress_bars

    options = ExportOptions(
        kinds=_kinds(kinds),
        dialect=get_dialect(dialect),
        documents=not no_documents,
        allow_missing_documents=allow_missing_documents,
        overwrite=overwrite,
        jobs=jobs or os.cpu_count() or 2,
        bundle_cap_bytes=bundle_size * 1024**2,
    )
    from offboard.options import archive_options

    archive = archive_options(
        out, sign_key, unsigned, created_at, split_size, overwrite, _passphrase
    )
    chosen = select(options.kinds)
    bars = [(e.name, e.title) for e in chosen]
    if archive is not None:
        bars.append(("archive", "Signed archive"))
    src = open_source(source)
    try:
        with progress_bars(bars, not quiet) as progress:
            try:
                summary = export_account(src, account, out, options, progress, archive)
                error = None
            except DocumentsIncomplete as exc:
                summary = exc.summary  # type: ignore[attr-defined]
                error = exc
    finally:
        src.close()
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2, ensure_ascii=False))
    elif not quiet:
        print_summary(summary)
    if error is not None:
        raise error


@cli.command()
@json_option
@handle_errors
def kinds(as_json: bool) -> None:
    """List the record kinds that can be exported (the registered exporters)."""
    from exporters import load_all

    found = load_all()
    if as_json:
        data = [
            {
                "kind": cls.name,
                "title": cls.title,
                "tables": [t.name for t in cls.tables],
                "documents": cls.documents is not None,
                "module": cls.__module__,
            }
            for cls in found.values()
        ]
        click.echo(json.dumps(data, indent=2))
        return
    for cls in found.values():
        docs = " + PDFs" if cls.documents is not None else ""
        tables = ", ".join(t.name for t in cls.tables)
        click.echo(f"{cls.name:<18} {cls.title} ({tables}{docs})")


@cli.command()
@source_argument
@json_option
@handle_errors
def accounts(source: str, as_json: bool) -> None:
    """List the accounts of SOURCE."""
    from offboard.sources import open_source

    src = open_source(source)
    try:
        found = src.accounts()
    finally:
        src.close()
    if as_json:
        click.echo(json.dumps([{"id": a.id, "name": a.name} for a in found], indent=2))
        return
    for a in found:
        click.echo(f"{a.id}\t{a.name}")


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


@cli.command()
@click.argument("prefix", type=click.Path(path_type=Path))
@click.option(
    "--no-passphrase",
    is_flag=True,
    help="Leave the secret key unencrypted (protect the file some other way).",
)
@click.option("--force", is_flag=True, help="Replace PREFIX.key and PREFIX.pub if they exist.")
@handle_errors
def keygen(prefix: Path, no_passphrase: bool, force: bool) -> None:
    """Write a signing key pair: PREFIX.key (secret, mode 0600) and PREFIX.pub.

    Both are in minisign's formats: `minisign -S -s PREFIX.key` signs with the key and
    `minisign -V -p PREFIX.pub` verifies. The passphrase comes from OFFBOARD_PASSPHRASE or
    is asked on the terminal.
    """
    from manifests.signing import SecretKey, write_keypair

    passphrase = None if no_passphrase else _passphrase(Path(f"{prefix}.key"), True)()
    secret = SecretKey.generate()
    key_path, pub_path = write_keypair(prefix, secret, passphrase, force=force)
    click.echo(f"secret key: {key_path} ({'unencrypted' if no_passphrase else 'encrypted'})")
    click.echo(f"public key: {pub_path} (key id {secret.public_key.key_id_hex})")
    click.echo("Keep the secret key private; give the public key to whoever verifies archives.")


@cli.command()
@click.argument("archive", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--pubkey",
    "-p",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="PUB",
    help="The signer's public key (PREFIX.pub). Never taken from the archive.",
)
@click.option("--fast", is_flag=True, help="Structure, sizes and signature only (no hashing).")
@click.option("--allow-unsigned", is_flag=True, help="Accept an archive without a signature.")
@json_option
@quiet_option
@handle_errors
def verify(
    archive: Path,
    pubkey: Path | None,
    fast: bool,
    allow_unsigned: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Check ARCHIVE: structure, signature, every checksum, record counts, totals and pages.

    Lists every problem found. Exit 0: valid; 1: invalid; 2: bad usage or unreadable input.
    For a split archive, name any part: the others are checked with it.
    """
    from manifests.verify import verify_archive
    from offboard.errors import ArchiveInvalid, KeyFileError
    from offboard.ui import print_verify_report

    if pubkey is None and not allow_unsigned:
        raise ConfigError("--pubkey PUB is required (the public key of whoever signed it)")
    key = None
    if pubkey is not None:
        from manifests.signing import PublicKey

        try:
            key = PublicKey.load(pubkey)
        except KeyFileError as exc:
            raise ConfigError(str(exc)) from None
    report = verify_archive(archive, key, fast=fast, allow_unsigned=allow_unsigned)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    elif not quiet:
        print_verify_report(report)
    if not report.valid:
        raise ArchiveInvalid(
            f"{report.archive}: {len(report.problems)} problem(s) found", report.problems
        )


def main() -> None:
    cli(prog_name="offboard")


if __name__ == "__main__":
    main()
