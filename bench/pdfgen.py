"""Large, valid PDFs written in a fraction of a second per 100 MB (bench/bigdocs.py, and the
memory-bound test, tests/offboard/test_resources.py).

    write_pdf(path, pages=64, side=2048, seed=0)      # 64 pages of 4 MiB images: 268 MB
    replace_billing_pdfs(db, count=10, pages=64)      # in a demo database, as its documents

Each page shows one ``side`` x ``side`` 8-bit gray image (A4 page, the image scaled to it).
The image bytes are pseudo-random, different on every page (a rotation of one random block,
and the page number), in a zlib stream of stored blocks (``/FlateDecode``): like the
compressed images of real scans, which PDF writers (qpdf included) copy as they are. qpdf
checks the files clean (``qpdf --check``); PDFium and qpdf count their pages.
"""

from __future__ import annotations

import os
import random
import sqlite3
import zlib
from pathlib import Path


def write_pdf(path: Path, pages: int, side: int = 2048, seed: int = 0) -> int:
    """Write the PDF at ``path``; return its size in bytes."""
    rng = random.Random(seed)
    block = rng.randbytes(side * side)
    offsets: list[int] = []
    with open(path, "wb") as fh:

        def obj(body: bytes, stream: bytes | None = None) -> None:
            offsets.append(fh.tell())
            fh.write(f"{len(offsets)} 0 obj\n".encode() + body)
            if stream is not None:
                fh.write(b"\nstream\n")
                fh.write(stream)
                fh.write(b"\nendstream")
            fh.write(b"\nendobj\n")

        fh.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        kids = " ".join(f"{3 + 3 * i} 0 R" for i in range(pages))
        obj(b"<< /Type /Catalog /Pages 2 0 R >>")
        obj(f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode())
        content = b"q 595 0 0 842 0 0 cm /Im0 Do Q"
        for i in range(pages):
            contents, image = 4 + 3 * i, 5 + 3 * i
            obj(
                f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents {contents} 0 R "
                f"/Resources << /XObject << /Im0 {image} 0 R >> >> >>".encode()
            )
            obj(f"<< /Length {len(content)} >>".encode(), content)
            shift = rng.randrange(8, len(block))
            pixels = zlib.compress(i.to_bytes(8, "big") + block[shift:] + block[8:shift], 0)
            obj(
                f"<< /Type /XObject /Subtype /Image /Width {side} /Height {side} "
                f"/ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode "
                f"/Length {len(pixels)} >>".encode(),
                pixels,
            )
        xref = fh.tell()
        fh.write(f"xref\n0 {len(offsets) + 1}\n0000000000 65535 f \n".encode())
        fh.write(b"".join(f"{at:010d} 00000 n \n".encode() for at in offsets))
        trailer = f"trailer\n<< /Size {len(offsets) + 1} /Root 1 0 R >>\n"
        fh.write(f"{trailer}startxref\n{xref}\n%%EOF\n".encode())
        return fh.tell()


def replace_billing_pdfs(db: Path, count: int, pages: int, account: str = "acc-0001") -> int:
    """Replace the PDFs of the first ``count`` billing invoices of ``account`` in the demo
    database ``db`` (kind ``billing_history``: plain PDFs, no Factur-X XML to keep in step) by
    PDFs of ``pages`` pages; return the bytes written. Each file is written beside its final
    name, then renamed."""
    with sqlite3.connect(db) as con:
        rows = con.execute(
            "SELECT pdf_path FROM billing_invoices WHERE account_id = ? AND pdf_path IS NOT NULL "
            "ORDER BY issue_date, number LIMIT ?",
            (account, count),
        ).fetchall()
    if len(rows) < count:
        raise ValueError(f"{db}: {account} has {len(rows)} billing PDFs, not {count}")
    docs = db.parent / f"{db.stem}-documents"
    total = 0
    for n, (rel,) in enumerate(rows):
        target = docs / rel
        temp = target.with_name(target.name + ".part")
        total += write_pdf(temp, pages, seed=n)
        os.replace(temp, target)
    return total
