"""``index.html`` (format version 3 on): the page must be the one ``offboard.json`` gives.

The archive browser is made from the part's ``offboard.json`` alone (:mod:`manifests.browser`),
so the verifier makes it again from the ``offboard.json`` it verified and compares the bytes: a
page that says anything else (other counts, totals, documents, links, or a script) is a
``browser-mismatch``, even when the tag manifest lists it and the signature covers it. What the
page says about the other parts of a split archive (``parts.contents``) is checked here too,
against each part's own files.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from manifests import problems as P
from manifests.metadata import DATA

if TYPE_CHECKING:
    from manifests.zipfmt import ZipEntry

#: (problem class, detail, expected, found)
Finding = tuple[type[P.Problem], str, str | None, str | None]


def check_browser(data: bytes, meta: dict[str, Any], top: str) -> Iterator[Finding]:
    """``index.html`` (``data``) against the page made again from ``meta`` for the bag
    folder ``top``."""
    from manifests.browser import render

    try:
        want = render(meta, top)
    except Exception as exc:  # a hostile offboard.json the page cannot be made from
        yield (
            P.BrowserMismatch,
            f"the page cannot be made from offboard.json: {type(exc).__name__}: {exc}"[:300],
            None,
            None,
        )
        return
    if data == want:
        return
    yield (
        P.BrowserMismatch,
        "index.html is not the page offboard.json gives: it shows something else "
        f"{_first_difference(want, data)}",
        f"sha256:{hashlib.sha256(want).hexdigest()}",
        f"sha256:{hashlib.sha256(data).hexdigest()}",
    )


def _first_difference(want: bytes, found: bytes) -> str:
    """Where the bytes part, for the report (line and a few characters of each)."""
    n = next(
        (i for i, (a, b) in enumerate(zip(want, found, strict=False)) if a != b),
        min(len(want), len(found)),
    )
    line = want.count(b"\n", 0, n) + 1
    return f"(from line {line}: expected {want[n : n + 40]!r}, found {found[n : n + 40]!r})"


def check_contents(
    meta: dict[str, Any], number: int | None, members: dict[str, ZipEntry]
) -> Iterator[Finding]:
    """This part's entry of ``parts.contents`` against the payload files it holds."""
    if number is None or meta["format_version"] < 3:
        return
    contents = meta["parts"]["contents"]
    if not 1 <= number <= len(contents):
        return  # the part's number is reported wrong elsewhere
    declared = contents[number - 1]
    present = sorted(
        ((rel, e.size) for rel, e in members.items() if rel.startswith(f"{DATA}/")),
        key=lambda item: item[0].encode(),
    )
    found = {
        "number": number,
        "files": len(present),
        "bytes": sum(size for _, size in present),
        "documents": len(meta["documents"]),
        "first": present[0][0] if present else None,
        "last": present[-1][0] if present else None,
    }
    for key, value in found.items():
        if declared.get(key) != value:
            yield (
                P.PartMismatch,
                f"parts.contents[{number - 1}].{key} is not what this part holds",
                str(value),
                str(declared.get(key)),
            )
