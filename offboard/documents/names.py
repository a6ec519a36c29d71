"""Safe, unique file names for documents whose numbers come from untrusted data.

A document number such as ``FA 2025/001`` or ``../../etc/passwd`` becomes a plain file stem made
of ASCII letters, digits, ``-``, ``_`` and ``.`` only, so that no name can leave the folder it is
written to, and every name is valid on Linux, macOS and Windows alike. :class:`NameAllocator`
then makes the stems unique within one folder, in input order, ignoring case so that ``fa-1`` and
``FA-1`` do not overwrite each other on a case-insensitive file system.
"""

from __future__ import annotations

import re
import unicodedata

#: longest stem returned by :func:`safe_file_name` (a collision suffix may add a few characters)
MAX_STEM = 120
#: stem used when a number has nothing usable left
FALLBACK_STEM = "document"
#: separates a stem from its collision counter; never produced by :func:`safe_file_name`
COLLISION_MARK = "~"

# Letters that Unicode compatibility decomposition does not fold to ASCII.
_FOLDS = str.maketrans(
    {
        "°": "o",
        "ß": "ss",
        "Æ": "AE",
        "æ": "ae",
        "Œ": "OE",
        "œ": "oe",
        "Ø": "O",
        "ø": "o",
        "Đ": "D",
        "đ": "d",
        "Ł": "L",
        "ł": "l",
        "Þ": "Th",
        "þ": "th",
    }
)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_UNDERSCORES = re.compile(r"_{2,}")
_DOTS = re.compile(r"\.{2,}")
_LEADING = re.compile(r"^[._-]+")
_TRAILING = re.compile(r"[._]+$")
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"COM{i}" for i in range(10)}
    | {f"LPT{i}" for i in range(10)}
)


def safe_file_name(number: str) -> str:
    """Turn a document number into a file stem that is safe everywhere.

    Accents are folded to ASCII (``"Facture n°É12"`` → ``"Facture_noE12"``), every other
    character outside ``[A-Za-z0-9._-]`` becomes ``_`` (``"請求書-7"`` → ``"___-7"``), runs of
    ``_`` or ``.`` collapse to one, leading dots, dashes and underscores and trailing dots and
    underscores are stripped (no hidden files, no ``..``, nothing that looks like an option:
    ``"7"``), the stem is cut to :data:`MAX_STEM` characters, Windows device names (``CON``,
    ``NUL``, ``COM1``...) get a ``_`` appended, and an empty result becomes ``"document"``.

    The result contains no path separator and is never ``.`` or ``..``.
    """
    decomposed = unicodedata.normalize("NFKD", number.translate(_FOLDS))
    folded = "".join(c for c in decomposed if not unicodedata.combining(c))
    stem = _UNSAFE.sub("_", folded)
    stem = _DOTS.sub(".", _UNDERSCORES.sub("_", stem))
    stem = _TRAILING.sub("", _LEADING.sub("", stem))
    if len(stem) > MAX_STEM:
        stem = _TRAILING.sub("", stem[:MAX_STEM])
    if not stem:
        return FALLBACK_STEM
    base, dot, rest = stem.partition(".")
    if base.upper() in _WINDOWS_RESERVED:
        stem = f"{base}_{dot}{rest}"[:MAX_STEM]
    return stem


class NameAllocator:
    """Hand out unique file stems for one folder, deterministically in call order.

    The first document numbered ``FA-1`` gets ``FA-1``; the next one whose safe name is the
    same, ignoring case (``FA-1``, ``fa-1``, ``FA/1``...), gets ``FA-1~2``, then ``FA-1~3``.
    ``~`` never appears in a :func:`safe_file_name` result, so a suffixed stem cannot be taken
    by a later number.
    """

    def __init__(self) -> None:
        self._taken: set[str] = set()
        self._next: dict[str, int] = {}

    def allocate(self, number: str) -> str:
        """A stem for ``number`` that no earlier call returned (ignoring case)."""
        stem = safe_file_name(number)
        key = stem.lower()
        if key not in self._taken:
            self._taken.add(key)
            return stem
        counter = self._next.get(key, 2)
        while f"{key}{COLLISION_MARK}{counter}" in self._taken:
            counter += 1
        self._next[key] = counter + 1
        self._taken.add(f"{key}{COLLISION_MARK}{counter}")
        return f"{stem}{COLLISION_MARK}{counter}"

    def __contains__(self, stem: object) -> bool:
        return isinstance(stem, str) and stem.lower() in self._taken
