"""The one byte form of ``offboard.json`` (:func:`encode`): the builder writes it, the verifier
makes its shared sections' digest from it (:func:`manifests.metadata.shared_digest`)."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["encode"]

#: compact JSON for one line: the C encoder (the pure-Python one runs whenever indent is set)
_LINE = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(", ", ": "))


def encode(metadata: dict[str, Any]) -> bytes:
    """The one byte form of ``offboard.json``: UTF-8, keys sorted, one final line feed.

    Objects are laid out one member per line, indented by two spaces a level; an array holds
    one element per line, each element written whole on its line (``", "`` between items,
    ``": "`` after keys). So every table, document, bundle, problem and ``parts.files`` entry
    is one line, and the whole file is made by the C encoder a line at a time, each line
    encoded as it is made and the bytes joined once (joining text level by level copied a part
    of 12,000 documents five times over: 37 MB at once).
    """
    out: list[bytes] = []
    _layout(metadata, "", out)
    out.append(b"\n")
    return b"".join(out)


def _layout(value: Any, indent: str, out: list[bytes]) -> None:
    if type(value) is int:  # what the encoder would write, sooner
        out.append(int.__repr__(value).encode("ascii"))
        return
    inner = indent + "  "
    if isinstance(value, dict) and value:
        for key in value:
            if not isinstance(key, str):
                raise TypeError(f"offboard.json keys are strings, not {key!r}")
        out.append(b"{\n")
        sep = b""
        for key in sorted(value):
            out.append(sep + f"{inner}{_LINE.encode(key)}: ".encode())
            _layout(value[key], inner, out)
            sep = b",\n"
        out.append(f"\n{indent}}}".encode())
        return
    if isinstance(value, list) and value:
        out.append(b"[\n")
        sep = b""
        for item in value:
            out.append(sep + f"{inner}{_LINE.encode(item)}".encode())
            sep = b",\n"
        out.append(f"\n{indent}]".encode())
        return
    out.append(_LINE.encode(value).encode())
