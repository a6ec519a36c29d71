"""Which archives can be restored, where their tables and documents go, and what is refused.

Names from the archive are never trusted as paths: documents get names made from their
numbers, and a document path that is not a plain file of its kind's folder is refused.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from offboard.errors import ArchiveError, ExitCode, ExporterError
from offboard.restore.documents import plan_documents
from offboard.restore.plan import make_plan
from tests.manifests.conftest import Keys

from .conftest import Archive, export, metadata, restore, round_trip

KINDS = {"sales_invoices", "quotes", "purchases", "billing_history"}


def doc(
    number: str, record: str, kind: str = "sales_invoices", name: str | None = None
) -> dict[str, Any]:
    return {
        "kind": kind,
        "number": number,
        "record_id": record,
        "path": f"data/documents/{kind}/{name or number}.pdf",
    }


def problem(number: str, record: str, reason: str, kind: str = "purchases") -> dict[str, Any]:
    return {"kind": kind, "number": number, "record_id": record, "reason": reason}


def test_documents_get_names_of_their_own_under_the_account_folder(tmp_path: Path) -> None:
    docs = [
        doc("FA-1", "i1"),
        doc("fa-1", "i2", name="fa-1~2"),
        doc("../../etc/passwd", "i3", name="etc_passwd"),
        doc("ABO-1", "b1", kind="billing_history"),
    ]
    payload = [d["path"] for d in docs]
    plan = plan_documents(docs, [], payload, "acc/../1", KINDS, tmp_path)
    assert [p.locator for p in plan.placed] == [
        "invoices/acc_._1/FA-1.pdf",
        "invoices/acc_._1/fa-1~2.pdf",
        "invoices/acc_._1/etc_passwd.pdf",
        "billing/acc_._1/ABO-1.pdf",
    ]
    assert [p.member for p in plan.placed] == payload


def test_a_folder_another_account_uses_is_not_shared(tmp_path: Path) -> None:
    (tmp_path / "quotes" / "acc-0001").mkdir(parents=True)
    (tmp_path / "quotes" / "acc-0001~2").mkdir()
    plan = plan_documents(
        [doc("DE-1", "q1", "quotes")],
        [],
        [doc("DE-1", "q1", "quotes")["path"]],
        "acc-0001",
        KINDS,
        tmp_path,
    )
    assert plan.account_folder == "acc-0001~3"


@pytest.mark.parametrize(
    "path",
    [
        "data/documents/sales_invoices/../quotes/DE-1.pdf",
        "data/documents/quotes/FA-1.pdf",  # another kind's folder
        "data/documents/sales_invoices/sub/FA-1.pdf",
        "data/csv/sales_invoices.csv",
        "data/documents/sales_invoices/FA-1.pdf.exe",
    ],
)
def test_a_document_path_that_is_not_a_file_of_its_kind_is_refused(path: str) -> None:
    entry = {**doc("FA-1", "i1"), "path": path}
    with pytest.raises(ArchiveError, match="is not a file of kind"):
        plan_documents([entry], [], [path], "acc-0001", KINDS, None)


def test_two_documents_for_one_record_are_refused() -> None:
    docs = [doc("FA-1", "i1"), doc("FA-2", "i1")]
    with pytest.raises(ArchiveError, match="more than one document"):
        plan_documents(docs, [], [d["path"] for d in docs], "acc-0001", KINDS, None)


def test_kept_problem_files_are_matched_to_their_problems_in_order() -> None:
    kept = "data/documents/purchases/_problems/"
    problems = [
        problem("ACH/1", "p1", "encrypted"),
        problem("ACH-2", "p2", "missing"),
        problem("ACH_1", "p3", "not a PDF"),
        problem("ACH-3", "p4", "missing"),  # same safe name as below, but no bytes
        problem("ach-3", "p5", "encrypted"),
    ]
    files = [f"{kept}ACH_1.pdf", f"{kept}ACH_1~2.pdf", f"{kept}ach-3.pdf", f"{kept}stray.pdf"]
    plan = plan_documents([], problems, files, "acc-0001", KINDS, None)
    members = {p.record_id: p.member for p in plan.placed}
    assert members == {
        "p1": f"{kept}ACH_1.pdf",
        "p2": None,
        "p3": f"{kept}ACH_1~2.pdf",
        "p4": None,
        "p5": f"{kept}ach-3.pdf",
    }
    assert plan.notes == [f"{kept}stray.pdf: no problem of purchases names it; left out"]
    assert len({p.locator for p in plan.placed}) == 5  # each record its own locator


def test_an_archive_with_a_table_restore_does_not_know_is_refused(archive_std: Archive) -> None:
    meta = copy.deepcopy(metadata(archive_std.path))
    extra = copy.deepcopy(meta["tables"][0])
    extra.update(kind="timesheets", table="timesheets", path="data/csv/timesheets.csv")
    meta["tables"].append(extra)
    with pytest.raises(ExporterError, match=r"'timesheets' .* has no place in the reference"):
        make_plan(meta)
    assert ExporterError.exit_code == ExitCode.UNKNOWN_KIND


def test_an_archive_with_other_columns_is_refused(archive_std: Archive) -> None:
    meta = copy.deepcopy(metadata(archive_std.path))
    meta["tables"][0]["columns"][1]["type"] = "int64"
    with pytest.raises(ArchiveError, match="not the ones this version of offboard exports"):
        make_plan(meta)


def test_a_csv_description_unlike_its_dialect_is_refused(archive_std: Archive) -> None:
    meta = copy.deepcopy(metadata(archive_std.path))
    meta["csv"]["delimiter"] = ";"
    with pytest.raises(ArchiveError, match="does not have the delimiter"):
        make_plan(meta)


def test_tables_are_restored_referenced_first(archive_std: Archive) -> None:
    plan = make_plan(metadata(archive_std.path))
    order = [t.destination.table for t in plan.tables]
    assert order.index("companies") < order.index("invoices") < order.index("bank_transactions")
    assert order.index("quotes") < order.index("invoices")
    assert plan.dialect == "standard" and plan.account == "acc-0001"


@pytest.mark.parametrize(
    "options",
    [("--kinds", "contacts,catalogue,billing_history"), ("--no-documents",)],
    ids=["some-kinds", "no-documents"],
)
def test_an_archive_of_some_kinds_or_without_documents_round_trips(
    demo_db: Path, restore_keys: Keys, tmp_path: Path, options: tuple[str, ...]
) -> None:
    path = export(str(demo_db), tmp_path / "acc-0001.zip", "acc-0001", restore_keys, *options)
    round_trip(
        Archive(path, "acc-0001", options),
        str(tmp_path / "r.db"),
        restore_keys,
        tmp_path / "again.zip",
    )


def test_an_archive_without_the_kinds_its_records_refer_to_is_refused(
    demo_db: Path, restore_keys: Keys, tmp_path: Path
) -> None:
    path = export(
        str(demo_db), tmp_path / "acc-0001.zip", "acc-0001", restore_keys, "--kinds", "bank"
    )
    done = restore(path, str(tmp_path / "r.db"), restore_keys)
    assert done.exit_code == ExitCode.UNREADABLE  # an ArchiveError: it cannot be restored as it is
    assert "holds kind 'bank' without 'sales_invoices', 'purchases'" in done.output
    assert not (tmp_path / "r.db").exists()
