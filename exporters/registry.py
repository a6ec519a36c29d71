"""Discovery of exporters through the ``offboard.exporters`` entry-point group.

The built-in exporters are registered in ``pyproject.toml`` exactly as a third-party plugin
registers its own: there is no private list of built-ins. Tests (and embedding programs) may
add exporters with :func:`register` without installing a distribution.
"""

from __future__ import annotations

import re
from importlib.metadata import entry_points

from offboard.errors import PluginError, UnknownKind

from .base import Exporter

GROUP = "offboard.exporters"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_extra: dict[str, type[Exporter]] = {}


def register(exporter: type[Exporter]) -> type[Exporter]:
    """Register an exporter class at run time (usable as a decorator)."""
    validate(exporter, exporter.name)
    _extra[exporter.name] = exporter
    return exporter


def unregister(name: str) -> None:
    _extra.pop(name, None)


def validate(cls: object, name: str) -> None:
    """Check that ``cls`` keeps the exporter contract; raise :class:`PluginError` if not."""
    if not (isinstance(cls, type) and issubclass(cls, Exporter)):
        raise PluginError(f"exporter {name!r}: {cls!r} is not an Exporter subclass")
    if getattr(cls, "name", None) != name:
        raise PluginError(
            f"exporter {name!r}: class {cls.__name__} declares name {getattr(cls, 'name', None)!r}"
        )
    if not _NAME.match(name):
        raise PluginError(f"exporter {name!r}: names are lower-case letters, digits and '_'")
    tables = getattr(cls, "tables", ())
    if not tables:
        raise PluginError(f"exporter {name!r}: declares no table")
    for table in tables:
        if not _NAME.match(table.name):
            raise PluginError(f"exporter {name!r}: bad table name {table.name!r}")
        names = table.column_names
        if len(set(names)) != len(names):
            raise PluginError(f"exporter {name!r}: table {table.name!r} repeats a column")
        missing = [k for k in table.primary_key if k not in names]
        if not table.primary_key or missing:
            raise PluginError(
                f"exporter {name!r}: table {table.name!r} primary key {table.primary_key!r} "
                "must name columns of the table"
            )


def load_all() -> dict[str, type[Exporter]]:
    """Every registered exporter by name, sorted by name."""
    found: dict[str, type[Exporter]] = {}
    for ep in entry_points(group=GROUP):
        try:
            cls = ep.load()
        except Exception as exc:  # a broken plugin must not hide the others' error message
            raise PluginError(f"exporter {ep.name!r} ({ep.value}) cannot be loaded: {exc}") from exc
        validate(cls, ep.name)
        found[ep.name] = cls
    found.update(_extra)
    seen: dict[str, str] = {}
    for cls in found.values():
        for table in cls.tables:
            if table.name in seen:
                raise PluginError(
                    f"table {table.name!r} is declared by both {seen[table.name]!r} "
                    f"and {cls.name!r}"
                )
            seen[table.name] = cls.name
    return dict(sorted(found.items()))


def select(kinds: list[str] | None) -> list[type[Exporter]]:
    """The exporters named in ``kinds`` (all when None), in registry order."""
    available = load_all()
    if not kinds:
        return list(available.values())
    chosen: list[type[Exporter]] = []
    for kind in kinds:
        if kind not in available:
            raise UnknownKind(kind, list(available))
        if available[kind] not in chosen:
            chosen.append(available[kind])
    return chosen
