"""BagIt (RFC 8493) tag files: ``bagit.txt``, ``bag-info.txt`` and the manifests.

Writers produce exactly one byte form for each file (UTF-8, LF line ends, labels in a fixed
order, manifest lines sorted by path, two spaces between checksum and path so that
``sha256sum -c`` reads them as they are). Parsers are strict: they accept what RFC 8493
allows, refuse paths that leave the bag, and report the line at fault.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from manifests.paths import is_plain

#: ASCII control characters (C0 and DEL), refused in names
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

BAGIT_VERSION = "1.0"
BAGIT_TXT = f"BagIt-Version: {BAGIT_VERSION}\nTag-File-Character-Encoding: UTF-8\n".encode()
MANIFEST = "manifest-sha256.txt"
TAGMANIFEST = "tagmanifest-sha256.txt"
SIGNATURE = "tagmanifest-sha256.txt.minisig"
BAG_INFO = "bag-info.txt"
BAGIT = "bagit.txt"
METADATA = "offboard.json"
#: the archive browser, made from ``offboard.json`` (:mod:`manifests.browser`; format 3 on)
BROWSER = "index.html"
#: tag files the tag manifest covers, in the order the archive holds them
TAG_FILES = (BAGIT, BAG_INFO, METADATA, BROWSER, MANIFEST)
#: the archive format version that added :data:`BROWSER`
BROWSER_SINCE = 3


def tag_files(version: int) -> tuple[str, ...]:
    """The tag files the tag manifest of an archive of format ``version`` covers."""
    if version >= BROWSER_SINCE:
        return TAG_FILES
    return tuple(name for name in TAG_FILES if name != BROWSER)


#: longest tag file the verifier reads into memory
MAX_TAG_FILE = 256 * 1024**2

#: the one line form this format writes: lower-case hex, two spaces, the encoded path
_LINE = re.compile(r"([0-9a-f]{64})  ([^ ].*)")
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")


class TagError(ValueError):
    """A tag file does not parse; ``line`` is 1-based, 0 for the file as a whole."""

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(message if not line else f"line {line}: {message}")
        self.line = line


# -- paths -------------------------------------------------------------------------------------
def encode_path(path: str) -> str:
    """A payload path as a manifest writes it: ``%``, CR and LF percent-encoded (RFC 8493 2.1.3)."""
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


_DECODED = {"%25": "%", "%0D": "\r", "%0A": "\n"}


def decode_path(text: str) -> str:
    if "%" not in text:
        return text
    return re.sub(r"%(?:25|0[DdAa])", lambda m: _DECODED[m[0].upper()], text)


def check_relative(path: str) -> str | None:
    """Why ``path`` may not appear in a bag (absolute, ``..``, backslash...), or None."""
    if is_plain(path):
        return None
    return full_check_relative(path)


def full_check_relative(path: str) -> str | None:
    """:func:`check_relative` without its shortcut for plain paths."""
    if not path:
        return "empty path"
    if path.startswith("/"):
        return "absolute path"
    if "\\" in path:
        return "backslash in path"
    if _CONTROL.search(path) is not None:
        return "control character in path"
    if any(seg in ("", ".", "..") for seg in path.split("/")):
        return "empty, '.' or '..' path segment"
    return None


# -- bagit.txt ---------------------------------------------------------------------------------
def check_bagit_txt(data: bytes) -> None:
    if data != BAGIT_TXT:
        raise TagError(f"expected {BAGIT_TXT.decode()!r}, found {data[:200]!r}")


# -- bag-info.txt ------------------------------------------------------------------------------
def format_bag_info(fields: Iterable[tuple[str, str]]) -> bytes:
    lines = []
    for label, value in fields:
        if not _LABEL.fullmatch(label):
            raise ValueError(f"bad bag-info label {label!r}")
        if "\n" in value or "\r" in value:
            raise ValueError(f"bag-info value of {label} spans lines")
        lines.append(f"{label}: {value}\n")
    return "".join(lines).encode("utf-8")


def parse_bag_info(data: bytes) -> list[tuple[str, str]]:
    """Labels and values in file order; continuation lines (starting with space/tab) joined."""
    text = _decode(data)
    fields: list[tuple[str, str]] = []
    for n, line in enumerate(text.split("\n")[:-1], 1):
        if line[:1] in (" ", "\t"):
            if not fields:
                raise TagError("continuation line before any label", n)
            label, value = fields[-1]
            fields[-1] = (label, f"{value} {line.strip()}")
            continue
        label, sep, value = line.partition(":")
        if not sep or not _LABEL.fullmatch(label.strip()):
            raise TagError(f"not a 'Label: value' line: {line[:80]!r}", n)
        fields.append((label.strip(), value.strip()))
    return fields


def info_value(fields: list[tuple[str, str]], label: str) -> str | None:
    """The one value of ``label`` (case-insensitive); TagError if it appears more than once."""
    found = [v for k, v in fields if k.lower() == label.lower()]
    if len(found) > 1:
        raise TagError(f"{label} appears {len(found)} times")
    return found[0] if found else None


# -- manifests ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ManifestEntry:
    path: str
    sha256: str


def format_manifest(entries: Iterable[tuple[str, str]]) -> bytes:
    """``<sha256>  <path>`` lines sorted by path (byte order of the UTF-8 path)."""
    ordered = sorted(entries, key=lambda e: e[0].encode("utf-8"))
    return "".join(f"{digest}  {encode_path(path)}\n" for path, digest in ordered).encode()


def parse_manifest(data: bytes) -> tuple[dict[str, str], list[TagError]]:
    """``{path: sha256}`` and the lines that could not be used (bad syntax, unsafe, repeated).

    A path listed twice is an error even with the same checksum: a manifest is a set.
    """
    text = _decode(data)
    plain = _plain_manifest(text)
    if plain is not None:
        return plain, []
    return parse_manifest_lines(text)


def parse_manifest_lines(text: str) -> tuple[dict[str, str], list[TagError]]:
    """:func:`parse_manifest` of decoded text, line by line (no shortcut)."""
    entries: dict[str, str] = {}
    errors: list[TagError] = []
    for n, line in enumerate(text.split("\n")[:-1], 1):
        match = _LINE.fullmatch(line)
        if match is None:
            errors.append(TagError(f"not a '<sha256>  <path>' line: {line[:80]!r}", n))
            continue
        digest, path = match[1], decode_path(match[2])
        why = check_relative(path)
        if why:
            errors.append(TagError(f"{why}: {path[:200]!r}", n))
            continue
        if path in entries:
            errors.append(TagError(f"{path!r} listed twice", n))
            continue
        entries[path] = digest
    return entries, errors


#: a manifest line whose path is plainly safe (the segments are checked apart)
_PLAIN_LINE = re.compile(
    r"^([0-9a-f]{64})  ([A-Za-z0-9_~+@=,.-]+(?:/[A-Za-z0-9_~+@=,.-]+)*)$", re.M
)


#: a "." or ".." segment at the start of a manifest line's path or after a "/"
_DOT_SEGMENT = re.compile(r"(?:  |/)\.\.?(?:/|$)", re.M)


def _plain_manifest(text: str) -> dict[str, str] | None:
    """The entries of a manifest whose every line is plain, or None (then the full parse says
    what is wrong, line by line)."""
    lines = text.count("\n")
    found = _PLAIN_LINE.findall(text)
    if len(found) != lines:
        return None
    entries = {path: digest for digest, path in found}
    if len(entries) != lines or _DOT_SEGMENT.search(text) is not None:
        return None
    return entries


def payload_oxum(sizes: Iterable[int]) -> str:
    total = count = 0
    for s in sizes:
        total += s
        count += 1
    return f"{total}.{count}"


def _decode(data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TagError(f"not UTF-8 at byte {exc.start}") from None
    if data.startswith(b"\xef\xbb\xbf"):
        raise TagError("starts with a byte-order mark")
    if "\r" in text:
        raise TagError("CR line ends (this archive format writes LF only)")
    if text and not text.endswith("\n"):
        raise TagError("last line has no line end")
    return text
