"""The document worker: a crash, a hang, memory exhaustion or a lie costs one document only."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pikepdf
import pytest

from offboard.documents import KindDocuments, export_documents
from offboard.documents import engine as engine_module
from offboard.documents.sandbox import DocumentEngine, DocumentLimits
from offboard.sources.base import DocumentRef
from tests.offboard.documents.docs_support import MakePdf, files_under, ref, resolve

KIND = "purchases"
FAULTY = Path(__file__).with_name("faulty_worker.py")


@pytest.fixture
def faulty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "worker_command", lambda: [sys.executable, str(FAULTY)])


def run(refs: list[DocumentRef], out: Path, limits: DocumentLimits) -> KindDocuments:
    with DocumentEngine(limits) as engine:
        return export_documents(refs, resolve, out, KIND, engine=engine)


def reasons(result: KindDocuments) -> dict[str, str]:
    return {p.number: p.reason for p in result.problems}


def bundle_bytes(out: Path, result: KindDocuments) -> list[bytes]:
    return [(out / b).read_bytes() for b in result.bundles]


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("crash-", "unreadable: the PDF engine crashed on it (SIGSEGV)"),
        ("abort-", "unreadable: the PDF engine crashed on it (SIGABRT)"),
        ("hang-", "unreadable: not finished after 2 s (the time limit, --document-timeout)"),
        (
            "hog-",
            "unreadable: needs more than 0.25 GiB of memory (the limit, --document-memory)",
        ),
        ("garbage-", "unreadable: the document worker sent a reply that is not understood"),
    ],
)
def test_a_fault_costs_only_its_document(
    faulty: None, make_pdf: MakePdf, tmp_path: Path, prefix: str, expected: str
) -> None:
    """The faulty document is a problem with the reason, its bytes kept under _problems; the
    part begun before it is rebuilt in a new worker: the bundle is byte for byte the one made
    without the faulty document."""
    limits = DocumentLimits(memory=256 << 20, seconds=2.0)
    a, b, bad, d = make_pdf("A", 2), make_pdf("B", 1), make_pdf(prefix + "X", 1), make_pdf("D", 3)
    refs = [ref("A", a), ref("B", b), ref(f"{prefix}X", bad), ref("D", d)]
    out = tmp_path / "with"
    out.mkdir()
    result = run(refs, out, limits)
    assert reasons(result) == {f"{prefix}X": expected}
    assert [d.number for d in result.documents] == ["A", "B", "D"]
    assert result.bundle_pages == 6
    kept = out / "documents" / KIND / "_problems" / f"{prefix}X.pdf"
    assert kept.read_bytes() == bad.read_bytes()
    assert not any(".tmp" in f or ".partial" in f for f in files_under(out))

    clean = tmp_path / "without"
    clean.mkdir()
    expected_result = run([refs[0], refs[1], refs[3]], clean, limits)
    assert bundle_bytes(out, result) == bundle_bytes(clean, expected_result)


def test_the_worker_runs_under_the_memory_limit(
    faulty: None, make_pdf: MakePdf, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    limits = DocumentLimits(memory=700 << 20)
    result = run([ref("limit-1", make_pdf("limit-1"))], out, limits)
    assert reasons(result) == {"limit-1": f"limit {700 << 20}"}


def test_after_max_faults_the_rest_is_not_opened(
    faulty: None, make_pdf: MakePdf, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    refs = [ref(f"crash-{i}", make_pdf(f"crash-{i}")) for i in range(3)]
    refs.append(ref("fine", make_pdf("fine")))
    result = run(refs, out, DocumentLimits(max_faults=2))
    found = reasons(result)
    assert (
        found["crash-0"]
        == found["crash-1"]
        == ("unreadable: the PDF engine crashed on it (SIGSEGV)")
    )
    not_opened = "not opened: the PDF engine already failed on 2 documents of this export"
    assert found["crash-2"] == found["fine"] == not_opened
    assert result.documents == []
    assert (out / "documents" / KIND / "_problems" / "fine.pdf").exists()


def test_page_limit(make_pdf: MakePdf, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    refs = [ref("big", make_pdf("big", 11)), ref("ok", make_pdf("ok", 10))]
    result = run(refs, out, DocumentLimits(max_pages=10))
    assert reasons(result) == {"big": "too many pages: 11 (the limit is 10, --max-document-pages)"}
    assert [d.number for d in result.documents] == ["ok"]


def _with(path: Path, edit: str) -> Path:
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        js = pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert(1)"))
        if edit == "open":
            pdf.Root.OpenAction = pdf.make_indirect(js)
        elif edit == "names":
            tree = pikepdf.Dictionary(Names=pikepdf.Array([pikepdf.String("a"), js]))
            pdf.Root.Names = pikepdf.Dictionary(JavaScript=tree)
        elif edit == "page-aa":
            pdf.pages[0].obj.AA = pikepdf.Dictionary(O=js)
        elif edit == "annot":
            launch = pikepdf.Dictionary(S=pikepdf.Name.Launch, F=pikepdf.String("calc.exe"))
            link = pikepdf.Dictionary(
                Type=pikepdf.Name.Annot,
                Subtype=pikepdf.Name.Link,
                Rect=[0, 0, 10, 10],
                A=launch,
            )
            pdf.pages[0].obj.Annots = pdf.make_indirect(pikepdf.Array([link]))
        elif edit == "chain":
            goto = pikepdf.Dictionary(S=pikepdf.Name.GoTo, D=pikepdf.Array([0, pikepdf.Name.Fit]))
            goto.Next = pikepdf.Array([pikepdf.Dictionary(S=pikepdf.Name.SubmitForm)])
            pdf.Root.OpenAction = goto
        elif edit == "loop":  # an action whose /Next is itself: looked at once
            goto = pdf.make_indirect(pikepdf.Dictionary(S=pikepdf.Name.GoTo))
            goto.Next = goto
            pdf.Root.OpenAction = goto
        elif edit == "xfa":
            pdf.Root.AcroForm = pikepdf.Dictionary(Fields=[], XFA=pikepdf.String("<xdp/>"))
        pdf.save(path)
    return path


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        ("open", "active content: JavaScript (the document's open action)"),
        ("names", "active content: JavaScript (the document's scripts)"),
        ("page-aa", "active content: JavaScript (page 1)"),
        ("annot", "active content: Launch (an annotation on page 1)"),
        ("chain", "active content: SubmitForm (the document's open action)"),
        ("xfa", "active content: XFA form (the document's form)"),
        ("loop", None),
    ],
)
def test_active_content_is_reported_and_kept_out_of_the_bundle(
    make_pdf: MakePdf, tmp_path: Path, edit: str, reason: str | None
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    doc = _with(make_pdf("X", 1), edit)
    result = run([ref("X", doc), ref("Y", make_pdf("Y", 1))], out, DocumentLimits())
    if reason is None:
        assert reasons(result) == {} and result.bundle_pages == 2
        return
    assert reasons(result) == {"X": reason}
    assert result.bundle_pages == 1
    assert (out / "documents" / KIND / "_problems" / "X.pdf").read_bytes() == doc.read_bytes()


def test_the_cli_limits_reach_the_worker(tiny_db: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from offboard.cli import cli
    from tests.offboard.documents.docs_support import write_pdf
    from tests.tinydb import ACCOUNT

    write_pdf(tmp_path / "tiny-documents" / "invoices" / "FA-2025-00001.pdf", 3)
    out = tmp_path / "out"
    args = ["export", str(tiny_db), "-a", ACCOUNT, "--out", str(out), "--json", "-q"]
    args += ["--kinds", "sales_invoices", "--max-document-pages", "2"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 6, result.output
    summary = json.loads(result.stdout)
    too_many = [p for p in summary["problems"] if p["reason"].startswith("too many pages")]
    assert too_many, summary["problems"]
    assert [(p["number"], p["reason"]) for p in too_many] == [
        ("FA-2025-00001", "too many pages: 3 (the limit is 2, --max-document-pages)")
    ]


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("--document-memory", "10MB", "--document-memory: at least 128 MiB"),
        ("--document-memory", "lots", "--document-memory: 'lots' is not a size"),
        ("--document-timeout", "0", "--document-timeout"),
        ("--max-document-pages", "0", "--max-document-pages"),
    ],
)
def test_bad_limits_are_usage_errors(
    tiny_db: Path, tmp_path: Path, option: str, value: str, words: str
) -> None:
    from click.testing import CliRunner

    from offboard.cli import cli
    from tests.tinydb import ACCOUNT

    out = tmp_path / "out"
    args = ["export", str(tiny_db), "-a", ACCOUNT, "--out", str(out), option, value]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and words in result.output, result.output
    assert not out.exists()


def test_a_finding_from_the_worker_is_checked_field_by_field() -> None:
    from offboard.documents.wire import finding_from_wire, finding_to_wire
    from offboard.errors import OutputError
    from offboard.facturx.checks import Finding, Issue

    sent = Finding(b"<x/>", None, "EN 16931", {"number": "FA-1"}, [Issue("xsd", "bad")])
    back = finding_from_wire(finding_to_wire(sent))
    assert back.xml == b"<x/>" and back.values == {"number": "FA-1"}
    # the digest is the supervisor's own, of the bytes received
    assert back.sha256 == hashlib.sha256(b"<x/>").hexdigest()
    good = finding_to_wire(sent)
    for bad in (
        None,
        [],
        {**good, "xml": 12},
        {**good, "xml": "not base64!"},
        {**good, "xml": "A" * (6 << 20)},
        {**good, "profile": ["x"]},
        {**good, "values": {"not-a-field": "x"}},
        {**good, "values": {"number": 3}},
        {**good, "issues": [["xsd"]]},
        {**good, "issues": "xsd"},
    ):
        with pytest.raises(OutputError, match="Factur-X finding that is not understood"):
            finding_from_wire(bad)
