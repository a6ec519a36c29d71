"""Checking a FEC (Fichier des Écritures Comptables, LPF art. A47 A-1) against its rules.

:class:`FecChecker` reads a file as bytes, in chunks of any size, and reports every rule it
breaks with its line number (1 is the header): the file name (``<SIREN>FEC<AAAAMMJJ>.txt``, the
SIREN's Luhn key, the closing date), the header (the 18 fields, in order), the field count of
every line, the encoding (UTF-8 or ISO 8859-15, the same throughout), the dates (AAAAMMJJ,
real calendar days), the amounts (a decimal comma, at most two decimals, no thousands
separator), the mandatory fields, the balance of each entry and of the file, the chronology
(validation dates never going back, the numbers of each journal increasing, an entry's lines
together, entry dates within the fiscal year), the auxiliary account and currency pairs, and the
lettering (code and date together, lettered after the entry's date, every group balanced).

Memory stays bounded whatever the file's size: one line at a time, the last number of each
journal, the lettering groups not yet balanced, and at most ``max_problems`` problems (the rest
are only counted). The rules are documented in docs/fec.md.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from offboard.accounting.fec_format import (
    CODECS,
    COLUMNS,
    COMP_AUX_LIB,
    COMP_AUX_NUM,
    COMPTE_NUM,
    CONTROL,
    CREDIT,
    CURRENCY,
    DATE_LET,
    DEBIT,
    ECRITURE_DATE,
    ECRITURE_LET,
    ECRITURE_NUM,
    ENCODINGS,
    FILE_NAME,
    FOREIGN_AMOUNT,
    IDEVISE,
    JOURNAL_CODE,
    MANDATORY,
    MAX_YEAR_DAYS,
    MONTANT_DEVISE,
    PIECE_DATE,
    VALID_DATE,
    luhn_valid,
    money_text,
    number_key,
    parse_amount,
    parse_date,
)

_MANDATORY = operator.itemgetter(*MANDATORY)
_DATES = operator.itemgetter(ECRITURE_DATE, PIECE_DATE, VALID_DATE, DATE_LET)
_PAIRS = operator.itemgetter(COMP_AUX_NUM, COMP_AUX_LIB, MONTANT_DEVISE, IDEVISE, ECRITURE_LET)
DEFAULT_MAX_PROBLEMS = 100


@dataclass(frozen=True)
class FecProblem:
    """One rule a FEC breaks: the line (1 is the header; None for the file as a whole), the
    rule's name (see :data:`RULES`) and what is wrong."""

    line: int | None
    rule: str
    message: str

    def __str__(self) -> str:
        where = "file" if self.line is None else f"line {self.line}"
        return f"{where}: {self.rule}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "rule": self.rule, "message": self.message}


#: the rules, by name, as reported (docs/fec.md lists them)
RULES = {
    "file-name": "the name is <SIREN>FEC<AAAAMMJJ>.txt, the SIREN valid, the date a real day",
    "encoding": "UTF-8 or ISO 8859-15 throughout; no control character in a field",
    "header": "the first line names the 18 fields, in order",
    "columns": "every line has the 18 fields",
    "mandatory": "no mandatory field is empty",
    "date": "dates are AAAAMMJJ and real days",
    "amount": "amounts have a decimal comma, at most two decimals, no thousands separator",
    "balance": "every entry balances (debit = credit), and so does the file",
    "chronology": "validation order: ValidDate never goes back, each journal's numbers increase, "
    "an entry's lines are together and share their dates",
    "fiscal-year": "entry dates are within the fiscal year that closes on the file's date",
    "auxiliary": "CompAuxNum and CompAuxLib are both given or both empty",
    "currency": "Montantdevise and Idevise are both given or both empty; Idevise is ISO 4217",
    "lettering": "EcritureLet and DateLet go together, DateLet is not before EcritureDate, and "
    "every lettering group of an account balances",
}


@dataclass
class FecReport:
    """What checking a FEC found: its figures and its problems."""

    name: str | None
    encoding: str | None = None
    siren: str | None = None
    closing_date: str | None = None
    #: data lines (the header is not counted), entries, and their totals in cents
    lines: int = 0
    entries: int = 0
    debit: int = 0
    credit: int = 0
    problems: list[FecProblem] = field(default_factory=list)
    #: every problem found, including those past the cap
    total_problems: int = 0

    @property
    def valid(self) -> bool:
        return self.total_problems == 0

    @property
    def unlisted(self) -> int:
        return self.total_problems - len(self.problems)

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.name,
            "valid": self.valid,
            "encoding": self.encoding,
            "siren": self.siren,
            "closing_date": self.closing_date,
            "lines": self.lines,
            "entries": self.entries,
            "debit": money_text(self.debit),
            "credit": money_text(self.credit),
            "problems": [p.to_dict() for p in self.problems],
            "total_problems": self.total_problems,
            "unlisted_problems": self.unlisted,
        }


class _Entry:
    """The entry being read: its lines are together."""

    __slots__ = ("balance", "date", "first", "journal", "last", "number", "valid")

    def __init__(self, line: int, journal: str, number: str, day: str, valid: str) -> None:
        self.first = self.last = line
        self.journal = journal
        self.number = number
        self.date = day
        self.valid = valid
        self.balance = 0


class FecChecker:
    """Check a FEC fed as bytes (:meth:`feed`) or as decoded lines (:meth:`line`).

    ``name`` is the file's name (None: not checked); ``encoding`` one of :data:`ENCODINGS`, or
    None to tell it from the bytes (UTF-8 unless a line is not, then ISO 8859-15 for the whole
    file); ``start`` the fiscal year's first day when known (else the entry dates are only
    checked against the closing date and the longest fiscal year).
    """

    def __init__(
        self,
        name: str | None,
        *,
        encoding: str | None = None,
        start: date | None = None,
        max_problems: int = DEFAULT_MAX_PROBLEMS,
    ) -> None:
        if encoding is not None and encoding not in ENCODINGS:
            raise ValueError(f"unknown FEC encoding {encoding!r} ({', '.join(ENCODINGS)})")
        self.report = FecReport(name)
        self.max_problems = max_problems
        self._codec = None if encoding is None else CODECS[encoding]
        self.report.encoding = encoding
        self._pending = b""
        self._n = 0
        self._sep = "\t"
        self._order: tuple[int, ...] | None = None
        self._entry: _Entry | None = None
        self._valid = ""
        self._numbers: dict[str, tuple[Any, ...]] = {}
        #: open lettering groups: :func:`_letter_key` -> [first line, debit minus credit]; one
        #: string a key, not a tuple of three: tens of thousands are open at once in a ledger
        self._letters: dict[str, list[int]] = {}
        self._dates: dict[str, date | None] = {}
        self._closing: date | None = None
        self._first_day = "00000000"
        self._last_day = "99999999"
        self._bom = False
        self._name(name, start)

    # -- problems ------------------------------------------------------------------------------
    def problem(self, line: int | None, rule: str, message: str) -> None:
        self.report.total_problems += 1
        if len(self.report.problems) < self.max_problems:
            self.report.problems.append(FecProblem(line, rule, message))

    def _name(self, name: str | None, start: date | None) -> None:
        if name is None:
            return
        m = FILE_NAME.fullmatch(name)
        if m is None:
            self.problem(None, "file-name", f"{name!r} is not <SIREN>FEC<AAAAMMJJ>.txt")
            return
        siren, closing = m["siren"], m["closing"]
        self.report.siren = siren
        if not luhn_valid(siren):
            self.problem(None, "file-name", f"SIREN {siren} fails its Luhn check")
        day = parse_date(closing)
        if day is None:
            self.problem(None, "file-name", f"closing date {closing} is not a real AAAAMMJJ day")
            return
        self.report.closing_date = day.isoformat()
        self._closing = day
        first = start or date.fromordinal(day.toordinal() - MAX_YEAR_DAYS + 1)
        self._first_day, self._last_day = first.strftime("%Y%m%d"), closing

    # -- input ---------------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        """Read the next bytes of the file (any chunk size)."""
        if self._pending:
            data = self._pending + data
        lines = data.split(b"\n")
        self._pending = lines.pop()
        for raw in lines:
            self._raw(raw)

    def _raw(self, raw: bytes) -> None:
        self._n += 1
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if self._n == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw, self._bom = raw[3:], True
        self.line(self._decode(raw), self._n)

    def _decode(self, raw: bytes) -> str:
        codec = self._codec
        if codec is None:
            if raw.isascii():
                return raw.decode("ascii")
            try:
                text = raw.decode("utf-8")
                self._codec, self.report.encoding = "utf-8", "utf-8"
                return text
            except UnicodeDecodeError:
                if self._bom:
                    self._codec, self.report.encoding = "utf-8", "utf-8"
                else:
                    self._codec, self.report.encoding = "iso8859_15", "iso-8859-15"
                codec = self._codec
        try:
            return raw.decode(codec)
        except UnicodeDecodeError as exc:
            self.problem(
                self._n,
                "encoding",
                f"byte {raw[exc.start]:#04x} at column {exc.start + 1} is not "
                f"{self.report.encoding}",
            )
            return raw.decode(codec, errors="replace")  # the other rules are still checked

    def finish(self) -> FecReport:
        """The end of the file: the last line, the last entry, the totals, the lettering."""
        if self._pending:
            self._raw(self._pending)
            self._pending = b""
        if self._n == 0:
            self.problem(None, "header", "the file is empty: no header line")
        if self._bom and self.report.encoding == "iso-8859-15":
            self.problem(1, "encoding", "a UTF-8 byte-order mark in an ISO 8859-15 file")
        self._close_entry()
        r = self.report
        if r.debit != r.credit:
            self.problem(
                None,
                "balance",
                f"the file does not balance: debit {money_text(r.debit)}, "
                f"credit {money_text(r.credit)}",
            )
        for key, (first, balance) in self._letters.items():
            account, aux, code = _letter_parts(key)
            where = f"{account}/{aux}" if aux else account
            self.problem(
                first,
                "lettering",
                f"lettering {code!r} of account {where} does not balance "
                f"(debit minus credit {money_text(balance)})",
            )
        self._letters = {}
        return r

    # -- one line ------------------------------------------------------------------------------
    def line(self, text: str, n: int) -> None:
        """Check line ``n`` (1 is the header), its line end and encoding already removed."""
        if n > self._n:
            self._n = n
        if n == 1:
            self._header(text)
            return
        fields = text.split(self._sep)
        if len(fields) != 18:
            if not text:
                self.problem(n, "columns", "empty line")
            else:
                self.problem(n, "columns", f"{len(fields)} fields, not 18")
            return
        if self._order is not None:
            fields = [fields[i] for i in self._order]
        r = self.report
        r.lines += 1
        bad = CONTROL.search(text)
        if bad is not None:
            self.problem(n, "encoding", f"control character U+{ord(bad.group()):04X} in a field")
        mandatory = _MANDATORY(fields)
        if "" in mandatory or any(map(str.isspace, mandatory)):
            for i in MANDATORY:
                if not fields[i].strip():
                    self.problem(n, "mandatory", f"{COLUMNS[i]} is empty")
        dates = self._dates
        day, piece_day, valid, lettered = _DATES(fields)
        for i, value in ((ECRITURE_DATE, day), (PIECE_DATE, piece_day), (VALID_DATE, valid)):
            known = dates.get(value, False)
            if known is False:
                known = dates[value] = parse_date(value)
            if known is None and value.strip():
                self.problem(n, "date", f"{COLUMNS[i]} {value!r} is not an AAAAMMJJ day")
        debit = parse_amount(fields[DEBIT])
        if debit is None:
            debit = self._bad_amount(fields[DEBIT], "Debit", n)
        credit = parse_amount(fields[CREDIT])
        if credit is None:
            credit = self._bad_amount(fields[CREDIT], "Credit", n)
        signed = debit - credit
        r.debit += debit
        r.credit += credit
        # chronology and entries
        if dates.get(valid):
            if valid < self._valid:
                self.problem(
                    n,
                    "chronology",
                    f"ValidDate {valid} is before the previous line's {self._valid}: "
                    "entries must be in validation order",
                )
            else:
                self._valid = valid
        if dates.get(day) and not self._first_day <= day <= self._last_day:
            self.problem(
                n,
                "fiscal-year",
                f"EcritureDate {day} is outside the fiscal year {self._first_day}-{self._last_day}",
            )
        journal, number = fields[JOURNAL_CODE], fields[ECRITURE_NUM]
        entry = self._entry
        if entry is None or entry.number != number or entry.journal != journal:
            self._close_entry()
            entry = self._entry = _Entry(n, journal, number, day, valid)
            self._new_entry(entry, n)
        else:
            entry.last = n
            if day != entry.date or valid != entry.valid:
                self.problem(
                    n,
                    "chronology",
                    f"entry {number} has lines with another EcritureDate or ValidDate "
                    f"than its first line ({entry.first})",
                )
        entry.balance += signed
        # pairs of fields
        aux, aux_lib, foreign, currency, letter = _PAIRS(fields)
        if (not aux or aux.isspace()) != (not aux_lib or aux_lib.isspace()):
            self.problem(n, "auxiliary", "CompAuxNum and CompAuxLib must be both given or empty")
        if foreign or currency:
            if not (foreign and currency):
                self.problem(n, "currency", "Montantdevise and Idevise must be both given or empty")
            if foreign and not FOREIGN_AMOUNT.fullmatch(foreign):
                self.problem(n, "amount", f"Montantdevise {foreign!r} is not an amount")
            if currency and not CURRENCY.fullmatch(currency):
                self.problem(n, "currency", f"Idevise {currency!r} is not an ISO 4217 code")
        if letter or lettered:
            if lettered:
                known = dates.get(lettered, False)
                if known is False:
                    known = dates[lettered] = parse_date(lettered)
                if known is None:
                    self.problem(n, "date", f"DateLet {lettered!r} is not an AAAAMMJJ day")
            self._lettering(n, fields, letter, lettered, day, signed)

    def _header(self, text: str) -> None:
        sep = "\t" if "\t" in text or "|" not in text else "|"
        self._sep = sep
        names = text.split(sep)
        if tuple(names) == COLUMNS:
            return
        if sorted(names) == sorted(COLUMNS):
            self._order = tuple(names.index(c) for c in COLUMNS)
            self.problem(1, "header", f"the fields are not in the A47 A-1 order: {sep.join(names)}")
            return
        stripped = tuple(n.strip() for n in names)
        if stripped == COLUMNS:
            self.problem(1, "header", "field names have spaces around them")
            return
        missing = [c for c in COLUMNS if c not in stripped]
        extra = [c for c in stripped if c not in COLUMNS]
        detail = []
        if missing:
            detail.append(f"missing {', '.join(missing)}")
        if extra:
            detail.append(f"unknown {', '.join(repr(e) for e in extra[:5])}")
        self.problem(1, "header", "not the 18 A47 A-1 field names: " + "; ".join(detail))

    def _bad_amount(self, text: str, column: str, n: int) -> int:
        """Report a Debit or Credit that is not an amount (an empty one is a mandatory
        problem); it counts as 0."""
        if text.strip():
            self.problem(
                n,
                "amount",
                f"{column} {text!r} is not an amount (decimal comma, at most two decimals, "
                "no thousands separator)",
            )
        return 0

    def _new_entry(self, entry: _Entry, n: int) -> None:
        self.report.entries += 1
        key = number_key(entry.number)
        last = self._numbers.get(entry.journal)
        if last is not None and key <= last:
            self.problem(
                n,
                "chronology",
                f"entry {entry.number} comes after a later or equal number in journal "
                f"{entry.journal}: entries must be in validation order, each entry's lines "
                "together",
            )
        else:
            self._numbers[entry.journal] = key

    def _close_entry(self) -> None:
        entry = self._entry
        if entry is None:
            return
        self._entry = None
        if entry.balance:
            lines = (
                f"line {entry.first}"
                if entry.first == entry.last
                else (f"lines {entry.first}-{entry.last}")
            )
            self.problem(
                entry.first,
                "balance",
                f"entry {entry.number} ({lines}) does not balance: debit minus credit "
                f"{money_text(entry.balance)}",
            )

    def _lettering(
        self, n: int, fields: list[str], letter: str, lettered: str, day: str, signed: int
    ) -> None:
        if not (letter.strip() and lettered):
            self.problem(n, "lettering", "EcritureLet and DateLet must be both given or empty")
            if not letter.strip():
                return
        if lettered and self._dates.get(lettered) and self._dates.get(day) and lettered < day:
            self.problem(n, "lettering", f"DateLet {lettered} is before EcritureDate {day}")
        key = _letter_key(fields[COMPTE_NUM], fields[COMP_AUX_NUM], letter)
        group = self._letters.get(key)
        if group is None:
            self._letters[key] = [n, signed]
        else:
            group[1] += signed
            if group[1] == 0:
                del self._letters[key]


def _letter_key(account: str, aux: str, code: str) -> str:
    """One string for a lettering group: the lengths of the first two fields, then the three
    (any character may be in a field of a hostile file, so no separator is trusted)."""
    return f"{len(account)},{len(aux)},{account}{aux}{code}"


def _letter_parts(key: str) -> tuple[str, str, str]:
    first, second, rest = key.split(",", 2)
    a, b = int(first), int(second)
    return rest[:a], rest[a : a + b], rest[a + b :]


def check_bytes(
    chunks: Iterable[bytes],
    name: str | None,
    *,
    encoding: str | None = None,
    start: date | None = None,
    max_problems: int = DEFAULT_MAX_PROBLEMS,
) -> FecReport:
    """Check a FEC given as chunks of bytes."""
    checker = FecChecker(name, encoding=encoding, start=start, max_problems=max_problems)
    for chunk in chunks:
        checker.feed(chunk)
    return checker.finish()


def check_file(
    path: Path,
    *,
    encoding: str | None = None,
    start: date | None = None,
    max_problems: int = DEFAULT_MAX_PROBLEMS,
) -> FecReport:
    """Check the FEC file ``path`` (its name too). Raises OSError if it cannot be read."""
    with open(path, "rb") as fh:
        return check_bytes(
            iter(lambda: fh.read(1 << 20), b""),
            path.name,
            encoding=encoding,
            start=start,
            max_problems=max_problems,
        )
