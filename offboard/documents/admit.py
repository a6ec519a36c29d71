"""Whether an opened PDF may be bundled: a sane page count and no active content.

A document that fails is a problem of the export, and its bytes are kept unchanged under
``_problems/`` (nothing the source held is lost); it is only kept out of the bundle, which is
for reading. The reasons:

* ``unreadable: no pages``;
* ``too many pages: N (the limit is L, --max-document-pages)``: a page tree of millions of
  pages costs memory in every reader, the bundler included;
* ``active content: <what> (<where>)``: JavaScript, a launch action, a form that submits or
  imports data, rich media or an XFA form. None of it runs here (qpdf only parses), but a
  bundle made to be read must not carry it, and an archive for a dispute should say which
  documents hold code;
* ``decompression bomb: ...``: a stream that inflates past :data:`MAX_INFLATED` (checked by
  inflating it, counting, keeping nothing: only streams whose compressed size or chain of
  filters could reach that), or an image whose declared size is past :data:`MAX_IMAGE_BYTES`
  (bundling copies streams without decoding them, but every reader of the bundle would);
* ``unreadable: ...`` for damage readers may not survive: the outline or a name tree loops
  back on itself, a page's /Parent chain loops, a page's resources are not a dictionary, or
  qpdf's repair of the file lost objects the document refers to (:func:`lost_objects`).

The look for active content is bounded: the catalogue, its name tree of scripts, each page's
actions and annotations, the form's fields, each with their chained actions, up to
:data:`MAX_VISITS` objects in all (a document past it is reported, not walked further).
"""

from __future__ import annotations

import re
from typing import Any

import pikepdf

from offboard.documents.copying import DocumentFault

#: action types that run code or reach outside the document
ACTIVE_ACTIONS = frozenset(
    {"/JavaScript", "/Launch", "/SubmitForm", "/ImportData", "/RichMediaExecute"}
)
#: objects looked at, at most, for active content in one document
MAX_VISITS = 100_000
#: how deep a chain of actions or fields is followed
_MAX_DEPTH = 64
#: bytes one stream may inflate to
MAX_INFLATED = 256 << 20
#: bytes an image may declare (width x height x components x bits / 8): a 1,200 dpi A4 colour
#: scan is 420 MB
MAX_IMAGE_BYTES = 1 << 30
#: a stream with one Flate filter and fewer compressed bytes than this cannot reach
#: MAX_INFLATED (deflate inflates 1,032 times at most): it is not inflated to check
SMALL_RAW = MAX_INFLATED // 1032
_FLATE = frozenset({"/FlateDecode", "/Fl"})
_SUBTYPE, _IMAGE = pikepdf.Name("/Subtype"), pikepdf.Name("/Image")
_FILTER, _LENGTH = pikepdf.Name("/Filter"), pikepdf.Name("/Length")
_COMPONENTS = {"/DeviceGray": 1, "/G": 1, "/DeviceRGB": 3, "/RGB": 3, "/DeviceCMYK": 4}
#: items of an outline or name tree walked, at most, to find a loop
_MAX_ITEMS = 1_000_000


def admit(pdf: pikepdf.Pdf, max_pages: int, raw: bytes | None = None) -> int:
    """The page count of ``pdf``; raises :class:`DocumentFault` when it may not be bundled.

    ``raw``: the file's bytes, when it is smaller than a single-filter bomb can be; its streams
    are then inflated to check them only when their dictionaries could hold a chain of filters
    or an outsized image (:func:`may_inflate`), which spares parsing every object of the many
    small documents that cannot.
    """
    count = len(pdf.pages)
    if count == 0:
        raise DocumentFault("unreadable: no pages")
    if count > max_pages:
        raise DocumentFault(
            f"too many pages: {count:,} (the limit is {max_pages:,}, --max-document-pages)"
        )
    found = active_content(pdf)
    if found is not None:
        raise DocumentFault(f"active content: {found}")
    bomb = inflation(pdf) if raw is None or may_inflate(raw) else None
    if bomb is not None:
        raise DocumentFault(f"decompression bomb: {bomb}")
    damage = loops(pdf) or page_damage(pdf)
    if damage is not None:
        raise DocumentFault(f"unreadable: {damage}")
    return count


#: what qpdf says of an object that its repair of the file could not find again
_LOST = "not found in file after regenerating cross reference table"
#: what qpdf says of a page whose resources it replaced by an empty dictionary
_NO_RESOURCES = "Resources is missing or invalid"
#: what qpdf says of a page tree entry it dropped (a page lost without an error)
_DROPPED = "Pages tree includes non-dictionary object"


def lost_objects(pdf: pikepdf.Pdf) -> str | None:
    """Whether qpdf, repairing ``pdf``, lost objects it refers to (call after reading it: qpdf
    finds them missing only when they are resolved)."""
    for warning in pdf.get_warnings():
        if _DROPPED in warning:
            return "damaged: the page tree holds something that is not a page (dropped)"
        if _NO_RESOURCES in warning:
            return "damaged: a page's resources are missing or invalid"
        if _LOST in warning:
            head, _, _ = warning.partition(_LOST)
            what = head.rpartition(":")[2].strip() or "an object"
            return f"damaged: {what} is missing (its bytes were overwritten or cut)"
    return None


def page_damage(pdf: pikepdf.Pdf) -> str | None:
    """A page whose /Parent chain loops or whose resources are not a dictionary."""
    for number, page in enumerate(pdf.pages, 1):
        obj = page.obj
        resources = obj.get("/Resources")
        if resources is not None and not isinstance(resources, pikepdf.Dictionary):
            return f"page {number}'s resources are not a dictionary"
        seen: set[tuple[int, int]] = set()
        parent = obj.get("/Parent")
        for _ in range(_MAX_DEPTH):
            if not isinstance(parent, pikepdf.Dictionary):
                break
            key = _key(parent)
            if key is not None:
                if key in seen:
                    return f"page {number}'s /Parent chain loops back on itself"
                seen.add(key)
            parent = parent.get("/Parent")
        else:
            return f"page {number}'s /Parent chain is deeper than {_MAX_DEPTH}"
    return None


class _TooMuch(Exception):
    pass


class _Look:
    def __init__(self) -> None:
        self.visits = 0
        self.seen: set[tuple[int, int]] = set()

    def step(self, obj: Any) -> bool:
        """Count one visit; False if ``obj`` (indirect) was already seen."""
        self.visits += 1
        if self.visits > MAX_VISITS:
            raise _TooMuch()
        try:
            if obj.is_indirect:
                key = obj.objgen
                if key in self.seen:
                    return False
                self.seen.add(key)
        except AttributeError:
            pass
        return True

    def action(self, obj: Any, where: str, depth: int = 0) -> str | None:
        """The active action in ``obj`` (an action or an array of them), following /Next."""
        if depth > _MAX_DEPTH or not self.step(obj):
            return None
        if isinstance(obj, pikepdf.Array):
            for item in obj:
                found = self.action(item, where, depth + 1)
                if found:
                    return found
            return None
        if not isinstance(obj, pikepdf.Dictionary):
            return None
        kind = obj.get("/S")
        if isinstance(kind, pikepdf.Name) and str(kind) in ACTIVE_ACTIONS:
            return f"{str(kind)[1:]} ({where})"
        if "/JS" in obj:
            return f"JavaScript ({where})"
        nxt = obj.get("/Next")
        return None if nxt is None else self.action(nxt, where, depth + 1)

    def additional(self, holder: Any, where: str) -> str | None:
        """The active action among ``holder``'s /A and /AA (trigger events) entries."""
        if not isinstance(holder, pikepdf.Dictionary):
            return None
        for key in ("/A", "/OpenAction"):
            if key in holder:
                found = self.action(holder[key], where)
                if found:
                    return found
        events = holder.get("/AA")
        if isinstance(events, pikepdf.Dictionary) and self.step(events):
            for _event, act in events.items():
                found = self.action(act, where)
                if found:
                    return found
        return None

    def fields(self, items: Any, depth: int = 0) -> str | None:
        if depth > _MAX_DEPTH or not isinstance(items, pikepdf.Array) or not self.step(items):
            return None
        for field in items:
            if not isinstance(field, pikepdf.Dictionary) or not self.step(field):
                continue
            found = self.additional(field, "a form field") or self.fields(
                field.get("/Kids"), depth + 1
            )
            if found:
                return found
        return None


def _annotations(look: _Look, annots: Any, number: int) -> str | None:
    if not isinstance(annots, pikepdf.Array) or not look.step(annots):
        return None
    for annot in annots:
        if isinstance(annot, pikepdf.Dictionary) and look.step(annot):
            sub = annot.get("/Subtype")
            if sub in (pikepdf.Name.RichMedia, pikepdf.Name.Screen):
                return f"{str(sub)[1:]} annotation (page {number})"
            found = look.additional(annot, f"an annotation on page {number}")
            if found:
                return found
    return None


def active_content(pdf: pikepdf.Pdf) -> str | None:
    """What active content ``pdf`` holds and where (``"JavaScript (the document's open
    action)"``), or None."""
    look = _Look()
    try:
        root = pdf.Root
        found = look.additional(root, "the document's open action")
        if found:
            return found
        names = root.get("/Names")
        if isinstance(names, pikepdf.Dictionary) and "/JavaScript" in names:
            return "JavaScript (the document's scripts)"
        form = root.get("/AcroForm")
        if isinstance(form, pikepdf.Dictionary):
            if "/XFA" in form:
                return "XFA form (the document's form)"
            found = look.fields(form.get("/Fields"))
            if found:
                return found
        for number, page in enumerate(pdf.pages, 1):
            obj = page.obj
            if "/AA" in obj:  # a page's actions are its /AA events only
                found = look.additional(pikepdf.Dictionary(AA=obj.AA), f"page {number}")
                if found:
                    return found
            annots = obj.get("/Annots")
            if annots is not None:
                found = _annotations(look, annots, number)
                if found:
                    return found
    except _TooMuch:
        return f"not checked whole: more than {MAX_VISITS:,} objects to look at"
    except (pikepdf.PdfError, ValueError, TypeError, KeyError) as exc:
        raise DocumentFault(f"unreadable: {type(exc).__name__}: {str(exc)[:120]}") from None
    return None


def inflation(pdf: pikepdf.Pdf) -> str | None:
    """The first stream of ``pdf`` that inflates past the bounds, described, or None."""
    for obj in pdf.objects:
        if not isinstance(obj, pikepdf.Stream):
            continue
        # a stream's own get() reads its dictionary (its stream_dict is a new object each time)
        if obj.get(_SUBTYPE) == _IMAGE:
            found = _image_size(obj)
            if found:
                return found
        filters = obj.get(_FILTER)
        if filters is None:
            continue
        names = [str(f) for f in filters] if isinstance(filters, pikepdf.Array) else [str(filters)]
        flates = sum(n in _FLATE for n in names)
        if not flates or flates != len(names):
            continue  # other filters do not multiply (or are not ours to undo)
        length = obj.get(_LENGTH)
        if flates == 1 and isinstance(length, int) and length < SMALL_RAW:
            continue
        if not _inflates_within(obj.read_raw_bytes(), flates, MAX_INFLATED):
            return f"a stream (object {obj.objgen[0]}) inflates past {MAX_INFLATED >> 20} MiB"
    return None


#: stream dictionaries that can make a file smaller than SMALL_RAW inflate past the bounds:
#: a chain of two Flate filters, a filter given by reference (streams are never inside object
#: streams, so their dictionaries are in the file's bytes as written), an image width or
#: height of five digits or more, or given by reference
_MAY_INFLATE = re.compile(
    rb"/Filter\s*\[[^\]]*/Fl(?:ateDecode)?\b[^\]]*/Fl(?:ateDecode)?\b"
    rb"|/Filter\s*\d+\s+\d+\s+R"
    rb"|/(?:Width|Height|W|H)\s*(?:\d{5,}|\d+\s+\d+\s+R)"
)


def may_inflate(raw: bytes) -> bool:
    """Whether the small file ``raw`` may hold a stream past the bounds (see above)."""
    return len(raw) >= SMALL_RAW or _MAY_INFLATE.search(raw) is not None


def _image_size(head: Any) -> str | None:
    try:
        width, height = int(head.get("/Width", 0)), int(head.get("/Height", 0))
        bits = int(head.get("/BitsPerComponent", 8))
    except (TypeError, ValueError):
        return None
    space = head.get("/ColorSpace")
    components = _COMPONENTS.get(str(space), 4) if isinstance(space, pikepdf.Name) else 4
    if width * height * components * max(bits, 1) // 8 > MAX_IMAGE_BYTES:
        return f"an image of {width:,} x {height:,} pixels"
    return None


def _inflates_within(raw: bytes, times: int, limit: int) -> bool:
    """Whether ``raw``, inflated ``times`` times in a chain, stays within ``limit`` bytes at
    every step (a stream too damaged to inflate is left to the reader: not a bomb)."""
    import zlib

    data = [raw]
    for _ in range(times):
        engine = zlib.decompressobj()
        out: list[bytes] = []
        total = 0
        try:
            for piece in data:
                chunk = engine.decompress(piece, 1 << 20)
                while True:
                    total += len(chunk)
                    if total > limit:
                        return False
                    if times > 1:
                        out.append(chunk)
                    if not engine.unconsumed_tail:
                        break
                    chunk = engine.decompress(engine.unconsumed_tail, 1 << 20)
                if engine.eof:
                    break
        except zlib.error:
            return True
        data = out
    return True


def loops(pdf: pikepdf.Pdf) -> str | None:
    """Whether the outline or a name tree of ``pdf`` loops back on itself."""
    root = pdf.Root
    outlines = root.get("/Outlines")
    if isinstance(outlines, pikepdf.Dictionary) and _outline_loops(outlines):
        return "the outline loops back on itself"
    names = root.get("/Names")
    if isinstance(names, pikepdf.Dictionary):
        for key, tree in names.items():
            if isinstance(tree, pikepdf.Dictionary) and _tree_loops(tree):
                return f"the name tree {key} loops back on itself"
    return None


def _key(obj: Any) -> tuple[int, int] | None:
    return obj.objgen if obj.is_indirect else None


def _again(seen: set[tuple[int, int]], obj: Any) -> bool:
    """Whether the indirect ``obj`` was seen before (it is noted), or too many were."""
    key = _key(obj)
    if key is not None:
        if key in seen:
            return True
        seen.add(key)
    return len(seen) > _MAX_ITEMS


def _outline_loops(top: Any) -> bool:
    seen: set[tuple[int, int]] = set()
    todo = [top.get("/First")]
    while todo:
        item = todo.pop()
        while isinstance(item, pikepdf.Dictionary):
            if _again(seen, item):
                return True
            todo.append(item.get("/First"))
            item = item.get("/Next")
    return False


def _tree_loops(top: Any) -> bool:
    seen: set[tuple[int, int]] = set()
    todo = [top]
    while todo:
        node = todo.pop()
        if not isinstance(node, pikepdf.Dictionary):
            continue
        if _again(seen, node):
            return True
        kids = node.get("/Kids")
        if isinstance(kids, pikepdf.Array):
            todo.extend(kids)
    return False
