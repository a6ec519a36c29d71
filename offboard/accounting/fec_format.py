"""The FEC's format (LPF art. A47 A-1, as docs/fec.md reads it): its fields in order, the
encodings, the file name, and how dates, amounts and entry numbers are written; what both the
checker (:mod:`offboard.accounting.fec_check`) and the writer (:mod:`offboard.accounting.fec`)
follow."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

#: the fields of a FEC, in order (the header line)
COLUMNS = (
    "JournalCode",
    "JournalLib",
    "EcritureNum",
    "EcritureDate",
    "CompteNum",
    "CompteLib",
    "CompAuxNum",
    "CompAuxLib",
    "PieceRef",
    "PieceDate",
    "EcritureLib",
    "Debit",
    "Credit",
    "EcritureLet",
    "DateLet",
    "ValidDate",
    "Montantdevise",
    "Idevise",
)
(
    JOURNAL_CODE,
    JOURNAL_LIB,
    ECRITURE_NUM,
    ECRITURE_DATE,
    COMPTE_NUM,
    COMPTE_LIB,
    COMP_AUX_NUM,
    COMP_AUX_LIB,
    PIECE_REF,
    PIECE_DATE,
    ECRITURE_LIB,
    DEBIT,
    CREDIT,
    ECRITURE_LET,
    DATE_LET,
    VALID_DATE,
    MONTANT_DEVISE,
    IDEVISE,
) = range(18)
#: the fields no line may leave empty
MANDATORY = (
    JOURNAL_CODE,
    JOURNAL_LIB,
    ECRITURE_NUM,
    ECRITURE_DATE,
    COMPTE_NUM,
    COMPTE_LIB,
    PIECE_REF,
    PIECE_DATE,
    ECRITURE_LIB,
    DEBIT,
    CREDIT,
    VALID_DATE,
)
#: the encodings A47 A-1 allows that offboard reads and writes (ASCII is a subset of both)
ENCODINGS = ("utf-8", "iso-8859-15")
CODECS = {"utf-8": "utf-8", "iso-8859-15": "iso8859_15"}
FILE_NAME = re.compile(r"(?P<siren>[0-9]{9})FEC(?P<closing>[0-9]{8})\.txt")
AMOUNT = re.compile(r"-?[0-9]+(?:,[0-9]{1,2})?")
FOREIGN_AMOUNT = re.compile(r"-?[0-9]+(?:,[0-9]{1,3})?")
CURRENCY = re.compile(r"[A-Z]{3}")
DIGITS = re.compile(r"([0-9]+)")
#: characters no field may hold: they would end a field or a line (docs/fec.md)
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
#: a fiscal year lasts at most 24 months: the earliest entry date before the closing date
MAX_YEAR_DAYS = 731


def luhn_valid(digits: str) -> bool:
    """The Luhn check of a SIREN (9 digits) or SIRET."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        v = int(ch)
        if i % 2 == 1:
            v *= 2
            if v > 9:
                v -= 9
        total += v
    return total % 10 == 0


def parse_date(text: str) -> date | None:
    """An AAAAMMJJ date, or None."""
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def parse_amount(text: str) -> int | None:
    """A FEC amount ('1234,5', '-12,50', '0') in cents, or None if it is not one."""
    whole, frac = text[:-3], text[-2:]
    if text[-3:-2] == "," and whole.isdigit() and frac.isdigit() and text.isascii():
        return int(whole) * 100 + int(frac)  # the usual form, at once
    if not AMOUNT.fullmatch(text):
        return None
    negative = text.startswith("-")
    whole, _, frac = text.lstrip("-").partition(",")
    value = int(whole) * 100 + int(frac.ljust(2, "0"))
    return -value if negative else value


def money_text(cents: int) -> str:
    """Cents as offboard writes money in reports: '1234.56'."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{whole}.{frac:02d}"


def number_key(number: str) -> tuple[Any, ...]:
    """An entry number's order: its digit runs as numbers ('VT99' < 'VT100')."""
    parts = DIGITS.split(number)
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts))
