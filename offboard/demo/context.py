"""What the generators of one account share: its parties, calendar, documents and bank events."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from .common import account_id, rng_for
from .db import Sink
from .docs import DocQueue, Progress
from .lines import Calendar
from .parties import Parties

#: a bank movement to book:
#: (day, amount cents, label, matched invoice id, matched purchase id, bank account index)
Event = tuple[int, int, str, str | None, str | None, int]

LATE_FEES = (
    "En cas de retard de paiement : pénalités au taux de trois fois le taux d'intérêt légal et",
    "indemnité forfaitaire de 40 € pour frais de recouvrement (art. L441-10 du Code de commerce).",
)


@dataclass
class AccountCtx:
    seed: int
    acc: int
    start: int  # ordinal of the day the account started
    sink: Sink
    docs: DocQueue
    parties: Parties
    calendar: Calendar
    #: documents to render per kind ('invoices', 'quotes', 'purchases'); None = all
    doc_budget: dict[str, int | None]
    #: how the tenant asks to be paid (IBAN and BIC), printed on invoices
    bank_note: str = ""
    events: list[Event] = field(default_factory=list)
    progress: Progress | None = None

    def report(self, stage: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(f"{self.acc_id} {stage}", done, total)

    @property
    def acc_id(self) -> str:
        return account_id(self.acc)

    def doc_rng(self, kind: str) -> random.Random:
        """The random stream choosing which records get a document (apart from the data's)."""
        return rng_for(self.seed, self.acc, f"documents/{kind}")

    def doc_path(self, kind: str, number: str) -> str:
        safe = number.replace("/", "-").replace("\\", "-").replace(" ", "")
        return f"{kind}/{self.acc_id}/{safe}.pdf"


def bank_day(o: int) -> int:
    """The next working day a bank books a movement on (Saturday and Sunday move to Monday)."""
    wd = (o + 6) % 7
    return o + (2 if wd == 5 else 1 if wd == 6 else 0)
