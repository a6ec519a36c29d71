"""Quotes ('DE-YYYY-NNNNN', continuous per year) and the accepted ones to invoice."""

from __future__ import annotations

from typing import NamedTuple

from .common import FR_DATE, ISO, TODAY_ORD, Clock, busiest_day, make_id, money, rng_for, ts
from .context import AccountCtx
from .lines import Line, LinePicker, PdfLine, choose, emit_lines, vat_rows, width_for
from .parties import Party
from .pdf import DocSpec

SUBJECTS = (
    "Rénovation de la cuisine",
    "Refonte du site internet",
    "Formation de l'équipe commerciale",
    "Maintenance annuelle",
    "Aménagement des bureaux",
    "Prestations de conseil",
    "Commande de fournitures",
    "Traiteur pour le séminaire",
    "Audit énergétique du bâtiment",
    "Travaux de peinture",
)
HOSTILE_SUBJECTS = {
    1: 'Rénovation "salle d\'eau", étage 2 ; lot n°2',
    2: "=1+1 (montant à vérifier)",
}


class Accepted(NamedTuple):
    """An accepted quote, invoiced on ``day`` with the same lines."""

    quote_id: str
    number: str
    customer: Party
    day: int
    lines: list[Line]


def make_quotes(ctx: AccountCtx, n: int) -> list[Accepted]:
    rng = rng_for(ctx.seed, ctx.acc, "quotes")
    rnd = rng.random
    days = ctx.calendar.sample(rng, n)
    counts: dict[tuple[str, str], int] = {}
    for d in days:
        key = ("DE", ISO[d][:4])
        counts[key] = counts.get(key, 0) + 1
    width = width_for(counts)
    picker = LinePicker(rng, ctx.parties.products, ctx.parties.product_created)
    clock = Clock(rng, busiest_day(days))
    chosen = choose(ctx.doc_rng("quotes"), n, ctx.doc_budget["quotes"])
    customers = ctx.parties.customers
    acc, acc_id = ctx.acc, ctx.acc_id
    qbuf = ctx.sink.buffer("quotes")
    lbuf = ctx.sink.buffer("quote_lines")
    line_prefix = f"qtl-{acc:04d}-"
    line_seq = 0
    serial: dict[str, int] = {}
    accepted: list[Accepted] = []
    for i, day in enumerate(days):
        qid = make_id("quo", acc, i + 1)
        year = ISO[day][:4]
        serial[year] = serial.get(year, 0) + 1
        number = f"DE-{year}-{serial[year]:0{width}d}"
        cust = customers[int(ctx.parties.customers_by(day) * rnd() * rnd())]
        lines = picker.pick(day)
        pdf: list[PdfLine] | None = [] if chosen is None or i in chosen else None
        ht, bases = emit_lines(lbuf, line_prefix, line_seq, acc_id, qid, lines, pdf)
        line_seq += len(lines)
        vat = vat_rows(bases)
        tva = sum(v[2] for v in vat)
        valid = day + (60 if rnd() < 0.15 else 30)
        decision = day + 2 + int(rnd() * 20)
        r = rnd()
        outcome = "accepted" if r < 0.45 else "refused" if r < 0.65 else ""
        created = clock.at(day)
        t0 = clock.t
        updated = created
        if day > TODAY_ORD - 4 and rnd() < 0.5:
            status = "draft"
        elif outcome and decision <= TODAY_ORD and decision <= valid:
            status = outcome
            updated = ts(decision, t0 + 7919)
            inv_day = decision + int(rnd() * 10)
            if outcome == "accepted" and inv_day <= TODAY_ORD:
                accepted.append(Accepted(qid, number, cust, inv_day, lines))
        elif valid < TODAY_ORD:
            status = "expired"
            updated = ISO[valid + 1] + "T02:00:00Z"
        else:
            status = "sent"
        subject: str | None = HOSTILE_SUBJECTS.get(i)
        if subject is None and rnd() < 0.9:
            subject = SUBJECTS[int(rnd() * len(SUBJECTS))]
        path = ctx.doc_path("quotes", number) if pdf is not None else None
        qbuf.append(
            (
                qid,
                acc_id,
                number,
                cust.id,
                ISO[day],
                ISO[valid],
                status,
                subject,
                money(ht),
                money(tva),
                money(ht + tva),
                "EUR",
                path,
                created,
                updated,
            )
        )
        if pdf is not None and path is not None:
            meta = [("Date", FR_DATE[day]), ("Valable jusqu'au", FR_DATE[valid])]
            if subject:
                meta.append(("Objet", subject))
            ctx.docs.add(
                DocSpec(
                    path=path,
                    title="DEVIS",
                    number=number,
                    meta=tuple(meta),
                    seller=ctx.parties.tenant.pdf,
                    buyer_label="Client",
                    buyer=cust.pdf,
                    lines=tuple(pdf),
                    vat=tuple(vat),
                    totals=(ht, tva, ht + tva),
                    notes=(
                        f"Devis valable jusqu'au {FR_DATE[valid]}. Conditions de paiement : "
                        f"{cust.terms}.",
                        "Bon pour accord : date, signature et mention manuscrite "
                        "« Bon pour accord ».",
                    ),
                )
            )
        if len(qbuf) >= 20_000:
            ctx.sink.flush("quotes")
            ctx.sink.flush("quote_lines")
    return accepted
