"""Writing FEC files (LPF art. A47 A-1) from the rows of the ``accounting_entries`` table.

One file per closed fiscal year, ``<SIREN>FEC<AAAAMMJJ>.txt`` (the closing date): the 18 fields
of :data:`~offboard.accounting.fec_check.COLUMNS` on the first line, then one line per entry
line, fields separated by a tab, lines by CR LF, dates AAAAMMJJ, amounts with a decimal comma and
two decimals, in the order the rows come (validation order), in UTF-8 (no byte-order mark) or
ISO 8859-15.

The lines of a batch of rows are made by Arrow's compute functions; every line written is then
checked by :class:`~offboard.accounting.fec_check.FecChecker`, the checker ``offboard
fec-check`` and ``offboard verify`` run, so a file that would break a rule is never published:
the export stops with the problems found. What the format cannot carry stops it too, naming the
record and the column: a character the chosen encoding lacks, a tab, a line break or another
control character in a field (a FEC has no quoting or escaping: any replacement would change the
value silently), an account or journal missing from the chart.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.compute as pc

from offboard.accounting.fec_check import FecChecker
from offboard.accounting.fec_format import CODECS, COLUMNS, ENCODINGS, luhn_valid, money_text
from offboard.arrowutil import int_scalar, string_scalar, strings
from offboard.errors import RecordError
from offboard.fsutil import fsync_dir, temp_name

#: the folder of the export the FEC files go in
FOLDER = "accounting"
LINE_END = "\r\n"
#: characters a FEC line cannot hold besides its tabs (they would end a line, or are controls)
_CONTROL = "[\\x00-\\x08\\x0a-\\x1f\\x7f-\\x9f\\x{2028}\\x{2029}]"
#: problems quoted in the error when a file breaks a rule
_QUOTED = 5
_TAB = string_scalar("\t")
_TABS = int_scalar(len(COLUMNS) - 1, pa.int32())
_EMPTY = string_scalar("")


def file_name(siren: str, closing: str) -> str:
    """``<SIREN>FEC<AAAAMMJJ>.txt`` for the fiscal year closing on ``closing`` (ISO date)."""
    return f"{siren}FEC{closing.replace('-', '')}.txt"


@dataclass(frozen=True)
class FiscalYear:
    id: str
    siren: str
    start: str
    end: str
    closed: bool


@dataclass(frozen=True)
class WrittenFec:
    """One FEC file written: where, its size and SHA-256, and its figures."""

    path: str
    bytes: int
    sha256: str
    year: FiscalYear
    encoding: str
    lines: int
    entries: int
    debit: int
    credit: int

    def facts(self) -> dict[str, Any]:
        """What ``offboard.json`` records of it (and ``offboard verify`` checks again)."""
        return {
            "fiscal_year": {"id": self.year.id, "start": self.year.start, "end": self.year.end},
            "siren": self.year.siren,
            "encoding": self.encoding,
            "lines": self.lines,
            "entries": self.entries,
            "debit": money_text(self.debit),
            "credit": money_text(self.credit),
        }


class FecError(RecordError):
    """The rows cannot make a FEC that keeps the rules (the message says which and where)."""


class _Labels:
    """Codes and their labels (journals, accounts), for lookups by Arrow."""

    def __init__(self, labels: dict[str, str]) -> None:
        self.keys = strings(list(labels))
        self.values = strings(list(labels.values()))

    def of(self, codes: pa.Array) -> pa.Array:
        return pc.take(self.values, pc.index_in(codes, value_set=self.keys))


def _ymd(column: pa.Array) -> pa.Array:
    """AAAAMMJJ dates (from ISO text: 8 times faster than ``strftime``)."""
    return pc.replace_substring(column.cast(pa.string()), "-", "")


def _amount(column: pa.Array) -> pa.Array:
    return pc.replace_substring(column.cast(pa.string()), ".", ",")


class FecFile:
    """One fiscal year's FEC being written (under a temporary name until :meth:`close`)."""

    def __init__(self, folder: Path, year: FiscalYear, encoding: str) -> None:
        if not (len(year.siren) == 9 and luhn_valid(year.siren)):
            raise FecError(
                f"accounting_fiscal_years: record id={year.id!r}: SIREN {year.siren!r} is not a "
                "valid SIREN (9 digits, Luhn key): the FEC's file name would be invalid"
            )
        self.year = year
        self.encoding = encoding
        self.codec = CODECS[encoding]
        self.name = file_name(year.siren, year.end)
        self.path = folder / self.name
        self._tmp = temp_name(self.path)
        self._file: IO[bytes] = open(self._tmp, "wb")  # noqa: SIM115 - closed by close/abort
        self._hash = hashlib.sha256()
        self._size = 0
        self.lines = 1
        self.checker = FecChecker(
            self.name, encoding=encoding, start=date.fromisoformat(year.start), max_problems=20
        )
        header = "\t".join(COLUMNS)
        self.checker.line(header, 1)
        self._write((header + LINE_END).encode(self.codec))

    def _write(self, data: bytes) -> None:
        try:
            self._file.write(data)
        except OSError as exc:
            raise self._named(exc) from exc
        self._hash.update(data)
        self._size += len(data)

    def add(self, lines: list[str], ids: pa.Array) -> None:
        """Write ``lines`` (without their line ends), made from the records ``ids``."""
        text = LINE_END.join(lines) + LINE_END
        try:
            data = text.encode(self.codec)
        except UnicodeEncodeError as exc:
            row, at = _row_at(lines, exc.start)
            column = COLUMNS[lines[row][:at].count("\t")]
            char = exc.object[exc.start]
            raise FecError(
                f"accounting_entries: record id={ids[row].as_py()!r} (FEC {self.name}, line "
                f"{self.lines + row + 1}): {column} holds {char!r} (U+{ord(char):04X}), which "
                f"{self.encoding.upper()} cannot encode; export with --fec-encoding utf-8"
            ) from None
        check = self.checker.line
        n = self.lines
        for line in lines:
            n += 1
            check(line, n)
        self.lines = n
        self._write(data)

    def close(self) -> WrittenFec:
        report = self.checker.finish()
        if not report.valid:
            self.abort()
            quoted = "; ".join(str(p) for p in report.problems[:_QUOTED])
            more = report.total_problems - min(_QUOTED, len(report.problems))
            raise FecError(
                f"accounting_entries: the entries of fiscal year {self.year.id!r} do not make a "
                f"valid FEC ({self.name}): {quoted}" + (f"; and {more} more" if more else "")
            )
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            os.replace(self._tmp, self.path)
        except OSError as exc:
            self.abort()
            raise self._named(exc) from exc
        fsync_dir(self.path.parent)
        return WrittenFec(
            path=f"{FOLDER}/{self.name}",
            bytes=self._size,
            sha256=self._hash.hexdigest(),
            year=self.year,
            encoding=self.encoding,
            lines=report.lines,
            entries=report.entries,
            debit=report.debit,
            credit=report.credit,
        )

    def abort(self) -> None:
        try:
            if not self._file.closed:
                self._file.close()  # on a full disk, writing what it holds fails again
        except OSError:
            pass
        finally:
            self._tmp.unlink(missing_ok=True)

    def _named(self, exc: OSError) -> OSError:
        """``exc`` naming the FEC being written (a full disk's error names no file)."""
        if exc.filename or not exc.errno:
            return exc
        return OSError(exc.errno, exc.strerror or str(exc), str(self.path))


def _row_at(lines: list[str], position: int) -> tuple[int, int]:
    """The line holding character ``position`` of the lines joined by CR LF, and where."""
    at = 0
    for i, line in enumerate(lines):
        end = at + len(line) + len(LINE_END)
        if position < end:
            return i, position - at
        at = end
    return len(lines) - 1, 0


def fec_lines(
    batch: pa.RecordBatch, journals: _Labels, accounts: _Labels
) -> tuple[pa.Array, dict[str, pa.Array]]:
    """The FEC fields of a batch of ``accounting_entries`` rows, and its lines (text, without
    line ends). Raises FecError naming the record for what a FEC cannot hold."""
    col = batch.column
    aux = col("auxiliary_number")
    fields: dict[str, pa.Array] = {
        "JournalCode": col("journal_code"),
        "JournalLib": journals.of(col("journal_code")),
        "EcritureNum": col("entry_number"),
        "EcritureDate": _ymd(col("entry_date")),
        "CompteNum": col("account_number"),
        "CompteLib": accounts.of(col("account_number")),
        "CompAuxNum": pc.fill_null(aux, _EMPTY),
        "CompAuxLib": pc.if_else(pc.is_null(aux), _EMPTY, accounts.of(aux)),
        "PieceRef": col("piece_ref"),
        "PieceDate": _ymd(col("piece_date")),
        "EcritureLib": col("label"),
        "Debit": _amount(col("debit")),
        "Credit": _amount(col("credit")),
        "EcritureLet": pc.fill_null(col("lettering"), _EMPTY),
        "DateLet": pc.fill_null(_ymd(col("lettered_on")), _EMPTY),
        "ValidDate": _ymd(col("validated_on")),
        "Montantdevise": pc.fill_null(_amount(col("foreign_amount")), _EMPTY),
        "Idevise": pc.fill_null(col("foreign_currency"), _EMPTY),
    }
    ids = col("id")
    for name, source in (("JournalLib", "journal_code"), ("CompteLib", "account_number")):
        missing = pc.is_null(fields[name])
        if pc.any(missing).as_py():
            row = _first(missing)
            what = "journal" if name == "JournalLib" else "account"
            raise FecError(
                f"accounting_entries: record id={ids[row].as_py()!r}: {what} "
                f"{col(source)[row].as_py()!r} is not in the chart (accounting_journals, "
                "accounting_accounts): the FEC needs its label"
            )
    missing = pc.is_null(fields["CompAuxLib"])
    if pc.any(missing).as_py():
        row = _first(missing)
        raise FecError(
            f"accounting_entries: record id={ids[row].as_py()!r}: auxiliary account "
            f"{aux[row].as_py()!r} is not in accounting_accounts: the FEC needs its label"
        )
    line = pc.binary_join_element_wise(
        *fields.values(), _TAB, null_handling="replace", null_replacement=""
    )
    bad = pc.or_(
        pc.match_substring_regex(line, _CONTROL),
        pc.not_equal(pc.count_substring(line, "\t"), _TABS),
    )
    if pc.any(bad).as_py():
        row = _first(bad)
        for name, values in fields.items():
            value = values[row].as_py()
            chars = _control_chars(value)
            if chars:
                char = min(chars)
                raise FecError(
                    f"accounting_entries: record id={ids[row].as_py()!r}: {name} {value!r} "
                    f"holds the control character U+{ord(char):04X}: a FEC field cannot hold a "
                    "tab, a line break or another control character (the format has no "
                    "escaping, and replacing it would change the value): correct it at the "
                    "source"
                )
    return line, fields


def _first(mask: pa.Array) -> int:
    """The first row where ``mask`` is true."""
    found: int = pc.indices_nonzero(mask)[0].as_py()
    return found


def _control_chars(value: str) -> set[str]:
    return {c for c in value if ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or c in "\u2028\u2029"}


def write_fec(
    years: list[FiscalYear],
    journals: dict[str, str],
    accounts: dict[str, str],
    entries: Iterator[pa.RecordBatch],
    folder: Path,
    encoding: str = "utf-8",
    progress: Any = None,
) -> list[WrittenFec]:
    """Write the FEC of every closed fiscal year of ``years`` into ``folder`` from the
    ``accounting_entries`` batches ``entries`` (in validation order); the files written, in
    the order of their years. ``progress(n)`` is told of the lines written."""
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown FEC encoding {encoding!r} ({', '.join(ENCODINGS)})")
    closed = [y for y in years if y.closed]
    if not closed:
        for batch in entries:  # read through: the source's errors are still reported
            del batch
        return []
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, FecFile] = {}
    journal_labels, account_labels = _Labels(journals), _Labels(accounts)
    closed_ids = strings([y.id for y in closed])
    try:
        for y in closed:
            files[y.id] = FecFile(folder, y, encoding)
        for batch in entries:
            fy = batch.column("fiscal_year_id")
            keep = pc.is_in(fy, value_set=closed_ids)
            if not pc.any(keep).as_py():
                continue
            batch = batch.filter(keep)
            fy = batch.column("fiscal_year_id")
            lines, _ = fec_lines(batch, journal_labels, account_labels)
            for year_id in _years_in(fy):
                mask = pc.equal(fy, string_scalar(year_id))
                files[year_id].add(
                    pc.filter(lines, mask).to_pylist(), pc.filter(batch.column("id"), mask)
                )
            if progress is not None:
                progress(batch.num_rows)
        return [files[y.id].close() for y in closed]
    except BaseException:
        for f in files.values():
            f.abort()
        close = getattr(entries, "close", None)
        if close is not None:  # the source's statement, before its connection is closed
            close()
        raise


def _years_in(fy: pa.Array) -> list[str]:
    """The fiscal years of a batch, in the order they first appear."""
    first = fy[0].as_py()
    if pc.all(pc.equal(fy, fy[0])).as_py():
        return [first]
    return list(dict.fromkeys(fy.to_pylist()))
