"""Commands that read a source: demo, export, kinds, accounts."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from manifests.metadata import MAX_PART_FILES
from offboard.cli.common import (
    _kinds,
    _passphrase,
    account_option,
    cli,
    handle_errors,
    json_option,
    kinds_option,
    mapping_option,
    open_mapped,
    quiet_option,
    source_argument,
)
from offboard.cli.document_options import document_limit_options
from offboard.cli.storage_options import (
    encrypt_option,
    load_retention,
    retention_option,
    storage_options,
    store_kwargs,
)
from offboard.errors import ConfigError
from offboard.options import BUNDLE_CAP_MIB

if TYPE_CHECKING:
    from offboard.documents.sandbox import DocumentLimits


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
@click.option(
    "--postgres",
    metavar="URL",
    help="Also copy the demo into this empty PostgreSQL database (postgresql://user@host/db), "
    "in the typed reference schema.",
)
@quiet_option
@handle_errors
def demo(
    path: Path,
    accounts: int,
    scale: str,
    seed: int,
    documents: int | None,
    postgres: str | None,
    quiet: bool,
) -> None:
    """Write a demo SaaS database (SQLite) with ACCOUNTS tenant accounts and their PDFs.

    PATH defaults to demo/offboard-demo.db; documents go in the folder beside it. With
    --postgres URL, the same data is then copied into that PostgreSQL database.
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
    if postgres is not None:
        from offboard.demo.postgres import load_into

        url = load_into(result.path, postgres, result.documents_dir)
        click.echo(f"PostgreSQL:    {url}")


@cli.command()
@source_argument
@account_option
@click.option(
    "--out",
    "-o",
    "out_text",
    required=True,
    metavar="OUT",
    help="The folder to write (it must not exist or be empty), NAME.zip for a signed archive, "
    "or s3://BUCKET/PREFIX/NAME.zip to store it in S3.",
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
    "--split-files",
    default=MAX_PART_FILES,
    show_default=True,
    type=click.IntRange(1, MAX_PART_FILES),
    metavar="N",
    help="At most N payload files per part (what keeps verifying in bounded memory).",
)
@kinds_option
@click.option(
    "--dialect",
    type=click.Choice(["standard", "excel-fr"]),
    default="standard",
    show_default=True,
    help="standard: UTF-8, comma, RFC 4180; excel-fr: BOM, semicolon, decimal comma.",
)
@click.option("--no-documents", is_flag=True, help="Export the CSV tables only.")
@click.option(
    "--fec-encoding",
    type=click.Choice(["utf-8", "iso-8859-15"]),
    default="utf-8",
    show_default=True,
    help="Encoding of the FEC files (kind fec, one per closed fiscal year; docs/fec.md).",
)
@click.option(
    "--allow-missing-documents",
    is_flag=True,
    help="Exit 0 even when documents are missing, unreadable or encrypted (still reported).",
)
@click.option("--overwrite", is_flag=True, help="Replace the contents of a non-empty --out.")
@click.option(
    "--resume",
    is_flag=True,
    help="Keep this export's work until it completes (.NAME.resume beside --out) and reuse "
    "what an interrupted run with the same options finished: the same archive, byte for byte.",
)
@click.option(
    "--bundle-size",
    type=click.IntRange(1),
    default=BUNDLE_CAP_MIB,
    show_default=True,
    metavar="MB",
    help="Start a new bundled PDF above this size.",
)
@click.option(
    "--max-document-size",
    default="50MB",
    show_default=True,
    metavar="SIZE",
    help="A document larger than this is reported, not loaded (e.g. 200MB).",
)
@click.option(
    "--factur-x",
    "factur_x",
    type=click.Choice(["required", "optional", "off"]),
    default=None,
    help="Sales invoices' Factur-X XML: required (a PDF without one is a problem; the "
    "default), optional (checked when there is one: plain PDFs are fine) or off "
    "(docs/facturx.md).",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(1, 64),
    default=None,
    help="Tables and document sets exported at once (default: the number of cores).",
)
@click.option(
    "--lock-dir",
    type=click.Path(path_type=Path, file_okay=False),
    metavar="DIR",
    help="Where the account's lock is kept (default: beside an SQLite database, where "
    "`offboard terminate` locks it; for other sources $XDG_STATE_HOME/offboard/locks/<hash "
    "of SOURCE>).",
)
@storage_options
@encrypt_option
@retention_option
@mapping_option
@json_option
@quiet_option
@handle_errors
@document_limit_options
def export(
    source: str,
    account: str,
    out_text: str,
    kinds: str | None,
    dialect: str,
    no_documents: bool,
    allow_missing_documents: bool,
    overwrite: bool,
    resume: bool,
    bundle_size: int,
    max_document_size: str,
    factur_x: str | None,
    jobs: int | None,
    fec_encoding: str,
    as_json: bool,
    quiet: bool,
    sign_key: Path | None,
    unsigned: bool,
    created_at: str | None,
    split_size: str,
    split_files: int,
    mapping_file: Path | None,
    lock: str | None,
    retain_until: str | None,
    legal_hold: bool,
    sse: str | None,
    kms_key_id: str | None,
    encrypt_to: tuple[str, ...],
    retention_file: Path | None,
    lock_dir: Path | None,
    document_limits: DocumentLimits,
) -> None:
    """Export one account of SOURCE into the folder --out, or into a signed archive.

    SOURCE is a URL such as sqlite:///demo/offboard-demo.db (or a path to a .db file).
    Writes OUT/csv/*.csv, OUT/documents/<kind>/<number>.pdf, one bundled PDF per kind and
    OUT/export-summary.json. With --out NAME.zip, writes the same files as a BagIt archive
    signed with --sign-key (see docs/archive-format.md); check it with `offboard verify`.
    With --out s3://BUCKET/PREFIX/NAME.zip, the archive is uploaded as it is written (no local
    copy), read back by its version and verified before the command succeeds.

    The account's lock is held from before anything is written until the end: another export,
    termination or close of the account exits 11 at once, with nothing written.
    """
    from exporters import select
    from offboard.csvio import get_dialect
    from offboard.errors import DocumentsIncomplete, OutputExists
    from offboard.options import parse_size
    from offboard.pipeline import ExportOptions
    from offboard.storage.store import export_out
    from offboard.ui import print_summary, progress_bars

    options = ExportOptions(
        kinds=_kinds(kinds),
        dialect=get_dialect(dialect),
        documents=not no_documents,
        allow_missing_documents=allow_missing_documents,
        overwrite=overwrite,
        jobs=jobs or os.cpu_count() or 2,
        bundle_cap_bytes=bundle_size * 1024**2,
        max_document_bytes=parse_size(max_document_size, "--max-document-size"),
        file_options={"fec": {"encoding": fec_encoding}} if fec_encoding != "utf-8" else {},
        facturx=factur_x,
        document_limits=document_limits,
    )
    from offboard.options import archive_options
    from offboard.storage import is_s3_url

    store = store_kwargs(lock, retain_until, legal_hold, sse, kms_key_id)
    remote = is_s3_url(out_text)
    if store and not remote:
        raise ConfigError("--lock, --retain-until, --legal-hold and --sse need --out s3://...")
    out = Path(out_text.rpartition("/")[2] if remote else out_text)
    archive = archive_options(
        out, sign_key, unsigned, created_at, split_size, split_files, overwrite, _passphrase
    )
    if remote and archive is None:
        raise ConfigError(f"--out {out_text}: an S3 destination takes an archive, NAME.zip")
    if retention_file is not None:
        if archive is None:
            raise ConfigError("--retention dates an archive: give --out NAME.zip")
        import dataclasses

        archive = dataclasses.replace(archive, retention=load_retention(retention_file))
    recipients = None
    if encrypt_to:
        from manifests.encryption import parse_recipients

        if archive is None or archive.sign_key is None:
            raise ConfigError("--encrypt-to needs --out NAME.zip and --sign-key (not --unsigned)")
        recipients = parse_recipients(list(encrypt_to))
    from offboard.gate.lock import source_lock

    # held until the command's context closes (after an error too); nothing is written before
    click.get_current_context().with_resource(source_lock(source, account, folder=lock_dir))
    state = None
    if resume:
        from offboard.resume import prepare

        state, options, archive = prepare(out_text, out, source, account, options, archive)
    chosen = select(options.kinds)
    bars = [(e.name, e.title) for e in chosen]
    if archive is not None:
        bars.append(("archive", "Signed archive"))
    src = open_mapped(source, mapping_file)
    try:
        with progress_bars(bars, not quiet) as progress:
            try:
                summary = export_out(
                    src, account, out_text, options, archive, progress, recipients, state, **store
                )
                error = None
            except DocumentsIncomplete as exc:
                summary = exc.summary  # type: ignore[attr-defined]
                error = exc
            except OutputExists:
                if state is not None and not state.resumed:
                    state.close()  # made for this run, which wrote nothing: not left behind
                raise
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
                "files": cls.writes_files,
                "module": cls.__module__,
            }
            for cls in found.values()
        ]
        click.echo(json.dumps(data, indent=2))
        return
    for cls in found.values():
        docs = " + PDFs" if cls.documents is not None else ""
        docs += " + files" if cls.writes_files else ""
        tables = ", ".join(t.name for t in cls.tables)
        click.echo(f"{cls.name:<18} {cls.title} ({tables}{docs})")


@cli.command()
@source_argument
@mapping_option
@json_option
@handle_errors
def accounts(source: str, mapping_file: Path | None, as_json: bool) -> None:
    """List the accounts of SOURCE."""
    src = open_mapped(source, mapping_file)
    try:
        found = src.accounts()
    finally:
        src.close()
    if as_json:
        click.echo(json.dumps([{"id": a.id, "name": a.name} for a in found], indent=2))
        return
    for a in found:
        click.echo(f"{a.id}\t{a.name}")
