"""A tiny hand-written database in the reference schema, with hostile values.

Independent of the demo generator: the exporters' tests check against rows written here by hand.
"""

from __future__ import annotations

import sqlite3
from importlib.resources import files
from pathlib import Path

ACCOUNT = "acc-t001"
OTHER = "acc-t002"
TS = "2025-03-31T10:00:00Z"

HOSTILE_NOTES = [
    '=HYPERLINK("http://example.test","x")',
    "+33 1 42 68 53 00",
    "-CB CARREFOUR 12/03",
    "@SUM(A1:A2)",
    "\tcmd",
    "\rcr",
    "'already quoted",
    'a "quoted" word; and, commas\nand a new line',
    "  spaces around  ",
    "émoji 🎉 and accents: Hélène Lefèvre",
    "",
]


def schema_sql() -> str:
    return (files("offboard.demo") / "schema.sql").read_text(encoding="utf-8")


def make_tiny_db(path: Path, *, with_documents: bool = False) -> Path:
    """Create the tiny database at ``path``; return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path)
    con.executescript(schema_sql())
    for acc, name in ((ACCOUNT, "Tiny SARL"), (OTHER, "Other SAS")):
        con.execute(
            "INSERT INTO accounts VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                acc,
                name,
                "732829320",
                "FR44732829320",
                "a@x.test",
                "1 rue A",
                "75001",
                "Paris",
                "FR",
                TS,
            ),
        )
        con.execute(
            "INSERT INTO subscriptions VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                f"sub-{acc}",
                acc,
                "standard",
                3,
                "active",
                "29.00",
                "EUR",
                "2024-01-01",
                "2025-03-01",
                "2025-03-31",
                TS,
                TS,
                None,
                None,
                None,
                None,
            ),
        )
    # companies: NULLs first for many rows so that type inference would fail without care
    companies = []
    for i in range(1500):
        note = HOSTILE_NOTES[i % len(HOSTILE_NOTES)] if i >= 1200 else None
        companies.append(
            (
                f"co-{i:05d}",
                ACCOUNT,
                f"Société {i}",
                None,
                None,
                None,
                None,
                "+33 6 12 34 56 78" if i % 2 else None,
                None,
                None,
                None,
                None,
                "FR",
                1,
                i % 3 == 0,
                note,
                TS,
                TS,
            )
        )
    con.executemany(f"INSERT INTO companies VALUES ({','.join('?' * 18)})", companies)
    con.execute(
        f"INSERT INTO companies VALUES ({','.join('?' * 18)})",
        (
            "co-other",
            OTHER,
            "Autre",
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            "FR",
            1,
            0,
            None,
            TS,
            TS,
        ),
    )
    con.executemany(
        f"INSERT INTO products VALUES ({','.join('?' * 12)})",
        [
            ("pr-1", ACCOUNT, "SKU-1", "Café", "=1+1", "product", "kg", "12.50", "5.50", 1, TS, TS),
            (
                "pr-2",
                ACCOUNT,
                "SKU-2",
                "Conseil",
                None,
                "service",
                "heure",
                "90.00",
                "20.00",
                1,
                TS,
                TS,
            ),
        ],
    )
    invoices = [
        # id, number, kind, customer, quote, credited, issue, due, terms, status,
        # ht, vat, ttc, paid, pdf
        (
            "in-1",
            "FA-2025-00001",
            "invoice",
            "co-00000",
            None,
            None,
            "2025-01-01",
            "2025-01-31",
            "30 jours",
            "paid",
            "205.00",
            "36.69",
            "241.69",
            "241.69",
            "invoices/FA-2025-00001.pdf",
        ),
        (
            "in-2",
            "FA-2025-00002",
            "invoice",
            "co-00001",
            None,
            None,
            "2025-03-31",
            "2025-04-30",
            "30 jours",
            "unpaid",
            "90.00",
            "18.00",
            "108.00",
            "0.00",
            "invoices/missing.pdf",
        ),
        (
            "in-3",
            "AV-2025-00001",
            "credit_note",
            "co-00000",
            None,
            "in-1",
            "2025-12-31",
            "2025-12-31",
            "À réception",
            "paid",
            "-12.50",
            "-0.69",
            "-13.19",
            "-13.19",
            None,
        ),
    ]
    con.executemany(
        f"INSERT INTO invoices VALUES ({','.join('?' * 19)})",
        [(i[0], ACCOUNT, *i[1:14], "EUR", i[14], TS, TS) for i in invoices],
    )
    con.executemany(
        f"INSERT INTO invoice_lines VALUES ({','.join('?' * 11)})",
        [
            ("il-1", ACCOUNT, "in-1", 1, "pr-1", "Café", "2.000", "kg", "12.50", "5.50", "25.00"),
            (
                "il-2",
                ACCOUNT,
                "in-1",
                2,
                "pr-2",
                "-remise",
                "2.000",
                "heure",
                "90.00",
                "20.00",
                "180.00",
            ),
            (
                "il-3",
                ACCOUNT,
                "in-2",
                1,
                "pr-2",
                "Conseil",
                "1.000",
                "heure",
                "90.00",
                "20.00",
                "90.00",
            ),
            (
                "il-4",
                ACCOUNT,
                "in-3",
                1,
                "pr-1",
                "Avoir café",
                "-1.000",
                "kg",
                "12.50",
                "5.50",
                "-12.50",
            ),
        ],
    )
    con.executemany(
        "INSERT INTO invoice_vat VALUES (?,?,?,?,?)",
        [
            (ACCOUNT, "in-1", "5.50", "25.00", "1.38"),
            (ACCOUNT, "in-1", "20.00", "180.00", "36.00"),
            (ACCOUNT, "in-2", "20.00", "90.00", "18.00"),
            (ACCOUNT, "in-3", "5.50", "-12.50", "-0.69"),
        ],
    )
    # fix in-1 totals to the breakdown: 205.00 + 37.38
    con.execute(
        "UPDATE invoices SET total_vat='37.38', total_ttc='242.38', amount_paid='242.38' "
        "WHERE id='in-1'"
    )
    con.executemany(
        f"INSERT INTO bank_accounts VALUES ({','.join('?' * 10)})",
        [
            (
                "ba-1",
                ACCOUNT,
                "Compte courant",
                "Banque Populaire",
                "FR7630001007941234567890185",
                "CCBPFRPPXXX",
                "EUR",
                "2024-01-01",
                "1000.00",
                TS,
            )
        ],
    )
    con.executemany(
        f"INSERT INTO bank_transactions VALUES ({','.join('?' * 11)})",
        [
            (
                "bt-1",
                ACCOUNT,
                "ba-1",
                "2025-01-31",
                "2025-01-31",
                "VIR SEPA CLIENT",
                "242.38",
                "1242.38",
                "in-1",
                None,
                TS,
            ),
            (
                "bt-2",
                ACCOUNT,
                "ba-1",
                "2025-02-01",
                "2025-02-02",
                "-CB CARREFOUR 12/03",
                "-42.10",
                "1200.28",
                None,
                None,
                TS,
            ),
        ],
    )
    con.commit()
    con.close()
    if with_documents:
        docs = path.parent / f"{path.stem}-documents" / "invoices"
        docs.mkdir(parents=True, exist_ok=True)
        from reportlab.pdfgen.canvas import Canvas

        c = Canvas(str(docs / "FA-2025-00001.pdf"), invariant=1)
        c.drawString(72, 720, "Facture FA-2025-00001")
        c.showPage()
        c.save()
    return path
