"""The tenant's catalogue: products and services with their units, prices and VAT rates."""

from __future__ import annotations

import random
from typing import NamedTuple

from . import frdata as fr
from .common import TODAY_ORD, Clock, account_id, busiest_day, make_id, money, rate_text, ts
from .db import Sink
from .parties import Parties, created_days

#: catalogue entries with hostile-but-legal descriptions (separators, quotes, line break, emoji)
HOSTILE_PRODUCTS = (
    fr.ProductTemplate(
        "Pose et finitions", "service", "m²", 2500, 6000, 1000, '"Pose" ; finitions\nétage 2'
    ),
    fr.ProductTemplate(
        "+ Option maintenance premium",
        "service",
        "forfait",
        4900,
        19900,
        2000,
        "-20 % sur la main d'œuvre, le 1er mois",
    ),
    fr.ProductTemplate(
        "Livraison express",
        "service",
        "forfait",
        1500,
        4500,
        2000,
        "Livraison express 🚚 sous 24 h, 7j/7",
    ),
)


class Product(NamedTuple):
    id: str
    name: str
    unit: str
    price: int  # cents
    rate: int  # hundredths of a percent
    rate_text: str
    quantities: tuple[int, ...]  # plausible quantities, thousandths


def _quantities(rng: random.Random, unit: str) -> tuple[int, ...]:
    if unit in ("pièce", "lot"):
        return tuple(rng.choice((1, 1, 1, 2, 2, 3, 4, 5, 6, 10, 12, 20)) * 1000 for _ in range(24))
    if unit == "forfait":
        return (1000, 1000, 1000, 1000, 2000)
    if unit == "heure":
        return tuple(rng.randint(2, 80) * 250 for _ in range(24))
    if unit == "jour":
        return tuple(rng.randint(1, 30) * 500 for _ in range(24))
    if unit == "kg":
        return tuple(rng.randint(250, 50_000) for _ in range(24))
    return tuple(rng.randint(100, 12_000) * 10 for _ in range(24))  # m²: two decimals


def make_products(rng: random.Random, acc: int, n: int, sink: Sink, parties: Parties) -> None:
    """The catalogue, in creation order; the active entries go to ``parties.products``."""
    n_tpl = len(fr.PRODUCTS)
    counters = {"product": 0, "service": 0}
    days = created_days(rng, parties.tenant.created, n, 0.7, spread=0.5)
    clock = Clock(rng, busiest_day(days))
    for i, day in enumerate(days):
        tpl = fr.PRODUCTS[(i + rng.randrange(3)) % n_tpl] if i >= n_tpl else fr.PRODUCTS[i]
        variants = fr.PRODUCT_VARIANTS[tpl.kind]
        name = f"{tpl.name} {variants[(i // n_tpl) % len(variants)]}".strip()
        if i // (n_tpl * len(variants)):
            name += f" (réf. {i})"
        desc: str | None = tpl.description if rng.random() < 0.85 else None
        label = name
        if i < len(HOSTILE_PRODUCTS):
            tpl = HOSTILE_PRODUCTS[i]
            name, desc = tpl.name, tpl.description
            label = f"{name} — {desc}"  # the description goes into the invoice lines
        price = rng.randint(tpl.low_cents, tpl.high_cents)
        r = rng.random()
        if r < 0.6 and price >= 100:
            price -= price % 100  # whole euros
        elif r < 0.85 and price >= 100:
            price += 90 - price % 100  # x,90
        counters[tpl.kind] += 1
        sku = f"{'SRV' if tpl.kind == 'service' else 'PRD'}-{counters[tpl.kind]:05d}"
        active = 1 if rng.random() < 0.9 or i < 10 else 0
        upd = day
        if rng.random() < 0.3 or not active:
            upd = min(TODAY_ORD, day + int(rng.random() * 500))
        pid = make_id("prd", acc, i + 1)
        created = clock.at(day)
        rtext = rate_text(tpl.rate_bp)
        sink.add(
            "products",
            (
                pid,
                account_id(acc),
                sku,
                name,
                desc,
                tpl.kind,
                tpl.unit,
                money(price),
                rtext,
                active,
                created,
                created if upd == day else ts(upd, rng.randrange(1 << 30)),
            ),
        )
        if active:
            parties.products.append(
                Product(pid, label, tpl.unit, price, tpl.rate_bp, rtext, _quantities(rng, tpl.unit))
            )
            parties.product_created.append(day)
