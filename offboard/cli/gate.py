"""Commands of the termination gate: cancel, terminate, close."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from offboard.cli.common import (
    F,
    _passphrase,
    account_option,
    cli,
    detail,
    handle_errors,
    json_option,
    source_argument,
)
from offboard.cli.storage_options import (
    load_retention,
    retention_option,
    storage_options,
    store_kwargs,
)
from offboard.errors import ArchiveInvalid, ArchiveStale, ConfigError


def reason_option(f: F) -> F:
    return click.option(
        "--reason", metavar="TEXT", help="Why the account is cancelled (kept in the audit log)."
    )(f)


def pubkey_option(f: F) -> F:
    return click.option(
        "--pubkey",
        "-p",
        required=True,
        type=click.Path(path_type=Path, dir_okay=False),
        metavar="PUB",
        help="The public key the archive must be signed with. Never taken from the archive.",
    )(f)


def sign_key_option(f: F) -> F:
    return click.option(
        "--sign-key",
        required=True,
        type=click.Path(path_type=Path, dir_okay=False),
        metavar="KEY",
        help="The operator's secret key, which signs the termination receipt.",
    )(f)


def billing_options(f: F) -> F:
    f = click.option(
        "--billing-option",
        "billing_option",
        multiple=True,
        metavar="NAME=VALUE",
        help="An option of the billing backend, e.g. url=https://billing.example/terminate "
        "(secrets come from the environment, never from options).",
    )(f)
    return click.option(
        "--billing",
        default="local",
        show_default=True,
        metavar="NAME",
        help="The billing backend: local (the source's subscriptions table), webhook, or a "
        "plugin's.",
    )(f)


def _billing_options(values: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        name, sep, text = value.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"--billing-option {value!r}: expected NAME=VALUE")
        out[name.strip()] = text
    return out


def _load_keys(sign_key: Path, pubkey: Path) -> tuple[Any, Any]:
    from manifests.signing import PublicKey, SecretKey

    return SecretKey.load(sign_key, _passphrase(sign_key)), PublicKey.load(pubkey)


@cli.command()
@source_argument
@account_option
@reason_option
@click.option("--now", "immediately", is_flag=True, help="End access today, not at period end.")
@json_option
@handle_errors
def cancel(source: str, account: str, reason: str | None, immediately: bool, as_json: bool) -> None:
    """Record the account's request to cancel its subscription.

    The cancellation takes effect at the end of the paid period (access continues until then),
    or today with --now. `offboard terminate` ends the subscription once it has taken effect
    and a verified, complete archive of the account exists.
    """
    from offboard.gate.store import open_store

    with open_store(source) as store:
        store.migrate()
        sub = store.request_cancellation(account, reason, datetime.now(UTC), immediately)
    if as_json:
        click.echo(json.dumps(sub.__dict__, indent=2, ensure_ascii=False))
        return
    click.echo(
        f"Cancellation requested for subscription {sub.id} of account {account}: it takes "
        f"effect on {sub.cancellation_effective_on} (access continues until then)."
    )
    click.echo(
        "Before it ends: export the account to a signed archive (offboard export ... --out "
        "NAME.zip --sign-key KEY), then run offboard terminate with that archive."
    )


@cli.command()
@source_argument
@account_option
@click.option(
    "--archive",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="ARCHIVE",
    help="The signed archive of the account (any part of a split one).",
)
@pubkey_option
@sign_key_option
@billing_options
@json_option
@handle_errors
def terminate(
    source: str,
    account: str,
    archive: Path,
    pubkey: Path,
    sign_key: Path,
    billing: str,
    billing_option: tuple[str, ...],
    as_json: bool,
) -> None:
    """End the account's subscription, only after its archive is verified and complete.

    Verifies ARCHIVE fully with PUB, checks it against the live source (any record created,
    changed or deleted since the export is a refusal), terminates through the billing backend
    and writes a signed receipt beside the archive and into the audit log. Running it again on
    a terminated account shows the receipt and changes nothing.
    """
    from offboard.gate.flow import TerminateRequest

    secret, public = _load_keys(sign_key, pubkey)
    request = TerminateRequest(
        source=source,
        account=account,
        archive=archive,
        pubkey=public,
        sign_key=secret,
        billing=billing,
        billing_options=_billing_options(billing_option),
        jobs=os.cpu_count() or 2,
    )
    _run_terminate(request, pubkey, as_json)


def _run_terminate(request: Any, pubkey: Path, as_json: bool) -> Any:
    from offboard.gate.flow import terminate as run

    try:
        outcome = run(request)
    except ArchiveStale as exc:
        for change in exc.changes:
            detail(f"changed: {change}")
        raise
    except ArchiveInvalid as exc:
        for problem in exc.problems[:50]:
            detail(str(problem))
        raise
    if as_json:
        data = {"already": outcome.already, "receipt": outcome.receipt}
        data["receipt_files"] = [str(p) for p in outcome.receipt_files]
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return outcome
    r = outcome.receipt
    if outcome.already:
        click.echo(f"Account {r['account']['id']} was already terminated ({r['terminated_at']}).")
    else:
        click.echo(
            f"Subscription {r['subscription']['id']} of account {r['account']['id']} "
            f"terminated at {r['terminated_at']}."
        )
    arch = r["archive"]
    click.echo(f"  archive:  {', '.join(arch['parts'])} (sha256 {arch['sha256']})")
    click.echo(
        f"  verified: {r['verify']['files']} files, {r['verify']['bytes']:,} bytes, "
        "0 problems; the live source matched it"
    )
    data_file, sig_file = outcome.receipt_files
    click.echo(f"  receipt:  {data_file} (signature {sig_file.name})")
    click.echo(f"  check it: minisign -Vm {data_file} -p {pubkey}")
    return outcome


@cli.command()
@source_argument
@account_option
@sign_key_option
@pubkey_option
@click.option(
    "--out",
    "-o",
    "out_text",
    required=True,
    metavar="DIR",
    help="The folder (or s3://BUCKET/PREFIX) the signed archive and the receipt go in.",
)
@storage_options
@retention_option
@reason_option
@click.option(
    "--allow-missing-documents",
    is_flag=True,
    help="Close even though some documents are missing or unreadable (they are listed).",
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@billing_options
@handle_errors
def close(
    source: str,
    account: str,
    sign_key: Path,
    pubkey: Path,
    out_text: str,
    reason: str | None,
    allow_missing_documents: bool,
    yes: bool,
    billing: str,
    billing_option: tuple[str, ...],
    lock: str | None,
    retain_until: str | None,
    legal_hold: bool,
    sse: str | None,
    kms_key_id: str | None,
    retention_file: Path | None,
) -> None:
    """Close the account now: cancel, export, sign, verify, terminate, in one go.

    Writes DIR/<account>-<time>.zip (signed with KEY), verifies it with PUB, ends the
    subscription and writes the signed receipt beside the archive, then says what was
    exported, where, and how anyone can check it. Asks for confirmation on a terminal;
    elsewhere, --yes is required. With --out s3://BUCKET/PREFIX, the archive is uploaded,
    read back by its version and verified; the termination checks a copy of the stored bytes,
    and the receipt is stored beside the archive (under the same lock, if any).
    """
    from manifests.build import ArchiveOptions
    from offboard.gate.flow import TerminateRequest
    from offboard.gate.store import open_store
    from offboard.pipeline import ExportOptions, export_account
    from offboard.sources import open_source
    from offboard.storage import is_s3_url
    from offboard.ui import human_bytes

    remote = is_s3_url(out_text)
    store_opts = store_kwargs(lock, retain_until, legal_hold, sse, kms_key_id)
    if store_opts and not remote:
        raise ConfigError("--lock, --retain-until, --legal-hold and --sse need --out s3://...")
    out = Path(out_text)
    secret, public = _load_keys(sign_key, pubkey)
    if secret.public_key.key_id != public.key_id:
        raise ConfigError("--pubkey is not the public key of --sign-key")
    _confirm(account, yes)
    from offboard.gate.lock import account_lock
    from offboard.sources.sqlite import database_path

    # the whole close under one lock, from before the cancellation to the receipt: a
    # concurrent export, terminate or close of the account exits 11, having done nothing; the
    # termination run inside shares it (reentrant)
    with account_lock(database_path(source), account, reentrant=True):
        now = datetime.now(UTC).replace(microsecond=0)
        with open_store(source) as store:
            store.migrate()
            record = store.termination(account)
            if record is not None and record.state == "done":
                receipt = json.loads(record.receipt)
                click.echo(
                    f"Account {account} was already terminated ({receipt['terminated_at']}), "
                    f"with the archive {record.archive} (sha256 {record.archive_sha256}); "
                    "nothing was done."
                )
                return
            store.request_cancellation(account, reason, now, True)
        name = f"{account}-{now.strftime('%Y%m%dT%H%M%SZ')}.zip"
        src = open_source(source)
        export_options = ExportOptions(allow_missing_documents=True, jobs=os.cpu_count() or 2)
        archive_options = ArchiveOptions(
            created_at=now, sign_key=secret, retention=load_retention(retention_file)
        )
        try:
            if remote:
                from offboard.storage import open_destination
                from offboard.storage.store import export_to

                dest = open_destination(out_text)
                summary = export_to(
                    src, account, dest, name, export_options, archive_options, **store_opts
                )
            else:
                summary = export_account(
                    src, account, out / name, export_options, archive=archive_options
                )
        finally:
            src.close()
        if summary.problems and not allow_missing_documents:
            from offboard.errors import DocumentsIncomplete

            for p in summary.problems:
                detail(f"document {p.kind} {p.number}: {p.reason}")
            raise DocumentsIncomplete(
                f"{len(summary.problems)} document(s) of account {account!r} are missing or "
                f"unreadable; the archive {summary.out} was written but the subscription was not "
                "terminated (pass --allow-missing-documents to close anyway)"
            )
        click.echo(f"Exported account {account} ({summary.account_name}):")
        for kind in summary.kinds:
            docs = f", {len(kind.documents.documents)} documents" if kind.documents else ""
            click.echo(f"  {kind.kind:<16} {kind.rows:>9,} records{docs}")
        for p in summary.problems:
            click.echo(f"  not exported: document {p.kind} {p.number} ({p.reason})")
        locations = summary.archive.locations or [str(p) for p in summary.archive.paths]
        click.echo(
            f"Archive: {', '.join(locations)} ({human_bytes(summary.archive.archive_bytes)})"
        )
        request = TerminateRequest(
            source=source,
            account=account,
            archive=Path(summary.archive.paths[0]),
            pubkey=public,
            sign_key=secret,
            billing=billing,
            billing_options=_billing_options(billing_option),
            jobs=os.cpu_count() or 2,
        )
        if not remote:
            _run_terminate(request, pubkey, as_json=False)
            shown = str(summary.archive.paths[0])
        else:
            from dataclasses import replace

            from offboard.storage.s3 import S3Destination

            assert isinstance(dest, S3Destination)
            with dest.fetch_locations(locations) as paths:
                outcome = _run_terminate(
                    replace(request, archive=paths[0], location=locations[0]), pubkey, as_json=False
                )
                receipt_opts = dict(store_opts)
                if "lock" in receipt_opts and "retain_until" not in receipt_opts:
                    from offboard.storage.retained import end_of

                    until = summary.archive.retain_until  # the archive's own, from its policy
                    receipt_opts["retain_until"] = None if until is None else end_of(until)
                for file in outcome.receipt_files:
                    stored = dest.put_small(file.name, file.read_bytes(), **receipt_opts)
                    click.echo(f"  stored:   {stored}")
            shown = dest.describe(name)
        click.echo(
            "Anyone can check the archive without offboard (README, 'Verify without offboard'):"
        )
        click.echo(f"  offboard verify {shown} --pubkey {pubkey}")


def _confirm(account: str, yes: bool) -> None:
    """Closing cannot be undone: ask on a terminal, or require --yes."""
    import sys

    if yes:
        return
    if not sys.stdin.isatty():
        raise ConfigError(
            f"offboard close ends the subscription of account {account!r} for good: confirm "
            "with --yes (there is no terminal to ask on)"
        )
    click.confirm(
        f"Close account {account} now: cancel its subscription, export and verify its data, "
        "then terminate it? This cannot be undone.",
        abort=True,
        err=True,
    )
