"""Generate the demo SaaS database (reference schema) and its documents folder.

:func:`generate_demo` writes ``<path>`` and ``<stem>-documents/`` beside it. Both are built
under temporary names (``<name>.tmp-<pid>``) and renamed over the old ones at the end, so a
half-written database never carries the final name. The output depends only on
(seed, accounts, scale, documents): not on the clock, the time zone or the number of jobs.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import parties as pt
from .accounting import Ledger
from .bank import make_bank_accounts, make_transactions
from .billing import Subscription, plan_subscriptions, write_subscription
from .catalogue import make_products
from .common import account_id, rng_for
from .context import AccountCtx
from .db import Sink
from .docs import DocQueue
from .invoices import make_invoices
from .lines import Calendar
from .pdf import DocSpec
from .purchases import make_purchases
from .quotes import make_quotes

SCANS_DIR = Path(__file__).parent / "scans"


@dataclass(frozen=True)
class Scale:
    """Records per account."""

    name: str
    customers: int
    suppliers: int
    both: int  # companies that are customers and suppliers (within the two counts above)
    people: int
    products: int
    quotes: int
    invoices: int
    purchases: int
    bank_transactions: int
    #: documents rendered per account by default (None: every record gets one)
    documents: int | None


SCALES: dict[str, Scale] = {
    "small": Scale("small", 92, 33, 5, 150, 60, 150, 300, 200, 600, None),
    "medium": Scale("medium", 4000, 1000, 100, 6000, 400, 30_000, 100_000, 30_000, 100_000, 20_000),
    "large": Scale(
        "large", 20_000, 4000, 400, 30_000, 1500, 200_000, 1_000_000, 150_000, 1_000_000, 20_000
    ),
}


@dataclass(frozen=True)
class DemoResult:
    path: Path
    documents_dir: Path
    account_ids: list[str]
    #: rows per table, summed over the accounts
    counts: dict[str, int]


def documents_dir_for(path: Path) -> Path:
    """The documents folder beside a demo database: ``demo/x.db`` -> ``demo/x-documents``."""
    return path.with_name(f"{path.stem}-documents")


def split_budget(total: int | None, billing: int, counts: dict[str, int]) -> dict[str, int | None]:
    """Documents per kind: billing first, then 60/20/20 % to invoices, quotes and purchases."""
    if total is None:
        return dict.fromkeys(counts, None)
    left = max(0, total - billing)
    shares = {"invoices": 0.6, "quotes": 0.2, "purchases": 0.2}
    out = {k: min(counts[k], int(left * shares[k])) for k in counts}
    spare = left - sum(out.values())
    for k in counts:  # give what a small kind cannot use to the others
        extra = min(spare, counts[k] - out[k])
        out[k] += extra
        spare -= extra
    result: dict[str, int | None] = dict(out)
    return result


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p)
    elif p.exists() or p.is_symlink():
        p.unlink()


def generate_demo(
    path: Path,
    *,
    accounts: int = 3,
    scale: str = "small",
    seed: int = 1,
    documents: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    jobs: int | None = None,
) -> DemoResult:
    """Write a demo database of ``accounts`` tenants at ``path``; return what was written.

    ``documents`` is the number of PDFs per account (default: the scale's, every record for
    ``small``); records without one have ``pdf_path`` NULL. ``jobs`` worker processes render
    the PDFs (default: the number of CPUs). ``progress(stage, done, total)`` is called now
    and then, with the stages ``accounts``, ``acc-0001 quotes`` (``invoices``, ``purchases``,
    ``bank``, ``accounting``) for each account, ``documents`` and ``indexes``.

    Raises ValueError for a bad argument, :class:`~offboard.errors.OutputError` when the demo
    cannot be written (naming the file); on any error nothing is left behind and an existing
    demo at ``path`` is untouched.
    """
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}: expected one of {', '.join(SCALES)}")
    if accounts < 1 or accounts > 9999:
        raise ValueError("accounts must be between 1 and 9999")
    if documents is not None and documents < 0:
        raise ValueError("documents must be zero or more")
    path = Path(path)
    docs_dir = documents_dir_for(path)
    pid = os.getpid()
    tmp_db = path.with_name(f"{path.name}.tmp-{pid}")
    tmp_docs = docs_dir.with_name(f"{docs_dir.name}.tmp-{pid}")
    old_docs = docs_dir.with_name(f"{docs_dir.name}.old-{pid}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _cannot_write(path, exc) from exc
    for p in (tmp_db, tmp_docs, old_docs):
        _remove(p)
    n_jobs = jobs if jobs is not None else (os.cpu_count() or 1)
    sc = SCALES[scale]
    budget = documents if documents is not None else sc.documents
    queue = DocQueue(tmp_docs, n_jobs, progress)
    sink: Sink | None = None
    try:
        tmp_docs.mkdir(parents=True)
        _copy_scans(tmp_docs / "scans")
        sink = Sink(tmp_db)
        subs = plan_subscriptions(seed, accounts)
        for sub in subs:
            if progress:
                progress("accounts", sub.acc - 1, accounts)
            _generate_account(sink, queue, sub, sc, seed, budget, progress)
        if progress:
            progress("accounts", accounts, accounts)
        sink.start_finish()  # the writer indexes while the workers finish the PDFs
        queue.finish()
        sink.wait_finished(progress)
        counts = dict(sink.counts)
        sink.close()
        sink = None
        if docs_dir.exists():
            docs_dir.rename(old_docs)
        tmp_docs.rename(docs_dir)
        os.replace(tmp_db, path)
        _remove(old_docs)
    except BaseException as exc:
        queue.close()
        if sink is not None:
            sink.close()
        for p in (tmp_db, tmp_docs):
            _remove(p)
        if isinstance(exc, OSError):
            raise _cannot_write(path, exc) from exc
        raise
    return DemoResult(path, docs_dir, [account_id(a) for a in range(1, accounts + 1)], counts)


def _cannot_write(path: Path, exc: OSError) -> Exception:
    from offboard.errors import OutputError

    where = exc.filename if exc.filename is not None else path
    return OutputError(f"demo {str(path)!r}: cannot write {str(where)!r}: {exc.strerror or exc}")


def _copy_scans(target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for f in sorted(SCANS_DIR.iterdir()):
        if f.suffix.lower() in (".pdf", ".md"):
            shutil.copyfile(f, target / f.name)


def _generate_account(
    sink: Sink,
    queue: DocQueue,
    sub: Subscription,
    sc: Scale,
    seed: int,
    budget: int | None,
    progress: Callable[[str, int, int], None] | None,
) -> None:
    acc = sub.acc
    ledger = Ledger(sink)  # sees the account's records as they are written, to post them
    rng = rng_for(seed, acc, "parties")
    tenant = pt.make_tenant(rng, acc, sub.started, sink)
    parties = pt.Parties(tenant)
    pt.make_companies(rng, acc, sub.started, sc.customers, sc.suppliers, sc.both, sink, parties)
    pt.make_people(rng, acc, sc.people, sink, parties)
    make_products(rng, acc, sc.products, sink, parties)
    counts = {"invoices": sc.invoices, "quotes": sc.quotes, "purchases": sc.purchases}
    ctx = AccountCtx(
        seed=seed,
        acc=acc,
        start=sub.started,
        sink=sink,
        docs=queue,
        parties=parties,
        calendar=Calendar(sub.started + 1),  # documents from the day after the opening
        doc_budget=split_budget(budget, len(sub.bills), counts),
        progress=progress,
    )
    bank_accounts = make_bank_accounts(ctx)
    billing_docs: list[DocSpec] = []
    ctx.events.extend(
        write_subscription(
            sub,
            tenant.pdf,
            sink.buffer("subscriptions"),
            sink.buffer("billing_invoices"),
            billing_docs,
            keep=budget,
        )
    )
    for spec in billing_docs:
        queue.add(spec)
    ctx.report("quotes", 0, sc.quotes)
    accepted = make_quotes(ctx, sc.quotes)
    ctx.report("invoices", 0, sc.invoices)
    make_invoices(ctx, sc.invoices, accepted)
    ctx.report("purchases", 0, sc.purchases)
    make_purchases(ctx, sc.purchases)
    ctx.report("bank", 0, sc.bank_transactions)
    make_transactions(ctx, bank_accounts, sc.bank_transactions)
    sink.flush()
    ctx.report("accounting", 0, 1)
    ledger.post(ctx)
