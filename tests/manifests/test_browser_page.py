"""The archive browser page as bytes (:mod:`manifests.browser`): deterministic, escaped, its
data block safe, links only to the part's files, nothing allowed but its own script and style.

(The page in a real browser: ``test_browser.py``.)
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import zipfile
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote

import pytest

from manifests.browser import CSP, render
from tests.manifests.conftest import Made

DATA_OPEN = '<script type="application/json" id="offboard-data">'
#: the characters a link of the page may hold (the script refuses any other)
SAFE_HREF = re.compile(r"[A-Za-z0-9_.~%/-]+")
EVIL = "</script><script>window.__pwned = 1</script><!-- <img src=x onerror=alert(1)>"


def hostile_meta() -> dict[str, Any]:
    """A format 3 part ``offboard.json`` with a hostile value wherever one can be."""
    odd = "data/documents/k\"'/a b#?%&<>.pdf"
    files = sorted(
        ["data/csv/t.csv", odd, "data/documents/k/x:y.pdf", "data/documents/k/_problems/p.pdf"],
        key=str.encode,
    )
    return {
        "account": {"id": f"acc-{EVIL}", "name": EVIL},
        "archive_id": EVIL,
        "bundles": [{"kind": EVIL, "pages": 3, "path": "data/documents/k/x:y.pdf"}],
        "created_at": "2026-01-31T12:00:00Z",
        "csv": {"bom": False, "decimal_point": EVIL, "delimiter": EVIL, "dialect": EVIL},
        "documents": [
            {"kind": EVIL, "number": EVIL, "date": EVIL, "party": EVIL, "pages": 1, "path": odd},
            {
                "kind": "k",
                "number": "N-2",
                "date": "2025-01-01",
                "party": "<!--",
                "pages": EVIL,
                "path": "javascript:window.__pwned=2",
            },
        ],
        "format": "offboard-archive",
        "format_version": 3,
        "parts": {
            "contents": [
                {
                    "bytes": 4,
                    "documents": 2,
                    "files": len(files),
                    "first": files[0],
                    "last": files[-1],
                    "number": 1,
                }
            ],
            "count": 1,
            "files": files,
            "number": 1,
        },
        "period": {"from": EVIL, "to": EVIL},
        "problems": [
            {"kind": EVIL, "number": EVIL, "reason": EVIL, "record_id": EVIL},
            {"kind": "k", "number": "N-3", "reason": "<img src=x onerror=alert(3)>"},
        ],
        "source": EVIL,
        "tables": [
            {
                "kind": EVIL,
                "path": "data/csv/t.csv",
                "records": 7,
                "table": EVIL,
                "totals": {EVIL: {EVIL: EVIL}},
            },
            {"kind": "k", "path": "javascript:alert(4)", "records": 1, "table": "t2", "totals": {}},
        ],
        "tool": {"name": EVIL, "version": EVIL},
    }


def big_meta(documents: int) -> dict[str, Any]:
    """A format 3 part ``offboard.json`` of ``documents`` sales invoices, as an export writes
    it (the page is made from this alone, so it is the page of such a part)."""
    docs = []
    for i in range(documents):
        number = f"FA-2025-{i + 1:05d}"
        docs.append(
            {
                "bytes": 2300 + i % 700,
                "date": f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}",
                "kind": "sales_invoices",
                "number": number,
                "pages": 1 + i % 3,
                "party": f"Client {i % 997} SARL",
                "path": f"data/documents/sales_invoices/{number}.pdf",
                "record_id": f"inv-0001-{i:08d}",
                "sha256": hashlib.sha256(number.encode()).hexdigest(),
            }
        )
    csvs = ["data/csv/sales_invoice_lines.csv", "data/csv/sales_invoices.csv"]
    files = sorted([*csvs, *(d["path"] for d in docs)], key=str.encode)
    return {
        "account": {"id": "acc-0001", "name": "Rénovation Simon SAS"},
        "archive_id": "aee8e2d1-3a32-8ee5-b952-39724ddbe69e",
        "bundles": [],
        "created_at": "2026-01-31T12:00:00Z",
        "csv": {"bom": False, "decimal_point": ".", "delimiter": ",", "dialect": "standard"},
        "documents": docs,
        "format": "offboard-archive",
        "format_version": 3,
        "parts": {
            "contents": [
                {
                    "bytes": sum(d["bytes"] for d in docs),
                    "documents": documents,
                    "files": len(files),
                    "first": files[0],
                    "last": files[-1],
                    "number": 1,
                }
            ],
            "count": 1,
            "files": files,
            "number": 1,
        },
        "period": {"from": "2025-01-01", "to": "2025-12-28"},
        "problems": [],
        "source": "SQLite database demo.db",
        "tables": [
            {
                "kind": "sales_invoices",
                "path": csvs[1],
                "records": documents,
                "table": "sales_invoices",
                "totals": {"total_ttc": {"EUR": "12345678.90"}},
            },
            {
                "kind": "sales_invoices",
                "path": csvs[0],
                "records": 3 * documents,
                "table": "sales_invoice_lines",
                "totals": {},
            },
        ],
        "tool": {"name": "offboard", "version": "0.1.0"},
    }


class _Links(HTMLParser):
    """The links, elements and inline code of a page as an HTML parser reads it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []
        self.tags: list[str] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.styles: list[str] = []
        self._in: tuple[str, dict[str, str | None]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "a" and dict(attrs).get("href") is not None:
            self.hrefs.append(str(dict(attrs)["href"]))
        if tag in ("script", "style"):
            self._in = (tag, dict(attrs))

    def handle_data(self, data: str) -> None:
        if self._in is not None:
            tag, attrs = self._in
            if tag == "script":
                self.scripts.append((attrs, data))
            else:
                self.styles.append(data)

    def handle_endtag(self, tag: str) -> None:
        self._in = None


def parse(page: bytes) -> _Links:
    links = _Links()
    links.feed(page.decode())
    links.close()
    return links


def data_block(page: bytes) -> str:
    text = page.decode()
    start = text.index(DATA_OPEN) + len(DATA_OPEN)
    return text[start : text.index("</script>", start)]


# -- determinism -------------------------------------------------------------------------------
def test_the_same_part_gives_the_same_bytes() -> None:
    meta = big_meta(300)
    page = render(meta, "acc-0001")
    assert render(copy.deepcopy(meta), "acc-0001") == page
    reordered = json.loads(json.dumps(meta, sort_keys=False))
    assert render(dict(reversed(list(reordered.items()))), "acc-0001") == page
    assert render(meta, "acc-0002") != page  # the bag's name is in the commands shown
    meta["documents"][7]["party"] = "Someone else"
    assert render(meta, "acc-0001") != page


def test_the_archive_holds_the_page_its_offboard_json_gives(archive: Made) -> None:
    with zipfile.ZipFile(archive.path) as zf:
        meta = json.loads(zf.read("acc-0001/offboard.json"))
        page = zf.read("acc-0001/index.html")
        assert zf.getinfo("acc-0001/index.html").compress_type == zipfile.ZIP_DEFLATED
    assert render(meta, "acc-0001") == page
    assert b"http://" not in page and b"https://" not in page


# -- escaping ----------------------------------------------------------------------------------
def test_every_value_is_escaped() -> None:
    page = render(hostile_meta(), "acc-0001")
    text = page.decode()
    assert text.count("<script") == 2 and text.count("</script>") == 2
    assert (
        "<img" not in text
        and "<!--" not in text
        and "onerror" not in text.replace("onerror=alert", "")
    )
    parsed = parse(page)
    assert "img" not in parsed.tags and "b" not in parsed.tags
    assert [attrs.get("type") for attrs, _ in parsed.scripts] == ["application/json", None]
    assert "&lt;/script&gt;&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in text
    assert f"<title>{EVIL}" not in text


def test_the_data_block_cannot_be_closed_from_inside() -> None:
    meta = hostile_meta()
    page = render(meta, "acc-0001")
    block = data_block(page)
    assert not set(block) & set("<>&")
    data = json.loads(block)
    assert data["documents"][0][:4] == [EVIL, EVIL, EVIL, EVIL]
    assert data["documents"][1][3] == "<!--"
    assert [row[3] for row in data["problems"]] == [p["reason"] for p in meta["problems"]]
    # a line or paragraph separator is written escaped too
    meta["documents"][1]["party"] = "a\u2028b\u2029c"
    block = data_block(render(meta, "acc-0001"))
    assert "\u2028" not in block and json.loads(block)["documents"][1][3] == "a\u2028b\u2029c"


def test_links_go_to_files_of_the_part_only() -> None:
    meta = hostile_meta()
    page = render(meta, "acc-0001")
    data = json.loads(data_block(page))
    links = parse(page).hrefs + [r[6] for r in data["documents"] if r[6]]
    links += [r[1] for r in data["files"]]
    files = set(meta["parts"]["files"])
    assert links
    for link in links:
        assert SAFE_HREF.fullmatch(link), link
        assert unquote(link) in files, link
    # a document whose path is not a file of the part is listed, without a link
    assert data["documents"][1][6] is None
    assert "javascript" not in "".join(links)
    # every file of the part is linked: documents, bundles, the CSV file, the others
    assert {unquote(link) for link in links} == files


def test_a_split_part_links_to_the_other_parts_pages() -> None:
    meta = big_meta(10)
    meta["parts"]["count"] = 3
    meta["parts"]["number"] = 2
    first = dict(meta["parts"]["contents"][0])
    meta["parts"]["contents"] = [
        {**first, "number": n, "first": f"data/{n}/a", "last": f"data/{n}/z"} for n in (1, 2, 3)
    ]
    meta["tables"][0]["path"] = "data/1/b.csv"  # in part 1
    page = render(meta, "acc-0001-part-002")
    hrefs = parse(page).hrefs
    assert "../acc-0001-part-001/index.html" in hrefs and "../acc-0001-part-003/index.html" in hrefs
    assert "../acc-0001-part-002/index.html" not in hrefs
    assert "offboard verify acc-0001-part-001.zip --pubkey" in page.decode()
    assert 'id="part">2 / 3<' in page.decode()


def test_the_policy_allows_the_page_s_own_script_and_style_only() -> None:
    page = render(big_meta(3), "acc-0001")
    parsed = parse(page)
    (code,) = [c for attrs, c in parsed.scripts if attrs.get("type") is None]
    (style,) = parsed.styles

    def digest(text: str) -> str:
        return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()

    assert f'<meta http-equiv="Content-Security-Policy" content="{CSP}">' in page.decode()
    directives = dict(d.strip().split(" ", 1) for d in CSP.split(";"))
    assert directives == {
        "default-src": "'none'",
        "script-src": f"'sha256-{digest(code)}'",
        "style-src": f"'sha256-{digest(style)}'",
        "base-uri": "'none'",
        "form-action": "'none'",
    }
    assert "unsafe" not in CSP


@pytest.mark.parametrize(
    "meta",
    [
        {},
        {"format_version": 3, "documents": [1, None, "x"], "tables": "x", "parts": []},
        {"account": [], "parts": {"count": "2", "files": [1, {}]}, "problems": [[]]},
        {"documents": [{"path": ["a"], "pages": {}, "amount": None}], "tables": [{"records": []}]},
        {"parts": {"count": 2, "number": 1, "contents": [{"number": "1"}, 5]}, "period": []},
    ],
)
def test_a_malformed_offboard_json_still_makes_a_page(meta: dict[str, Any]) -> None:
    page = render(meta, "acc-0001-part-001")
    assert page.startswith(b"<!DOCTYPE html>") and page.count(b"</script>") == 2
    json.loads(data_block(page))


def test_amounts_show_when_offboard_json_has_them() -> None:
    meta = big_meta(3)
    assert b"Montant" not in render(meta, "acc-0001")
    meta["documents"][0]["amount"] = "120.00"
    page = render(meta, "acc-0001")
    assert b'data-col="4" data-type="amount"' in page
    assert json.loads(data_block(page))["documents"][0][4] == "120.00"


def test_the_page_of_format_3_is_frozen() -> None:
    """A verifier makes the page again and compares bytes: a later release must make the page
    this one makes for a format 3 archive. A change of the template fails here; it is a new
    format version (with this renderer kept for version 3), not an edit of this hash."""
    pages = {
        "big": render(big_meta(150), "acc-0001"),
        "hostile": render(hostile_meta(), "acc-0001"),
    }
    assert {name: hashlib.sha256(page).hexdigest() for name, page in pages.items()} == {
        "big": "a501cca02c07eb3fde5d9889f8d15bd04ab812064770c9b5a434a6bda02fdea9",
        "hostile": "d5846f7202ee651d7b5a1324a78100b7453b570d779b5113509e32395af34d09",
    }


def test_the_amount_of_a_factur_x_invoice_shows() -> None:
    meta = big_meta(3)
    meta["documents"][1]["facturx"] = {"gross": "15587.53", "currency": "EUR", "net": "1.00"}
    page = render(meta, "acc-0001")
    rows = json.loads(data_block(page))["documents"]
    assert [r[4] for r in rows] == [None, "15587.53 EUR", None]
    assert b'data-col="4" data-type="amount"' in page
