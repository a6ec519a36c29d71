"""Generated invoices for the money properties: drawn by Hypothesis, made by the project's
invoice maths (:mod:`offboard.demo.lines`), checked there against exact decimals, and laid out
as the rows a source holds (invoices, lines, VAT breakdown, sales entries) with their exact
totals and Factur-X invoices. Used by ``test_money_property.py``."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import strategies as st

from exporters.fec import FecExporter
from exporters.sales_invoices import SalesInvoicesExporter
from offboard.accounting.fec import FiscalYear
from offboard.demo import lines as demo_lines
from offboard.demo.common import money, rate_text
from offboard.demo.facturx import FxInvoice, FxParty

#: the VAT rates of the project's invoices, in hundredths of a percent (20, 10, 5.5, 2.1 %)
RATES = tuple(sorted(demo_lines._RATE))
CENT = Decimal("0.01")
DAY = "2025-03-31"
STAMP = "2025-03-31T10:00:00Z"
ACCOUNT = "acc-m001"
PARTY = FxParty(
    "Société Test", "805361474", "FR64805361474", "1 rue A", None, "75001", "Paris", "FR"
)
SIREN = "805361474"
YEAR = FiscalYear("fy-2025", SIREN, "2025-01-01", "2025-12-31", True)
JOURNALS = {"VT": "Ventes"}
ACCOUNTS = {
    "411000": "Clients",
    "41100001": "Société Test",
    "445710": "TVA collectée",
    "706000": "Prestations de services",
}
SALES = {t.name: t for t in SalesInvoicesExporter.tables}
ENTRIES = FecExporter.table("accounting_entries")

Line = tuple[int, int, int]  # quantity thousandths, unit price cents, VAT rate bp
Invoice = tuple[list[Line], str, bool]  # lines, currency, credit note
Row = dict[str, str | None]
#: table -> money column -> currency ("" for a table without one) -> exact total
Totals = dict[str, dict[str, dict[str, Decimal]]]

LINE = st.tuples(
    st.integers(1, 10**7),  # up to 10,000 units
    st.integers(-(10**13), 10**13),  # up to 100 billion, either way: totals past 2**53 cents
    st.sampled_from(RATES),
)
INVOICE = st.tuples(
    st.lists(LINE, min_size=1, max_size=6),
    st.sampled_from(["EUR", "EUR", "USD", "CHF"]),
    st.booleans(),  # a credit note: its lines' prices negated, as the project makes them
)


def exact_line(q: int, price: int) -> Decimal:
    """quantity x unit price, rounded half away from zero to the cent."""
    return (Decimal(q).scaleb(-3) * Decimal(price).scaleb(-2)).quantize(CENT, ROUND_HALF_UP)


def exact_vat(base: Decimal, bp: int) -> Decimal:
    """base x rate, rounded half away from zero to the cent."""
    return (base * Decimal(bp).scaleb(-4)).quantize(CENT, ROUND_HALF_UP)


def cents(value: Decimal) -> int:
    return int(value.scaleb(2))


@dataclass
class Made:
    """The rows of one batch of invoices, as a source holds them, and their exact totals."""

    heads: list[Row] = field(default_factory=list)
    lines: list[Row] = field(default_factory=list)
    vats: list[Row] = field(default_factory=list)
    entries: list[Row] = field(default_factory=list)
    want: Totals = field(default_factory=dict)
    #: per invoice id: its Factur-X invoice and its exact gross total
    facturx: dict[str, tuple[FxInvoice, Decimal]] = field(default_factory=dict)

    def add(self, table: str, column: str, code: str, value: Decimal) -> None:
        bucket = self.want.setdefault(table, {}).setdefault(column, {})
        bucket[code] = bucket.get(code, Decimal(0)) + value


def make(invoices: list[Invoice]) -> Made:
    made = Made()
    for k, invoice in enumerate(invoices, 1):
        add_invoice(made, k, invoice)
    return made


def add_invoice(made: Made, k: int, invoice: Invoice) -> None:
    """One invoice through the project's invoice maths, checked against exact decimals."""
    drawn, code, credit = invoice
    iid, number = f"inv-{k:04d}", f"{'AV' if credit else 'FA'}-2025-{k:05d}"
    sign = -1 if credit else 1
    picked = [
        (None, f"Ligne {i}", "heure", q, sign * p, r, rate_text(r))
        for i, (q, p, r) in enumerate(drawn)
    ]
    buf: list[tuple[object, ...]] = []
    pdf: list[demo_lines.PdfLine] = []
    ht, bases = demo_lines.emit_lines(buf, "inl-", k * 10, ACCOUNT, iid, picked, pdf)
    vat = demo_lines.vat_rows(bases)
    tva = sum(a for _, _, a in vat)
    ttc = ht + tva

    amounts = [exact_line(q, sign * p) for q, p, _ in drawn]
    exact_bases: dict[int, Decimal] = {}
    for (_, _, r), amount in zip(drawn, amounts, strict=True):
        exact_bases[r] = exact_bases.get(r, Decimal(0)) + amount
    exact_ht = sum(amounts, Decimal(0))
    exact_tva = sum((exact_vat(b, r) for r, b in exact_bases.items()), Decimal(0))
    exact_ttc = exact_ht + exact_tva
    assert (ht, tva, ttc) == (cents(exact_ht), cents(exact_tva), cents(exact_ttc))
    assert [(r, b) for r, b, _ in vat] == [(r, cents(b)) for r, b in sorted(exact_bases.items())]

    for row, (q, p, _), amount in zip(buf, drawn, amounts, strict=True):
        line = dict(
            zip(LINE_COLUMNS, (str(v) if v is not None else None for v in row), strict=True)
        )
        assert Decimal(str(line["quantity"])) == Decimal(q).scaleb(-3)
        assert Decimal(str(line["unit_price_ht"])) == Decimal(sign * p).scaleb(-2)
        assert Decimal(str(line["total_ht"])) == amount
        made.lines.append(line)
        made.add("sales_invoice_lines", "unit_price_ht", "", Decimal(sign * p).scaleb(-2))
        made.add("sales_invoice_lines", "total_ht", "", amount)
    for r, base, vat_cents in vat:
        made.vats.append(
            {
                "invoice_id": iid,
                "vat_rate": rate_text(r),
                "base_ht": money(base),
                "vat_amount": money(vat_cents),
            }
        )
        made.add("sales_invoice_vat", "base_ht", "", exact_bases[r])
        made.add("sales_invoice_vat", "vat_amount", "", exact_vat(exact_bases[r], r))
    made.heads.append(
        {
            "id": iid,
            "number": number,
            "kind": "credit_note" if credit else "invoice",
            "customer_id": "co-1",
            "customer_name": PARTY.name,
            "issue_date": DAY,
            "due_date": DAY,
            "payment_terms": "30 jours",
            "status": "unpaid",
            "total_ht": money(ht),
            "total_vat": money(tva),
            "total_ttc": money(ttc),
            "amount_paid": money(0),
            "currency": code,
            "created_at": STAMP,
            "updated_at": STAMP,
        }
    )
    for column, value in (
        ("total_ht", exact_ht),
        ("total_vat", exact_tva),
        ("total_ttc", exact_ttc),
        ("amount_paid", Decimal("0.00")),
    ):
        made.add("sales_invoices", column, code, value)
    # amounts are positive in a credit note's XML (its type code says it is one)
    made.facturx[iid] = (
        FxInvoice(
            number=number,
            type_code="381" if credit else "380",
            issue_date=DAY,
            due_date=DAY,
            terms="30 jours",
            currency=code,
            seller=PARTY,
            buyer=PARTY,
            lines=tuple((a, q, c, sign * e, r, sign * f) for a, q, c, e, r, f in pdf),
            vat=tuple((r, sign * b, sign * a) for r, b, a in vat),
            totals=(sign * ht, sign * tva, sign * ttc),
            preceding=None,
            notes=(),
            iban=None,
            bic=None,
            created=STAMP,
        ),
        exact_ttc,
    )
    if code == "EUR":
        post(made, iid, number, exact_ht, exact_tva, exact_ttc)


def post(made: Made, iid: str, number: str, ht: Decimal, tva: Decimal, ttc: Decimal) -> None:
    """The sales entry of a euro invoice: customer debited, sales and VAT credited."""
    entry = f"VT{len(made.entries) // 3 + 1:07d}"
    posted = (("411000", "41100001", ttc), ("706000", None, -ht), ("445710", None, -tva))
    for position, (account, aux, signed) in enumerate(posted, 1):
        debit, credit = max(signed, Decimal(0)), max(-signed, Decimal(0))
        made.entries.append(
            {
                "id": f"ecr-{len(made.entries) + 1:06d}",
                "fiscal_year_id": YEAR.id,
                "journal_code": "VT",
                "entry_number": entry,
                "entry_date": DAY,
                "piece_ref": number,
                "piece_date": DAY,
                "position": str(position),
                "account_number": account,
                "auxiliary_number": aux,
                "label": f"Facture {number}",
                "debit": f"{debit:.2f}",
                "credit": f"{credit:.2f}",
                "validated_on": DAY,
                "currency": "EUR",
                "invoice_id": iid,
            }
        )
        made.add(ENTRIES.name, "debit", "EUR", debit)
        made.add(ENTRIES.name, "credit", "EUR", credit)


LINE_COLUMNS = (
    "id",
    "account_id",
    "invoice_id",
    "position",
    "product_id",
    "description",
    "quantity",
    "unit",
    "unit_price_ht",
    "vat_rate",
    "total_ht",
)
