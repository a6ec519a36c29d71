"""The file task of an exporter that writes files of its own (``Exporter.files``: a FEC...).

It runs beside the table and document tasks of :mod:`offboard.pipeline`, on its own source
connection; its files go in the export folder, where the archive stage finds them with the
rest of the payload, and are described in the summary (:class:`~offboard.summary.FilesResult`)
and in ``offboard.json`` (``files``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from offboard.errors import OffboardError, OutputError
from offboard.summary import FilesResult

if TYPE_CHECKING:
    from exporters.base import Exporter
    from offboard.sources.base import Source


def export_files(
    source: Source,
    exporter: Exporter,
    account: str,
    stage: Path,
    options: dict[str, str],
    report: Callable[[str, int], None],
) -> FilesResult:
    """Run ``exporter.files`` into the export folder ``stage``; what it wrote."""
    from manifests import bag

    started = time.perf_counter()
    conn = source.clone()
    try:
        produced = exporter.files(conn, account, stage, options, lambda n: report(exporter.name, n))
    except OffboardError:
        raise
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        raise OutputError(
            f"writing the files of kind {exporter.name!r} failed: {where}{exc.strerror or exc}"
        ) from exc
    finally:
        conn.close()
    for f in produced:
        why = bag.check_relative(f.path)
        if why or not (stage / f.path).is_file():
            raise OutputError(
                f"kind {exporter.name!r} describes a file {f.path!r} it did not write in the "
                f"export folder{': ' + why if why else ''}"
            )
    return FilesResult(files=list(produced), seconds=time.perf_counter() - started)
