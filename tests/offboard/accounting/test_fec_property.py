"""A property: any balanced set of entries goes through the FEC writer and passes the checker;
changing any one amount of the file (to another value, or another form) makes it fail."""

from __future__ import annotations

import calendar
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporters.fec import FecExporter
from offboard.accounting.fec import FiscalYear, write_fec
from offboard.accounting.fec_check import check_bytes
from offboard.accounting.fec_format import COLUMNS

SIREN = "805361474"
YEAR = FiscalYear("fy-1", SIREN, "2025-01-01", "2025-12-31", True)
JOURNALS = {"BQ": "Banque", "HA": "Achats", "VT": "Ventes"}
ACCOUNTS = {
    "401000": "Fournisseurs",
    "411000": "Clients",
    "445710": "TVA collectée",
    "512101": "Banque - Compte courant",
    "706000": "Prestations de services",
    "40100001": "Papeterie Lefèvre",
    "41100001": 'Œuvres & Zoé ; "SAS" | 100 %',
}
AUX = {"401000": "40100001", "411000": "41100001"}
TEXT = st.text(
    alphabet=st.characters(
        codec="iso8859_15", exclude_categories=("Cc", "Cs", "Zl", "Zp"), exclude_characters="\t"
    ),
    min_size=1,
    max_size=30,
).filter(lambda s: s.strip() != "")


@st.composite
def entries(draw: st.DrawFn) -> list[dict[str, object]]:
    """Balanced entries of 2025, in validation order (month end, journal, number)."""
    made = []
    for _ in range(draw(st.integers(1, 12))):
        day = draw(st.dates(date(2025, 1, 1), date(2025, 12, 31)))
        journal = draw(st.sampled_from(sorted(JOURNALS)))
        amounts = draw(st.lists(st.integers(-(10**9), 10**9), min_size=1, max_size=4))
        amounts.append(-sum(amounts))
        general = st.sampled_from(sorted(a for a in ACCOUNTS if len(a) == 6))
        accounts = draw(st.lists(general, min_size=len(amounts), max_size=len(amounts)))
        made.append(
            {
                "day": day,
                "valid": day.replace(day=calendar.monthrange(2025, day.month)[1]),
                "journal": journal,
                "piece": draw(TEXT),
                "label": draw(TEXT),
                "lines": list(zip(accounts, amounts, strict=True)),
            }
        )
    made.sort(key=lambda e: (e["valid"], e["journal"]))
    numbers: dict[str, int] = {}
    for e in made:
        numbers[str(e["journal"])] = numbers.get(str(e["journal"]), 0) + 1
        e["number"] = f"{e['journal']}{numbers[str(e['journal'])]:07d}"
    return made


def batch(made: list[dict[str, object]]) -> pa.RecordBatch:
    schema = FecExporter.table("accounting_entries").schema
    rows: dict[str, list[object]] = {name: [] for name in schema.names}
    n = 0
    for e in made:
        for position, (account, amount) in enumerate(e["lines"], 1):  # type: ignore[arg-type]
            n += 1
            values = {
                "id": f"ecr-{n:08d}",
                "fiscal_year_id": YEAR.id,
                "journal_code": e["journal"],
                "entry_number": e["number"],
                "entry_date": e["day"],
                "piece_ref": e["piece"],
                "piece_date": e["day"],
                "position": position,
                "account_number": account,
                "auxiliary_number": AUX.get(account),
                "label": e["label"],
                "debit": Decimal(max(amount, 0)).scaleb(-2),
                "credit": Decimal(max(-amount, 0)).scaleb(-2),
                "validated_on": e["valid"],
                "currency": "EUR",
            }
            for name in schema.names:
                rows[name].append(values.get(name))
    return pa.RecordBatch.from_pydict(rows, schema=schema)


def written(made: list[dict[str, object]], folder: Path, encoding: str) -> bytes:
    [fec] = write_fec([YEAR], JOURNALS, ACCOUNTS, iter([batch(made)]), folder, encoding)
    assert fec.path == f"accounting/{SIREN}FEC20251231.txt"
    return (folder / f"{SIREN}FEC20251231.txt").read_bytes()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    made=entries(),
    encoding=st.sampled_from(["utf-8", "iso-8859-15"]),
    pick=st.integers(0, 10**6),
    delta=st.integers(1, 10**6),
    dot=st.booleans(),
)
def test_balanced_entries_pass_and_any_changed_amount_fails(
    made: list[dict[str, object]],
    encoding: str,
    pick: int,
    delta: int,
    dot: bool,
    tmp_path: Path,
) -> None:
    folder = tmp_path / f"{pick}-{delta}-{dot}-{encoding}"
    data = written(made, folder, encoding)
    codec = "iso8859_15" if encoding == "iso-8859-15" else "utf-8"
    lines = data.decode(codec).split("\r\n")
    assert lines[0] == "\t".join(COLUMNS) and lines[-1] == ""
    report = check_bytes([data], f"{SIREN}FEC20251231.txt", encoding=encoding)
    assert report.valid, report.problems
    assert report.entries == len(made) and report.lines == len(lines) - 2
    # one amount cell changed: another value, or the same value with a dot
    body = [line.split("\t") for line in lines[1:-1]]
    row = body[pick % len(body)]
    col = 11 + pick % 2  # Debit or Credit
    whole, frac = row[col].split(",")
    cents = int(whole) * 100 + int(frac)
    if dot:
        row[col] = f"{whole}.{frac}"
    else:
        new = cents + delta
        row[col] = f"{new // 100},{new % 100:02d}"
    changed = "\r\n".join(["\t".join(COLUMNS), *("\t".join(r) for r in body), ""])
    bad = check_bytes([changed.encode(codec)], f"{SIREN}FEC20251231.txt", encoding=encoding)
    assert not bad.valid
    assert {p.rule for p in bad.problems} & {"amount", "balance"}
