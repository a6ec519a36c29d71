"""Document lines and exact totals, shared by quotes, invoices and purchases."""

from __future__ import annotations

import random
from bisect import bisect_left
from collections.abc import Sequence

from .catalogue import Product
from .common import TODAY_ORD, money, qty_text, rate_text, round_div, vat_of

#: (product id or None, description, unit, quantity thousandths, unit price cents, rate bp, rate)
Line = tuple[str | None, str, str, int, int, int, str]
#: as printed: (description, quantity thousandths, unit, unit price, rate bp, total)
PdfLine = tuple[str, int, str, int, int, int]
#: (rate bp, base cents, VAT cents)
VatRow = tuple[int, int, int]

#: 1 to 6 lines, three on average
LINE_COUNTS: tuple[int, ...] = tuple([1] * 20 + [2] * 22 + [3] * 22 + [4] * 16 + [5] * 11 + [6] * 9)

FREE_LINES: tuple[tuple[str, str, int, int], ...] = (
    ("Frais de déplacement", "forfait", 2500, 15000),
    ("Frais de livraison", "forfait", 900, 4900),
)

_QTY: dict[int, str] = {}
_PRICE: dict[int, str] = {}
_RATE: dict[int, str] = {bp: rate_text(bp) for bp in (2000, 1000, 550, 210)}


def qty(q: int) -> str:
    t = _QTY.get(q)
    if t is None:
        t = _QTY[q] = qty_text(q)
    return t


def _price(cents: int) -> str:
    text = _PRICE[cents] = money(cents)
    return text


class LinePicker:
    """Draws plausible lines from the catalogue: products created before the day, the older
    ones selling most."""

    def __init__(
        self, rng: random.Random, products: Sequence[Product], created: Sequence[int]
    ) -> None:
        self.rnd = rng.random
        self.products = products
        self.created = created

    def pick(self, day: int) -> list[Line]:
        rnd = self.rnd
        n = max(1, bisect_left(self.created, day))  # created before the day
        out: list[Line] = []
        for _ in range(LINE_COUNTS[int(rnd() * 100)]):
            r = rnd()
            if r < 0.03:
                desc, unit, low, high = FREE_LINES[int(rnd() * len(FREE_LINES))]
                price = low + int(rnd() * (high - low))
                out.append((None, desc, unit, 1000, price, 2000, "20.00"))
                continue
            p = self.products[int(rnd() * rnd() * n)]
            q = p.quantities[int(rnd() * len(p.quantities))]
            price = p.price
            if r > 0.9:  # a negotiated price
                price = max(1, price - round_div(price * int(rnd() * 15), 100))
            out.append((p.id, p.name, p.unit, q, price, p.rate, p.rate_text))
        return out


def emit_lines(
    buf: list[tuple[object, ...]],
    prefix: str,
    seq: int,
    acc_id: str,
    parent_id: str,
    lines: Sequence[Line],
    pdf: list[PdfLine] | None,
) -> tuple[int, dict[int, int]]:
    """Append the rows of ``lines`` (ids ``prefix + seq + i``); return (total HT, base per rate)."""
    total = 0
    bases: dict[int, int] = {}
    for pos, (pid, desc, unit, q, price, rate, rtext) in enumerate(lines, 1):
        # round_half_up(q * price / 1000): quantities are positive, prices may be negative
        lt = (q * price + 500) // 1000 if price >= 0 else -((q * -price + 500) // 1000)
        total += lt
        bases[rate] = bases.get(rate, 0) + lt
        buf.append(
            (
                f"{prefix}{seq + pos:08d}",
                acc_id,
                parent_id,
                pos,
                pid,
                desc,
                qty(q),
                unit,
                _PRICE.get(price) or _price(price),
                rtext,
                money(lt),
            )
        )
        if pdf is not None:
            pdf.append((desc, q, unit, price, rate, lt))
    return total, bases


def vat_rows(bases: dict[int, int]) -> list[VatRow]:
    """One row per rate, by increasing rate: (rate, base, round_half_up(base * rate / 100))."""
    return [(rate, base, vat_of(base, rate)) for rate, base in sorted(bases.items())]


def rate_str(bp: int) -> str:
    return _RATE.get(bp) or rate_text(bp)


class Calendar:
    """Working days of an account's history, busier as the business grows."""

    def __init__(self, start: int, end: int = TODAY_ORD) -> None:
        self.days: list[int] = []
        self.cum: list[float] = []
        acc = 0.0
        span = max(1, end - start)
        for o in range(start, end + 1):
            wd = (o + 6) % 7  # 0 = Monday
            if wd == 6:
                continue
            w = (0.15 if wd == 5 else 1.0) * (1.0 + (o - start) / span)
            acc += w
            self.days.append(o)
            self.cum.append(acc)

    def sample(self, rng: random.Random, k: int) -> list[int]:
        """``k`` working days, sorted."""
        if k <= 0:
            return []
        return sorted(rng.choices(self.days, cum_weights=self.cum, k=k))


def width_for(counts: dict[tuple[str, str], int]) -> int:
    """The number of digits of a series: 5, or more when a year holds 100 000 documents."""
    return max([5] + [len(str(c)) for c in counts.values()])


def choose(rng: random.Random, n: int, k: int | None) -> set[int] | None:
    """The positions (0..n-1) of the records that get a document; None means all of them."""
    if k is None or k >= n:
        return None
    return set(rng.sample(range(n), max(0, k)))
