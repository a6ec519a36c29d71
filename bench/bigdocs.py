"""A demo account whose signed archive is about 5 GB: large PDFs, made in seconds, cached.

    .venv/bin/python bench/bigdocs.py        # makes .bench/bigdocs.db (used by resources.py)

How: the small demo (`offboard demo --accounts 1 --scale small --documents 40 --seed 11`), then
the PDFs of its first ten billing invoices (kind `billing_history`, plain PDFs: no Factur-X
XML to keep in step) are replaced by PDFs of 64 pages, each page one 4 MiB image (8-bit gray,
2048 x 2048, pseudo-random bytes in a zlib stream of stored blocks, different on every page
of every document: bench/pdfgen.py), about 268 MB a document. The export copies each into the
archive (stored, since PDFs are) and bundles each into a bundle part of its own (a document
past the 200 MB bundle cap), so the payload holds each document twice: 10 x 2 x 268 MB, 5.4 GB
in one zip part (`--split-size 8GB`; zip64 offsets past 4 GiB). `--max-document-size 300MB`
lets the documents in (default: 50 MB).

Everything else about the account is the demo's (its CSV tables, its other documents: the
encrypted scan and the missing purchase, hence `--allow-missing-documents`). The archive is a
real signed offboard archive: `offboard verify` passes it, and checks every page count with
qpdf (the documents are past its in-memory size) and every SHA-256.

The database and documents are cached in `.bench/bigdocs.db` and `.bench/bigdocs-documents/`
(2.7 GB), made again when the demo generator (bench/democache.py), the PDF writer
(bench/pdfgen.py) or the figures below change. Writing the documents takes about 12 s.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from archive import CACHE, demo_db
from pdfgen import replace_billing_pdfs

#: documents replaced, and pages each (a page is a 4 MiB image: bench/pdfgen.py)
DOCUMENTS = 10
PAGES = 64
#: what the export must be given to take the documents
EXPORT_OPTIONS = ["--max-document-size", "300MB", "--split-size", "8GB"]
#: bumped when the PDFs change (the cache is made again)
VERSION = "1"


def _version() -> str:
    """What the cached documents depend on: the PDF writer and the figures above."""
    made = (Path(__file__).parent / "pdfgen.py").read_bytes() + f"{DOCUMENTS} {PAGES}".encode()
    return hashlib.sha256(made).hexdigest()[:16] + "-" + VERSION


def bigdocs_db() -> Path:
    """The cached database of the 5 GB account (made on first use: about a minute)."""
    db = demo_db(
        "bigdocs", "--accounts", "1", "--scale", "small", "--documents", "40", "--seed", "11"
    )
    stamp = CACHE / "bigdocs.large"
    if stamp.exists() and stamp.read_text() == _version() + (CACHE / "bigdocs.done").read_text():
        return db
    print(f"writing {DOCUMENTS} PDFs of {PAGES} pages into .bench (cached)...", flush=True)
    total = replace_billing_pdfs(db, DOCUMENTS, PAGES)
    print(f"  {total / 1e9:.2f} GB of documents", flush=True)
    stamp.write_text(_version() + (CACHE / "bigdocs.done").read_text())
    return db


if __name__ == "__main__":
    print(bigdocs_db())
