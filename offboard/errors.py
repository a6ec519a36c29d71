"""Errors raised by offboard, each with the exit code the command line uses.

The exception tree (every class its own exit code, listed in the README)::

    OffboardError                      exit 70  an unexpected failure (a bug: please report it)
    ├── ConfigError                    exit 2   a bad option or argument
    │   └── MappingError               exit 24  a mapping file that cannot be used (names the key)
    ├── KeyFileError                   exit 10  a key file is unreadable, malformed or locked
    │   └── WrongPassphrase            exit 21  the passphrase does not open the secret key
    ├── SourceError                    exit 3   the source cannot be opened or read
    │   ├── SourceUnavailable          exit 23  retriable: the source did not answer (retries spent)
    │   ├── SchemaError                exit 22  the source lacks a table/column we need
    │   └── UnknownAccount             exit 4   no such account in the source
    ├── ExporterError                  exit 5
    │   ├── UnknownKind                exit 5   no exporter of that name
    │   └── PluginError                exit 25  an exporter plugin is broken
    ├── RecordError                    exit 9   a record the source returned is invalid
    ├── DocumentsIncomplete            exit 6   documents missing or unreadable
    ├── OutputError                    exit 7   the output cannot be written
    │   ├── OutputExists               exit 20  the output already holds an export (--overwrite)
    │   ├── NoSpace                    exit 16  the file system is full (or over quota)
    │   └── StorageError               exit 17  an object store refused or failed a request
    │       └── UploadUnverified       exit 18  the stored object's bytes are not what was sent
    ├── ArchiveError                   exit 19  an archive cannot be read at all (missing file)
    │   └── ArchiveInvalid             exit 1   verification found problems (listed in .problems)
    ├── GateRefused                    exit 14  the termination gate refuses (the cause is named)
    │   ├── AccountLocked              exit 11  another run holds this account's lock
    │   └── ArchiveStale               exit 12  the source changed since the export (re-export)
    ├── BillingError                   exit 13  the billing backend did not terminate
    │   ├── BillingRejected            exit 26  final: the billing system refused (a 4xx)
    │   └── BillingUnavailable         exit 13  retriable: 5xx, 429, timeouts (retries exhausted)
    └── BackupIncomplete               exit 15  some accounts of a backup run failed (see report)

Exit 0 is success. Exit 8 is an interrupted run (Ctrl-C, SIGTERM): nothing is left under a
final name. Exit 2 is also click's own usage errors (an unknown option, a value out of range).

Every error is *fatal* unless its class sets ``retriable = True``: retriable errors are the
ones a retry policy may try again (a dropped connection, a locked database).

Messages name what is at fault (the file, the account, the kind, the record, the option) in one
line, so the command line can print them without a traceback; :func:`one_line` escapes what
the input brings into them (a newline or an ANSI escape in a file name, a CSV cell, an answer).
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
    NO_SPACE = 16
    STORAGE = 17
    UPLOAD_UNVERIFIED = 18
    UNREADABLE = 19
    OUTPUT_EXISTS = 20
    WRONG_PASSPHRASE = 21
    SCHEMA = 22
    SOURCE_UNAVAILABLE = 23
    MAPPING = 24
    PLUGIN = 25
    BILLING_REJECTED = 26
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

    exit_code = ExitCode.SOURCE_UNAVAILABLE

    retriable = True


class SchemaError(SourceError):
    """The source's schema lacks a table or column an exporter needs."""

    exit_code = ExitCode.SCHEMA


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

    exit_code = ExitCode.PLUGIN


class RecordError(OffboardError):
    """A record from the source does not fit the exporter's schema."""

    exit_code = ExitCode.BAD_RECORD


class DocumentsIncomplete(OffboardError):
    """Some documents were missing, unreadable or encrypted."""

    exit_code = ExitCode.DOCUMENTS_INCOMPLETE


class OutputError(OffboardError):
    """The output cannot be written."""

    exit_code = ExitCode.OUTPUT


class NoSpace(OutputError):
    """A write failed because the file system is full or the user's quota is spent."""

    exit_code = ExitCode.NO_SPACE


class OutputExists(OutputError):
    """The output folder already holds files that this export would overwrite."""

    exit_code = ExitCode.OUTPUT_EXISTS


class MappingError(ConfigError):
    """A mapping file that cannot be used; the message names the file, section and key."""

    exit_code = ExitCode.MAPPING


class KeyFileError(OffboardError):
    """A key file is missing, unreadable, malformed, or of the wrong kind."""

    exit_code = ExitCode.KEY


class WrongPassphrase(KeyFileError):
    """The passphrase given does not decrypt the secret key."""

    exit_code = ExitCode.WRONG_PASSPHRASE


class ArchiveError(OffboardError):
    """An archive (or one of its parts) cannot be opened at all."""

    exit_code = ExitCode.UNREADABLE


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

    exit_code = ExitCode.BILLING_REJECTED


class BillingUnavailable(BillingError):
    """The billing system did not answer usably (5xx, 429, timeout, reset), even after retries."""

    retriable = True


class StorageError(OutputError):
    """An object store (S3) refused or failed a request; the message names bucket and key."""

    exit_code = ExitCode.STORAGE


class UploadUnverified(StorageError):
    """The object read back by its version is not the archive that was uploaded."""

    exit_code = ExitCode.UPLOAD_UNVERIFIED


class BackupIncomplete(OffboardError):
    """A backup run finished, but one or more of its accounts failed (the report says which)."""

    exit_code = ExitCode.BACKUP_INCOMPLETE


#: errno values that mean "the file system is full" (ENOSPC) or "the quota is spent" (EDQUOT)
_NO_SPACE_ERRNOS = frozenset(
    n for n in (getattr(__import__("errno"), name, None) for name in ("ENOSPC", "EDQUOT")) if n
)


def no_space_cause(exc: BaseException) -> OSError | None:
    """The OSError saying "no space left" that caused ``exc`` (itself included), if any.

    Follows ``__cause__`` and ``__context__``, so an :class:`OutputError` raised from a full
    disk's OSError is known as one whatever its message says.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _NO_SPACE_ERRNOS:
            return current
        current = current.__cause__ or current.__context__
    return None


def exit_code_of(exc: BaseException) -> ExitCode:
    """The exit code the command line gives for ``exc``: a full disk is :data:`NO_SPACE`
    wherever it was met, any other offboard error its class's code, anything else INTERNAL."""
    if isinstance(exc, NoSpace) or no_space_cause(exc) is not None:
        return ExitCode.NO_SPACE
    if isinstance(exc, OffboardError):
        return exc.exit_code
    return ExitCode.INTERNAL


#: characters a message never shows as they are: controls (a newline, an ANSI escape), format
#: characters (bidi overrides, zero-width), surrogates (undecodable bytes of a file name),
#: private and unassigned code points, and line and paragraph separators
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(ch: str) -> str:
    short = _SHORT_ESCAPES.get(ch)
    if short is not None:
        return short
    n = ord(ch)
    if n < 0x100:
        return f"\\x{n:02x}"
    return f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"


def one_line(text: str) -> str:
    """``text`` as one line that is safe to print: each character a file name, a CSV cell or
    an API's answer could bring that would break the line or drive the terminal (a newline, an
    ANSI escape, a bidi override) is shown as its Python escape (``\\n``, ``\\x1b``,
    ``\\u202e``); everything else, accents and backslashes included, is left as it is."""
    if text.isprintable():
        return text
    import unicodedata

    return "".join(
        _escape(ch) if ch != " " and unicodedata.category(ch) in _HIDDEN else ch for ch in text
    )
