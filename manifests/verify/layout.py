"""The members' order and compression methods, and the signature's unsigned line: the rules of
the container that no header byte and no signature states.

The zip reader rebuilds every header from the values it found and compares the bytes, so a
changed header is noticed; but two rules of the container (archive format, section 5) are
about which values those are, and only the bag knows them:

* the members come in one order: the tag files ``bagit.txt``, ``bag-info.txt``,
  ``offboard.json``, ``index.html``, then the payload sorted by path (UTF-8 bytes), then
  ``manifest-sha256.txt``, ``tagmanifest-sha256.txt`` and the signature;
* CSV, JSON, text, XML and HTML files are deflated, every other file is stored
  (:func:`manifests.payload.compressed`).

An archive whose members were reordered, or recompressed the other way, keeps every checksum
and signature intact, yet it is not the archive the export wrote (the same export gives the
same bytes): it is a ``non-canonical`` problem. So is a signature file whose untrusted comment
(its first line, which minisign signs with nothing: anyone can change it) is not the one
offboard writes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from manifests import bag
from manifests import problems as P
from manifests.build import LEAD
from manifests.metadata import DATA
from manifests.payload import compressed
from manifests.zipfmt import records as R

if TYPE_CHECKING:
    from manifests.zipfmt import ZipEntry

#: the tag files written after the payload, in this order
TAIL = (bag.MANIFEST, bag.TAGMANIFEST, bag.SIGNATURE)
_DATA_PREFIX = f"{DATA}/"
_METHODS = {R.STORED: "0 (stored)", R.DEFLATED: "8 (deflated)"}
#: the untrusted comment of an archive's signature, as :meth:`SecretKey.sign` writes it
UNTRUSTED_COMMENT = "signature from offboard secret key"

Finding = tuple[type[P.Problem], str, str, str | None, str | None]


def rank(rel: str) -> tuple[int, int, bytes] | None:
    """Where a member of path ``rel`` (in the bag) goes, or None for a path no bag holds
    (reported by the other checks)."""
    if rel in LEAD:
        return (0, LEAD.index(rel), b"")
    if rel.startswith(_DATA_PREFIX):
        return (1, 0, rel.encode("utf-8"))
    if rel in TAIL:
        return (2, TAIL.index(rel), b"")
    return None


def layout_problems(members: list[tuple[str, ZipEntry]]) -> list[Finding]:
    """The problems of ``members`` (path in the bag, entry; in file order) with the two rules:
    each member with another method than its own, and the first member out of order."""
    out: list[Finding] = []
    last: tuple[tuple[int, int, bytes], str] | None = None
    misplaced = False
    for rel, entry in members:
        want = R.DEFLATED if compressed(rel) else R.STORED
        if entry.method != want:
            out.append(
                (
                    P.NonCanonical,
                    entry.name,
                    "compression method other than the archive format's for this file",
                    _METHODS[want],
                    _METHODS.get(entry.method, str(entry.method)),
                )
            )
        where = rank(rel)
        if where is None:
            continue
        if last is not None and where < last[0] and not misplaced:
            misplaced = True  # one is enough: a move shows as one member out of place
            out.append(
                (
                    P.NonCanonical,
                    entry.name,
                    "member out of the archive format's order",
                    f"before {last[1]}",
                    f"after {last[1]}",
                )
            )
        if last is None or where > last[0]:
            last = (where, entry.name)
    return out


def signature_problems(untrusted_comment: str) -> list[Finding]:
    """The problem of a signature file whose untrusted comment is not offboard's, if it is."""
    if untrusted_comment == UNTRUSTED_COMMENT:
        return []
    return [
        (
            P.NonCanonical,
            bag.SIGNATURE,
            "the untrusted comment (signed by nothing) is not the one offboard writes",
            UNTRUSTED_COMMENT,
            untrusted_comment[:200],
        )
    ]
