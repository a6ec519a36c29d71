"""Benchmark: bundle N one-page PDFs into one PDF with a bookmark per document.

Compares, on the same generated files:

* ``pikepdf``: offboard's bundler (qpdf through pikepdf, page objects appended to ``/Kids``);
* ``pikepdf-naive``: pikepdf the obvious way (``pages.extend`` + ``open_outline``);
* ``pypdf``: ``PdfWriter.add_page`` + ``add_outline_item``;
* ``export``: the whole documents stage (copy + SHA-256 + qpdf check + bundle), for context.

Each run is a child process of its own, so that its peak RSS is its own; each method runs
``--repeat`` times and the fastest run is shown (the slower ones measure the machine's noise).
Usage::

    .venv/bin/python bench/pdf_bundle.py [--docs 2000] [--repeat 3] [--methods pikepdf,pypdf]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

TARGET_PAGES_PER_SECOND = 1100
METHODS = ("pikepdf", "pypdf", "pikepdf-naive", "export")


def generate(folder: Path, count: int) -> list[Path]:
    """``count`` distinct one-page invoice-like PDFs (reportlab, standard fonts)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    paths = []
    for i in range(count):
        path = folder / f"FA-2025-{i:05d}.pdf"
        c = canvas.Canvas(str(path), pagesize=A4, invariant=True)
        c.setFont("Helvetica-Bold", 16)
        c.drawString(72, 790, f"Invoice FA-2025-{i:05d}")
        c.setFont("Helvetica", 10)
        for line in range(25):
            c.drawString(
                72,
                750 - 18 * line,
                f"Item {line}: {line + 1} x 12.50 EUR = {12.5 * (line + 1):.2f}",
            )
        c.showPage()
        c.save()
        paths.append(path)
    return paths


def title(i: int) -> str:
    return f"FA-2025-{i:05d} — 2025-03-{1 + i % 28:02d} — Client {i % 97}"


def run_pikepdf(paths: list[Path], out: Path) -> int:
    from offboard.documents.bundle import BundleWriter

    writer = BundleWriter(out, "bench", 2**62, max_pages=len(paths) + 1)
    for i, path in enumerate(paths):
        # temp == final: the bench files stay where they are
        writer.add(path, path, path.stat().st_size, title(i))
    writer.close()
    return writer.pages


def run_pikepdf_naive(paths: list[Path], out: Path) -> int:
    import pikepdf

    pdf = pikepdf.new()
    sources = []
    starts = []
    for path in paths:
        src = pikepdf.open(path)
        sources.append(src)
        starts.append(len(pdf.pages))
        pdf.pages.extend(src.pages)
    with pdf.open_outline() as outline:
        for i, start in enumerate(starts):
            outline.root.append(pikepdf.OutlineItem(title(i), start))
    pdf.save(out / "naive.pdf", deterministic_id=True)
    pages = len(pdf.pages)
    for src in sources:
        src.close()
    return pages


def run_pypdf(paths: list[Path], out: Path) -> int:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for i, path in enumerate(paths):
        reader = PdfReader(path)
        start = len(writer.pages)
        for page in reader.pages:
            writer.add_page(page)
        writer.add_outline_item(title=title(i), page_number=start)
    with open(out / "pypdf.pdf", "wb") as fh:
        writer.write(fh)
    return len(writer.pages)


def run_export(paths: list[Path], out: Path) -> int:
    from offboard.documents import export_documents
    from offboard.sources.base import DocumentRef

    refs = (
        DocumentRef("bench", str(i), p.stem, "2025-03-01", f"Client {i % 97}", str(p))
        for i, p in enumerate(paths)
    )
    result = export_documents(refs, lambda ref: Path(str(ref.locator)), out, "bench")
    return result.bundle_pages


RUNNERS: dict[str, Callable[[list[Path], Path], int]] = {
    "pikepdf": run_pikepdf,
    "pypdf": run_pypdf,
    "pikepdf-naive": run_pikepdf_naive,
    "export": run_export,
}


#: what each method imports, loaded before the clock starts
PRELOAD = {
    "pikepdf": ("pikepdf", "offboard.documents.bundle"),
    "pypdf": ("pypdf",),
    "pikepdf-naive": ("pikepdf",),
    "export": ("pikepdf", "offboard.documents", "offboard.sources.base"),
}


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def child(method: str, folder: Path, out: Path) -> None:
    paths = sorted(folder.glob("*.pdf"))
    baseline = peak_rss_mb()  # before the method imports its library
    for module in PRELOAD[method]:
        importlib.import_module(module)
    started = time.perf_counter()
    pages = RUNNERS[method](paths, out)
    seconds = time.perf_counter() - started
    print(json.dumps({"pages": pages, "seconds": seconds, "rss": peak_rss_mb(), "base": baseline}))


def _run_child(method: str, folder: Path, out: Path) -> dict[str, float] | str:
    """The child's figures, or the last line of its error output if it failed."""
    out.mkdir()
    cmd = [sys.executable, __file__, "--child", method, str(folder), str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    shutil.rmtree(out)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or [f"exit status {done.returncode}"]
        return lines[-1]
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=2000, help="one-page PDFs to bundle")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated")
    parser.add_argument("--repeat", type=int, default=3, help="runs per method; the best counts")
    parser.add_argument("--child", nargs=3, metavar=("METHOD", "IN", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), Path(args.child[2]))
        return
    methods = [m for m in args.methods.split(",") if m]
    unknown = set(methods) - set(RUNNERS)
    if unknown:
        parser.error(f"unknown methods: {', '.join(sorted(unknown))}")
    with tempfile.TemporaryDirectory(prefix="pdf-bundle-bench-") as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        started = time.perf_counter()
        generate(folder, args.docs)
        size = sum(p.stat().st_size for p in folder.iterdir())
        print(
            f"generated {args.docs} one-page PDFs ({size / 1e6:.1f} MB) "
            f"in {time.perf_counter() - started:.1f} s; {os.cpu_count()} CPUs"
        )
        header = ("method", "pages", "seconds", "pages/s", "peak RSS", "(start)")
        print("{:<14} {:>7} {:>8} {:>9} {:>9} {:>8}".format(*header))
        rates: dict[str, float] = {}
        for method in methods:
            outcomes = [
                _run_child(method, folder, Path(tmp) / f"{method}-{n}") for n in range(args.repeat)
            ]
            runs = [r for r in outcomes if not isinstance(r, str)]
            if not runs:
                print(f"{method:<14} failed: {outcomes[0]}")
                continue
            best = min(runs, key=lambda r: r["seconds"])
            rates[method] = best["pages"] / best["seconds"]
            print(
                f"{method:<14} {best['pages']:>7} {best['seconds']:>8.2f} {rates[method]:>9.0f} "
                f"{max(r['rss'] for r in runs):>6.0f} MB {best['base']:>5.0f} MB"
            )
        if "pikepdf" in rates and "pypdf" in rates:
            print(f"pikepdf / pypdf: {rates['pikepdf'] / rates['pypdf']:.1f}x")
        if "pikepdf" in rates:
            ok = rates["pikepdf"] >= TARGET_PAGES_PER_SECOND
            verdict = "meets" if ok else "MISSES"
            print(f"pikepdf {verdict} the target of {TARGET_PAGES_PER_SECOND} pages/s")


if __name__ == "__main__":
    main()
