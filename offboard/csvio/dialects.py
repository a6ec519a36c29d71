"""CSV dialects: how values are laid out in a file."""

from __future__ import annotations

from dataclasses import dataclass

from offboard.errors import ConfigError


@dataclass(frozen=True)
class Dialect:
    """A CSV dialect.

    ``standard``: UTF-8, comma, RFC 4180 quoting, ``\\n`` line ends, ``.`` decimal point.
    ``excel-fr``: UTF-8 with a byte-order mark, semicolon, decimal comma, ``\\r\\n`` line ends:
    the file opens right in French Excel and LibreOffice.
    """

    name: str
    delimiter: str
    eol: str
    bom: bool
    decimal_comma: bool

    @property
    def encoding(self) -> str:
        return "utf-8-sig" if self.bom else "utf-8"


STANDARD = Dialect("standard", delimiter=",", eol="\n", bom=False, decimal_comma=False)
EXCEL_FR = Dialect("excel-fr", delimiter=";", eol="\r\n", bom=True, decimal_comma=True)
DIALECTS = {d.name: d for d in (STANDARD, EXCEL_FR)}


def get_dialect(name: str) -> Dialect:
    try:
        return DIALECTS[name]
    except KeyError:
        raise ConfigError(
            f"unknown CSV dialect {name!r} (choose one of: {', '.join(DIALECTS)})"
        ) from None
