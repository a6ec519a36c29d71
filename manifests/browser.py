"""``index.html``: the archive browser, a page a customer opens by double-click once unzipped.

The page is made from one part's ``offboard.json`` (parsed) and the bag's folder name, and from
nothing else: :func:`render` is a pure function, so the same archive gives the same bytes (the
archive stays reproducible) and ``offboard verify`` makes the page again from the verified
``offboard.json`` and compares (``browser-mismatch``). What the page states is therefore what
``offboard.json`` states, which the verifier checks against the files.

The page is self-contained: one inline style sheet and one inline script, both allowed by their
SHA-256 in a Content-Security-Policy that allows nothing else (no network, no other script, no
image, font, frame or form). Every value taken from the archive is untrusted (an account name,
a party or a document number may hold ``<script>``): in the HTML it is escaped; the rows of the
large tables (documents, other files, problems) are a JSON data block, escaped so that no
``</script>`` or ``<!--`` can end it, which the script renders as text nodes (never as HTML)
into paginated, searchable, sortable tables. A link is only ever made to a file of this part
(its path percent-encoded, so it can only be a relative file path), or to the ``index.html``
of another part of a split archive, unpacked beside this one.

Labels are in English, with the French beside them (``Documents · Pièces``).

The page's bytes are part of the archive format: a verifier of any later release must make
the same page from the same ``offboard.json``, or a valid archive would show a mismatch. So
this template is frozen for format version 3 (``tests/manifests/test_browser_page.py`` pins
its hash): a change to it is a new format version, with this renderer kept for version 3.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
from collections.abc import Iterable, Iterator
from html import escape
from typing import Any

from manifests._browser_text import (
    _amount,
    _bi,
    _count,
    _data_block,
    _dict,
    _dicts,
    _e,
    _int,
    _kind_label,
    _size,
    _sort_key,
    _text,
    href,
)
from manifests.browser_assets import SCRIPT_TEMPLATE, STYLE

#: the page's name in the bag (a tag file, listed in the tag manifest)
NAME = "index.html"
#: rows of a table shown at a time
PAGE_ROWS = 100
_PART = re.compile(r"(?P<stem>.+)-part-(?P<n>[0-9]{3})")

_STYLE = STYLE
_SCRIPT = SCRIPT_TEMPLATE.replace("__PAGE__", str(PAGE_ROWS))


def _csp_hash(code: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()


#: nothing allowed but the page's own style sheet and script, by their hashes
CSP = (
    "default-src 'none'; "
    f"script-src '{_csp_hash(_SCRIPT)}'; "
    f"style-src '{_csp_hash(_STYLE)}'; "
    "base-uri 'none'; form-action 'none'"
)
assert not set(CSP) & set('"<>&'), "the policy goes in an attribute as it is"


# -- the page ----------------------------------------------------------------------------------
def render(meta: dict[str, Any], bag_name: str) -> bytes:
    """The ``index.html`` of the part whose parsed ``offboard.json`` is ``meta``, in the bag
    folder ``bag_name`` (``acc-0001``, ``acc-0001-part-002``): UTF-8 bytes, the same for the
    same arguments."""
    out = io.BytesIO()
    for piece in _Page(meta, bag_name).html():
        out.write(piece.encode("utf-8", "backslashreplace"))
    return out.getvalue()


class _Page:
    def __init__(self, meta: dict[str, Any], bag_name: str) -> None:
        self.meta = meta
        self.bag = bag_name
        account = meta.get("account")
        self.account: dict[str, Any] = account if isinstance(account, dict) else {}
        parts = meta.get("parts")
        self.parts: dict[str, Any] = parts if isinstance(parts, dict) else {}
        files = self.parts.get("files")
        self.files = [f for f in files if isinstance(f, str)] if isinstance(files, list) else []
        #: the payload files of this part: the only files a link may point to
        self.here = set(self.files)
        self.count = _int(self.parts.get("count"), 1)
        self.number = _int(self.parts.get("number"), 1)
        match = _PART.fullmatch(bag_name)
        self.stem = match["stem"] if match is not None and self.count > 1 else None
        self.documents = _dicts(meta.get("documents"))
        self.bundles = _dicts(meta.get("bundles"))
        self.tables = _dicts(meta.get("tables"))
        self.contents = _dicts(self.parts.get("contents"))

    def link(self, path: Any, label: str) -> str:
        """``label`` (HTML) linked to ``path`` when it is a file of this part."""
        if isinstance(path, str) and path in self.here:
            return f'<a href="{_e(href(path))}">{label}</a>'
        return label

    @staticmethod
    def code(value: Any) -> str:
        return f"<code>{_e(value)}</code>"

    def part_bag(self, number: int) -> str | None:
        """The folder of part ``number`` of this archive, or None if unknown."""
        if self.stem is None:
            return None
        return f"{self.stem}-part-{number:03d}"

    # -- sections --------------------------------------------------------------------------
    def html(self) -> Iterator[str]:
        """The page's text, in pieces (the data block a row at a time)."""
        name = self.account.get("name") or self.account.get("id")
        title = f"{_text(name)} — {_text(self.account.get('id'))} — offboard archive"
        body = "\n".join(
            (
                self.header(),
                self.verify(),
                self.contents_section(),
                self.documents_section(),
                self.bundles_section(),
                self.files_section(),
                self.problems_section(),
                self.parts_section(),
            )
        )
        yield (
            "<!DOCTYPE html>\n"
            '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
            '<meta name="referrer" content="no-referrer">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            '<meta name="generator" content="offboard">\n'
            f"<title>{escape(title)}</title>\n"
            f"<style>{_STYLE}</style>\n</head>\n<body>\n"
            f"{body}\n"
            '<script type="application/json" id="offboard-data">'
        )
        yield from _data_block(
            {
                "documents": self.document_rows(),
                "files": self.file_rows(),
                "problems": self.problem_rows(),
            }
        )
        yield f"</script>\n<script>{_SCRIPT}</script>\n</body>\n</html>\n"

    def header(self) -> str:
        m = self.meta
        created = _text(m.get("created_at"))
        period = m.get("period")
        span = (
            f"{_e(period.get('from'))} → {_e(period.get('to'))}"
            if isinstance(period, dict)
            else '<span class="muted">—</span>'
        )
        tool = _dict(m.get("tool"))
        facts = [
            (("Account", "Compte"), f"<code>{_e(self.account.get('id'))}</code>"),
            (("Name", "Raison sociale"), _e(self.account.get("name"))),
            (("Exported", "Exporté le"), f'<time id="created">{_e(created)}</time>'),
            (
                ("Archive id", "Identifiant"),
                f'<code id="archive-id">{_e(m.get("archive_id"))}</code>',
            ),
            (
                ("Format version", "Version du format"),
                f'<span id="format-version">{_e(m.get("format_version"))}</span>',
            ),
            (("Records period", "Période"), span),
            (("Source", "Source"), _e(m.get("source"))),
            (("Made by", "Produit par"), f"{_e(tool.get('name'))} {_e(tool.get('version'))}"),
        ]
        if self.count > 1:
            facts.append(
                (
                    ("Part", "Partie"),
                    f'<span id="part">{_e(self.number)} / {_e(self.count)}</span>',
                )
            )
        rows = "\n".join(f"<dt>{_bi(*label)}</dt><dd>{value}</dd>" for label, value in facts)
        return (
            "<header>\n"
            '<p class="muted">offboard archive · archive offboard</p>\n'
            f'<h1 id="account-name">{_e(self.account.get("name") or self.account.get("id"))}</h1>\n'
            f'<dl class="facts">\n{rows}\n</dl>\n'
            "<p>This page shows what <code>offboard.json</code> says the archive holds; it links "
            "to the files beside it. "
            '<span lang="fr">Cette page montre ce que <code>offboard.json</code> dit du contenu '
            "de l'archive, avec des liens vers ses fichiers.</span></p>\n"
            "<noscript><p><strong>JavaScript is off: the tables of documents, files and "
            "problems stay empty. The files are in the folder <code>data/</code>. "
            '<span lang="fr">JavaScript est désactivé : les fichiers sont dans le dossier '
            "<code>data/</code>.</span></strong></p></noscript>\n"
            "</header>"
        )

    def verify(self) -> str:
        zip_name = f"{self.part_bag(1) if self.stem is not None else self.bag}.zip"
        folder = self.bag
        commands = (
            f"offboard verify {zip_name} --pubkey PUBLIC-KEY.pub\n"
            "\n"
            "# without offboard, in this folder (" + folder + "/):\n"
            "minisign -Vm tagmanifest-sha256.txt -p PUBLIC-KEY.pub\n"
            "sha256sum --strict -c tagmanifest-sha256.txt\n"
            "sha256sum --strict --quiet -c manifest-sha256.txt\n"
            "diff <(find data -type f | LC_ALL=C sort) "
            "<(cut -c67- manifest-sha256.txt | LC_ALL=C sort)\n"
            "bagit.py --quiet --validate ."
        )
        split = (
            " Any part checks them all: keep the parts together."
            ' <span lang="fr">Une partie suffit à vérifier toutes les autres : gardez-les '
            "ensemble.</span>"
            if self.count > 1
            else ""
        )
        return (
            '<section id="verify">\n'
            f"<h2>{_bi('How to verify', 'Comment vérifier')}</h2>\n"
            "<p>Check the signature with the public key you were given separately, never with "
            "a key found in the archive. <code>offboard verify</code> checks everything "
            "(signature, checksums, record counts, totals, pages, and this page); the standard "
            "tools check that every file, this page included, is the one signed." + split + "</p>\n"
            '<p lang="fr">Vérifiez la signature avec la clé publique reçue à part, jamais avec '
            "une clé trouvée dans l'archive.</p>\n"
            f'<pre id="verify-commands"><code>{_e(commands)}</code></pre>\n'
            "</section>"
        )

    def contents_section(self) -> str:
        kinds: dict[str, list[dict[str, Any]]] = {}
        for t in self.tables:
            kinds.setdefault(_text(t.get("kind")), []).append(t)
        docs_by_kind: dict[str, int] = {}
        for d in self.documents:
            k = _text(d.get("kind"))
            docs_by_kind[k] = docs_by_kind.get(k, 0) + 1
        for k in docs_by_kind:
            kinds.setdefault(k, [])
        bodies = []
        for kind, tables in kinds.items():
            records = sum(t["records"] for t in tables if type(t.get("records")) is int)
            docs = docs_by_kind.get(kind, 0)
            rows = [
                f'<tr class="kind-row"><th colspan="2">{_kind_label(kind)}</th>'
                f'<th class="num kind-records">{_count(records)}</th>'
                f'<th class="num kind-documents">{_count(docs)}</th><th></th></tr>'
            ]
            for t in tables:
                path = t.get("path")
                csv_link = self.link(path, f"<code>{_e(t.get('table'))}</code>")
                where = self.where(path)
                rows.append(
                    f'<tr data-table="{_e(t.get("table"))}"><td></td>'
                    f"<td>{csv_link}{where}</td>"
                    f'<td class="num records">{_count(t.get("records"))}</td><td></td>'
                    f'<td class="totals">{self.totals(t.get("totals"))}</td></tr>'
                )
            bodies.append(
                f'<tbody class="kind" data-kind="{_e(kind)}">\n' + "\n".join(rows) + "\n</tbody>"
            )
        if not bodies:
            bodies.append(f'<tbody><tr><td colspan="5">{_bi("None", "Aucun")}</td></tr></tbody>')
        head = (
            "<thead><tr>"
            f"<th>{_bi('Kind', 'Nature')}</th>"
            f"<th>{_bi('CSV file', 'Fichier CSV')}</th>"
            f'<th class="num">{_bi("Records", "Enregistrements")}</th>'
            f'<th class="num">{_bi("Documents", "Pièces")}</th>'
            f"<th>{_bi('Money totals', 'Totaux')}</th>"
            "</tr></thead>"
        )
        note = (
            '<p class="muted">Records and totals are those of the whole archive; documents, '
            'those of this part. <span lang="fr">Enregistrements et totaux : toute '
            "l'archive ; pièces : cette partie.</span></p>\n"
            if self.count > 1
            else ""
        )
        csv = _dict(self.meta.get("csv"))
        bom = " with BOM" if csv.get("bom") is True else ""
        dialect = (
            f'<p class="muted">CSV: {_e(csv.get("encoding"))}{bom} · '
            f"{_bi('separator', 'séparateur')} <code>{_e(csv.get('delimiter'))}</code> · "
            f"{_bi('decimal point', 'séparateur décimal')} "
            f"<code>{_e(csv.get('decimal_point'))}</code> · dialect "
            f"<code>{_e(csv.get('dialect'))}</code></p>\n"
        )
        return (
            '<section id="contents">\n'
            f"<h2>{_bi('Records and totals', 'Enregistrements et totaux')}</h2>\n"
            f"{note}{dialect}"
            f'<table id="contents-table">{head}\n' + "\n".join(bodies) + "\n</table>\n</section>"
        )

    def totals(self, totals: Any) -> str:
        if not isinstance(totals, dict) or not totals:
            return ""
        lines = []
        for column in sorted(totals, key=str):
            by_currency = totals[column]
            if isinstance(by_currency, dict):
                amounts = ", ".join(
                    f'<span class="money"><span class="amount">{_e(by_currency[c])}</span>'
                    f"{' ' + _e(c) if c else ''}</span>"
                    for c in sorted(by_currency, key=str)
                )
            else:
                amounts = _e(by_currency)
            lines.append(f"<code>{_e(column)}</code> {amounts or '—'}")
        return "<br>".join(lines)

    def where(self, path: Any) -> str:
        """For a file of another part: which part holds it (a link to that part's page)."""
        if not isinstance(path, str) or path in self.here or self.count < 2:
            return ""
        key = _sort_key(path)
        for c in self.contents:
            first, last, number = c.get("first"), c.get("last"), c.get("number")
            if (
                isinstance(first, str)
                and isinstance(last, str)
                and type(number) is int
                and _sort_key(first) <= key <= _sort_key(last)
            ):
                return f' <span class="muted">({self.part_link(number)})</span>'
        return ""

    def part_link(self, number: int) -> str:
        label = f"{_bi('part', 'partie')} {number}"
        folder = self.part_bag(number)
        if folder is None or number == self.number:
            return label
        return f'<a href="../{_e(href(folder))}/index.html">{label}</a>'

    def documents_section(self) -> str:
        # the columns of :meth:`document_rows`: 0 number, 1 kind, 2 date, 3 party, 4 amount,
        # 5 pages, 6 link
        heads = [
            self.head(("Number", "Numéro"), 0, "text", 6),
            self.head(("Kind", "Nature"), 1, "text", None),
            self.head(("Date", "Date"), 2, "text", None),
            self.head(("Party", "Tiers"), 3, "text", None),
        ]
        if self.has_amounts():
            heads.append(self.head(("Amount", "Montant"), 4, "amount", None))
        heads.append(self.head(("Pages", "Pages"), 5, "count", None))
        return self.grid(
            "documents",
            ("Documents", "Pièces"),
            heads,
            "Each number opens its PDF. "
            '<span lang="fr">Chaque numéro ouvre sa pièce en PDF.</span>',
        )

    def has_amounts(self) -> bool:
        return any(_amount(d) is not None for d in self.documents)

    def document_rows(self) -> Iterator[list[Any]]:
        """[number, kind, date, party, amount, pages, link] per document of this part."""
        for d in self.documents:
            path = d.get("path")
            yield [
                _text(d.get("number")),
                _text(d.get("kind")),
                _text(d.get("date")),
                _text(d.get("party")),
                _amount(d),
                d.get("pages") if type(d.get("pages")) is int else _text(d.get("pages")),
                href(path) if isinstance(path, str) and path in self.here else None,
            ]

    def bundles_section(self) -> str:
        if not self.bundles:
            return ""
        rows = "\n".join(
            f"<tr><td>{self.link(b.get('path'), self.code(b.get('path')))}</td>"
            f"<td>{_kind_label(b.get('kind'))}</td>"
            f'<td class="num">{_count(b.get("pages"))}</td></tr>'
            for b in self.bundles
        )
        return (
            '<section id="bundles">\n'
            f"<h2>{_bi('Bundled PDFs', 'PDF regroupés')}</h2>\n"
            "<p>All documents of a kind in one PDF, one bookmark per document. "
            '<span lang="fr">Toutes les pièces d\'une nature dans un PDF, un signet par '
            "pièce.</span></p>\n"
            "<table><thead><tr>"
            f"<th>{_bi('File', 'Fichier')}</th><th>{_bi('Kind', 'Nature')}</th>"
            f'<th class="num">{_bi("Pages", "Pages")}</th></tr></thead>\n'
            f"<tbody>\n{rows}\n</tbody></table>\n</section>"
        )

    def file_rows(self) -> list[list[Any]]:
        """[path, link] per payload file of this part that is no CSV table, document or
        bundle (the copies of unreadable documents, other files an exporter wrote)."""
        known = {
            item.get("path")
            for item in (*self.tables, *self.documents, *self.bundles)
            if isinstance(item.get("path"), str)
        }
        return [[p, href(p)] for p in self.files if p not in known]

    def files_section(self) -> str:
        heads = [self.head(("File", "Fichier"), 0, "text", 1)]
        return self.grid(
            "files",
            ("Other files", "Autres fichiers"),
            heads,
            "Files of this part that are neither a CSV table nor a document above (such as "
            "unreadable documents kept as found). "
            '<span lang="fr">Les autres fichiers de cette partie (par exemple les pièces '
            "illisibles, gardées telles quelles).</span>",
        )

    def problem_rows(self) -> list[list[Any]]:
        """[kind, number, record id, reason] per problem of the export."""
        return [
            [
                _text(p.get("kind")),
                _text(p.get("number")),
                _text(p.get("record_id")),
                _text(p.get("reason")),
            ]
            for p in _dicts(self.meta.get("problems"))
        ]

    def problems_section(self) -> str:
        heads = [
            self.head(("Kind", "Nature"), 0, "text", None),
            self.head(("Number", "Numéro"), 1, "text", None),
            self.head(("Record", "Enregistrement"), 2, "text", None),
            self.head(("Reason", "Raison"), 3, "text", None),
        ]
        return self.grid(
            "problems",
            ("Problems", "Problèmes"),
            heads,
            "The documents the export could not include, and why (for the whole archive). "
            "<span lang=\"fr\">Les pièces que l'export n'a pas pu inclure, et pourquoi.</span>",
        )

    def parts_section(self) -> str:
        if self.count < 2:
            return ""
        rows = []
        for c in self.contents:
            number = c.get("number")
            if type(number) is not int:
                continue
            folder = self.part_bag(number)
            cls = ' class="here"' if number == self.number else ""
            name = f"<code>{_e(folder or number)}.zip</code>"
            if number == self.number:
                name += f" ({_bi('this part', 'cette partie')})"
            rows.append(
                f'<tr{cls} data-part="{number}"><td class="num">{self.part_link(number)}</td>'
                f"<td>{name}</td>"
                f'<td class="num">{_count(c.get("files"))}</td>'
                f'<td class="num">{_e(_size(c.get("bytes")))}</td>'
                f'<td class="num">{_count(c.get("documents"))}</td>'
                f"<td><code>{_e(c.get('first'))}</code> … <code>{_e(c.get('last'))}</code></td>"
                "</tr>"
            )
        head = (
            "<thead><tr>"
            f'<th class="num">{_bi("Part", "Partie")}</th><th>{_bi("File", "Fichier")}</th>'
            f'<th class="num">{_bi("Files", "Fichiers")}</th>'
            f'<th class="num">{_bi("Size", "Taille")}</th>'
            f'<th class="num">{_bi("Documents", "Pièces")}</th>'
            f"<th>{_bi('From … to (path order)', 'Du … au (ordre des chemins)')}</th>"
            "</tr></thead>"
        )
        return (
            '<section id="parts">\n'
            f"<h2>{_bi('Parts of this archive', 'Parties de cette archive')}</h2>\n"
            f"<p>This is part {_e(self.number)} of {_e(self.count)}. Files go to parts in path "
            "order. Unzip every part into the same folder for the links between parts to work. "
            f'<span lang="fr">Ceci est la partie {_e(self.number)} sur {_e(self.count)}. '
            "Décompressez toutes les parties dans le même dossier pour que les liens entre "
            "parties fonctionnent.</span></p>\n"
            f'<table id="parts-table">{head}\n<tbody>\n' + "\n".join(rows) + "\n</tbody></table>\n"
            "</section>"
        )

    # -- the paginated tables ----------------------------------------------------------------
    @staticmethod
    def head(label: tuple[str, str], index: int, kind: str, link: int | None) -> str:
        attrs = f' data-col="{index}" data-type="{kind}"'
        if link is not None:
            attrs += f' data-link="{link}"'
        cls = ' class="num"' if kind != "text" else ""
        return f'<th{cls}{attrs} aria-sort="none"><button type="button">{_bi(*label)}</button></th>'

    @staticmethod
    def grid(name: str, title: tuple[str, str], heads: Iterable[str], intro: str) -> str:
        return (
            f'<section id="{name}" data-grid="{name}">\n'
            f"<h2>{_bi(*title)}</h2>\n<p>{intro}</p>\n"
            '<div class="controls"><label><span class="label">'
            f"{_bi('Search', 'Rechercher')}</span> "
            f'<input type="search" id="{name}-search" autocomplete="off" spellcheck="false">'
            f'</label> <output class="count" id="{name}-count"></output></div>\n'
            f'<table id="{name}-table"><thead><tr>{"".join(heads)}</tr></thead>'
            "<tbody></tbody></table>\n"
            '<nav class="pager"><button type="button" data-page="prev">← '
            f"{_bi('Previous', 'Précédent')}</button> "
            '<span class="page"></span> <button type="button" data-page="next">'
            f"{_bi('Next', 'Suivant')} →</button></nav>\n"
            "</section>"
        )
