"""The archive a restore reads: verified in full first, then read through the same descriptors.

:class:`VerifiedArchive` opens every part once, runs :func:`manifests.verify.verify_archive` on
those file descriptors, and refuses the archive (:class:`RestoreRefused`, exit 1, with the
verifier's report) unless it is valid. The restore then reads the members through the very
descriptors that were verified, and hashes each member again as it streams it: a byte changed
in place after the check (the same file rewritten) is caught before the restore commits.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, BinaryIO

from offboard.errors import ArchiveError, ArchiveInvalid

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

    from manifests.signing import PublicKey
    from manifests.verify import VerifyReport
    from manifests.zipfmt import ZipEntry, ZipReader

CHUNK = 1 << 20


class RestoreRefused(ArchiveInvalid):
    """The archive did not verify; ``report`` is the verifier's, with every problem."""

    def __init__(self, message: str, report: VerifyReport) -> None:
        super().__init__(message, report.problems)
        self.report = report


class ArchiveChanged(ArchiveInvalid):
    """A member read during the restore is not the one that was verified."""


class VerifiedArchive:
    """A verified archive (a context manager): its metadata and its payload members."""

    def __init__(self, path: Path, pubkey: PublicKey | None, *, allow_unsigned: bool) -> None:
        self.path = path
        self.pubkey = pubkey
        self.allow_unsigned = allow_unsigned
        self._fds: dict[Path, int] = {}
        self._readers: list[ZipReader] = []
        self._members: dict[str, tuple[ZipReader, ZipEntry]] = {}
        self.report: VerifyReport | None = None

    def __enter__(self) -> VerifiedArchive:
        try:
            self._open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _open(self) -> None:
        from manifests.verify import find_parts, verify_archive
        from manifests.zipfmt import ZipReader

        if not self.path.is_file():
            raise ArchiveError(f"archive {str(self.path)!r} not found or not a file")
        parts, _ = find_parts(self.path)
        for part in parts:
            try:
                self._fds[part] = os.open(part, os.O_RDONLY)
            except OSError as exc:
                raise ArchiveError(f"cannot read {str(part)!r}: {exc.strerror or exc}") from exc
        report = verify_archive(
            self.path, self.pubkey, allow_unsigned=self.allow_unsigned, opened=self._fds
        )
        self.report = report
        if not report.valid or report.metadata is None:
            first = report.problems[0] if report.problems else "no offboard.json"
            raise RestoreRefused(
                f"archive {report.archive!r} refused: it does not verify, nothing was restored "
                f"({len(report.problems)} problem(s); first: {first})",
                report,
            )
        for part, fd in self._fds.items():
            reader = ZipReader(part, fd=fd)
            self._readers.append(reader)
            for entry in reader.entries:
                rel = entry.name.split("/", 1)[1] if "/" in entry.name else entry.name
                if rel in report.manifest:
                    self._members[rel] = (reader, entry)

    def close(self) -> None:
        for reader in self._readers:
            reader.close()
        self._readers.clear()
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    # -- what was verified ------------------------------------------------------------------
    @property
    def metadata(self) -> dict[str, Any]:
        assert self.report is not None and self.report.metadata is not None
        return self.report.metadata

    @property
    def documents(self) -> list[dict[str, Any]]:
        """Every document ``offboard.json`` lists, in all parts."""
        assert self.report is not None
        return self.report.documents

    def payload(self) -> list[str]:
        """Every payload path (``data/...``), in all parts."""
        return sorted(self._members)

    def has(self, path: str) -> bool:
        return path in self._members

    def size(self, path: str) -> int:
        return self._entry(path)[1].size

    # -- reading ----------------------------------------------------------------------------
    def open(self, path: str) -> MemberStream:
        """A stream of the member ``path``; call :meth:`MemberStream.finish` after reading."""
        reader, entry = self._entry(path)
        assert self.report is not None
        return MemberStream(reader.iter_data(entry, CHUNK), path, self.report.manifest[path])

    def copy(self, path: str, into: BinaryIO) -> int:
        """Write the member ``path`` to ``into``, checked against the manifest; its size."""
        stream = self.open(path)
        while chunk := stream.read(CHUNK):
            into.write(chunk)
        stream.finish()
        return stream.size

    def _entry(self, path: str) -> tuple[ZipReader, ZipEntry]:
        try:
            return self._members[path]
        except KeyError:
            raise ArchiveError(f"the archive holds no file {path!r}") from None


class MemberStream(io.RawIOBase):
    """The bytes of one member, hashed on the way; :meth:`finish` checks them."""

    def __init__(self, chunks: Iterator[bytes], path: str, sha256: str) -> None:
        super().__init__()
        self.path = path
        self.size = 0
        #: the error met while reading, if any (a reader such as Arrow may wrap it)
        self.error: BaseException | None = None
        self._chunks = chunks
        self._expected = sha256
        self._digest = hashlib.sha256()
        self._buffer = b""
        self._eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        with memoryview(buffer) as view, view.cast("B") as into:
            while not self._buffer and not self._eof:
                try:
                    chunk = next(self._chunks)
                except StopIteration:
                    self._eof = True
                except Exception as exc:  # CorruptDataError: not the bytes that were verified
                    self.error = exc
                    raise _changed(self.path, str(exc)) from exc
                else:
                    self._digest.update(chunk)
                    self.size += len(chunk)
                    self._buffer = chunk
            n = min(len(into), len(self._buffer))
            into[:n] = self._buffer[:n]
            self._buffer = self._buffer[n:]
            return n

    def finish(self) -> None:
        """Raise unless the whole member was read and is the one that was verified."""
        if self.error is not None:
            raise _changed(self.path, str(self.error)) from self.error
        if not self._eof or self._buffer:
            raise ArchiveError(f"{self.path}: not read to its end")
        if self._digest.hexdigest() != self._expected:
            raise _changed(self.path, "its SHA-256 is not the verified one")


def _changed(path: str, why: str) -> ArchiveChanged:
    return ArchiveChanged(
        f"{path} changed after the archive was verified ({why}); nothing was restored"
    )
