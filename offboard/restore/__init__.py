"""Restore: a verified archive back into a database in the reference schema.

``offboard restore ARCHIVE --pubkey PUB --into sqlite:///new.db`` (or ``postgresql://...``)
verifies the archive fully, then rebuilds the account's records and documents so that the
database is an offboard source again: exporting it gives the archive's files byte for byte.
See ``docs/restore.md``. The modules:

* :mod:`.run`: the steps and what they report (:func:`restore`, :class:`RestoreResult`);
* :mod:`.members`: the archive, verified, read through the descriptors that were verified;
* :mod:`.plan`: where each CSV table goes in the reference schema, in which order;
* :mod:`.values`: CSV cells back into exact Arrow values, proven by re-encoding;
* :mod:`.joins`: the columns an export joins in from ``companies``, checked;
* :mod:`.documents`: where each document goes, and writing them;
* :mod:`.target`, :mod:`.sqlite`, :mod:`.postgres`: the databases written into.

Importing this package is light: Arrow and the database drivers load when a restore runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from offboard.restore.run import RestoreRequest, RestoreResult, restore

__all__ = ["RestoreRequest", "RestoreResult", "restore"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from offboard.restore import run

        return getattr(run, name)
    raise AttributeError(name)
