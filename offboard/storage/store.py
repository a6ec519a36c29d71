"""Export an account's archive into a destination: :func:`export_to`.

For a folder, the archive is written beside its final name and renamed (the pipeline's own
way). For S3, the export's working files (the staging folder, the documents spool and tables
pack) are in a private temporary folder; the archive's parts are written straight into S3
multipart uploads, without a local copy of the archive, and completed together once every part
is written. Each part is then read back by its VersionId, its bytes compared with what was
sent, and the archive verified from the bytes read back, against the signing key's public key
(:mod:`offboard.storage.s3`).
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from offboard.storage import Destination

if TYPE_CHECKING:
    from manifests.build import ArchiveOptions
    from offboard.pipeline import ExportOptions, ProgressFn
    from offboard.resume import ResumeState
    from offboard.sources.base import Source
    from offboard.summary import ExportSummary

__all__ = ["export_out", "export_to"]


def export_out(
    source: Source,
    account: str,
    out_text: str,
    options: ExportOptions,
    archive: ArchiveOptions | None,
    progress: ProgressFn | None = None,
    recipients: list[Any] | None = None,
    resume: ResumeState | None = None,
    **store_options: Any,
) -> ExportSummary:
    """Export ``account`` to ``--out`` as given: an S3 URL or an encrypted archive through
    :func:`export_to`, else the folder or ``NAME.zip`` at that path."""
    from offboard.storage import is_s3_url, open_destination, split_archive_url

    if is_s3_url(out_text) or recipients:
        assert archive is not None, "an S3 destination or an encrypted one takes an archive"
        folder, name = split_archive_url(out_text)
        destination = open_destination(folder)
        return export_to(
            source,
            account,
            destination,
            name,
            options,
            archive,
            progress,
            recipients,
            resume,
            **store_options,
        )
    from offboard.pipeline import export_account

    return export_account(source, account, Path(out_text), options, progress, archive, resume)


def export_to(
    source: Source,
    account: str,
    destination: Destination,
    name: str,
    options: ExportOptions,
    archive: ArchiveOptions,
    progress: ProgressFn | None = None,
    recipients: list[Any] | None = None,
    resume: ResumeState | None = None,
    **store_options: Any,
) -> ExportSummary:
    """Export ``account`` as the archive ``name`` (``NAME.zip``) of ``destination``.

    ``store_options`` are the destination's (for S3: lock, retain_until, legal_hold, sse,
    kms_key_id). ``recipients``: encrypt the archive to these age recipients
    (:mod:`manifests.encryption`). The summary's ``out`` and ``archive.locations`` name where
    it went. Raises
    like :func:`offboard.pipeline.export_account`; :class:`DocumentsIncomplete` only after
    the archive is stored.
    """
    from manifests.encryption import sealed_name
    from offboard.errors import DocumentsIncomplete
    from offboard.pipeline import export_account
    from offboard.storage.local import LocalDestination

    target: Any = destination.target(name, **store_options)
    if recipients:
        from manifests.encryption import EncryptingParts

        if archive.sign_key is None:
            from offboard.errors import ConfigError

            raise ConfigError("an encrypted archive must be signed: give --sign-key")
        target = EncryptingParts(target, recipients, archive.sign_key)
    elif archive.sign_key is not None and hasattr(target, "verify_with"):
        target.verify_with(archive.sign_key.public_key)
    stored = sealed_name(name) if recipients else name
    # a taken name is refused before the export, not after it (the archive stage checks again)
    planned = destination.path(name) if isinstance(destination, LocalDestination) else Path(name)
    target.check(planned, [planned], archive.overwrite)
    if isinstance(destination, LocalDestination):
        archive = dataclasses.replace(archive, target=target)
        try:
            summary = export_account(
                source, account, destination.path(name), options, progress, archive, resume
            )
        except DocumentsIncomplete as exc:
            _relocate(exc.summary, destination, stored)  # type: ignore[attr-defined]
            raise
        _relocate(summary, destination, stored)
        return summary
    work = Path(tempfile.mkdtemp(prefix="offboard-store-"))
    try:
        try:
            summary = export_account(
                source,
                account,
                work / name,
                options,
                progress,
                dataclasses.replace(archive, target=target),
                resume,
            )
        except DocumentsIncomplete as exc:
            _relocate(exc.summary, destination, stored)  # type: ignore[attr-defined]
            raise
        _relocate(summary, destination, stored)
        return summary
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _relocate(summary: ExportSummary, destination: Destination, name: str) -> None:
    summary.out = destination.describe(name)
