"""The vendor side: each account's subscription and its monthly invoices ('ABO-YYYY-NNNNNN').

The billing series is the vendor's, shared by every account of the database: numbers are
continuous per year over all accounts, in (issue date, account) order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .common import (
    FR_DATE,
    FR_MONTHS,
    ISO,
    TODAY_ORD,
    account_id,
    add_months,
    luhn_key,
    make_id,
    money,
    month_end,
    month_start,
    rng_for,
    round_div,
    ts,
    vat_number,
)
from .context import bank_day
from .pdf import DocSpec

PLANS = {"essentiel": 2400, "standard": 3900, "premium": 6900}  # per seat and month, cents HT
VENDOR_NAME = "offboard demo SaaS"
_VENDOR_SIREN = "81234567" + str(luhn_key("81234567"))
VENDOR_PDF = (
    f"{VENDOR_NAME} SAS",
    "24 rue des Tanneurs",
    "75011 Paris",
    "facturation@offboard-demo.example",
    f"SIREN {_VENDOR_SIREN[:3]} {_VENDOR_SIREN[3:6]} {_VENDOR_SIREN[6:]}",
    f"TVA intracom. {vat_number(_VENDOR_SIREN)}",
)


@dataclass
class Bill:
    id: str
    issue: int
    period_start: int
    period_end: int
    seats: int
    ht: int
    tva: int
    paid_on: int | None
    number: str = ""


@dataclass
class Subscription:
    acc: int
    plan: str
    started: int
    seats: int = 1
    seat_changed: int = 0
    bills: list[Bill] = field(default_factory=list)

    @property
    def price(self) -> int:
        return PLANS[self.plan] * self.seats


def plan_subscriptions(seed: int, accounts: int) -> list[Subscription]:
    """Every account's subscription and bills, numbered in the vendor-wide series."""
    subs: list[Subscription] = []
    for acc in range(1, accounts + 1):
        rng = rng_for(seed, acc, "subscription")
        months_back = rng.randint(24, 28)
        first = add_months(TODAY_ORD, -months_back)
        started = first + rng.randrange(month_end(first) - first + 1)
        sub = Subscription(acc, rng.choice(tuple(PLANS)), started, rng.randint(1, 4), started)
        m = month_start(started)
        n = 0
        last_unpaid = rng.random() < 0.35
        while m <= TODAY_ORD:
            if n and rng.random() < 0.06:
                sub.seats += 1
                sub.seat_changed = m
            p_start = max(m, started)
            p_end = month_end(m)
            days_in_month = p_end - m + 1
            ht = round_div(sub.price * (p_end - p_start + 1), days_in_month)
            n += 1
            paid: int | None = bank_day(p_start + rng.randint(0, 3))
            if (paid is not None and paid > TODAY_ORD) or (last_unpaid and p_end >= TODAY_ORD):
                paid = None
            tva = round_div(ht * 2000, 10000)
            sub.bills.append(
                Bill(make_id("bil", acc, n), p_start, p_start, p_end, sub.seats, ht, tva, paid)
            )
            m = p_end + 1
        subs.append(sub)
    everything = sorted((b.issue, s.acc, b) for s in subs for b in s.bills)
    serial: dict[str, int] = {}
    for issue, _acc, bill in everything:
        year = ISO[issue][:4]
        serial[year] = serial.get(year, 0) + 1
        bill.number = f"ABO-{year}-{serial[year]:06d}"
    return subs


def _description(sub: Subscription, bill: Bill) -> str:
    month = FR_MONTHS[int(ISO[bill.period_start][5:7]) - 1]
    users = f"{bill.seats} utilisateur{'s' if bill.seats > 1 else ''}"
    return f"Abonnement {sub.plan.capitalize()} — {users} — {month} {ISO[bill.period_start][:4]}"


def write_subscription(
    sub: Subscription,
    tenant_pdf: tuple[str, ...],
    rows: list[tuple[object, ...]],
    bills: list[tuple[object, ...]],
    docs: list[DocSpec],
    keep: int | None = None,
) -> list[tuple[int, int, str, str | None, str | None, int]]:
    """Append the subscription and billing rows and documents; return the bank debits.

    Only the ``keep`` most recent bills get a document (all of them when None).
    """
    acc = account_id(sub.acc)
    last = sub.bills[-1]
    rows.append(
        (
            f"sub-{sub.acc:04d}",
            acc,
            sub.plan,
            sub.seats,
            "active",
            money(sub.price),
            "EUR",
            ISO[sub.started],
            ISO[last.period_start],
            ISO[last.period_end],
            ts(sub.started, sub.acc * 977),
            ts(max(sub.seat_changed, sub.started), sub.acc * 991),
            None,  # cancellation_reason
            None,  # cancellation_requested_at
            None,  # cancellation_effective_on
            None,  # terminated_at
        )
    )
    events: list[tuple[int, int, str, str | None, str | None, int]] = []
    first_doc = 0 if keep is None else max(0, len(sub.bills) - keep)
    for i, bill in enumerate(sub.bills):
        ttc = bill.ht + bill.tva
        path = f"billing/{acc}/{bill.number}.pdf" if i >= first_doc else None
        bills.append(
            (
                bill.id,
                acc,
                f"sub-{sub.acc:04d}",
                bill.number,
                ISO[bill.issue],
                ISO[bill.period_start],
                ISO[bill.period_end],
                _description(sub, bill),
                money(bill.ht),
                money(bill.tva),
                money(ttc),
                "EUR",
                "paid" if bill.paid_on else "unpaid",
                ISO[bill.paid_on] if bill.paid_on else None,
                path,
                ISO[bill.issue] + "T01:00:00Z",
            )
        )
        if bill.paid_on is not None:
            events.append((bill.paid_on, -ttc, "PRLV SEPA OFFBOARD DEMO SAAS", None, None, 0))
        if path is None:
            continue
        docs.append(
            DocSpec(
                path=path,
                title="FACTURE",
                number=bill.number,
                meta=(
                    ("Date", FR_DATE[bill.issue]),
                    ("Période", f"du {FR_DATE[bill.period_start]} au {FR_DATE[bill.period_end]}"),
                    ("Échéance", FR_DATE[bill.issue]),
                ),
                seller=VENDOR_PDF,
                buyer_label="Facturé à",
                buyer=tenant_pdf,
                lines=((_description(sub, bill), 1000, "forfait", bill.ht, 2000, bill.ht),),
                vat=((2000, bill.ht, bill.tva),),
                totals=(bill.ht, bill.tva, ttc),
                notes=(
                    "Paiement par prélèvement SEPA à la date d'émission.",
                    "Abonnement mensuel sans engagement, résiliable à tout moment.",
                ),
                stamp=f"Payée le {FR_DATE[bill.paid_on]}" if bill.paid_on else "",
            )
        )
    return events
