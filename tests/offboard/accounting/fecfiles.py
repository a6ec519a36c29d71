"""Hand-made FEC files for the checker's tests: a valid one, and ways to break it."""

from __future__ import annotations

from offboard.accounting.fec_format import COLUMNS

#: a SIREN with a valid Luhn key, and one without
SIREN = "805361474"
BAD_SIREN = "805361475"
NAME = f"{SIREN}FEC20251231.txt"

#: a sales invoice, a purchase and the bank line settling the invoice (lettered with it)
ROWS: list[list[str]] = [
    # line 2-4: VT0000001
    ["VT", "Ventes", "VT0000001", "20250115", "411000", "Clients", "41100001", "Dupont SARL",
     "FA-2025-00001", "20250115", "Facture FA-2025-00001 - Dupont SARL", "120,00", "0,00",
     "AAA", "20250210", "20250131", "", ""],
    ["VT", "Ventes", "VT0000001", "20250115", "706000", "Prestations de services", "", "",
     "FA-2025-00001", "20250115", "Facture FA-2025-00001 - Dupont SARL", "0,00", "100,00",
     "", "", "20250131", "", ""],
    ["VT", "Ventes", "VT0000001", "20250115", "445710", "TVA collectée", "", "",
     "FA-2025-00001", "20250115", "Facture FA-2025-00001 - Dupont SARL", "0,00", "20,00",
     "", "", "20250131", "", ""],
    # line 5-6: HA0000001
    ["HA", "Achats", "HA0000001", "20250120", "606400", "Fournitures administratives", "", "",
     "ACH-2025-00001", "20250120", "Facture F2025-0142 - Papeterie", "50,00", "0,00",
     "", "", "20250131", "", ""],
    ["HA", "Achats", "HA0000001", "20250120", "401000", "Fournisseurs", "40100001", "Papeterie",
     "ACH-2025-00001", "20250120", "Facture F2025-0142 - Papeterie", "0,00", "50,00",
     "", "", "20250131", "", ""],
    # line 7-8: BQ0000001, validated at the end of February
    ["BQ", "Banque", "BQ0000001", "20250210", "512101", "Banque - Compte courant", "", "",
     "btx-0001-00000001", "20250210", "VIR SEPA DUPONT FA-2025-00001", "120,00", "0,00",
     "", "", "20250228", "", ""],
    ["BQ", "Banque", "BQ0000001", "20250210", "411000", "Clients", "41100001", "Dupont SARL",
     "btx-0001-00000001", "20250210", "VIR SEPA DUPONT FA-2025-00001", "0,00", "120,00",
     "AAA", "20250210", "20250228", "", ""],
]  # fmt: skip


def rows() -> list[list[str]]:
    return [list(r) for r in ROWS]


def text(rows: list[list[str]], *, header: list[str] | None = None, eol: str = "\r\n") -> str:
    lines = ["\t".join(header or COLUMNS)] + ["\t".join(r) for r in rows]
    return eol.join(lines) + eol


def data(rows: list[list[str]], encoding: str = "utf-8", **kw: object) -> bytes:
    return text(rows, **kw).encode(encoding)  # type: ignore[arg-type]


def column(name: str) -> int:
    return COLUMNS.index(name)
