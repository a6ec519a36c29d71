"""The FEC checker: a valid hand-made file passes; each rule, broken on purpose, is reported
with its line number (1 is the header; None for the file as a whole)."""

from __future__ import annotations

from datetime import date

import pytest

from offboard.accounting.fec_check import FecChecker, FecReport, check_bytes
from offboard.accounting.fec_format import COLUMNS, luhn_valid, parse_amount

from .fecfiles import BAD_SIREN, NAME, SIREN, column, data, rows


def check(payload: bytes, name: str | None = NAME, **kw: object) -> FecReport:
    return check_bytes([payload], name, **kw)  # type: ignore[arg-type]


def found(report: FecReport) -> set[tuple[int | None, str]]:
    return {(p.line, p.rule) for p in report.problems}


def test_the_hand_made_file_is_valid_and_its_figures_are_counted() -> None:
    report = check(data(rows()))
    assert report.valid, report.problems
    assert (report.lines, report.entries) == (7, 3)
    assert report.debit == report.credit == 29000
    assert (report.siren, report.closing_date, report.encoding) == (SIREN, "2025-12-31", "utf-8")


@pytest.mark.parametrize("chunk", [1, 7, 100, 1 << 20])
def test_the_bytes_may_come_in_chunks_of_any_size(chunk: int) -> None:
    payload = data(rows())
    report = check_bytes([payload[i : i + chunk] for i in range(0, len(payload), chunk)], NAME)
    assert report.valid and report.lines == 7


def test_lf_line_ends_a_missing_last_line_end_and_a_pipe_separator_are_read() -> None:
    assert check(data(rows(), eol="\n")).valid
    assert check(data(rows()).rstrip(b"\r\n")).valid
    piped = data(rows()).replace(b"\t", b"|")
    assert check(piped).valid


def test_a_wrong_column_order_is_reported_on_the_header() -> None:
    header = list(COLUMNS)
    header[11], header[12] = header[12], header[11]  # Credit before Debit
    table = rows()
    for r in table:
        r[11], r[12] = r[12], r[11]
    report = check(data(table, header=header))
    assert found(report) == {(1, "header")}  # the fields are still read by their names
    assert "order" in report.problems[0].message


def test_unknown_or_missing_field_names_are_reported() -> None:
    header = list(COLUMNS)
    header[16] = "Montant"
    report = check(data(rows(), header=header))
    assert (1, "header") in found(report)
    assert "Montantdevise" in report.problems[0].message


def test_a_dot_decimal_is_reported_with_its_line() -> None:
    table = rows()
    table[1][column("Credit")] = "100.00"  # line 3
    report = check(data(table))
    assert (3, "amount") in found(report)
    assert "'100.00'" in str(report.problems)


@pytest.mark.parametrize("amount", ["1 200,00", "1.200,00", "12,345", "12,", ",50", "1e3", "+5"])
def test_amounts_with_separators_or_too_many_decimals_are_reported(amount: str) -> None:
    table = rows()
    table[0][column("Debit")] = amount
    assert (2, "amount") in found(check(data(table)))


def test_amounts_are_read_exactly() -> None:
    assert [parse_amount(a) for a in ("0", "12", "12,5", "12,50", "-0,01")] == [
        0,
        1200,
        1250,
        1250,
        -1,
    ]


def test_an_unbalanced_entry_is_reported_at_its_first_line_and_the_file_too() -> None:
    table = rows()
    table[2][column("Credit")] = "19,99"  # line 4, in the entry of lines 2-4
    report = check(data(table))
    assert found(report) == {(2, "balance"), (None, "balance")}
    assert "VT0000001 (lines 2-4)" in report.problems[0].message


def test_a_bad_date_is_reported_with_its_line() -> None:
    table = rows()
    table[3][column("PieceDate")] = "20250230"  # line 5: no 30th of February
    table[5][column("ValidDate")] = "2025-02-28"  # line 7: not AAAAMMJJ
    report = check(data(table))
    assert {(5, "date"), (7, "date")} <= found(report)


def test_a_wrong_siren_in_the_name_is_reported() -> None:
    report = check(data(rows()), f"{BAD_SIREN}FEC20251231.txt")
    assert found(report) == {(None, "file-name")}
    assert "Luhn" in report.problems[0].message
    assert luhn_valid(SIREN) and not luhn_valid(BAD_SIREN)


@pytest.mark.parametrize(
    "name", ["805361474FEC20251232.txt", "805361474FEC2025123.txt", "fec.txt", "805361474.txt"]
)
def test_a_name_not_of_the_form_or_with_no_real_day_is_reported(name: str) -> None:
    assert (None, "file-name") in found(check(data(rows()), name))


def test_a_missing_mandatory_field_is_reported_with_its_line() -> None:
    table = rows()
    table[1][column("CompteLib")] = ""  # line 3
    table[4][column("PieceRef")] = "   "  # line 6: spaces only
    report = check(data(table))
    assert found(report) == {(3, "mandatory"), (6, "mandatory")}
    assert "CompteLib" in report.problems[0].message


def test_an_entry_out_of_validation_order_is_reported() -> None:
    table = rows()
    table = table[5:] + table[:5]  # the bank entry (validated 20250228) first
    report = check(data(table))
    assert (4, "chronology") in found(report)  # the sales entry, validated 20250131, after it
    assert "validation order" in report.problems[0].message


def test_an_entry_whose_lines_are_apart_is_reported() -> None:
    table = rows()
    table.insert(1, table.pop(3))  # a purchase line between two lines of VT0000001
    report = check(data(table))
    assert (4, "chronology") in found(report)  # VT0000001 again after HA0000001... in VT
    assert any(p.rule == "balance" for p in report.problems)


def test_a_number_going_back_within_a_journal_is_reported() -> None:
    table = rows()
    for r in table[3:5]:
        r[column("JournalCode")], r[column("EcritureNum")] = "VT", "VT0000000"
    report = check(data(table))
    assert (5, "chronology") in found(report)


def test_an_entry_date_outside_the_fiscal_year_is_reported() -> None:
    table = rows()
    for r in table[3:5]:
        r[column("EcritureDate")] = "20260102"  # after the closing date, lines 5-6
    assert {(5, "fiscal-year"), (6, "fiscal-year")} <= found(check(data(table)))
    report = check(data(rows()), start=date(2025, 2, 1))  # the sales entry is before it
    assert {(2, "fiscal-year"), (3, "fiscal-year"), (4, "fiscal-year")} <= found(report)


def test_bad_encoding_is_reported_with_its_line() -> None:
    payload = data(rows())
    latin = b"Papeterie L\xe9fevre"  # ISO 8859-1 bytes in a UTF-8 file (line 3 has an é)
    broken = payload.replace(b"Facture F2025-0142 - Papeterie", latin, 1)
    report = check(broken)
    assert report.encoding == "utf-8"
    assert found(report) == {(5, "encoding")}
    assert "0xe9" in report.problems[0].message


def test_an_iso_8859_15_file_is_read_as_such_and_checked() -> None:
    table = rows()
    table[0][column("CompAuxLib")] = table[6][column("CompAuxLib")] = "Œuvres € Zoé"
    payload = data(table, "iso8859_15")
    assert b"\xbcuvres \xa4 Zo\xe9" in payload
    report = check(payload)
    assert report.valid, report.problems
    assert report.encoding == "iso-8859-15"
    assert check(payload, encoding="iso-8859-15").valid
    assert (2, "encoding") in found(check(payload, encoding="utf-8"))


def test_a_control_character_in_a_field_is_reported() -> None:
    table = rows()
    table[3][column("EcritureLib")] = "Facture\x0bF2025"
    assert (5, "encoding") in found(check(data(table)))


def test_a_wrong_field_count_or_an_empty_line_is_reported() -> None:
    table = rows()
    table[2] = table[2][:17]  # line 4
    payload = data(table).replace(b"\r\nHA\t", b"\r\n\r\nHA\t", 1)  # an empty line 5
    report = check(payload)
    assert {(4, "columns"), (5, "columns")} <= found(report)


def test_pairs_of_fields_go_together() -> None:
    table = rows()
    table[0][column("CompAuxLib")] = ""  # line 2
    table[3][column("Montantdevise")] = "10,00"  # line 5, without Idevise
    table[4][column("Montantdevise")], table[4][column("Idevise")] = "10,00", "usd"  # line 6
    report = check(data(table))
    assert {(2, "auxiliary"), (5, "currency"), (6, "currency")} <= found(report)


def test_lettering_is_consistent() -> None:
    table = rows()
    table[6][column("DateLet")] = ""  # line 8: a code without its date
    report = check(data(table))
    assert (8, "lettering") in found(report)
    table = rows()
    table[0][column("DateLet")] = "20250101"  # line 2: lettered before the entry's date
    assert (2, "lettering") in found(check(data(table)))
    table = rows()
    table[6][column("EcritureLet")] = "AAB"  # both groups left unbalanced
    report = check(data(table))
    assert {(2, "lettering"), (8, "lettering")} <= found(report)
    assert "'AAA' of account 411000/41100001" in str(report.problems)


def test_every_problem_is_listed_up_to_the_cap_and_the_rest_counted() -> None:
    table = [r for r in rows() for _ in range(40)]  # every entry's lines repeated: 280 lines
    for r in table:
        r[column("Debit")] = r[column("Debit")].replace(",", ".")
    report = check(data(table), max_problems=25)
    assert len(report.problems) == 25
    assert report.total_problems > 200 and report.unlisted == report.total_problems - 25
    assert report.to_dict()["unlisted_problems"] == report.unlisted


def test_an_empty_file_has_no_header() -> None:
    assert found(check(b"")) == {(None, "header")}


def test_the_checker_reads_lines_given_as_text() -> None:
    checker = FecChecker(NAME)
    for n, line in enumerate(data(rows()).decode().split("\r\n")[:-1], 1):
        checker.line(line, n)
    assert checker.finish().valid
