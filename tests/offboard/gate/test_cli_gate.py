"""``offboard terminate`` refuses, through the command line, each with its exit code and cause;
``offboard close`` does the whole flow at once."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import Result

from offboard.errors import ExitCode

from .common import (
    ACCOUNT,
    OTHER,
    Demo,
    delete_one,
    documents_of,
    execute,
    export,
    flip_payload_byte,
    insert_copy,
    invoke,
    load_json,
    receipt_files,
    replace_member,
    sha256_file,
    state,
    terminate,
    update_text,
)
from .test_lock import holder


def refused(result: Result, code: ExitCode, *causes: str) -> str:
    """The one error line of a refusal, checked for its exit code and causes."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    errors = [line for line in result.stderr.splitlines() if line.startswith("offboard: error:")]
    assert len(errors) == 1, result.stderr
    for cause in causes:
        assert cause in errors[0], errors[0]
    assert result.stdout == ""
    return errors[0]


def not_terminated(demo: Demo, account: str = ACCOUNT) -> None:
    now = state(demo.db, account)
    assert now.status != "terminated"
    assert now.terminations == []
    assert "termination_started" not in now.events
    assert not any(p.exists() for p in receipt_files(demo.archive))


# -- the archive ----------------------------------------------------------------------------
def test_no_archive(demo: Demo) -> None:
    missing = demo.root / "nowhere.zip"
    result = terminate(demo, missing)
    refused(result, ExitCode.REFUSED, "no archive at", str(missing), "export the account first")
    not_terminated(demo)


def test_unsigned_archive(demo: Demo) -> None:
    result = terminate(demo, demo.unsigned)
    refused(result, ExitCode.INVALID, str(demo.unsigned), "it is not signed")
    assert "signature-missing" in result.stderr
    not_terminated(demo)


def test_archive_signed_by_another_key(demo: Demo) -> None:
    result = terminate(demo, demo.stranger)
    refused(result, ExitCode.INVALID, "its signature is not by the key given (--pubkey)")
    assert "signature-invalid" in result.stderr
    not_terminated(demo)


def test_archive_with_a_byte_flipped_in_a_payload_member(demo: Demo) -> None:
    tampered = demo.root / "flipped.zip"
    member = flip_payload_byte(demo.archive, tampered, "data/csv/contacts_people.csv")
    result = terminate(demo, tampered)
    line = refused(result, ExitCode.INVALID, str(tampered), "it was changed, or is damaged")
    details = result.stderr.replace(line, "")
    assert member in details  # the verify problems are listed, naming the member
    not_terminated(demo)


def test_archive_with_a_member_replaced(demo: Demo) -> None:
    tampered = demo.root / "replaced.zip"
    member = replace_member(
        demo.archive,
        tampered,
        "data/csv/contacts_companies.csv",
        lambda data: data.replace(b'"SARL"', b'"SCOP"', 1),  # same size, other bytes
    )
    result = terminate(demo, tampered)
    line = refused(result, ExitCode.INVALID, "it was changed, or is damaged")
    details = result.stderr.replace(line, "")
    assert f"checksum-mismatch: {member.split('/', 1)[1]}: file changed" in details, details
    not_terminated(demo)


def test_archive_of_another_account(demo: Demo) -> None:
    result = terminate(demo, demo.other_archive)
    refused(result, ExitCode.REFUSED, f"is an export of account {OTHER!r}, not of {ACCOUNT!r}")
    not_terminated(demo)


# -- the live source ------------------------------------------------------------------------
def stale(result: Result) -> list[str]:
    refused(result, ExitCode.STALE, f"account {ACCOUNT!r} changed since the archive was made")
    return [
        line.removeprefix("  changed: ")
        for line in result.stderr.splitlines()
        if line.startswith("  changed: ")
    ]


def test_stale_a_record_created(demo: Demo) -> None:
    insert_copy(demo.db, "people", ACCOUNT, "new")
    changes = stale(terminate(demo))
    assert len(changes) == 1
    assert re.fullmatch(
        r"table contacts_people: 1 more records \(archive \d+, now \d+\)", changes[0]
    )
    not_terminated(demo)


def test_stale_a_record_changed(demo: Demo) -> None:
    update_text(demo.db, "companies", "name", ACCOUNT, " (renamed)")
    changes = stale(terminate(demo))
    assert changes == [
        "table contacts_companies: records changed since the export "
        "(same count, totals and numbers)"
    ]
    not_terminated(demo)


def test_stale_a_record_edited_as_the_application_does(demo: Demo) -> None:
    """An edit that bumps updated_at is named by the table's last change time."""
    import sqlite3

    with sqlite3.connect(demo.db) as conn:
        conn.execute(
            "UPDATE people SET job_title = 'Gérante', updated_at = '2031-05-06T07:08:09Z' "
            "WHERE id = (SELECT min(id) FROM people WHERE account_id = ?)",
            (ACCOUNT,),
        )
    changes = stale(terminate(demo))
    assert len(changes) == 1, changes
    assert re.fullmatch(
        r"table contacts_people: last change was \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ, "
        r"now 2031-05-06T07:08:09Z",
        changes[0],
    ), changes
    not_terminated(demo)


def test_stale_a_record_deleted(demo: Demo) -> None:
    delete_one(demo.db, "bank_transactions", ACCOUNT)
    changes = stale(terminate(demo))
    assert any(re.match(r"table bank_transactions: 1 fewer records", c) for c in changes), changes
    assert all(c.startswith("table bank_transactions:") for c in changes), changes
    not_terminated(demo)


def test_stale_a_document_changed(demo: Demo) -> None:
    number, path = documents_of(demo.db, ACCOUNT)[0]
    path.write_bytes(path.read_bytes() + b"\n% appended after the export\n")
    changes = stale(terminate(demo))
    assert changes == [f"document billing_history {number}: changed since the export"]
    not_terminated(demo)


def test_stale_a_document_removed(demo: Demo) -> None:
    number, path = documents_of(demo.db, ACCOUNT)[-1]
    path.unlink()
    changes = stale(terminate(demo))
    assert changes == [f"document billing_history {number}: missing now"]
    not_terminated(demo)


def test_a_change_to_another_account_is_not_a_change(demo: Demo) -> None:
    insert_copy(demo.db, "people", OTHER, "new")
    update_text(demo.db, "companies", "name", OTHER, " (renamed)")
    result = terminate(demo)
    assert result.exit_code == 0, result.stderr
    assert state(demo.db).done


# -- the subscription -----------------------------------------------------------------------
def test_unknown_account(demo: Demo) -> None:
    result = terminate(demo, demo.archive, "acc-9999")
    refused(result, ExitCode.UNKNOWN_ACCOUNT, "account 'acc-9999' not found in the source")
    not_terminated(demo)


def test_account_without_a_subscription(demo: Demo) -> None:
    execute(
        demo.db,
        "INSERT INTO accounts SELECT 'acc-0003', name, siren, vat_number, email, address_line1, "
        "postal_code, city, country, created_at FROM accounts WHERE id = ?",
        (OTHER,),
    )
    result = terminate(demo, demo.other_archive, "acc-0003")
    refused(result, ExitCode.REFUSED, "'acc-0003' has no subscription")


def test_no_cancellation_requested(demo: Demo) -> None:
    assert state(demo.db, OTHER).status == "active"
    result = terminate(demo, demo.other_archive, OTHER)
    refused(result, ExitCode.REFUSED, "is active: no cancellation was requested", "offboard cancel")
    not_terminated(demo, OTHER)


def test_cancellation_effective_in_the_future(demo: Demo) -> None:
    period_end = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    execute(
        demo.db,
        "UPDATE subscriptions SET current_period_end = ? WHERE account_id = ?",
        (period_end, OTHER),
    )
    result = invoke("cancel", demo.db, "--account", OTHER, "--reason", "moving to paper")
    assert result.exit_code == 0, result.stderr
    assert period_end in result.stdout
    archive = export(demo, demo.root / "acc-0002-cancelled.zip", OTHER)
    result = terminate(demo, archive, OTHER)
    refused(result, ExitCode.REFUSED, f"takes effect on {period_end}", "keeps its access")
    assert state(demo.db, OTHER).status == "cancellation_requested"
    not_terminated(demo, OTHER)


def test_already_terminated_shows_the_receipt_and_changes_nothing(demo: Demo) -> None:
    first = terminate(demo, demo.archive, ACCOUNT, "--json")
    assert first.exit_code == 0, first.stderr
    done = json.loads(first.stdout)
    assert done["already"] is False
    before = state(demo.db)
    db_bytes = demo.db.read_bytes()
    receipt, signature = receipt_files(demo.archive)
    files = (receipt.read_bytes(), signature.read_bytes())

    again = terminate(demo)
    assert again.exit_code == 0, again.stderr
    assert f"Account {ACCOUNT} was already terminated ({done['receipt']['terminated_at']})" in (
        again.stdout
    )
    assert done["receipt"]["archive"]["sha256"] in again.stdout
    assert str(receipt) in again.stdout
    as_json = terminate(demo, demo.archive, ACCOUNT, "--json")
    assert as_json.exit_code == 0
    assert json.loads(as_json.stdout) == {**done, "already": True}

    # another (even fresh) archive changes nothing either
    assert terminate(demo, demo.other_archive).exit_code == 0
    assert demo.db.read_bytes() == db_bytes
    assert state(demo.db) == before
    assert (receipt.read_bytes(), signature.read_bytes()) == files
    assert not any(p.exists() for p in receipt_files(demo.other_archive))


def test_locked_by_another_process(demo: Demo) -> None:
    with holder(demo.db, ACCOUNT) as proc:
        result = terminate(demo)
        refused(result, ExitCode.LOCKED, f"account {ACCOUNT!r} is locked", f"pid {proc.pid}")
    not_terminated(demo)
    assert terminate(demo).exit_code == 0


def test_cancel_refusals(demo: Demo) -> None:
    refused(
        invoke("cancel", demo.db, "--account", "acc-9999"),
        ExitCode.UNKNOWN_ACCOUNT,
        "account 'acc-9999' not found in the source",
    )
    assert terminate(demo).exit_code == 0
    refused(
        invoke("cancel", demo.db, "--account", ACCOUNT, "--now"),
        ExitCode.REFUSED,
        "is already terminated",
    )


# -- offboard close -------------------------------------------------------------------------
def test_close_in_one_command(demo: Demo) -> None:
    from manifests.signing import PublicKey
    from manifests.verify import verify_archive
    from offboard.gate.receipt import check_receipt

    out = demo.root / "closed"
    result = invoke(
        "close",
        "--yes",
        demo.db,
        "--account",
        OTHER,
        "--sign-key",
        demo.key,
        "--pubkey",
        demo.pub,
        "--out",
        out,
        "--reason",
        "the company is closing",
    )
    assert result.exit_code == 0, result.stderr
    [archive] = out.glob("*.zip")
    assert archive.name.startswith(f"{OTHER}-")
    report = verify_archive(archive, PublicKey.load(demo.pub))
    assert report.valid, report.problems
    assert report.account == OTHER

    now = state(demo.db, OTHER)
    assert now.status == "terminated"
    assert now.done
    assert now.events == ["cancellation_requested", "termination_started", "terminated"]
    data, signature = receipt_files(archive)
    receipt = check_receipt(data.read_bytes(), signature.read_bytes(), PublicKey.load(demo.pub))
    assert receipt["account"]["id"] == OTHER
    assert receipt["archive"]["sha256"] == sha256_file(archive)
    assert receipt["subscription"]["cancellation_reason"] == "the company is closing"

    text = result.stdout
    assert f"Exported account {OTHER}" in text  # what was exported
    for kind in ("sales_invoices", "contacts", "bank", "billing_history"):
        assert re.search(rf"^  {kind} +[\d,]+ records", text, re.M), kind
    assert f"Archive: {archive}" in text  # where
    assert f"terminated at {receipt['terminated_at']}" in text
    assert f"receipt:  {data}" in text
    assert f"minisign -Vm {data} -p {demo.pub}" in text  # how to verify
    assert f"offboard verify {archive} --pubkey {demo.pub}" in text
    assert state(demo.db, ACCOUNT).status == "cancellation_requested"  # the other account


def test_close_again_shows_the_termination_and_exports_nothing(demo: Demo) -> None:
    out = demo.root / "closed"
    args: list[str | Path] = ["close", demo.db, "-a", OTHER, "--yes", "--sign-key", demo.key]
    args += ["--pubkey", demo.pub, "--out", out]
    assert invoke(*args).exit_code == 0
    archives = sorted(out.glob("*.zip"))
    before = state(demo.db, OTHER)
    again = invoke(*args)
    assert again.exit_code == 0, again.stderr
    assert "already terminated" in again.stdout and archives[0].name in again.stdout
    assert sorted(out.glob("*.zip")) == archives  # no second export
    assert state(demo.db, OTHER) == before


def test_close_stops_before_terminating_when_documents_are_missing(demo: Demo) -> None:
    out = demo.root / "closed"
    args: list[str | Path] = ["close", demo.db, "-a", ACCOUNT, "--yes"]
    args += ["--sign-key", demo.key, "--pubkey", demo.pub]
    result = invoke(*args, "--out", out)
    refused_line = result.stderr.splitlines()[-1]
    assert result.exit_code == ExitCode.DOCUMENTS_INCOMPLETE, result.stderr
    assert "the subscription was not terminated" in refused_line
    assert state(demo.db).status == "cancellation_requested"
    assert state(demo.db).terminations == []

    allowed = invoke(*args, "--out", demo.root / "closed-anyway", "--allow-missing-documents")
    assert allowed.exit_code == 0, allowed.stderr
    assert "not exported: document" in allowed.stdout
    assert state(demo.db).done


@pytest.mark.parametrize("option", ["--pubkey", "--sign-key"])
def test_close_refuses_keys_that_do_not_match(demo: Demo, option: str, tmp_path: Path) -> None:
    from tests.manifests.conftest import make_keys

    other = make_keys(tmp_path / "keys", "other")
    keys = {"--sign-key": demo.key, "--pubkey": demo.pub}
    keys[option] = other.pub if option == "--pubkey" else other.key
    result = invoke(
        "close",
        "--yes",
        demo.db,
        "-a",
        OTHER,
        "--sign-key",
        keys["--sign-key"],
        "--pubkey",
        keys["--pubkey"],
        "--out",
        demo.root / "closed",
    )
    refused(result, ExitCode.USAGE, "--pubkey is not the public key of --sign-key")
    assert state(demo.db, OTHER).status == "active"
    assert not (demo.root / "closed").exists()


def test_receipt_file_is_the_one_recorded(demo: Demo) -> None:
    result = terminate(demo)
    assert result.exit_code == 0, result.stderr
    data, signature = receipt_files(demo.archive)
    con = sqlite3.connect(demo.db)
    try:
        row = con.execute(
            "SELECT receipt, receipt_signature FROM offboard_terminations WHERE account_id = ?",
            (ACCOUNT,),
        ).fetchone()
    finally:
        con.close()
    assert (data.read_text(encoding="utf-8"), signature.read_text(encoding="utf-8")) == row
    assert load_json(data)["receipt_id"] in row[0]


def test_close_asks_for_confirmation(demo: Demo) -> None:
    out = demo.root / "closed"
    before = state(demo.db, OTHER)
    args: list[str | Path] = ["close", demo.db, "-a", OTHER, "--sign-key", demo.key]
    result = invoke(*args, "--pubkey", demo.pub, "--out", out)
    refused(result, ExitCode.USAGE, "confirm with --yes")
    assert not out.exists()
    assert state(demo.db, OTHER) == before  # not even the cancellation was recorded
