"""Text cells made safe for spreadsheets, reversibly.

A spreadsheet opening a CSV evaluates a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a
formula, and a leading tab, carriage return or line feed can smuggle one in (OWASP "CSV
injection"). offboard prefixes such *text* cells with an apostrophe, which spreadsheets show as
text. To keep the transformation exactly reversible, a text cell that already starts with an
apostrophe is prefixed too; :func:`restore_cell` removes exactly one leading apostrophe.
Numeric, date and boolean columns are never touched: ``-12.50`` stays a number.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from offboard.arrowutil import string_scalar

#: first characters that make a spreadsheet read a cell as a formula, plus the escape itself
TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "'")
_PATTERN = "^[=+\\-@\\t\\r\\n']"
_QUOTE = string_scalar("'")
_EMPTY = string_scalar("")


def neutralise_cell(value: str) -> str:
    """The safe form of one text cell."""
    return "'" + value if value.startswith(TRIGGERS) else value


def restore_cell(value: str) -> str:
    """The original text of a cell written by :func:`neutralise_cell`."""
    return value[1:] if value.startswith("'") else value


def neutralise(array: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Neutralise every cell of a string array (nulls stay null)."""
    mask = pc.match_substring_regex(array, _PATTERN)
    if not pc.any(mask).as_py():
        return array
    prefixed = pc.binary_join_element_wise(_QUOTE, array, _EMPTY)
    return pc.if_else(mask, prefixed, array)
