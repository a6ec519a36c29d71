"""The invoices' rows read back from the CSV file and compared with their XML values
(offboard.facturx.rows): each row compared as it is read, the last row of an id counting."""

from __future__ import annotations

import pytest

from offboard.facturx.checks import pack_values
from offboard.facturx.rows import iter_rows, read_rows, row_issues

HEAD = '"id","number","kind","issue_date","currency","total_ht","total_vat","total_ttc"\n'
CSV = {"delimiter": ",", "decimal_point": ".", "bom": True}


def line(record_id: str, number: str, gross: str = "120.00") -> str:
    return f'"{record_id}","{number}","invoice","2025-03-01","EUR","100.00","20.00","{gross}"\n'


def packed(number: str, gross: str = "120.00") -> str:
    values = {"number": number, "issue_date": "2025-03-01", "type_code": "380"}
    values |= {"currency": "EUR", "net": "100.00", "vat": "20.00", "gross": gross}
    return pack_values(values)


def chunks(text: str, size: int = 7) -> list[bytes]:
    data = b"\xef\xbb\xbf" + text.encode()
    return [data[i : i + size] for i in range(0, len(data), size)]


def test_only_the_differences_are_returned_and_the_last_row_of_an_id_counts() -> None:
    text = HEAD + line("a", "FA-1") + line("b", "FA-2", gross="121.00") + line("d", "FA-x")
    text += line("e", "FA-5") + line("z", "FA-9") + line("d", "FA-4") + line("e", "FA-x")
    text += line("'=f", "FA-6")  # a key cell carrying the formula-guard apostrophe
    wanted = {k: packed(n) for k, n in [("a", "FA-1"), ("b", "FA-2"), ("c", "FA-3")]}
    wanted |= {"d": packed("FA-4"), "e": packed("FA-5"), "=f": packed("FA-6")}
    found = row_issues(chunks(text), CSV, wanted)
    assert {k: [i.code for i in v] for k, v in found.items()} == {
        "b": ["total-mismatch"],
        "c": ["no-row"],  # no row at all: compared with none
        "e": ["number-mismatch"],  # its last row differs, its first did not
    }  # d: its first row differed, its last does not; =f found under its restored key


def test_rows_come_in_the_files_order_and_only_those_asked_for() -> None:
    text = HEAD + line("b", "FA-2") + line("a", "FA-1") + line("c", "FA-3")
    assert [k for k, _ in iter_rows(chunks(text), CSV, {"a", "b"})] == ["b", "a"]
    assert read_rows(chunks(text), CSV, {"c"})["c"]["number"] == "FA-3"
    assert list(iter_rows(chunks(text), CSV, set())) == []


def test_a_file_without_the_columns_is_refused_when_read() -> None:
    with pytest.raises(ValueError, match="does not exist in CSV file"):
        row_issues(chunks('"id","other"\n"a","x"\n'), CSV, {"a": packed("FA-1")})


@pytest.mark.parametrize("size", [1, 2, 3, 5, 64, 1 << 20])
def test_chunks_of_any_size_give_the_same_rows(size: int) -> None:
    """Chunks of one byte (the byte-order mark itself split), or a few bytes (a header not
    whole in the first), are read as the whole file is."""
    text = HEAD + "".join(line(f"r{i}", f"FA-{i}") for i in range(200))
    ids = {f"r{i}" for i in range(0, 200, 7)}
    expected = read_rows([b"\xef\xbb\xbf" + text.encode()], CSV, ids)
    assert len(expected) == len(ids)
    assert read_rows(chunks(text, size), CSV, ids) == expected
    assert read_rows([b"", *chunks(text, size), b""], CSV, ids) == expected
