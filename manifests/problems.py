"""The problems verification can find, each a typed record with what was expected and found.

Verification never stops at the first problem: every check runs and appends to a list of
:class:`Problem` instances, so that a report shows everything wrong with an archive at once.
Each problem names the archive member (``path``, empty for the archive as a whole), what the
archive promised (``expected``) and what is there (``found``).

The ``code`` of each class is stable: it is what ``offboard verify --json`` prints and what
``docs/archive-format.md`` lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an archive."""

    code: ClassVar[str] = "problem"
    #: the member concerned (``bag/data/csv/quotes.csv``), or ``""`` for the whole archive
    path: str
    detail: str
    expected: str | None = None
    found: str | None = None
    #: the part file the problem was found in, for archives split into several parts
    part: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "part": self.part,
            "path": self.path,
            "expected": self.expected,
            "found": self.found,
            "detail": self.detail,
        }

    def __str__(self) -> str:
        where = self.path or "(archive)"
        out = f"{self.code}: {where}: {self.detail}"
        if self.expected is not None or self.found is not None:
            out += f" (expected {self.expected}, found {self.found})"
        return out


# -- the container: the zip file itself --------------------------------------------------------
@dataclass(frozen=True)
class ZipStructure(Problem):
    """The zip container is malformed: no end record, bad offsets, bytes before or after."""

    code = "zip-structure"


@dataclass(frozen=True)
class NonCanonical(Problem):
    """A header field differs from the one value the archive format allows."""

    code = "non-canonical"


@dataclass(frozen=True)
class HeaderMismatch(Problem):
    """A member's local header disagrees with its central directory entry."""

    code = "header-mismatch"


@dataclass(frozen=True)
class OverlappingMembers(Problem):
    """Two members share bytes, or bytes lie between members (a zip bomb or a splice)."""

    code = "overlap"


@dataclass(frozen=True)
class UnsafeName(Problem):
    """A member name is absolute, climbs out with ``..``, or holds a backslash or NUL."""

    code = "unsafe-name"


@dataclass(frozen=True)
class DuplicateName(Problem):
    """Two members have the same name."""

    code = "duplicate-name"


@dataclass(frozen=True)
class NameTwin(Problem):
    """Two member names differ only by Unicode normalisation (NFC/NFD) or letter case."""

    code = "name-twin"


@dataclass(frozen=True)
class SpecialMember(Problem):
    """A member is a symbolic link, a directory entry or another non-regular file."""

    code = "special-member"


@dataclass(frozen=True)
class BombSuspected(Problem):
    """A member or the archive exceeds the size, ratio or member-count bounds."""

    code = "bomb"


@dataclass(frozen=True)
class CorruptData(Problem):
    """A member's data does not decompress, or its CRC-32 or size is not the declared one."""

    code = "corrupt-data"


# -- the bag -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class BagLayout(Problem):
    """The bag lacks a required tag file, or is not under one top-level folder."""

    code = "bag-layout"


@dataclass(frozen=True)
class TagFileSyntax(Problem):
    """A tag file (bagit.txt, bag-info.txt, a manifest, offboard.json) cannot be parsed."""

    code = "tag-syntax"


@dataclass(frozen=True)
class ChecksumMismatch(Problem):
    """A file's SHA-256 is not the one its manifest lists."""

    code = "checksum-mismatch"


@dataclass(frozen=True)
class MissingFile(Problem):
    """A manifest lists a file the archive does not hold."""

    code = "missing-file"


@dataclass(frozen=True)
class UnlistedFile(Problem):
    """The archive holds a file no manifest lists."""

    code = "unlisted-file"


@dataclass(frozen=True)
class OxumMismatch(Problem):
    """Payload-Oxum (octets.files) differs from the payload present."""

    code = "oxum-mismatch"


# -- the signature -----------------------------------------------------------------------------
@dataclass(frozen=True)
class SignatureMissing(Problem):
    """The archive carries no signature of its tag manifest."""

    code = "signature-missing"


@dataclass(frozen=True)
class SignatureInvalid(Problem):
    """The signature is malformed, was made by another key, or does not match."""

    code = "signature-invalid"


@dataclass(frozen=True)
class ContextMismatch(Problem):
    """The signed trusted comment names another archive, account, format or time."""

    code = "context-mismatch"


# -- the content -------------------------------------------------------------------------------
@dataclass(frozen=True)
class RecordMismatch(Problem):
    """A CSV file's record count or money totals differ from those in offboard.json."""

    code = "record-mismatch"


@dataclass(frozen=True)
class DocumentMismatch(Problem):
    """A PDF does not open, or its pages, bytes or hash differ from offboard.json."""

    code = "document-mismatch"


@dataclass(frozen=True)
class FecInvalid(Problem):
    """A FEC breaks a rule of LPF art. A47 A-1 (line and rule named), or its figures differ
    from offboard.json."""

    code = "fec-invalid"


@dataclass(frozen=True)
class MetadataMismatch(Problem):
    """bag-info.txt, offboard.json and the signature disagree with each other."""

    code = "metadata-mismatch"


@dataclass(frozen=True)
class BrowserMismatch(Problem):
    """index.html is not the page offboard.json gives (format version 3 on)."""

    code = "browser-mismatch"


@dataclass(frozen=True)
class FacturxInvalid(Problem):
    """A Factur-X XML is missing, refused or not valid against its XSD, unlike what
    offboard.json records."""

    code = "facturx-invalid"


@dataclass(frozen=True)
class FacturxMismatch(Problem):
    """A Factur-X XML differs from its invoice's CSV row, from offboard.json, or from the
    copy embedded in its PDF."""

    code = "facturx-mismatch"


# -- split archives ----------------------------------------------------------------------------
@dataclass(frozen=True)
class RetentionMismatch(Problem):
    """The retain-until date is not what the archive's own policy gives for its tables."""

    code = "retention-mismatch"


@dataclass(frozen=True)
class MissingPart(Problem):
    """A part of a split archive is absent."""

    code = "missing-part"


@dataclass(frozen=True)
class PartMismatch(Problem):
    """A part belongs to another group, repeats a number, or holds files of another part."""

    code = "part-mismatch"


ALL_PROBLEMS: tuple[type[Problem], ...] = (
    ZipStructure,
    NonCanonical,
    HeaderMismatch,
    OverlappingMembers,
    UnsafeName,
    DuplicateName,
    NameTwin,
    SpecialMember,
    BombSuspected,
    CorruptData,
    BagLayout,
    TagFileSyntax,
    ChecksumMismatch,
    MissingFile,
    UnlistedFile,
    OxumMismatch,
    SignatureMissing,
    SignatureInvalid,
    ContextMismatch,
    RecordMismatch,
    DocumentMismatch,
    FecInvalid,
    MetadataMismatch,
    FacturxInvalid,
    FacturxMismatch,
    RetentionMismatch,
    BrowserMismatch,
    MissingPart,
    PartMismatch,
)
