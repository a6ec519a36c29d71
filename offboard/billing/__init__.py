"""Billing backends: how the termination gate ends a subscription in the billing system.

Backends register under the ``offboard.billing`` entry-point group, keyed by name; the
built-ins (``local``: the source database's own ``subscriptions`` table, ``webhook``: a signed
HTTP POST) are registered in ``pyproject.toml`` exactly as a third-party plugin registers its
own. A plugin's class subclasses :class:`BillingBackend` and sets ``name`` to its entry-point
name::

    [project.entry-points."offboard.billing"]
    acme = "acme_offboard.billing:AcmeBilling"
"""

from __future__ import annotations

from importlib.metadata import entry_points

from offboard.errors import ConfigError, PluginError

from .base import BillingBackend, BillingContext, BillingResult, TerminationRequest

GROUP = "offboard.billing"

__all__ = [
    "GROUP",
    "BillingBackend",
    "BillingContext",
    "BillingResult",
    "TerminationRequest",
    "backend_names",
    "get_backend",
]


def backend_names() -> list[str]:
    """The names of the registered backends, sorted (without importing them)."""
    return sorted({ep.name for ep in entry_points(group=GROUP)})


def get_backend(name: str) -> type[BillingBackend]:
    """The backend class registered as ``name``.

    Raises :class:`ConfigError` naming the known backends when there is none of that name, and
    :class:`PluginError` when the plugin cannot be loaded or breaks the contract.
    """
    for ep in entry_points(group=GROUP):
        if ep.name != name:
            continue
        try:
            cls = ep.load()
        except Exception as exc:  # a broken plugin is reported, not raised as it is
            raise PluginError(
                f"billing backend {name!r} ({ep.value}) cannot be loaded: {exc}"
            ) from exc
        if not (isinstance(cls, type) and issubclass(cls, BillingBackend)):
            raise PluginError(
                f"billing backend {name!r}: {ep.value} is not a BillingBackend subclass"
            )
        if getattr(cls, "name", None) != name:
            raise PluginError(
                f"billing backend {name!r}: class {cls.__name__} declares name "
                f"{getattr(cls, 'name', None)!r}"
            )
        return cls
    known = ", ".join(backend_names()) or "none installed"
    raise ConfigError(f"unknown billing backend {name!r} (known backends: {known})")
