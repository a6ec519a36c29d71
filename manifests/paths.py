"""The quick test for ordinary relative paths, shared by the zip and BagIt layers.

Most names in an archive are plain (``data/documents/sales_invoices/FA-2025-00001.pdf``):
portable ASCII segments with no ``.`` or ``..`` segment. Those are accepted by one compiled
pattern; anything else goes through the full, slower checks, which say what is wrong.
"""

from __future__ import annotations

import re

_PLAIN = re.compile(r"[A-Za-z0-9_~+@=,.-]+(?:/[A-Za-z0-9_~+@=,.-]+)*")


def is_plain(path: str) -> bool:
    """Whether ``path`` is a plainly safe relative path (``False`` says nothing either way)."""
    if _PLAIN.fullmatch(path) is None:
        return False
    wrapped = f"/{path}/"
    return "/./" not in wrapped and "/../" not in wrapped
