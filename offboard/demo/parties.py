"""The tenant, its companies (customers and suppliers), people and products."""

from __future__ import annotations

import random
import unicodedata
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from . import frdata as fr
from .common import (
    TODAY_ORD,
    Clock,
    account_id,
    busiest_day,
    make_id,
    make_siren,
    ts,
    vat_number,
)
from .db import Sink

if TYPE_CHECKING:
    from .catalogue import Product

PAYMENT_TERMS = (
    "À réception",
    "30 jours",
    "30 jours",
    "30 jours",
    "45 jours fin de mois",
    "60 jours",
)

#: hostile-but-legal texts the exports must carry unchanged (formula prefixes, separators,
#: quotes, line breaks, emoji, leading and trailing spaces)
HOSTILE_NOTES = (
    '=HYPERLINK("http://example.test","x")',
    "+33 appeler avant 10h",
    "-10 % accordé sur la prochaine commande",
    '@Zoé : relancer ; client "VIP", paiement à 45 jours',
    "Livraison par l'arrière\nCode portail : 1234\r\nSonner deux fois",
    "Client fidèle depuis 2019 🎉👍",
    "  à rappeler en janvier  ",
)
HOSTILE_COMPANY_NAME = 'Atelier "L\'Échoppe" ; Zoé & Fils'


class Party(NamedTuple):
    id: str
    name: str
    label: str  # upper-case ASCII name, as printed on bank statements
    siren: str | None
    pdf: tuple[str, ...]  # name, address, registration lines as printed on documents
    created: int  # ordinal of the creation day
    terms: str  # usual payment terms (customers)
    category: int  # usual expense category (suppliers), index in frdata.CATEGORIES
    ref_style: int  # the supplier's invoice number format
    domain: str  # of its e-mail addresses
    created_at: str  # timestamp
    vat: str | None = None
    #: (line 1, line 2 or None, postal code, city, country code), as in its record
    address: tuple[str, str | None, str, str, str] | None = None


@dataclass
class Parties:
    tenant: Party
    customers: list[Party] = field(default_factory=list)
    suppliers: list[Party] = field(default_factory=list)
    products: list[Product] = field(default_factory=list)
    _cust_created: list[int] = field(default_factory=list)
    _supp_created: list[int] = field(default_factory=list)
    #: creation days of ``products``, in order
    product_created: list[int] = field(default_factory=list)

    def customers_by(self, day: int) -> int:
        """How many customers were created before ``day`` (they are in creation order)."""
        return max(1, bisect_left(self._cust_created, day))

    def suppliers_by(self, day: int) -> int:
        return max(1, bisect_left(self._supp_created, day))


def ascii_upper(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.replace("œ", "oe").replace("æ", "ae"))
    kept = "".join(c for c in decomposed if c.isascii() and (c.isalnum() or c in " -&'"))
    return " ".join(kept.upper().split())


def slug(text: str) -> str:
    return "-".join(ascii_upper(text).lower().replace("'", " ").replace("&", " ").split())


def street(rng: random.Random) -> str:
    num = str(rng.randint(1, 180))
    r = rng.random()
    if r < 0.04:
        num += " bis"
    elif r < 0.05:
        num += " ter"
    return f"{num} {rng.choice(fr.STREET_TYPES)} {rng.choice(fr.STREET_NAMES)}"


_CITY_CUM: list[int] = []
for _c in fr.CITIES:
    _CITY_CUM.append((_CITY_CUM[-1] if _CITY_CUM else 0) + _c.weight)


def city(rng: random.Random) -> fr.City:
    return rng.choices(fr.CITIES, cum_weights=_CITY_CUM)[0]


def phone(rng: random.Random, area: str, *, mobile: bool = False) -> str:
    if mobile:
        area = rng.choice(("06", "07"))
    rest = 10 - len(area)
    digits = area + f"{rng.randrange(10**rest):0{rest}d}"
    pairs = " ".join(digits[i : i + 2] for i in range(0, 10, 2))
    if rng.random() < 0.35:
        return "+33 " + digits[1] + " " + " ".join(digits[i : i + 2] for i in range(2, 10, 2))
    return pairs


def _registration(siren: str | None, vat: str | None) -> tuple[str, ...]:
    out = []
    if siren:
        out.append(f"SIREN {siren[:3]} {siren[3:6]} {siren[6:]}")
    if vat:
        out.append(f"TVA intracom. {vat}")
    return tuple(out)


def created_days(
    rng: random.Random, start: int, n: int, imported: float, *, spread: float = 1.0
) -> list[int]:
    """Sorted creation days: a share imported on the first day, the others spread over the
    first ``spread`` of the history."""
    span = (TODAY_ORD - start) * spread
    return sorted(
        start if rng.random() < imported else start + int(span * rng.random()) for _ in range(n)
    )


def make_tenant(rng: random.Random, acc: int, start: int, sink: Sink) -> Party:
    last = rng.choice(fr.LAST_NAMES)
    name = rng.choice(("Conseil", "Solutions", "Services", "Rénovation", "Studio", "Atelier"))
    name = f"{name} {last} {rng.choice(('', '& Associés', 'Pro', 'Île-de-France', 'Groupe'))}"
    name = name.strip()
    form = rng.choice(("SAS", "SARL"))
    siren = make_siren(rng)
    vat = vat_number(siren)
    c = city(rng)
    addr = street(rng)
    domain = f"{slug(name)}.fr"
    email = f"compta@{domain}"
    created = ts(start - rng.randint(1, 20), rng.randrange(1 << 30))
    sink.add(
        "accounts",
        (
            account_id(acc),
            f"{name} {form}",
            siren,
            vat,
            email,
            addr,
            c.postal_code,
            c.name,
            "FR",
            created,
        ),
    )
    pdf = (f"{name} {form}", addr, f"{c.postal_code} {c.name}", email, *_registration(siren, vat))
    return Party(
        account_id(acc),
        f"{name} {form}",
        ascii_upper(name),
        siren,
        pdf,
        start,
        "",
        -1,
        0,
        domain,
        created,
        vat,
        (addr, None, c.postal_code, c.name, "FR"),
    )


def make_companies(
    rng: random.Random,
    acc: int,
    start: int,
    n_customers: int,
    n_suppliers: int,
    n_both: int,
    sink: Sink,
    parties: Parties,
) -> None:
    """Customers, suppliers and a few that are both, in creation order."""
    n = n_customers + n_suppliers - n_both
    days = created_days(rng, start, n, 0.5)
    roles = ["c"] * (n_customers - n_both) + ["s"] * (n_suppliers - n_both) + ["b"] * n_both
    rng.shuffle(roles)
    ncat = len(fr.CATEGORIES)
    clock = Clock(rng, busiest_day(days))
    for i, (day, role) in enumerate(zip(days, roles, strict=True)):
        cid = make_id("com", acc, i + 1)
        is_supplier = role in "sb"
        cat = (i * 7 + rng.randrange(ncat)) % ncat if is_supplier else -1
        if is_supplier and rng.random() < 0.6:
            name = rng.choice(fr.CATEGORIES[cat].suppliers)
        else:
            name = f"{rng.choice(fr.CUSTOMER_TRADES)} {rng.choice(fr.LAST_NAMES)}"
            name = f"{name} {rng.choice(fr.CUSTOMER_SUFFIXES)}".strip()
        if i == 3:
            name = HOSTILE_COMPANY_NAME
        form = rng.choice(fr.LEGAL_FORMS)
        siren: str | None = make_siren(rng)
        vat: str | None = vat_number(siren) if siren else None
        if form == "EI" and rng.random() < 0.5:
            vat = None  # micro-entrepreneur, not liable to VAT
        if rng.random() < 0.03:
            siren = vat = None  # an association or a client not yet identified
        c = city(rng)
        addr1 = street(rng)
        addr2 = rng.choice(fr.ADDRESS_LINE2) if rng.random() < 0.15 else None
        domain = f"{slug(name)}.fr"
        email = f"{rng.choice(('contact', 'compta', 'factures', 'accueil'))}@{domain}"
        tel = phone(rng, c.phone_area)
        note: str | None = None
        if i < len(HOSTILE_NOTES):
            note = HOSTILE_NOTES[i]
        elif rng.random() < 0.1:
            note = rng.choice(
                ("Client historique", "Relancer par téléphone", "Paiement par virement uniquement")
            )
        upd = min(TODAY_ORD, day + (int(rng.random() * 400) if rng.random() < 0.4 else 0))
        created = clock.at(day)
        updated = created if upd == day else ts(upd, rng.randrange(1 << 30))
        sink.add(
            "companies",
            (
                cid,
                account_id(acc),
                name,
                form,
                siren,
                vat,
                email,
                tel,
                addr1,
                addr2,
                c.postal_code,
                c.name,
                "FR",
                int(role in "cb"),
                int(is_supplier),
                note,
                created,
                updated,
            ),
        )
        pdf = (
            f"{name} {form}" if form != "EI" else name,
            addr1,
            *((addr2,) if addr2 else ()),
            f"{c.postal_code} {c.name}",
            *_registration(siren, vat),
        )
        party = Party(
            cid,
            name,
            ascii_upper(name),
            siren,
            pdf,
            day,
            rng.choice(PAYMENT_TERMS),
            cat,
            rng.randrange(6),
            domain,
            created,
            vat,
            (addr1, addr2, c.postal_code, c.name, "FR"),
        )
        if role in "cb":
            parties.customers.append(party)
            parties._cust_created.append(day)
        if is_supplier:
            parties.suppliers.append(party)
            parties._supp_created.append(day)


def make_people(rng: random.Random, acc: int, n: int, sink: Sink, parties: Parties) -> None:
    companies = sorted(parties.customers + parties.suppliers, key=lambda p: p.id)
    unique = list({p.id: p for p in companies}.values())
    unique_created = [p.created_at for p in unique]  # timestamps, in creation order
    start = parties.tenant.created
    days = created_days(rng, start, n, 0.4)
    clock = Clock(rng, busiest_day(days))
    for i, day in enumerate(days):
        female = rng.random() < 0.5
        first = rng.choice(fr.FIRST_NAMES_F if female else fr.FIRST_NAMES_M)
        last = rng.choice(fr.LAST_NAMES)
        civility = ("Mme" if female else "M.") if rng.random() < 0.9 else None
        c = city(rng)
        local = slug(first).replace("-", "") + "." + slug(last).replace("-", "")
        company: Party | None = None
        email: str | None
        job: str | None
        tel: str | None
        addr: str | None
        pc: str | None
        cityname: str | None
        country: str | None
        created = clock.at(day)
        k = bisect_right(unique_created, created)  # companies that exist already
        if rng.random() < 0.75 and k:
            company = unique[int(rng.random() * k)]
        if company is not None:
            email = f"{local}@{company.domain}"
            job = rng.choice(fr.JOB_TITLES)
            tel = phone(rng, c.phone_area) if rng.random() < 0.6 else None
            addr = pc = cityname = country = None
        else:
            email = f"{local}{rng.randint(1, 99)}@exemple.fr" if rng.random() < 0.8 else None
            job = None
            tel = None
            addr, pc, cityname, country = street(rng), c.postal_code, c.name, "FR"
        if i == 1:
            job = "  Responsable achats  "
        mobile = phone(rng, "06", mobile=True) if rng.random() < 0.8 else None
        upd = min(TODAY_ORD, day + int(rng.random() * 300)) if rng.random() < 0.3 else day
        updated = created if upd == day else ts(upd, rng.randrange(1 << 30))
        sink.add(
            "people",
            (
                make_id("per", acc, i + 1),
                account_id(acc),
                company.id if company else None,
                civility,
                first,
                last,
                job,
                email,
                tel,
                mobile,
                addr,
                pc,
                cityname,
                country,
                created,
                updated,
            ),
        )
