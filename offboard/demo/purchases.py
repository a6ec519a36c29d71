"""Purchases: supplier invoices received ('ACH-YYYY-NNNNN'), some of them scanned real PDFs."""

from __future__ import annotations

import random

from . import frdata as fr
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
    ts,
)
from .context import LATE_FEES, AccountCtx, bank_day
from .lines import choose, qty, rate_str, vat_rows, width_for
from .parties import Party
from .pdf import DocSpec

#: the real-world PDFs shipped in offboard/demo/scans/ (copied to <documents>/scans/)
SCANS = (
    "minimal-document.pdf",
    "002-trivial-libre-office-writer.pdf",
    "pdflatex-4-pages.pdf",
    "pdflatex-outline.pdf",
    "with-attachment.pdf",
    "crazyones-pdfa.pdf",
    "google-doc-document.pdf",
    "imagemagick-images.pdf",
)
ENCRYPTED_SCAN = "libreoffice-writer-password.pdf"
SCAN_SHARE = 0.01
PURCHASE_LINE_COUNTS = (1, 1, 1, 1, 2, 2, 2, 3, 3, 4)


def supplier_ref(style: int, serial: int, day: int) -> str:
    """The supplier's own invoice number, in one of a few common formats."""
    iso = ISO[day]
    if style == 0:
        return f"F{iso[:4]}-{serial:04d}"
    if style == 1:
        return f"INV-{serial:06d}"
    if style == 2:
        return f"{iso[:4]}/{iso[5:7]}/{serial:03d}"
    if style == 3:
        return f"FAC-{serial:06d}"
    if style == 4:
        return f"{iso[2:4]}-{serial:05d}"
    return f"N° {serial}"


def _pick_scans(
    rng: random.Random, n: int, chosen: set[int] | None, special: bool
) -> tuple[dict[int, str], int]:
    """Which purchases are scanned real-world PDFs (position -> file), and which one is missing.

    About 1 % of the purchases with a document. With ``special`` (account acc-0001) one more
    is the encrypted scan and one more has a document file that does not exist: those two are
    taken among all purchases when the documents budget leaves fewer than two.
    """
    documented = sorted(range(n) if chosen is None else chosen)
    pool = documented if len(documented) >= 2 or not special else list(range(n))
    n_scans = max(1, round(len(documented) * SCAN_SHARE)) if documented else 0
    picks = sorted(rng.sample(pool, min(len(pool), n_scans + (2 if special else 0))))
    scanned: dict[int, str] = {}
    missing = -1
    if special and len(picks) >= 2:
        scanned[picks[0]] = ENCRYPTED_SCAN
        missing = picks[1]
        picks = picks[2:]
    for j, i in enumerate(picks):
        scanned[i] = SCANS[j % len(SCANS)]
    return scanned, missing


def make_purchases(ctx: AccountCtx, n: int) -> None:
    rng = rng_for(ctx.seed, ctx.acc, "purchases")
    rnd = rng.random
    parties = ctx.parties
    suppliers = parties.suppliers
    days = ctx.calendar.sample(rng, n)
    counts: dict[tuple[str, str], int] = {}
    for d in days:
        counts[("ACH", ISO[d][:4])] = counts.get(("ACH", ISO[d][:4]), 0) + 1
    width = width_for(counts)
    clock = Clock(rng, busiest_day(days))
    doc_rng = ctx.doc_rng("purchases")
    chosen = choose(doc_rng, n, ctx.doc_budget["purchases"])
    scanned, missing = _pick_scans(doc_rng, n, chosen, ctx.acc == 1)
    acc, acc_id = ctx.acc, ctx.acc_id
    sink = ctx.sink
    pbuf, lbuf = sink.buffer("purchases"), sink.buffer("purchase_lines")
    serials: dict[str, int] = {}
    ref_serial: dict[str, int] = {}
    line_seq = 0
    cats = fr.CATEGORIES
    for i, day in enumerate(days):
        pid = make_id("pur", acc, i + 1)
        year = ISO[day][:4]
        serials[year] = serials.get(year, 0) + 1
        number = f"ACH-{year}-{serials[year]:0{width}d}"
        sup: Party = suppliers[int(parties.suppliers_by(day) * rnd() * rnd())]
        main = sup.category if sup.category >= 0 else int(rnd() * len(cats))
        serial = ref_serial.get(sup.id) or 100 + int(rnd() * 9000)
        serial += 1 + int(rnd() * 40)
        ref_serial[sup.id] = serial
        ref = supplier_ref(sup.ref_style, serial, day)
        bases: dict[int, int] = {}
        ht = 0
        best = (-1, "")
        pdf_lines: list[tuple[str, int, str, int, int, int]] = []
        for pos in range(1, PURCHASE_LINE_COUNTS[int(rnd() * 10)] + 1):
            cat = cats[main] if rnd() < 0.95 else cats[int(rnd() * len(cats))]
            desc, low, high, rate = cat.lines[int(rnd() * len(cat.lines))]
            price = low + int(rnd() * (high - low))
            q = 1000 if rnd() < 0.7 else 1000 * (2 + int(rnd() * 5))
            total = q * price // 1000  # whole quantities: exact
            ht += total
            bases[rate] = bases.get(rate, 0) + total
            if total > best[0]:
                best = (total, cat.name)
            line_seq += 1
            lbuf.append(
                (
                    make_id("pul", acc, line_seq),
                    acc_id,
                    pid,
                    pos,
                    desc,
                    cat.name,
                    qty(q),
                    money(price),
                    rate_str(rate),
                    money(total),
                )
            )
            pdf_lines.append((desc, q, "", price, rate, total))
        vat = vat_rows(bases)
        tva = sum(v[2] for v in vat)
        ttc = ht + tva
        direct_debit = sup.category >= 0 and cats[sup.category].direct_debit
        due = day + 10 if direct_debit else day + 30
        if not direct_debit and rnd() < 0.3:
            due = month_end(day + 45)
        r = rnd()
        pay = due if direct_debit else due - int(rnd() * 10) if r < 0.7 else due + int(rnd() * 30)
        pay = bank_day(max(pay, day + 1))
        received = day  # entered the day it is dated
        created = clock.at(day)
        t0 = clock.t
        updated = created
        paid = 0
        if pay <= TODAY_ORD and r < 0.985:
            paid = ttc if r > 0.03 else max(1, ttc // 2)
            updated = max(created, ts(pay, t0 + 5))
            label = f"{'PRLV' if direct_debit else 'VIR'} SEPA {sup.label}"[:64]
            ctx.events.append((pay, -paid, label, None, pid, 0))
        status = "unpaid" if paid == 0 else "paid" if paid == ttc else "partly_paid"
        path: str | None = None
        if i in scanned:
            path = f"scans/{scanned[i]}"
        elif chosen is None or i in chosen or i == missing:
            path = ctx.doc_path("purchases", number)
            if i != missing:
                ctx.docs.add(
                    DocSpec(
                        path=path,
                        title="FACTURE",
                        number=ref,
                        meta=(("Date", FR_DATE[day]), ("Échéance", FR_DATE[due])),
                        seller=sup.pdf,
                        buyer_label="Facturé à",
                        buyer=parties.tenant.pdf,
                        lines=tuple(pdf_lines),
                        vat=tuple(vat),
                        totals=(ht, tva, ttc),
                        notes=(
                            f"Paiement à réception de facture ou selon échéance : {FR_DATE[due]}.",
                            *LATE_FEES,
                        ),
                        stamp=f"Reçue le {FR_DATE[received]} — réf. interne {number}",
                    )
                )
        pbuf.append(
            (
                pid,
                acc_id,
                number,
                sup.id,
                ref,
                ISO[day],
                ISO[due],
                best[1],
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
        if len(pbuf) >= 20_000:
            sink.flush("purchases")
            sink.flush("purchase_lines")
