"""The table lane: every CSV table hashed and recounted, on a thread of its own.

The lane starts as soon as ``offboard.json`` is read (it says which members are tables, their
columns and money columns), while the verifier goes on with the tag files, the signature and the
manifest; Arrow parses the CSV without holding the interpreter lock. :meth:`TableLane.result`
waits for it.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from manifests import problems as P
from manifests.verify import content

if TYPE_CHECKING:
    from manifests.zipfmt import ZipEntry
    from manifests.zipfmt.reader import MemberData

#: per table path: (its SHA-256, or None when its data is corrupt; its problems)
TableResults = dict[str, tuple[str | None, list[P.Problem]]]


class TableLane:
    """Checks ``work`` (path, member, ``offboard.json`` table) on a thread, in order.

    ``work`` may also hold an exporter's own files (an ``offboard.json`` ``files`` entry): a
    FEC is checked against its rules (:mod:`manifests.verify.files`) the same way.
    """

    def __init__(
        self,
        reader: MemberData,
        work: list[tuple[str, ZipEntry, dict[str, Any]]],
        csv: dict[str, Any],
    ) -> None:
        self._reader = reader
        self._work = work
        self._csv = csv
        self.rels = [rel for rel, _, _ in work]
        self._results: TableResults = {}
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="offboard-tables", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for rel, entry, table in self._work:
                problems: list[P.Problem] = []
                if "facts" in table:  # an exporter's own file, not a table
                    from manifests.verify.files import check_fec

                    digest = check_fec(problems, self._reader, entry, rel, table)
                else:
                    digest = check_csv(problems, self._reader, entry, rel, table, self._csv)
                self._results[rel] = (digest, problems)
        except BaseException as exc:  # handed to the caller by result()
            self._error = exc

    def result(self) -> TableResults:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._results


def check_csv(
    out: list[P.Problem],
    reader: MemberData,
    entry: ZipEntry,
    rel: str,
    table: dict[str, Any],
    csv: dict[str, Any],
) -> str | None:
    from manifests.zipfmt import CorruptDataError

    stream = content.HashingStream(reader.iter_data(entry), skip_bom=bool(csv.get("bom")))
    try:
        figures = content.count_csv(stream, table, csv)
        stream.drain()
    except CorruptDataError as exc:
        out.append(exc.problem)
        return None
    except ValueError as exc:
        out.append(P.RecordMismatch(rel, f"cannot be read as CSV: {exc}"))
        try:
            stream.drain()
        except CorruptDataError as exc2:
            out.append(exc2.problem)
            return None
        return stream.sha256.hexdigest()
    if csv.get("bom") and stream.size and not stream.bom_found:
        out.append(P.RecordMismatch(rel, "byte-order mark missing", expected="BOM", found="none"))
    if figures["records"] != table["records"]:
        out.append(
            P.RecordMismatch(
                rel,
                "record count differs from offboard.json",
                expected=str(table["records"]),
                found=str(figures["records"]),
            )
        )
    recorded: dict[str, dict[str, str]] = table["totals"]
    found: dict[str, dict[str, Decimal]] = figures["totals"]
    for column in sorted(set(recorded) | set(found)):
        want = {c: Decimal(a) for c, a in (recorded.get(column) or {}).items()}
        got = {c: a for c, a in (found.get(column) or {}).items()}
        if want != got:
            out.append(
                P.RecordMismatch(
                    rel,
                    f"money total of {column} differs",
                    expected=_money(want),
                    found=_money(got),
                )
            )
    return stream.sha256.hexdigest()


def _money(totals: dict[str, Decimal]) -> str:
    return ", ".join(f"{a:.2f} {c}".strip() for c, a in sorted(totals.items())) or "none"
