"""Shared helpers of the demo generator: exact money, dates, identifiers and French registry keys.

Money is handled as integer cents, quantities as integer thousandths and VAT rates as integer
hundredths of a percent (``'20.00'`` is 2000), so every total is exact; rounding is half away
from zero (``ROUND_HALF_UP`` of :mod:`decimal`), symmetric for credit notes.

Nothing here reads the clock or the time zone: the data's timeline ends on :data:`TODAY`.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

#: the fixed "today" of the demo data (the timeline never depends on the wall clock)
TODAY = date(2026, 10, 31)
TODAY_ORD = TODAY.toordinal()

_FIRST_ORD = date(2020, 1, 1).toordinal()
_LAST_ORD = date(2029, 12, 31).toordinal()
#: ISO text of every date the generator can produce, by ordinal
ISO: dict[int, str] = {o: date.fromordinal(o).isoformat() for o in range(_FIRST_ORD, _LAST_ORD + 1)}
#: French text (JJ/MM/AAAA) of the same dates, for the PDFs
FR_DATE: dict[int, str] = {o: f"{s[8:10]}/{s[5:7]}/{s[0:4]}" for o, s in ISO.items()}
#: times of day of the office hours, as the tail of a UTC timestamp ('T07:00:00Z' ...)
TIMES: list[str] = [
    f"T{h:02d}:{m:02d}:{s:02d}Z" for h in range(6, 18) for m in range(60) for s in range(60)
]
N_TIMES = len(TIMES)

FR_MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


def rng_for(seed: int, account: int, part: str) -> random.Random:
    """An independent random stream for one part of one account (str seeds hash with SHA-512)."""
    return random.Random(f"offboard-demo/{seed}/{account}/{part}")


def money(cents: int) -> str:
    """Cents as the schema's money text: '45714.00', '-12.50'."""
    if cents >= 0:
        whole, frac = divmod(cents, 100)
        return f"{whole}.{frac:02d}"
    whole, frac = divmod(-cents, 100)
    return f"-{whole}.{frac:02d}"


def qty_text(milli: int) -> str:
    """Thousandths as the schema's quantity text: '2.500'."""
    if milli < 0:
        return "-" + qty_text(-milli)
    return f"{milli // 1000}.{milli % 1000:03d}"


def rate_text(bp: int) -> str:
    """Hundredths of a percent as the schema's rate text: 550 -> '5.50'."""
    return f"{bp // 100}.{bp % 100:02d}"


def round_div(n: int, d: int) -> int:
    """n / d rounded half away from zero (d > 0)."""
    if n >= 0:
        return (n + d // 2) // d
    return -((-n + d // 2) // d)


def line_total(qty_milli: int, price_cents: int) -> int:
    """round_half_up(quantity * unit_price, 2) in cents."""
    return round_div(qty_milli * price_cents, 1000)


def vat_of(base_cents: int, rate_bp: int) -> int:
    """round_half_up(base * rate / 100, 2) in cents."""
    return round_div(base_cents * rate_bp, 10000)


def ts(ordinal: int, time_index: int) -> str:
    """A UTC timestamp text on the given day, at office time number ``time_index``."""
    return ISO[ordinal] + TIMES[time_index % N_TIMES]


class Clock:
    """Creation times that never go backwards, so that ids given in creation order also sort
    by ``created_at``. Days must come in order; ``busiest`` is the most records on one day."""

    def __init__(self, rng: random.Random, busiest: int) -> None:
        self.rnd = rng.random
        self.step = max(2, (N_TIMES * 3 // 4) // max(1, busiest))
        self.day = -1
        self.t = 0

    def at(self, day: int) -> str:
        if day != self.day:
            self.day = day
            self.t = int(self.rnd() * (N_TIMES // 4))
        else:
            self.t = min(N_TIMES - 1, self.t + 1 + int(self.rnd() * self.step))
        return ISO[day] + TIMES[self.t]


def busiest_day(days: list[int]) -> int:
    """The most records on one day of ``days``."""
    counts: dict[int, int] = {}
    for d in days:
        counts[d] = counts.get(d, 0) + 1
    return max(counts.values(), default=1)


def month_start(o: int) -> int:
    d = date.fromordinal(o)
    return d.replace(day=1).toordinal()


def month_end(o: int) -> int:
    d = date.fromordinal(o)
    nxt = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return (nxt - timedelta(days=1)).toordinal()


def add_months(o: int, months: int) -> int:
    """The first day of the month ``months`` after the month of ``o``."""
    d = date.fromordinal(o)
    k = d.year * 12 + d.month - 1 + months
    return date(k // 12, k % 12 + 1, 1).toordinal()


def luhn_key(digits: str) -> int:
    """The Luhn check digit to append to ``digits``."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        v = int(ch)
        if i % 2 == 0:  # these are doubled once the key is appended
            v *= 2
            if v > 9:
                v -= 9
        total += v
    return (10 - total % 10) % 10


def luhn_valid(number: str) -> bool:
    return luhn_key(number[:-1]) == int(number[-1])


def make_siren(rng: random.Random) -> str:
    """A 9-digit SIREN with a valid Luhn key."""
    body = str(rng.randint(10_000_000, 99_999_999))
    return body + str(luhn_key(body))


def vat_number(siren: str) -> str:
    """The French intra-EU VAT number of a SIREN: FR + key + SIREN."""
    key = (12 + 3 * (int(siren) % 97)) % 97
    return f"FR{key:02d}{siren}"


def rib_key(bank: str, branch: str, account: str) -> int:
    return 97 - (89 * int(bank) + 15 * int(branch) + 3 * int(account)) % 97


def make_iban(rng: random.Random, bank: str) -> str:
    """A French IBAN (no spaces) with a valid RIB key and valid mod-97 check digits."""
    branch = f"{rng.randint(1, 99_999):05d}"
    account = f"{rng.randint(1, 10**11 - 1):011d}"
    bban = f"{bank}{branch}{account}{rib_key(bank, branch, account):02d}"
    check = 98 - int(bban + "152700") % 97
    return f"FR{check:02d}{bban}"


def iban_valid(iban: str) -> bool:
    moved = iban[4:] + iban[:4]
    digits = "".join(str(int(c, 36)) for c in moved)
    return int(digits) % 97 == 1


def make_id(prefix: str, account: int, n: int) -> str:
    """A record id, unique in the database and sortable in creation order."""
    return f"{prefix}-{account:04d}-{n:08d}"


def account_id(account: int) -> str:
    return f"acc-{account:04d}"
