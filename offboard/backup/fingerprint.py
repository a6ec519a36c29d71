"""The fingerprint of an account: what its next archive would hold, without making it.

``offboard backup`` skips an account whose fingerprint equals the one recorded with its last
archive. The fingerprint is a JSON object:

* per table: the record count, the money totals (per column and currency, exact), the last
  change (the latest ``updated_at``, else ``created_at``, as the export reports it) and a
  digest of every value of every record. The digest is what makes any change show, including
  one that keeps the count and totals and leaves ``updated_at`` alone (a line's description,
  a contact's e-mail). By default (:meth:`Source.table_fingerprint`) the table is read through
  the source as for an export (typed Arrow batches) and each batch's values are digested with
  SHA-256, in the export's order: no CSV file, no document, no archive. The PostgreSQL source
  has the server compute the same figures in one query per table and sends back one row: the
  digest is there the sum of the MD5 of each record's text, which does not depend on the order
  of the records (the two methods' digests differ, and the method is recorded).
* per document kind: the count of documents the source lists, and a digest of each one's
  record, number, date, party, locator and size *as the source lists them* (a file's size, an
  S3 object's HEAD, a BLOB's length; :meth:`Source.document_size`). No document is read.
* the account's name, the kinds and options of the run and the signing key's id: changing the
  selection or rotating the key makes the next run back up again.

Limits, by design: a document whose bytes are replaced in place, under the same locator and
with the same size, is not seen (nor, where the source cannot give sizes cheaply, such as the
HTTP source, one replaced with any size: only its listing counts). The fingerprint is taken
before the export, so a change made during the export shows at the next run (one backup too
many, never one too few). For the HTTP source the records are fetched to be digested: the skip
saves the documents and the archive, not the API's pages.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

    from exporters.base import Exporter, Table
    from offboard.sources.base import AccountInfo, Source

__all__ = [
    "VERSION",
    "TableFingerprint",
    "account_fingerprint",
    "changes",
    "documents_fingerprint",
    "fingerprint_batches",
    "money_text",
]

#: bumped when the fingerprint's make-up changes (an older one then never matches)
VERSION = 1
#: the method of the default digest: SHA-256 of the typed values, in the export's order
ROWS_SHA256 = "rows-sha256"
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class TableFingerprint:
    """One table of one account: count, money totals, last change and a digest of the values."""

    records: int
    #: money column -> currency ("" when the table has none) -> exact total, two decimals
    totals: dict[str, dict[str, str]]
    last_change: str | None
    digest: str
    #: how ``digest`` was computed (digests of two methods are never compared as equal)
    method: str = ROWS_SHA256

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def money_text(value: Any) -> str:
    """An exact amount as text with two decimals (``Decimal('12.5')`` -> ``12.50``)."""
    return f"{Decimal(value).quantize(_CENT):f}"


def fingerprint_batches(table: Table, batches: Iterable[pa.RecordBatch]) -> TableFingerprint:
    """The fingerprint of ``table`` from its record batches (typed as ``table.schema``)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from offboard.csvio.writer import CHANGE_COLUMNS

    schema = table.schema
    money = table.money_columns
    stamps = {f.name for f in schema if pa.types.is_timestamp(f.type)}
    change = next((c for c in CHANGE_COLUMNS if c in stamps), None)
    digest = hashlib.sha256(json.dumps(schema.names).encode("utf-8") + b"\n")
    totals: dict[str, dict[str, Decimal]] = {c: {} for c in money}
    records = 0
    last: str | None = None
    for batch in batches:
        if batch.schema != schema:
            batch = batch.cast(schema)
        if batch.num_rows == 0:
            continue
        records += batch.num_rows
        _add_totals(totals, batch, money)
        if change is not None:
            latest = pc.max(batch.column(change))
            if latest.is_valid:
                stamp: str = pc.strftime(latest, format="%Y-%m-%dT%H:%M:%SZ").as_py()
                last = max(last or stamp, stamp)
        digest.update(_values(batch))
    return TableFingerprint(
        records=records,
        totals={c: {k: money_text(v) for k, v in sorted(t.items())} for c, t in totals.items()},
        last_change=last,
        digest=digest.hexdigest(),
    )


def _add_totals(
    totals: dict[str, dict[str, Decimal]], batch: pa.RecordBatch, money: list[str]
) -> None:
    """Add the batch's money columns to ``totals``, per currency (as the CSV writer does)."""
    import pyarrow.compute as pc

    from offboard.arrowutil import string_scalar

    if not money:
        return
    if "currency" not in batch.schema.names:
        groups: list[tuple[str, pa.RecordBatch]] = [("", batch)]
    else:
        currency = batch.column("currency")
        groups = []
        for code in pc.unique(currency).to_pylist():
            mask = pc.is_null(currency) if code is None else pc.equal(currency, string_scalar(code))
            groups.append(("" if code is None else str(code), batch.filter(mask)))
    for code, rows in groups:
        for column in money:
            value = pc.sum(rows.column(column)).as_py()
            if value is not None:
                totals[column][code] = totals[column].get(code, Decimal(0)) + value


def _values(batch: pa.RecordBatch) -> bytes:
    """Every value of ``batch``, unambiguously, as bytes: Arrow's CSV writer, in memory.

    Text is always quoted (a NULL is an empty unquoted field, an empty text ``""``); times
    are their integer values, so no time zone database is involved.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    columns = []
    for column in batch.columns:
        if pa.types.is_timestamp(column.type):
            column = column.cast(pa.int64())
        columns.append(column)
    plain = pa.RecordBatch.from_arrays(columns, names=batch.schema.names)
    sink = pa.BufferOutputStream()
    options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
    pacsv.write_csv(plain, sink, write_options=options)
    return bytes(sink.getvalue())


def documents_fingerprint(source: Source, exporter: Exporter, account: str) -> dict[str, Any]:
    """The documents of one kind as the source lists them: count and a digest of the list."""
    from offboard.sources.base import DocumentUnavailable

    digest = hashlib.sha256()
    count = unsized = unavailable = 0
    for ref in exporter.get_documents(source, account):
        if ref.locator is None:  # the record has no document (the export skips it too)
            continue
        count += 1
        reason = None
        try:
            size = source.document_size(ref)
        except DocumentUnavailable as exc:
            size, reason = None, exc.reason
            unavailable += 1
        if size is None and reason is None:
            unsized += 1
        line = [ref.record_id, ref.number, ref.date, ref.party, ref.locator, size, reason]
        digest.update(json.dumps(line, ensure_ascii=False).encode("utf-8") + b"\n")
    return {
        "count": count,
        "digest": digest.hexdigest(),
        "unsized": unsized,
        "unavailable": unavailable,
    }


def _plain_reader(exporter: Exporter) -> bool:
    """True when the exporter reads its tables straight from the source (no own get_batches)."""
    from exporters.base import Exporter

    return type(exporter).get_batches is Exporter.get_batches


def account_fingerprint(
    source: Source,
    info: AccountInfo,
    exporters: list[Exporter],
    *,
    documents: bool = True,
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The fingerprint of the account ``info`` (see the module doc), as a JSON object.

    ``options`` are the run's settings that change what the archive holds (kinds, signing key
    id...), recorded as given. An exporter with its own ``get_batches`` is digested from the
    batches it yields, never from the source's shortcut.
    """
    tables: dict[str, Any] = {}
    kinds: dict[str, Any] = {}
    for exporter in exporters:
        for table in exporter.tables:
            if _plain_reader(exporter):
                found = source.table_fingerprint(table, info.id)
            else:
                found = fingerprint_batches(table, exporter.get_batches(source, info.id, table))
            tables[table.name] = found.to_dict()
        if documents and exporter.documents is not None:
            kinds[exporter.documents.kind] = documents_fingerprint(source, exporter, info.id)
    return {
        "version": VERSION,
        "account": {"id": info.id, "name": info.name},
        "options": options or {},
        "tables": tables,
        "documents": kinds,
    }


def changes(before: dict[str, Any] | None, now: dict[str, Any]) -> list[str]:
    """What differs between two fingerprints, in a few words per part (for the run report)."""
    if before is None:
        return ["no fingerprint recorded"]
    if before.get("version") != now.get("version"):
        return ["fingerprint of another offboard version"]
    out: list[str] = []
    if before.get("account") != now.get("account"):
        out.append("account name")
    if before.get("options") != now.get("options"):
        out.append("options (kinds, documents or signing key)")
    for part, label in (("tables", "table"), ("documents", "documents")):
        was, is_ = before.get(part, {}), now.get(part, {})
        for name in sorted(set(was) | set(is_)):
            if was.get(name) != is_.get(name):
                out.append(f"{label} {name}")
    return out
