"""The Factur-X attachment of a PDF opened with qpdf (pikepdf), read without trusting the PDF.

The attachment is looked for where PDF readers look for embedded files, the catalog's
``/Names /EmbeddedFiles`` name tree, under one of :data:`~offboard.facturx.ATTACHMENT_NAMES`
(compared without case). The walk is bounded (depth, nodes, entries; a node seen twice is not
walked again), and so is the attachment: its stored bytes are read raw and, when deflated,
inflated here with an output limit, so that a small stream that inflates to gigabytes (a
"zip bomb") costs :data:`~offboard.facturx.MAX_XML_BYTES` at most. Only the filters an XML
attachment uses are accepted: none, or ``/FlateDecode`` without a predictor.
"""

from __future__ import annotations

import zlib
from typing import Any, NamedTuple

from offboard.facturx import ATTACHMENT_NAMES, MAX_XML_BYTES

#: name-tree levels walked at most
MAX_DEPTH = 8
#: name-tree nodes and entries looked at, at most
MAX_NODES = 256
MAX_ENTRIES = 4096


class AttachmentError(Exception):
    """The attachment is there but cannot be had; ``code`` is the issue's code."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class Attachment(NamedTuple):
    #: the name it is attached under, as found
    name: str
    data: bytes
    #: its ``/AFRelationship`` (``Data``, ``Alternative``, ``Source``...), or None
    relationship: str | None


def find_xml(pdf: Any, limit: int = MAX_XML_BYTES) -> Attachment | None:
    """The Factur-X XML attached to ``pdf`` (a ``pikepdf.Pdf``), or None if there is none.

    Raises :class:`AttachmentError` (``unreadable``, ``too-large``) when there is one that
    cannot be read within the bounds.
    """
    try:
        spec = _find_spec(pdf)
    except AttachmentError:
        raise
    except Exception as exc:  # any failure of qpdf on hostile objects
        raise AttachmentError(
            "unreadable", f"the attachments cannot be read: {_short(exc)}"
        ) from None
    if spec is None:
        return None
    name, filespec = spec
    try:
        data = _read_embedded(filespec, limit)
        rel = filespec.get("/AFRelationship")
        relationship = str(rel)[1:] if rel is not None and str(rel).startswith("/") else None
    except AttachmentError:
        raise
    except Exception as exc:
        raise AttachmentError("unreadable", f"{name} cannot be read: {_short(exc)}") from None
    return Attachment(name, data, relationship)


def _find_spec(pdf: Any) -> tuple[str, Any] | None:
    import pikepdf

    names = pdf.Root.get("/Names")
    if not isinstance(names, pikepdf.Dictionary):
        return None
    tree = names.get("/EmbeddedFiles")
    if not isinstance(tree, pikepdf.Dictionary):
        return None
    wanted = {n.lower() for n in ATTACHMENT_NAMES}
    seen: set[tuple[int, int]] = set()
    stack: list[tuple[Any, int]] = [(tree, 0)]
    nodes = entries = 0
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise AttachmentError("unreadable", "the attachments' name tree is too large")
        if node.is_indirect:
            key = node.objgen
            if key in seen:
                continue
            seen.add(key)
        leaf = node.get("/Names")
        if isinstance(leaf, pikepdf.Array):
            for i in range(0, len(leaf) - 1, 2):
                entries += 1
                if entries > MAX_ENTRIES:
                    raise AttachmentError("unreadable", "the PDF has too many attachments")
                filespec = leaf[i + 1]
                if not isinstance(filespec, pikepdf.Dictionary):
                    continue
                name = _file_name(filespec, leaf[i])
                if name is not None and name.lower() in wanted:
                    return name, filespec
        kids = node.get("/Kids")
        if isinstance(kids, pikepdf.Array) and depth < MAX_DEPTH:
            for kid in reversed(list(kids)[:MAX_NODES]):
                if isinstance(kid, pikepdf.Dictionary):
                    stack.append((kid, depth + 1))
    return None


def _file_name(filespec: Any, key: Any) -> str | None:
    import pikepdf

    for field in ("/UF", "/F"):
        value = filespec.get(field)
        if isinstance(value, pikepdf.String):
            return str(value)
    return str(key) if isinstance(key, pikepdf.String) else None


def _read_embedded(filespec: Any, limit: int) -> bytes:
    import pikepdf

    ef = filespec.get("/EF")
    stream = None
    if isinstance(ef, pikepdf.Dictionary):
        stream = ef.get("/F")
        if not isinstance(stream, pikepdf.Stream):
            stream = ef.get("/UF")
    if not isinstance(stream, pikepdf.Stream):
        raise AttachmentError("unreadable", "the attachment has no embedded file stream")
    filters = stream.get("/Filter")
    if isinstance(filters, pikepdf.Array):
        names = [str(f) for f in filters]
    elif filters is None:
        names = []
    else:
        names = [str(filters)]
    if names not in ([], ["/FlateDecode"]):
        raise AttachmentError("unreadable", f"unsupported attachment filter {' '.join(names)}")
    params = stream.get("/DecodeParms")
    if isinstance(params, pikepdf.Array):
        params = params[0] if len(params) else None
    if isinstance(params, pikepdf.Dictionary) and int(params.get("/Predictor", 1)) > 1:
        raise AttachmentError("unreadable", "unsupported attachment predictor")
    length = stream.get("/Length")
    if isinstance(length, int) and length > limit:
        raise AttachmentError("too-large", f"attachment larger than {limit:,} bytes")
    raw = stream.read_raw_bytes()
    if len(raw) > limit:
        raise AttachmentError("too-large", f"attachment larger than {limit:,} bytes")
    if not names:
        return bytes(raw)
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(raw, limit + 1)
    except zlib.error as exc:
        raise AttachmentError("unreadable", f"the attachment does not inflate: {exc}") from None
    if len(data) > limit or inflater.unconsumed_tail:
        raise AttachmentError("too-large", f"attachment inflates past {limit:,} bytes")
    return data


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]
