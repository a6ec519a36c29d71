"""Bank accounts and their transactions, with exact running balances.

Every movement (customer payments, supplier payments, the subscription, fees, card payments,
internal transfers) is collected as an event, then booked in (booking date, id) order: ids are
given in that order, so ``balance = opening_balance + running sum`` holds in the schema's order.
"""

from __future__ import annotations

import random
from typing import NamedTuple

from . import frdata as fr
from .common import (
    FR_MONTHS,
    ISO,
    TODAY_ORD,
    Clock,
    add_months,
    busiest_day,
    make_iban,
    make_id,
    money,
    rng_for,
    ts,
)
from .context import AccountCtx, Event, bank_day

#: hostile-but-legal labels (formula prefixes, separators, quotes, spaces, emoji)
HOSTILE_LABELS = (
    ("-CB CARREFOUR 12/03", -4312),
    ('+VIR RECU ; REF 2024/11 "ACOMPTE"', 25000),
    ("=FRAIS TENUE DE COMPTE", -900),
    ("FRAIS BANCAIRES  ", -1250),
    ("VIR INST REMBOURSEMENT DÉJEUNER 🍕", 1850),
    ("@PRLV SEPA ASSURANCE, CONTRAT N°4411", -8990),
)


class BankAccount(NamedTuple):
    id: str
    name: str
    bank: str
    iban: str
    bic: str


def make_bank_accounts(ctx: AccountCtx) -> list[BankAccount]:
    rng = rng_for(ctx.seed, ctx.acc, "bank")
    bank, code, bic = fr.BANKS[rng.randrange(len(fr.BANKS))]
    accounts = [
        BankAccount(make_id("bka", ctx.acc, 1), "Compte courant", bank, make_iban(rng, code), bic)
    ]
    if rng.random() < 0.6:
        bank2, code2, bic2 = fr.BANKS[rng.randrange(len(fr.BANKS))]
        name = "Compte épargne" if bank2 == bank else f"Compte secondaire {bank2}"
        accounts.append(
            BankAccount(make_id("bka", ctx.acc, 2), name, bank2, make_iban(rng, code2), bic2)
        )
    main = accounts[0]
    spaced = " ".join(main.iban[i : i + 4] for i in range(0, len(main.iban), 4))
    ctx.bank_note = f"Règlement par virement : IBAN {spaced} — BIC {main.bic} ({main.bank})"
    return accounts


def _recurring(ctx: AccountCtx, rng: random.Random, two: bool) -> list[Event]:
    """Monthly fees, payroll, social charges and VAT, transfers to the second account."""
    out: list[Event] = []
    m = add_months(ctx.start, 1)
    staff = 1 + rng.randrange(4)
    k = 0
    while m <= TODAY_ORD:
        month = FR_MONTHS[int(ISO[m][5:7]) - 1].upper()
        for day, amount, label in (
            (m + 4, -(900 + rng.randrange(2600)), "FRAIS BANCAIRES"),
            (m + 24, -staff * (210000 + rng.randrange(90000)), f"VIR SEPA SALAIRES {month}"),
            (m + 14, -staff * (90000 + rng.randrange(30000)), "PRLV SEPA URSSAF"),
            (m + 19, -(30000 + rng.randrange(400000)), "PRLV SEPA DGFIP TVA"),
        ):
            d = bank_day(day)
            if d <= TODAY_ORD:
                out.append((d, amount, label, None, None, 0))
        if two and k % 3 == 2:
            d = bank_day(m + 9)
            amount = 100000 * (1 + rng.randrange(5))
            if d <= TODAY_ORD:
                out.append((d, -amount, "VIR INTERNE VERS COMPTE SECONDAIRE", None, None, 0))
                out.append((d, amount, "VIR INTERNE DEPUIS COMPTE COURANT", None, None, 1))
        k += 1
        m = add_months(m, 1)
    return out


def make_transactions(ctx: AccountCtx, accounts: list[BankAccount], target: int) -> None:
    rng = rng_for(ctx.seed, ctx.acc, "transactions")
    rnd = rng.random
    events = ctx.events
    events.extend(_recurring(ctx, rng, len(accounts) > 1))
    span = TODAY_ORD - ctx.start
    for label, amount in HOSTILE_LABELS:
        events.append(
            (bank_day(ctx.start + 20 + rng.randrange(span - 30)), amount, label, None, None, 0)
        )
    fill = max(30, target - len(events))
    merchants = fr.CARD_MERCHANTS
    for _ in range(fill):
        day = bank_day(ctx.start + 3 + int(rnd() * (span - 3)))
        if day > TODAY_ORD:
            day = TODAY_ORD - 1
        r = rnd()
        if r < 0.85:
            name, low, high = merchants[int(rnd() * len(merchants))]
            bought = ISO[day - 1 - int(rnd() * 2)]
            label = f"CB {name} {bought[8:10]}/{bought[5:7]}"
            amount = -(low + int(rnd() * (high - low)))
        elif r < 0.95:
            label, amount = "COMMISSION INTERVENTION", -800
        else:
            label = f"REMISE CHQ N {int(rnd() * 10_000_000):07d}"
            amount = 2000 + int(rnd() * 200000)
        events.append((day, amount, label, None, None, 0))
    events.sort(key=lambda e: e[0])
    # opening balances that keep each account above zero
    running = [0] * len(accounts)
    lowest = [0] * len(accounts)
    for e in events:
        b = e[5]
        running[b] += e[1]
        if running[b] < lowest[b]:
            lowest[b] = running[b]
    opening = []
    for b in range(len(accounts)):
        base = 500000 + rng.randrange(3000000)
        need = -lowest[b] + 100000 + rng.randrange(500000)
        opening.append(max(base, need) // 100 * 100)
    acc, acc_id = ctx.acc, ctx.acc_id
    sink = ctx.sink
    for b, a in enumerate(accounts):
        sink.add(
            "bank_accounts",
            (
                a.id,
                acc_id,
                a.name,
                a.bank,
                a.iban,
                a.bic,
                "EUR",
                ISO[ctx.start],
                money(opening[b]),
                ts(ctx.start, 12345 + b),
            ),
        )
    balance = list(opening)
    buf = sink.buffer("bank_transactions")
    bank_ids = [a.id for a in accounts]
    clock = Clock(rng, busiest_day([e[0] for e in events]))
    for n, (day, amount, label, inv, pur, b) in enumerate(events, 1):
        balance[b] += amount
        shift = int(rnd() * 3)
        value = day + (shift if amount > 0 else -shift if label.startswith("CB") else 0)
        buf.append(
            (
                make_id("btx", acc, n),
                acc_id,
                bank_ids[b],
                ISO[day],
                ISO[value],
                label,
                money(amount),
                money(balance[b]),
                inv,
                pur,
                clock.at(day),
            )
        )
        if len(buf) >= 50_000:
            sink.flush("bank_transactions")
            ctx.report("bank", n, len(events))
    events.clear()
