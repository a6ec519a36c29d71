"""Sales invoices ('FA-YYYY-NNNNN') and credit notes ('AV-YYYY-NNNNN'), with their payments.

The invoices are first planned (day, customer, terms, when and how they get paid), credit notes
are attached to paid invoices, then everything is generated in issue-date order so that both
series are continuous per year and ids follow creation order.
"""

from __future__ import annotations

import random
import re

from .common import (
    FR_DATE,
    ISO,
    TODAY_ORD,
    Clock,
    busiest_day,
    make_id,
    money,
    month_end,
    rng_for,
    round_div,
    ts,
)
from .context import LATE_FEES, AccountCtx, bank_day
from .facturx import FxInvoice, FxParty
from .lines import Line, LinePicker, PdfLine, choose, emit_lines, rate_str, vat_rows, width_for
from .parties import PAYMENT_TERMS, Party
from .pdf import DocSpec
from .quotes import Accepted

FULL, PARTIAL, NEVER = 0, 1, 2
CREDIT_SHARE = 0.02
_BANK = re.compile(r"IBAN ([A-Z0-9 ]+) — BIC ([A-Z0-9]+)")


def fx_party(p: Party) -> FxParty:
    """A party as its invoice's XML names it: its name as printed, SIREN, VAT number, address."""
    line1, line2, postcode, city, country = p.address or ("", None, "", "", "FR")
    return FxParty(p.pdf[0], p.siren, p.vat, line1, line2, postcode, city, country)


def due_day(terms: str, day: int) -> int:
    if terms == "À réception":
        return day
    if terms == "45 jours fin de mois":
        return month_end(day + 45)
    return day + (60 if terms == "60 jours" else 30)


class _Plan:
    __slots__ = (
        "credit",
        "credited",
        "customer",
        "day",
        "due",
        "full",
        "pay",
        "pk",
        "quote",
        "refund",
        "seq",
        "terms",
    )

    def __init__(self, day: int, seq: int, customer: Party, terms: str) -> None:
        self.day = day
        self.seq = seq
        self.customer = customer
        self.terms = terms
        self.due = due_day(terms, day)
        self.pk = FULL
        self.pay = day
        self.quote: Accepted | None = None
        self.credit = False  # this entry is a credit note
        self.credited: _Plan | None = None  # the invoice a credit note cancels
        self.full = True  # the credit note cancels every line
        self.refund = 0


def _customer_label(rnd_value: float, cust: Party, number: str) -> str:
    if rnd_value < 0.35:
        label = f"VIR SEPA {cust.label} {number}"
    elif rnd_value < 0.6:
        label = f"VIR SEPA {cust.label}"
    elif rnd_value < 0.72:
        label = f"VIR INST {cust.label}"
    elif rnd_value < 0.85:
        label = f"REMISE CHQ N {int(rnd_value * 1e9) % 10_000_000:07d}"
    else:
        label = f"VIR SEPA CLIENT {cust.label.split()[-1]}"
    return label[:64]


def make_invoices(ctx: AccountCtx, n: int, accepted: list[Accepted]) -> None:
    rng = rng_for(ctx.seed, ctx.acc, "invoices")
    rnd = rng.random
    parties = ctx.parties
    customers = parties.customers
    n_credit = round(n * CREDIT_SHARE)
    accepted = accepted[: max(0, n - n_credit)]
    plan: list[_Plan] = []
    for q in accepted:
        terms = q.customer.terms
        p = _Plan(q.day, len(plan), q.customer, terms)
        p.quote = q
        plan.append(p)
    for day in ctx.calendar.sample(rng, n - n_credit - len(accepted)):
        cust = customers[int(parties.customers_by(day) * rnd() * rnd())]
        terms = cust.terms if rnd() < 0.9 else PAYMENT_TERMS[int(rnd() * len(PAYMENT_TERMS))]
        plan.append(_Plan(day, len(plan), cust, terms))
    # when and how each invoice gets paid
    for p in plan:
        r = rnd()
        p.pk = NEVER if r < 0.03 else PARTIAL if r < 0.07 else FULL
        if p.due == p.day:
            pay = p.day + int(rnd() * rnd() * 20)
        else:
            u = rnd()
            if u < 0.55:
                pay = p.due - int(rnd() * min(20, p.due - p.day))
            elif u < 0.9:
                pay = p.due + int(rnd() * 25)
            else:
                pay = p.due + 25 + int(rnd() * 100)
        p.pay = bank_day(max(pay, p.day))
    # credit notes on some paid invoices
    candidates = [p for p in plan if p.pk == FULL and p.pay <= TODAY_ORD - 5]
    for inv in rng.sample(candidates, min(n_credit, len(candidates))):
        day = min(TODAY_ORD, inv.pay + 3 + int(rnd() * 37))
        if (day + 6) % 7 == 6:
            day -= 1
        cn = _Plan(day, len(plan), inv.customer, "À réception")
        cn.credit = True
        cn.credited = inv
        cn.full = rnd() < 0.5
        cn.refund = bank_day(day + 2 + int(rnd() * 12))
        plan.append(cn)
    plan.sort(key=lambda p: (p.day, p.credit, p.seq))
    _generate(ctx, plan, LinePicker(rng, parties.products, parties.product_created), rng)


def _generate(ctx: AccountCtx, plan: list[_Plan], picker: LinePicker, rng: random.Random) -> None:
    rnd_ = rng.random
    counts: dict[tuple[str, str], int] = {}
    for p in plan:
        key = ("AV" if p.credit else "FA", ISO[p.day][:4])
        counts[key] = counts.get(key, 0) + 1
    width = width_for(counts)
    clock = Clock(rng, busiest_day([p.day for p in plan]))
    chosen = choose(ctx.doc_rng("invoices"), len(plan), ctx.doc_budget["invoices"])
    acc, acc_id = ctx.acc, ctx.acc_id
    sink = ctx.sink
    ibuf, lbuf, vbuf = (
        sink.buffer("invoices"),
        sink.buffer("invoice_lines"),
        sink.buffer("invoice_vat"),
    )
    line_prefix = f"inl-{acc:04d}-"
    line_seq = 0
    serial: dict[tuple[str, str], int] = {}
    credited: dict[int, tuple[str, str, list[Line]]] = {}
    needed = {id(p.credited) for p in plan if p.credited is not None}
    events = ctx.events
    tenant = ctx.parties.tenant
    seller = fx_party(tenant)
    bank = _BANK.search(ctx.bank_note)
    iban = bank.group(1).replace(" ", "") if bank else None
    bic = bank.group(2) if bank else None
    late_fees = " ".join(LATE_FEES)
    for k, p in enumerate(plan):
        iid = make_id("inv", acc, k + 1)
        series = "AV" if p.credit else "FA"
        year = ISO[p.day][:4]
        key = (series, year)
        serial[key] = serial.get(key, 0) + 1
        number = f"{series}-{year}-{serial[key]:0{width}d}"
        cust = p.customer
        meta: list[tuple[str, str]] = []
        credited_id: str | None = None
        if p.credit:
            assert p.credited is not None
            credited_id, credited_number, source = credited[id(p.credited)]
            if not p.full:
                source = [max(source, key=lambda ln: round_div(ln[3] * ln[4], 1000))]
            lines: list[Line] = [(a, b, c, q, -price, r, t) for a, b, c, q, price, r, t in source]
            meta.append(("Facture d'origine", credited_number))
        elif p.quote is not None:
            lines = p.quote.lines
            meta.append(("Devis", p.quote.number))
        else:
            lines = picker.pick(p.day)
        if id(p) in needed:
            credited[id(p)] = (iid, number, lines)
        preceding = meta[0][1] if p.credit else None  # the credited invoice
        pdf: list[PdfLine] | None = [] if chosen is None or k in chosen else None
        ht, bases = emit_lines(lbuf, line_prefix, line_seq, acc_id, iid, lines, pdf)
        line_seq += len(lines)
        vat = vat_rows(bases)
        tva = 0
        for rate, base, amount in vat:
            tva += amount
            vbuf.append((acc_id, iid, rate_str(rate), money(base), money(amount)))
        ttc = ht + tva
        created = clock.at(p.day)
        t0 = clock.t
        updated = created
        paid = 0
        if p.credit:
            if p.refund <= TODAY_ORD:
                paid = ttc
                updated = max(created, ts(p.refund, t0 + 3))
                events.append(
                    (p.refund, ttc, f"VIR SEPA REMBOURSEMENT {cust.label}"[:64], iid, None, 0)
                )
        elif p.pay <= TODAY_ORD and p.pk != NEVER:
            paid = (
                ttc
                if p.pk == FULL
                else max(1, min(ttc - 1, round_div(ttc * (20 + int(rnd_() * 60)), 100)))
            )
            updated = max(created, ts(p.pay, t0 + 3))
            events.append((p.pay, paid, _customer_label(rnd_(), cust, number), iid, None, 0))
        status = "unpaid" if paid == 0 else "paid" if paid == ttc else "partly_paid"
        path = ctx.doc_path("invoices", number) if pdf is not None else None
        ibuf.append(
            (
                iid,
                acc_id,
                number,
                "credit_note" if p.credit else "invoice",
                cust.id,
                p.quote.quote_id if p.quote else None,
                credited_id,
                ISO[p.day],
                ISO[p.due],
                p.terms,
                status,
                money(ht),
                money(tva),
                money(ttc),
                money(paid),
                "EUR",
                path,
                created,
                updated,
            )
        )
        if pdf is not None and path is not None:
            meta[:0] = [
                ("Date", FR_DATE[p.day]),
                ("Échéance", FR_DATE[p.due]),
                ("Conditions", p.terms),
            ]
            sign = -1 if p.credit else 1
            fx = FxInvoice(
                number=number,
                type_code="381" if p.credit else "380",
                issue_date=ISO[p.day],
                due_date=ISO[p.due],
                terms=p.terms,
                currency="EUR",
                seller=seller,
                buyer=fx_party(cust),
                lines=tuple((a, b, c, sign * d, e, sign * f) for a, b, c, d, e, f in pdf),
                vat=tuple((r, sign * b, sign * a) for r, b, a in vat),
                totals=(sign * ht, sign * tva, sign * ttc),
                preceding=preceding,
                notes=(("PMD", late_fees),),
                iban=None if p.credit else iban,
                bic=None if p.credit else bic,
                created=created,
            )
            ctx.docs.add(
                DocSpec(
                    path=path,
                    title="AVOIR" if p.credit else "FACTURE",
                    number=number,
                    meta=tuple(meta),
                    seller=tenant.pdf,
                    buyer_label="Client",
                    buyer=cust.pdf,
                    lines=tuple(pdf),
                    vat=tuple(vat),
                    totals=(ht, tva, ttc),
                    notes=(ctx.bank_note, *LATE_FEES),
                    facturx=fx,
                )
            )
        if len(ibuf) >= 20_000:
            for t in ("invoices", "invoice_lines", "invoice_vat"):
                sink.flush(t)
            ctx.report("invoices", k + 1, len(plan))
