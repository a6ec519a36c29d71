"""The export's second Factur-X step: each invoice's XML against its row of the CSV file.

The documents lane reads each PDF's XML while the table tasks write the CSV files, in any
order; once both are done, :func:`check_rows` reads back the rows of the invoices that carry a
valid XML from the CSV file as written (from the export folder, or inflated from the archive's
tables pack) and compares number, issue date, type, currency and the three totals, exactly.
Each difference is added to the document's ``facturx.issues`` and listed as a problem.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from offboard.documents.model import DocumentProblem
from offboard.facturx.checks import Issue, add_issues
from offboard.facturx.rows import TABLE, row_issues

if TYPE_CHECKING:
    from manifests.pack import Pack
    from offboard.csvio.dialects import Dialect
    from offboard.summary import ExportSummary

CHUNK = 1 << 20


def csv_dialect(dialect: Dialect) -> dict[str, Any]:
    """The dialect as ``offboard.json`` records it (what :func:`row_issues` takes)."""
    return {
        "delimiter": dialect.delimiter,
        "decimal_point": "," if dialect.decimal_comma else ".",
        "bom": dialect.bom,
    }


def check_rows(stage: Path, pack: Pack | None, summary: ExportSummary, dialect: Dialect) -> None:
    """Compare every valid Factur-X XML of the export with its CSV row (see the module doc)."""
    for k in summary.kinds:
        docs = k.documents
        if docs is None:
            continue
        checked = [d for d in docs.documents if d.facturx and d.facturx.get("checked")]
        table = next((t for t in k.tables if t.table == TABLE), None)
        if not checked or table is None:
            continue
        packed = {d.record_id: d.facturx["checked"] for d in checked if d.facturx}
        found = row_issues(_chunks(stage, pack, table.path), csv_dialect(dialect), packed)
        for d in checked:
            issues: list[Issue] = found.get(d.record_id, [])
            if not issues:
                continue
            assert d.facturx is not None
            add_issues(d.facturx, {i.code for i in issues})
            for issue in issues:
                docs.problems.append(DocumentProblem(k.kind, d.record_id, d.number, issue.problem))


def _chunks(stage: Path, pack: Pack | None, rel: str) -> Iterator[bytes]:
    """The bytes of the export's file ``rel``: from the folder, or inflated from the pack."""
    path = stage / rel
    if pack is None or rel not in pack.members:
        with open(path, "rb") as fh:
            while chunk := fh.read(CHUNK):
                yield chunk
        return
    packed = pack.members[rel]
    inflater = zlib.decompressobj(-15)
    at, end = packed.offset, packed.offset + packed.stored_size
    while at < end:
        data = os.pread(pack.fd, min(CHUNK, end - at), at)
        if not data:
            break
        at += len(data)
        out = inflater.decompress(data)
        if out:
            yield out
    tail = inflater.flush()
    if tail:
        yield tail
