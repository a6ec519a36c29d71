"""Sources: where accounts are read from, chosen by the URL scheme.

Sources register under the ``offboard.sources`` entry-point group, keyed by URL scheme; the
built-in SQLite source is registered there like any other.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from offboard.errors import MappingError, PluginError, SourceError

from .base import AccountInfo, DocumentRef, DocumentUnavailable, Source
from .mapping import Mapping

GROUP = "offboard.sources"
_BARE_SUFFIXES = (".db", ".sqlite", ".sqlite3")

__all__ = [
    "AccountInfo",
    "DocumentRef",
    "DocumentUnavailable",
    "Mapping",
    "MappingError",
    "Source",
    "open_source",
]


def scheme_of(url: str) -> str:
    if "://" in url:
        return url.split("://", 1)[0].lower()
    if url.startswith("sqlite:"):
        return "sqlite"
    if url.lower().endswith(_BARE_SUFFIXES):
        return "sqlite"
    raise SourceError(
        f"source {url!r}: give a URL such as sqlite:///path/to/file.db "
        "(or a path ending in .db, .sqlite or .sqlite3)"
    )


def open_source(url: str, mapping: Mapping | None = None) -> Source:
    """Open the source named by ``url`` through its registered scheme, reading the tables
    ``mapping`` maps (if any) its way."""
    scheme = scheme_of(url)
    known = []
    for ep in entry_points(group=GROUP):
        known.append(ep.name)
        if ep.name == scheme:
            try:
                cls = ep.load()
            except Exception as exc:
                raise PluginError(f"source plugin {ep.name!r} cannot be loaded: {exc}") from exc
            source: Source = cls.from_url(url)
            if mapping is not None:
                source.mapping = mapping
            return source
    raise SourceError(
        f"source {url!r}: no source handles the scheme {scheme!r} "
        f"(installed: {', '.join(sorted(known)) or 'none'})"
    )
