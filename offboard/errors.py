"""Errors raised by offboard, each with the exit code the command line uses.

The exception tree::

    OffboardError                      exit 70 unless a subclass says otherwise
    ├── ConfigError                    exit 2   a bad option or argument
    │   └── MappingError               exit 2   a mapping file that cannot be used (names the key)
    ├── KeyFileError                   exit 10  a key file is unreadable, malformed or locked
    │   └── WrongPassphrase            exit 10  the passphrase does not open the secret key
    ├── SourceError                    exit 3   the source cannot be opened or read
    │   ├── SourceUnavailable          exit 3   retriable: the source may answer later
    │   ├── SchemaError                exit 3   the source lacks a table/column we need
    │   └── UnknownAccount             exit 4   no such account in the source
    ├── ExporterError                  exit 5
    │   ├── UnknownKind                exit 5   no exporter of that name
    │   └── PluginError                exit 5   an exporter plugin is broken
    ├── RecordError                    exit 9   a record the source returned is invalid
    ├── DocumentsIncomplete            exit 6   documents missing or unreadable
    ├── OutputError                    exit 7   the output cannot be written
    │   └── OutputExists               exit 7   the output folder already holds an export
    ├── ArchiveError                   exit 2   an archive cannot be read at all (missing file)
    │   └── ArchiveInvalid             exit 1   verification found problems (listed in .problems)
    ├── GateRefused                    exit 14  the termination gate refuses (the cause is named)
    │   ├── AccountLocked              exit 11  another run holds this account's lock
    │   └── ArchiveStale               exit 12  the source changed since the export (re-export)
    ├── BillingError                   exit 13  the billing backend did not terminate
    │   ├── BillingRejected            exit 13  final: the billing system refused (a 4xx)
    │   └── BillingUnavailable         exit 13  retriable: 5xx, 429, timeouts (retries exhausted)
    ├── StorageError                   exit 7   an object store refused or failed a request
    │   └── UploadUnverified           exit 7   the stored object's bytes are not what was sent
    └── BackupIncomplete               exit 15  some accounts of a backup run failed (see report)

Every error is *fatal* unless its class sets ``retriable = True``: retriable errors are the
ones a retry policy may try again (a dropped connection, a locked database).

Messages name what is at fault (the file, the account, the kind, the record, the option) in one
line, so the command line can print them without a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes of the ``offboard`` command (documented in the README)."""

    OK = 0
    INVALID = 1
    USAGE = 2
    SOURCE = 3
    UNKNOWN_ACCOUNT = 4
    UNKNOWN_KIND = 5
    DOCUMENTS_INCOMPLETE = 6
    OUTPUT = 7
    INTERRUPTED = 8
    BAD_RECORD = 9
    KEY = 10
    LOCKED = 11
    STALE = 12
    BILLING = 13
    REFUSED = 14
    BACKUP_INCOMPLETE = 15
    INTERNAL = 70


class OffboardError(Exception):
    """Base class of every error offboard raises on purpose."""

    exit_code: ExitCode = ExitCode.INTERNAL
    retriable: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(OffboardError):
    """A command-line option, argument or configuration value is invalid."""

    exit_code = ExitCode.USAGE


class SourceError(OffboardError):
    """The source cannot be opened or read."""

    exit_code = ExitCode.SOURCE


class SourceUnavailable(SourceError):
    """The source did not answer now but may later (locked, connection dropped)."""

    retriable = True


class SchemaError(SourceError):
    """The source's schema lacks a table or column an exporter needs."""


class UnknownAccount(SourceError):
    """The account does not exist in the source."""

    exit_code = ExitCode.UNKNOWN_ACCOUNT

    def __init__(self, account: str, known: list[str] | None = None) -> None:
        hint = ""
        if known:
            shown = ", ".join(known[:5]) + (", ..." if len(known) > 5 else "")
            hint = f" (accounts in this source: {shown})"
        super().__init__(f"account {account!r} not found in the source{hint}")
        self.account = account


class ExporterError(OffboardError):
    """An exporter is unknown or broken."""

    exit_code = ExitCode.UNKNOWN_KIND


class UnknownKind(ExporterError):
    """No exporter is registered under that name."""

    def __init__(self, kind: str, known: list[str]) -> None:
        super().__init__(f"unknown kind {kind!r} (known kinds: {', '.join(known)})")
        self.kind = kind


class PluginError(ExporterError):
    """An exporter plugin could not be loaded or declares an invalid contract."""


class RecordError(OffboardError):
    """A record from the source does not fit the exporter's schema."""

    exit_code = ExitCode.BAD_RECORD


class DocumentsIncomplete(OffboardError):
    """Some documents were missing, unreadable or encrypted."""

    exit_code = ExitCode.DOCUMENTS_INCOMPLETE


class OutputError(OffboardError):
    """The output cannot be written."""

    exit_code = ExitCode.OUTPUT


class OutputExists(OutputError):
    """The output folder already holds files that this export would overwrite."""


class MappingError(ConfigError):
    """A mapping file that cannot be used; the message names the file, section and key."""


class KeyFileError(OffboardError):
    """A key file is missing, unreadable, malformed, or of the wrong kind."""

    exit_code = ExitCode.KEY


class WrongPassphrase(KeyFileError):
    """The passphrase given does not decrypt the secret key."""


class ArchiveError(OffboardError):
    """An archive (or one of its parts) cannot be opened at all."""

    exit_code = ExitCode.USAGE


class ArchiveInvalid(ArchiveError):
    """Verification found problems; ``problems`` lists every one of them."""

    exit_code = ExitCode.INVALID

    def __init__(self, message: str, problems: Sequence[object] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


class GateRefused(OffboardError):
    """The termination gate will not end this subscription; the message names the cause."""

    exit_code = ExitCode.REFUSED


class AccountLocked(GateRefused):
    """Another run holds the account's termination lock."""

    exit_code = ExitCode.LOCKED
    retriable = True


class ArchiveStale(GateRefused):
    """Records were created, changed or deleted since the archive was made."""

    exit_code = ExitCode.STALE

    def __init__(self, message: str, changes: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.changes = list(changes)


class BillingError(OffboardError):
    """The billing backend did not terminate the subscription."""

    exit_code = ExitCode.BILLING


class BillingRejected(BillingError):
    """The billing system refused the request (final: retrying cannot help)."""


class BillingUnavailable(BillingError):
    """The billing system did not answer usably (5xx, 429, timeout, reset), even after retries."""

    retriable = True


class StorageError(OutputError):
    """An object store (S3) refused or failed a request; the message names bucket and key."""


class UploadUnverified(StorageError):
    """The object read back by its version is not the archive that was uploaded."""


class BackupIncomplete(OffboardError):
    """A backup run finished, but one or more of its accounts failed (the report says which)."""

    exit_code = ExitCode.BACKUP_INCOMPLETE
