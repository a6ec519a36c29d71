"""``offboard verify`` re-checks each Factur-X XML: against the XSD, against its CSV row,
against what offboard.json records and against the copy embedded in its PDF; every problem
typed and collected, in the document worker or in the verifying process."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from manifests import bag
from manifests.signing import PublicKey
from manifests.verify import verify_archive
from tests.manifests.conftest import Made, make_archive, make_keys, resign
from tests.tinydb import ACCOUNT

Change = Callable[[dict[str, bytes]], None]


def first_invoice(data: dict[str, bytes]) -> dict[str, Any]:
    meta = json.loads(data[bag.METADATA])
    return next(d for d in meta["documents"] if d.get("facturx"))


def set_payload(data: dict[str, bytes], rel: str, content: bytes) -> None:
    """Replace a payload file and its manifest line, and keep Payload-Oxum right."""
    old = len(data[rel])
    data[rel] = content
    digest = hashlib.sha256(content).hexdigest()
    lines = data[bag.MANIFEST].decode().splitlines()
    data[bag.MANIFEST] = (
        "\n".join(f"{digest}  {rel}" if line.endswith(f"  {rel}") else line for line in lines)
        + "\n"
    ).encode()

    def oxum(match: re.Match[str]) -> str:
        return f"Payload-Oxum: {int(match[1]) - old + len(content)}.{match[2]}"

    info = re.sub(r"Payload-Oxum: (\d+)\.(\d+)", oxum, data[bag.BAG_INFO].decode())
    data[bag.BAG_INFO] = info.encode()


def edit_metadata(data: dict[str, bytes], edit: Callable[[dict[str, Any]], None]) -> None:
    from manifests.metadata import encode

    meta = json.loads(data[bag.METADATA])
    edit(meta)
    data[bag.METADATA] = encode(meta)


def verify(path: Path, made: Made, **kw: Any) -> list[Any]:
    report = verify_archive(path, PublicKey.load(made.keys.pub), **kw)
    return report.problems


def codes(problems: list[Any]) -> set[str]:
    return {p.code for p in problems}


def test_the_demo_archive_is_valid_and_records_every_xml(archive: Made) -> None:
    report = verify_archive(archive.path, PublicKey.load(archive.keys.pub))
    assert report.valid, [str(p) for p in report.problems]
    invoices = [d for d in report.documents if d["kind"] == "sales_invoices"]
    assert invoices and all(d["facturx"]["profile"] == "en16931" for d in invoices)
    for d in invoices:
        assert report.manifest[d["facturx"]["xml"]] == d["facturx"]["sha256"]


@pytest.mark.parametrize("worker", [False, True], ids=["in-process", "worker"])
def test_a_changed_xml_file_fails_only_the_factur_x_checks(
    archive: Made, tmp_path: Path, worker: bool
) -> None:
    """Re-signed with the XML file changed (manifest and tag manifest made right): every
    checksum holds; the XML is no longer the PDF's embedded copy."""

    def change(data: dict[str, bytes]) -> None:
        xml = first_invoice(data)["facturx"]["xml"]
        set_payload(data, xml, data[xml].replace(b"<ram:TypeCode>38", b"<ram:TypeCode>39", 1))

    bad = resign(archive.path, tmp_path / archive.path.name, archive.keys, change)
    problems = verify(bad, archive, doc_worker=worker)
    assert codes(problems) == {"facturx-mismatch"}, [str(p) for p in problems]
    assert "not the copy embedded in its PDF" in problems[0].detail


def test_an_xml_changed_everywhere_but_in_the_pdf_is_found(archive: Made, tmp_path: Path) -> None:
    """The XML file and offboard.json's record of it changed together: the PDF still embeds
    the original, which the document worker extracts again."""

    def change(data: dict[str, bytes]) -> None:
        doc = first_invoice(data)
        xml = doc["facturx"]["xml"]
        new = data[xml].replace(b"<ram:TypeCode>38", b"<ram:TypeCode>39", 1)
        set_payload(data, xml, new)

        def edit(meta: dict[str, Any]) -> None:
            for d in meta["documents"]:
                if d["path"] == doc["path"]:
                    d["facturx"]["sha256"] = hashlib.sha256(new).hexdigest()

        edit_metadata(data, edit)

    bad = resign(archive.path, tmp_path / archive.path.name, archive.keys, change)
    problems = verify(bad, archive, doc_worker=True)
    assert codes(problems) == {"facturx-mismatch"}, [str(p) for p in problems]
    assert any("PDF's embedded XML" in p.detail for p in problems)


def test_recorded_values_that_differ_from_the_xml_and_the_row_are_found(
    archive: Made, tmp_path: Path
) -> None:
    def change(data: dict[str, bytes]) -> None:
        path = first_invoice(data)["path"]

        def edit(meta: dict[str, Any]) -> None:
            for d in meta["documents"]:
                if d["path"] == path:
                    fields = d["facturx"]["checked"].split("|")
                    d["facturx"]["checked"] = "|".join([*fields[:-1], "0.01"])

        edit_metadata(data, edit)

    bad = resign(archive.path, tmp_path / archive.path.name, archive.keys, change)
    problems = verify(bad, archive)
    assert codes(problems) == {"facturx-mismatch"}
    details = " | ".join(p.detail for p in problems)
    assert "gross differs from offboard.json" in details  # the XML
    assert "total mismatch" in details  # the CSV row


def test_a_pdf_replaced_by_one_without_xml_is_invalid(archive: Made, tmp_path: Path) -> None:
    def change(data: dict[str, bytes]) -> None:
        doc = first_invoice(data)
        plain = next(
            v
            for k, v in data.items()
            if k.startswith("data/documents/quotes/") and k.endswith(".pdf")
        )
        delta = len(plain) - len(data[doc["path"]])
        set_payload(data, doc["path"], plain)

        def edit(meta: dict[str, Any]) -> None:
            for d in meta["documents"]:
                if d["path"] == doc["path"]:
                    d["sha256"] = hashlib.sha256(plain).hexdigest()
                    d["bytes"] = len(plain)
            for part in meta["parts"].get("contents", []):  # format version 3
                part["bytes"] += delta

        edit_metadata(data, edit)

    bad = resign(archive.path, tmp_path / archive.path.name, archive.keys, change)
    problems = verify(bad, archive)
    assert codes(problems) == {"facturx-invalid"}, [str(p) for p in problems]
    assert "no XML attachment" in problems[0].detail


def test_a_recorded_row_difference_is_kept_and_checked(tiny_db: Path, tmp_path: Path) -> None:
    """An invoice whose XML total differs from its row: the export reports it and records it;
    verify finds the same difference (the archive is valid); an archive re-signed without the
    record fails."""
    from tests.exporters.test_facturx import INVOICE, facturx_pdf

    (tmp_path / INVOICE).write_bytes(facturx_pdf(ttc=24239))
    keys = make_keys(tmp_path / "keys")
    made = Made(make_archive(tiny_db, tmp_path / "acc.zip", keys, ACCOUNT), keys, ACCOUNT)
    assert verify(made.path, made) == []

    def change(data: dict[str, bytes]) -> None:
        def edit(meta: dict[str, Any]) -> None:
            for d in meta["documents"]:
                if d.get("facturx"):
                    d["facturx"].pop("issues")

        edit_metadata(data, edit)

    (tmp_path / "bad").mkdir()
    bad = resign(made.path, tmp_path / "bad" / made.path.name, keys, change)
    problems = verify(bad, made)
    assert codes(problems) == {"facturx-mismatch"}
    assert "total mismatch" in problems[0].detail


def test_a_malformed_record_is_a_tag_syntax_problem(archive: Made, tmp_path: Path) -> None:
    def change(data: dict[str, bytes]) -> None:
        path = first_invoice(data)["path"]

        def edit(meta: dict[str, Any]) -> None:
            for d in meta["documents"]:
                if d["path"] == path:
                    d["facturx"]["checked"] = "not the seven values"

        edit_metadata(data, edit)

    bad = resign(archive.path, tmp_path / archive.path.name, archive.keys, change)
    assert codes(verify(bad, archive)) == {"tag-syntax"}
