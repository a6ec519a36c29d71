"""The demo's accounting: chart of accounts, journals, fiscal years and entries (docs/fec.md).

A French invoicing SaaS posts an entry for every document it keeps: each sales invoice or credit
note in the sales journal ``VT``, each purchase in ``HA``, each bank transaction in the journal
of its bank account (``BQ``, ``BQ2``), and the opening balances of each fiscal year in ``AN``.
The entries are made from the records as they are written (the :class:`Ledger` observes the
sink), so they agree with the invoices, purchases and bank transactions to the cent, whatever
those generators do.

Fiscal years: the first runs from the day the account started to the 31st of December, then one
per calendar year; a year is closed on the 15th of April after it (when that day is past), so
the current year is open and the earlier ones closed. Entries are validated at the end of the
month of their date, opening entries on the first day of their year; lines are written in
validation order (validation date, journal, entry number, line), which their ids follow.

Lettering: a customer (or supplier) line is lettered with the bank line that settles it when
one bank transaction pays the whole invoice (or credit note, or purchase) in the same fiscal
year. An item still open when its year closes is carried into the next year's opening entry
line by line (detailed opening balances of the auxiliary accounts), and it is that line which is
lettered with a payment made in the new year: every lettering group balances within one year.

Memory: the records are spooled to unlinked temporary files as they are observed, then read back
once at the end of the account, journal by journal, and merged in validation order; what stays in
memory is a few integers per invoice and purchase, the chart of accounts and the items open at a
year's end.
"""

from __future__ import annotations

import heapq
import marshal
import operator
import os
import tempfile
from array import array
from collections.abc import Iterator
from datetime import date
from typing import IO, Any, NamedTuple

from .common import ISO, TODAY_ORD, make_id
from .context import AccountCtx
from .db import Row, Sink

#: the general accounts of the demo's chart (French PCG), number -> label
CHART: dict[str, str] = {
    "101300": "Capital souscrit - appelé, versé",
    "110000": "Report à nouveau (solde créditeur)",
    "119000": "Report à nouveau (solde débiteur)",
    "120000": "Résultat de l'exercice (bénéfice)",
    "129000": "Résultat de l'exercice (perte)",
    "401000": "Fournisseurs",
    "411000": "Clients",
    "445510": "TVA à décaisser",
    "445660": "TVA déductible sur autres biens et services",
    "445710": "TVA collectée",
    "471000": "Compte d'attente",
    "580000": "Virements internes",
    "606100": "Fournitures non stockables (eau, énergie)",
    "606300": "Fournitures d'entretien et de petit équipement",
    "606400": "Fournitures administratives",
    "611000": "Sous-traitance générale",
    "613200": "Locations immobilières",
    "615000": "Entretien et réparations",
    "618100": "Documentation générale",
    "622600": "Honoraires",
    "623000": "Publicité, publications, relations publiques",
    "625100": "Voyages et déplacements",
    "625700": "Réceptions",
    "626000": "Frais postaux et de télécommunications",
    "627000": "Services bancaires et assimilés",
    "641000": "Rémunérations du personnel",
    "645100": "Cotisations à l'URSSAF",
    "651100": "Redevances pour logiciels",
    "706000": "Prestations de services",
    "707000": "Ventes de marchandises",
}
CUSTOMERS, SUPPLIERS = "411000", "401000"
VAT_COLLECTED, VAT_DEDUCTIBLE = "445710", "445660"
CAPITAL, SUSPENSE = "101300", "471000"
#: the expense account of each purchase category (offboard/demo/frdata.py)
EXPENSES: dict[str, str] = {
    "Fournitures de bureau": "606400",
    "Loyer": "613200",
    "Télécommunications": "626000",
    "Déplacements": "625100",
    "Sous-traitance": "611000",
    "Énergie": "606100",
    "Honoraires": "622600",
    "Publicité": "623000",
    "Logiciels": "651100",
    "Restauration": "625700",
    "Documentation": "618100",
    "Entretien et réparations": "615000",
}
#: unmatched bank movements by the start of their label; the others wait in 471000
BANK_LABELS: tuple[tuple[str, str], ...] = (
    ("FRAIS BANCAIRES", "627000"),
    ("COMMISSION INTERVENTION", "627000"),
    ("VIR SEPA SALAIRES", "641000"),
    ("PRLV SEPA URSSAF", "645100"),
    ("PRLV SEPA DGFIP TVA", "445510"),
    ("VIR INTERNE", "580000"),
    ("CB CARREFOUR", "606300"),
    ("CB MONOPRIX", "606300"),
    ("CB IKEA", "606300"),
    ("CB TOTALENERGIES", "606100"),
    ("CB SNCF", "625100"),
    ("CB UBER", "625100"),
    ("CB AMAZON PAYMENTS", "606400"),
    ("CB LA POSTE", "626000"),
)
SUBSCRIPTION_LABEL = "PRLV SEPA OFFBOARD DEMO SAAS"
SOFTWARE = "651100"
#: a fiscal year is closed on this (month, day) of the year after it
CLOSING_DAY = (4, 15)
SPOOL_ROWS = 20_000
ENTRY_ROWS = 50_000

_ORD: dict[str, int] = {iso: o for o, iso in ISO.items()}


_MONTH_ENDS: dict[str, str] = {}


def month_end_iso(iso: str) -> str:
    """The last day of the month of an ISO date."""
    found = _MONTH_ENDS.get(iso[:7])
    if found is None:
        y, m = int(iso[:4]), int(iso[5:7])
        found = _MONTH_ENDS[iso[:7]] = ISO[date(y + (m == 12), m % 12 + 1, 1).toordinal() - 1]
    return found


def cents(text: str) -> int:
    """The schema's money text ('-12.50') as cents."""
    return int(text.replace(".", ""))


def lettering_code(n: int) -> str:
    """The ``n``-th lettering code of an account: AAA, AAB, ... ZZZ, BAAAA..."""
    out = ""
    while True:
        n, r = divmod(n, 26)
        out = chr(65 + r) + out
        if n == 0 and len(out) >= 3:
            return out


class _Spool:
    """Rows spooled to an unlinked temporary file (marshal chunks), read back in order."""

    def __init__(self) -> None:
        self._file: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        self._rows: list[Any] = []
        self._size = 0
        self.count = 0

    def add(self, row: Any) -> None:
        self._rows.append(row)
        self.count += 1
        if len(self._rows) >= SPOOL_ROWS:
            self._spill()

    def _spill(self) -> None:
        if self._rows:
            data = marshal.dumps(self._rows)
            self._file.write(len(data).to_bytes(8, "little") + data)
            self._size += 8 + len(data)
            self._rows = []

    def __iter__(self) -> Iterator[Any]:
        """Every row, in order (each iteration reads the file on its own, with ``pread``)."""
        self._spill()
        self._file.flush()
        fd, at = self._file.fileno(), 0
        while at < self._size:
            n = int.from_bytes(os.pread(fd, 8, at), "little")
            yield from marshal.loads(os.pread(fd, n, at + 8))
            at += 8 + n

    def close(self) -> None:
        self._file.close()


def _zeros(n: int) -> array[int]:
    return array("q", bytes(8 * n))


def _serial(record_id: str) -> int:
    """The serial of a demo id ('inv-0001-00000042' -> 42; see docs/reference-schema.md)."""
    return int(record_id[-8:])


class _Record:
    """What is known of the invoices (or purchases), by serial (1 to ``count``): total, party,
    fiscal year, and the bank transactions matched to it (how many, their sum, the last one's
    day)."""

    def __init__(self, count: int) -> None:
        self.total = _zeros(count + 1)
        self.party = _zeros(count + 1)
        self.year = _zeros(count + 1)
        self.payments = _zeros(count + 1)
        self.paid = _zeros(count + 1)
        self.paid_on = _zeros(count + 1)

    def pay(self, serial: int, amount: int, day: int) -> None:
        self.payments[serial] += 1
        self.paid[serial] += amount
        self.paid_on[serial] = day

    def settled(self, serial: int) -> int | None:
        """The day of the one bank transaction paying the whole total, else None."""
        if self.payments[serial] == 1 and self.paid[serial] == self.total[serial]:
            return self.paid_on[serial]
        return None


class _Item(NamedTuple):
    """An auxiliary line still open (not lettered), carried from year to year."""

    collective: str
    aux: str
    amount: int
    piece: str
    piece_day: str
    label: str
    #: ('inv' | 'pur', serial) for the invoice or purchase line itself; None for a payment
    of: tuple[str, int] | None
    refs: tuple[str | None, str | None, str | None]


class Line(NamedTuple):
    account: str
    aux: str | None
    amount: int  # cents, debit positive
    #: for a lettered line: (('inv' | 'pur', serial) it settles, day of the payment)
    letter: tuple[tuple[str, int], int] | None = None
    #: for an opening line carrying an open item: the item
    item: _Item | None = None


class Entry(NamedTuple):
    validated: str
    journal: str
    number: str
    year: int  # fiscal year index
    day: str  # entry date, ISO
    piece: str
    piece_day: str
    label: str
    lines: list[Line]
    #: invoice id, purchase id, bank transaction id the entry was made from
    refs: tuple[str | None, str | None, str | None]


_NO_REFS: tuple[str | None, str | None, str | None] = (None, None, None)


class Ledger:
    """Watches one account's records being written, then posts its entries (:meth:`post`)."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.companies: list[tuple[str, str, int, int]] = []
        self.products: dict[str, str] = {}
        self.bank_accounts: list[tuple[str, str, str, int]] = []
        self.bills: dict[tuple[str, int], tuple[int, int]] = {}
        self.invoices = _Spool()
        self.invoice_lines = _Spool()
        self.purchases = _Spool()
        self.purchase_lines = _Spool()
        self.transactions: dict[str, _Spool] = {}
        self._watch("companies", "id name is_customer is_supplier", self.companies.append)
        self._watch("products", "id kind", lambda r: self.products.__setitem__(*r))
        self._watch("bank_accounts", "id name bank_name opening_balance", self._bank_account)
        self._watch("billing_invoices", "paid_on total_ht total_vat total_ttc", self._bill)
        self._watch(
            "invoices",
            "id number kind customer_id issue_date total_ht total_vat total_ttc",
            lambda r: self.invoices.add((*r[:5], cents(r[5]), cents(r[6]), cents(r[7]))),
        )
        self._watch(
            "invoice_lines",
            "invoice_id product_id total_ht",
            lambda r: self.invoice_lines.add((_serial(r[0]), r[1], cents(r[2]))),
        )
        self._watch(
            "purchases",
            "id number supplier_id supplier_ref issue_date total_vat total_ttc",
            lambda r: self.purchases.add((*r[:5], cents(r[5]), cents(r[6]))),
        )
        self._watch(
            "purchase_lines",
            "purchase_id category total_ht",
            lambda r: self.purchase_lines.add((_serial(r[0]), r[1], cents(r[2]))),
        )
        self._watch(
            "bank_transactions",
            "bank_account_id id booking_date label amount matched_invoice_id matched_purchase_id",
            self._transaction,
        )

    def _watch(self, table: str, names: str, fn: Any) -> None:
        columns = self.sink.columns[table]
        pick = operator.itemgetter(*(columns.index(n) for n in names.split()))

        def observe(rows: list[Row]) -> None:
            for row in rows:
                fn(pick(row))

        self.sink.observe(table, observe)

    def _bank_account(self, r: tuple[Any, ...]) -> None:
        self.bank_accounts.append((r[0], r[1], r[2], cents(r[3])))

    def _bill(self, r: tuple[Any, ...]) -> None:
        if r[0] is not None:  # paid: by direct debit, on that day
            self.bills[(r[0], -cents(r[3]))] = (cents(r[1]), cents(r[2]))

    def _transaction(self, r: tuple[Any, ...]) -> None:
        spool = self.transactions.get(r[0])
        if spool is None:
            spool = self.transactions[r[0]] = _Spool()
        spool.add((r[1], r[2], r[3], cents(r[4]), r[5], r[6]))

    def close(self) -> None:
        self.sink.stop_observing()
        for spool in (self.invoices, self.invoice_lines, self.purchases, self.purchase_lines):
            spool.close()
        for spool in self.transactions.values():
            spool.close()

    def post(self, ctx: AccountCtx) -> None:
        """Write the account's fiscal years, journals, chart of accounts and entries."""
        self.sink.stop_observing()
        try:
            _Posting(self, ctx).run()
        finally:
            self.close()


class _Posting:
    """The entries of one account, made from what its :class:`Ledger` saw."""

    def __init__(self, ledger: Ledger, ctx: AccountCtx) -> None:
        self.ledger = ledger
        self.ctx = ctx
        self.sink = ledger.sink
        self.acc_id = ctx.acc_id
        self.start = ISO[ctx.start]
        self.first_year = int(self.start[:4])
        self.years = int(ISO[TODAY_ORD][:4]) - self.first_year + 1
        self.fy_ids = [make_id("fy", ctx.acc, k + 1) for k in range(self.years)]
        self.names = {c[0]: c[1] for c in ledger.companies}
        #: auxiliary accounts by company id; company ids by party index
        self.customer_aux: dict[str, str] = {}
        self.supplier_aux: dict[str, str] = {}
        self.parties: list[str] = []
        self.bank_account_of: dict[str, str] = {}
        self.journal_of: dict[str, str] = {}
        self.invoices = _Record(ledger.invoices.count)
        self.purchases = _Record(ledger.purchases.count)
        self.id_prefix = f"ecr-{ctx.acc:04d}-"
        self._years: dict[str, int] = {}
        self.numbers: dict[str, int] = {}
        self.codes: dict[str, int] = {}
        self.pending: dict[tuple[str, int], str] = {}
        #: balances of the general accounts in the current year; auxiliary lines left open
        self.balances: dict[str, int] = {}
        self.open: list[_Item] = []
        self.line_id = 0
        self.rows = self.sink.buffer("accounting_entries")
        #: per fiscal year, the latest validation of its entries (entries come in that order)
        self.validated = [self.year_start(k) for k in range(self.years)]

    # -- fiscal years --------------------------------------------------------------------------
    def year_of(self, iso: str) -> int:
        k = self._years.get(iso[:4])
        if k is None:
            k = self._years[iso[:4]] = int(iso[:4]) - self.first_year
        if not 0 <= k < self.years or iso < self.start:
            raise ValueError(f"{self.acc_id}: date {iso} is outside the account's fiscal years")
        return k

    def year_start(self, k: int) -> str:
        return self.start if k == 0 else f"{self.first_year + k}-01-01"

    def _fiscal_years(self, validated: list[str]) -> None:
        """The fiscal years (``validated``: the latest validation of each one's entries)."""
        siren = self.ctx.parties.tenant.siren
        assert siren is not None
        for k in range(self.years):
            year = self.first_year + k
            closing = date(year + 1, *CLOSING_DAY).toordinal()
            closed_at = f"{ISO[closing]}T16:30:00Z" if closing <= TODAY_ORD else None
            created = f"{self.year_start(k)}T06:00:00Z"
            self.sink.add(
                "fiscal_years",
                (
                    self.fy_ids[k],
                    self.acc_id,
                    siren,
                    self.year_start(k),
                    f"{year}-12-31",
                    "open" if closed_at is None else "closed",
                    closed_at,
                    created,
                    closed_at or f"{validated[k]}T18:00:00Z",
                ),
            )

    # -- chart of accounts and journals --------------------------------------------------------
    def _chart(self) -> None:
        rows: list[tuple[str, str, str, str | None, str | None]] = [
            (number, label, "general", None, None) for number, label in CHART.items()
        ]
        journals: list[tuple[str, str, str, str | None]] = [
            ("AN", "A-nouveaux", "opening", None),
            ("HA", "Achats", "purchases", None),
            ("VT", "Ventes", "sales", None),
        ]
        for k, (bank_id, name, bank, _) in enumerate(self.ledger.bank_accounts):
            number, code = f"5121{k + 1:02d}", "BQ" if k == 0 else f"BQ{k + 1}"
            self.bank_account_of[bank_id], self.journal_of[bank_id] = number, code
            rows.append((number, f"Banque - {name} ({bank})", "general", None, None))
            journals.append((code, f"Banque - {name} ({bank})", "bank", bank_id))
        customers = suppliers = 0
        for company_id, name, is_customer, is_supplier in self.ledger.companies:
            if is_customer:
                customers += 1
                self.customer_aux[company_id] = aux = f"411{customers:05d}"
                rows.append((aux, name, "customer", CUSTOMERS, company_id))
            if is_supplier:
                suppliers += 1
                self.supplier_aux[company_id] = aux = f"401{suppliers:05d}"
                rows.append((aux, name, "supplier", SUPPLIERS, company_id))
        self.sink.extend("ledger_accounts", [(self.acc_id, *r) for r in sorted(rows)])
        self.sink.extend("journals", [(self.acc_id, *j) for j in sorted(journals)])

    def number(self, journal: str) -> str:
        """The journal's next entry number (continuous from year to year)."""
        n = self.numbers.get(journal, 0) + 1
        self.numbers[journal] = n
        return f"{journal}{n:07d}"

    # -- what settles what ---------------------------------------------------------------------
    def _index(self) -> None:
        """One pass over the invoices, purchases and bank transactions: totals, parties,
        fiscal years and payments by serial."""
        index = {company: i for i, company in enumerate(self.names)}
        self.parties = list(self.names)
        for iid, _, _, customer, issued, _, _, ttc in self.ledger.invoices:
            serial = _serial(iid)
            self.invoices.total[serial] = ttc
            self.invoices.party[serial] = index[customer]
            self.invoices.year[serial] = self.year_of(issued)
        for pid, _, supplier, _, issued, _, ttc in self.ledger.purchases:
            serial = _serial(pid)
            self.purchases.total[serial] = -ttc  # what its payment takes out of the bank
            self.purchases.party[serial] = index[supplier]
            self.purchases.year[serial] = self.year_of(issued)
        for spool in self.ledger.transactions.values():
            for _, booked, _, amount, invoice, purchase in spool:
                if invoice is not None:
                    self.invoices.pay(_serial(invoice), amount, _ORD[booked])
                if purchase is not None:
                    self.purchases.pay(_serial(purchase), amount, _ORD[booked])

    def record(self, kind: str) -> _Record:
        return self.invoices if kind == "inv" else self.purchases

    def letter(self, key: tuple[str, int], aux: str) -> str:
        """The lettering code of the group ``key``: a new one the first time, then the same."""
        code = self.pending.pop(key, None)
        if code is None:
            n = self.codes.get(aux, 0)
            self.codes[aux] = n + 1
            code = self.pending[key] = lettering_code(n)
        return code

    def lettered(self, key: tuple[str, int], year: int) -> tuple[tuple[str, int], int] | None:
        """How the line of invoice or purchase ``key`` is lettered in fiscal year ``year``: when
        a single payment settles it that year."""
        paid = self.record(key[0]).settled(key[1])
        if paid is not None and self.year_of(ISO[paid]) == year:
            return key, paid
        return None

    # -- the journals --------------------------------------------------------------------------
    def _sales(self) -> Iterator[Entry]:
        kinds = self.ledger.products
        lines = iter(self.ledger.invoice_lines)
        line = next(lines, None)
        for iid, number, kind, customer, issued, ht, vat, ttc in self.ledger.invoices:
            serial = _serial(iid)
            goods = 0
            while line is not None and line[0] == serial:
                if line[1] is not None and kinds.get(line[1]) == "product":
                    goods += line[2]
                line = next(lines, None)
            if line is not None and line[0] < serial:
                raise ValueError(f"{self.acc_id}: the lines of invoice {line[0]} are out of order")
            year = self.year_of(issued)
            letter = self.lettered(("inv", serial), year)
            posted = [
                Line(CUSTOMERS, self.customer_aux[customer], ttc, letter),
                Line("706000", None, goods - ht),
                Line("707000", None, -goods),
                Line(VAT_COLLECTED, None, -vat),
            ]
            title = "Avoir" if kind == "credit_note" else "Facture"
            yield Entry(
                month_end_iso(issued),
                "VT",
                self.number("VT"),
                year,
                issued,
                number,
                issued,
                f"{title} {number} - {self.names[customer]}",
                [p for p in posted if p.amount],
                (iid, None, None),
            )

    def _purchases(self) -> Iterator[Entry]:
        lines = iter(self.ledger.purchase_lines)
        line = next(lines, None)
        for pid, number, supplier, ref, issued, vat, ttc in self.ledger.purchases:
            serial = _serial(pid)
            expenses: dict[str, int] = {}
            while line is not None and line[0] == serial:
                account = EXPENSES.get(line[1], "606400")
                expenses[account] = expenses.get(account, 0) + line[2]
                line = next(lines, None)
            if line is not None and line[0] < serial:
                raise ValueError(f"{self.acc_id}: the lines of purchase {line[0]} are out of order")
            year = self.year_of(issued)
            posted = [Line(a, None, expenses[a]) for a in sorted(expenses)]
            posted.append(Line(VAT_DEDUCTIBLE, None, vat))
            letter = self.lettered(("pur", serial), year)
            posted.append(Line(SUPPLIERS, self.supplier_aux[supplier], -ttc, letter))
            yield Entry(
                month_end_iso(issued),
                "HA",
                self.number("HA"),
                year,
                issued,
                number,
                issued,
                f"Facture {ref} - {self.names[supplier]}",
                [p for p in posted if p.amount],
                (None, pid, None),
            )

    def _bank(self, bank_id: str) -> Iterator[Entry]:
        journal, bank = self.journal_of[bank_id], self.bank_account_of[bank_id]
        bills = self.ledger.bills
        for tid, booked, label, amount, invoice, purchase in self.ledger.transactions[bank_id]:
            year = self.year_of(booked)
            posted = [Line(bank, None, amount)]
            matched = invoice if invoice is not None else purchase
            if matched is not None:
                kind = "inv" if invoice is not None else "pur"
                serial = _serial(matched)
                record = self.record(kind)
                company = self.parties[record.party[serial]]
                if kind == "inv":
                    collective, aux = CUSTOMERS, self.customer_aux[company]
                else:
                    collective, aux = SUPPLIERS, self.supplier_aux[company]
                letter = None
                paid = record.settled(serial)
                if paid is not None and record.year[serial] <= year:
                    letter = ((kind, serial), paid)
                posted.append(Line(collective, aux, -amount, letter))
            elif label == SUBSCRIPTION_LABEL and (booked, amount) in bills:
                ht, vat = bills[(booked, amount)]
                posted += [Line(SOFTWARE, None, ht), Line(VAT_DEDUCTIBLE, None, vat)]
            else:
                account = next((a for start, a in BANK_LABELS if label.startswith(start)), SUSPENSE)
                posted.append(Line(account, None, -amount))
            yield Entry(
                month_end_iso(booked),
                journal,
                self.number(journal),
                year,
                booked,
                tid,
                booked,
                label,
                posted,
                (invoice, purchase, tid),
            )

    # -- opening entries -----------------------------------------------------------------------
    def _opening(self, k: int) -> Entry:
        """The opening entry of fiscal year ``k``: for the first, the bank accounts' opening
        balances against the capital; for the others, every balance sheet account carried, each
        open customer and supplier item line by line (lettered when it is settled this year),
        the earlier results as retained earnings and the previous year's result."""
        lines: list[Line] = []
        if k == 0:
            for bank_id, _, _, balance in self.ledger.bank_accounts:
                lines.append(Line(self.bank_account_of[bank_id], None, balance))
            lines.append(Line(CAPITAL, None, -sum(line.amount for line in lines)))
            label = "Soldes d'ouverture"
        else:
            result = retained = 0
            for account, balance in self.balances.items():
                if account[0] in "67":
                    result += balance
                elif account in ("110000", "119000", "120000", "129000"):
                    retained += balance
                elif balance:
                    lines.append(Line(account, None, balance))
            if retained:
                lines.append(Line("110000" if retained < 0 else "119000", None, retained))
            if result:
                lines.append(Line("120000" if result < 0 else "129000", None, result))
            for item in self.open:
                letter = self.lettered(item.of, k) if item.of is not None else None
                lines.append(Line(item.collective, item.aux, item.amount, letter, item))
            label = f"A-nouveaux {self.first_year + k}"
        self.balances, self.open = {}, []
        lines.sort(key=lambda line: (line.account, line.aux or ""))
        start = self.year_start(k)
        piece = f"AN-{self.first_year + k}"
        return Entry(start, "AN", self.number("AN"), k, start, piece, start, label, lines, _NO_REFS)

    # -- writing -------------------------------------------------------------------------------
    def _write(self, entry: Entry) -> None:
        """Append the entry's lines to the ``accounting_entries`` buffer (the hot loop)."""
        fy = self.fy_ids[entry.year]
        self.validated[entry.year] = entry.validated
        append, balances, prefix, acc_id = (
            self.rows.append,
            self.balances,
            self.id_prefix,
            self.acc_id,
        )
        journal, number, day, validated = entry.journal, entry.number, entry.day, entry.validated
        line_id = self.line_id
        total = 0
        for position, (account, aux, amount, letter, item) in enumerate(entry.lines, 1):
            total += amount
            if item is None:
                piece, piece_day, label, refs = (
                    entry.piece,
                    entry.piece_day,
                    entry.label,
                    entry.refs,
                )
            else:
                piece, piece_day, label, refs = item.piece, item.piece_day, item.label, item.refs
            code = lettered_on = None
            if aux is None:
                balances[account] = balances.get(account, 0) + amount
            elif letter is not None:
                code = self.letter(letter[0], aux)
                lettered_on = ISO[letter[1]]
            elif item is not None:
                self.open.append(item)
            else:
                self.open.append(self._item(entry, account, aux, amount))
            line_id += 1
            append(
                (
                    f"{prefix}{line_id:08d}",
                    acc_id,
                    fy,
                    journal,
                    number,
                    day,
                    piece,
                    piece_day,
                    position,
                    account,
                    aux,
                    label,
                    f"{amount // 100}.{amount % 100:02d}" if amount > 0 else "0.00",
                    f"{-amount // 100}.{-amount % 100:02d}" if amount < 0 else "0.00",
                    code,
                    lettered_on,
                    validated,
                    "EUR",
                    None,
                    None,
                    *refs,
                )
            )
        self.line_id = line_id
        if total != 0:
            raise ValueError(f"{self.acc_id}: entry {entry.number} does not balance ({total})")
        if len(self.rows) >= ENTRY_ROWS:
            self.sink.flush("accounting_entries")

    def _item(self, entry: Entry, account: str, aux: str, amount: int) -> _Item:
        """An auxiliary line left open: the invoice or purchase line itself, or a payment."""
        of = None
        if entry.journal in ("VT", "HA"):
            record = entry.refs[0] if entry.journal == "VT" else entry.refs[1]
            assert record is not None
            of = ("inv" if entry.journal == "VT" else "pur", _serial(record))
        return _Item(
            account, aux, amount, entry.piece, entry.piece_day, entry.label, of, entry.refs
        )

    def run(self) -> None:
        ledger = self.ledger
        self._chart()
        self._index()
        streams: list[Iterator[Entry]] = [self._sales(), self._purchases()]
        streams += [self._bank(b) for b in sorted(ledger.transactions)]
        total = ledger.invoices.count + ledger.purchases.count
        total += sum(s.count for s in ledger.transactions.values())
        year = 0
        self._write(self._opening(0))
        merged = heapq.merge(*streams, key=lambda e: (e.validated, e.journal, e.number))
        for done, entry in enumerate(merged, 1):
            while entry.year > year:
                year += 1
                self._write(self._opening(year))
            self._write(entry)
            if done % 100_000 == 0:
                self.ctx.report("accounting", done, total)
        while year < self.years - 1:
            year += 1
            self._write(self._opening(year))
        if self.pending:
            raise ValueError(f"{self.acc_id}: lettering left half done: {sorted(self.pending)[:3]}")
        self.sink.flush("accounting_entries")
        self._fiscal_years(self.validated)
        self.ctx.report("accounting", total, total)
