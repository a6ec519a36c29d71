"""The outcome of an export: what was written, how much, how long, and what went wrong."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from exporters.base import ProducedFile
    from offboard.documents import DocumentProblem, KindDocuments


@dataclass
class TableResult:
    kind: str
    table: str
    path: str
    rows: int
    bytes: int
    seconds: float
    #: money column -> currency -> exact total
    totals: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    #: document numbering (see :mod:`offboard.csvio.numbering`), for tables with numbers
    numbering: dict[str, Any] | None = None
    #: earliest and latest date in the table's date columns
    period: tuple[str, str] | None = None
    #: the latest ``updated_at`` (else ``created_at``) of its records, ISO UTC
    last_change: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "table": self.table,
            "path": self.path,
            "records": self.rows,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "totals": {
                col: {cur: f"{amount:.2f}" for cur, amount in sorted(by_cur.items())}
                for col, by_cur in self.totals.items()
            },
            "numbering": self.numbering,
            "period": list(self.period) if self.period else None,
            "last_change": self.last_change,
        }


@dataclass
class FilesResult:
    """The files an exporter wrote of its own (``Exporter.files``), and how long it took."""

    files: list[ProducedFile]
    seconds: float

    @property
    def bytes(self) -> int:
        return sum(f.bytes for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 3),
            "files": [
                {
                    "kind": f.kind,
                    "path": f.path,
                    "records": f.records,
                    "bytes": f.bytes,
                    "sha256": f.sha256,
                    "facts": f.facts,
                }
                for f in self.files
            ],
        }


@dataclass
class KindResult:
    kind: str
    title: str
    tables: list[TableResult] = field(default_factory=list)
    documents: KindDocuments | None = None
    #: the exporter's own files (a FEC...), for exporters that write some
    files: FilesResult | None = None

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)

    @property
    def bytes(self) -> int:
        extra = (self.documents.bytes if self.documents else 0) + (
            self.files.bytes if self.files else 0
        )
        return sum(t.bytes for t in self.tables) + extra

    @property
    def seconds(self) -> float:
        docs = self.documents.seconds if self.documents else 0.0
        files = self.files.seconds if self.files else 0.0
        return sum(t.seconds for t in self.tables) + docs + files


@dataclass
class ExportSummary:
    source: str
    account: str
    account_name: str
    out: str
    dialect: str
    started_at: str
    seconds: float = 0.0
    kinds: list[KindResult] = field(default_factory=list)
    #: what was written when the export went into a signed archive (a manifests ArchiveResult)
    archive: Any = None

    @property
    def problems(self) -> list[DocumentProblem]:
        found: list[DocumentProblem] = []
        for k in self.kinds:
            if k.documents is not None:
                found.extend(k.documents.problems)
        return found

    def rows(self) -> list[dict[str, Any]]:
        """One row per table and per document set: the summary table."""
        out: list[dict[str, Any]] = []
        for k in self.kinds:
            for t in k.tables:
                out.append(
                    {
                        "kind": k.kind,
                        "table": t.table,
                        "records": t.rows,
                        "documents": None,
                        "bytes": t.bytes,
                        "seconds": t.seconds,
                    }
                )
            if k.documents is not None:
                d = k.documents
                out.append(
                    {
                        "kind": k.kind,
                        "table": "documents",
                        "records": None,
                        "documents": len(d.documents),
                        "bytes": d.bytes,
                        "seconds": d.seconds,
                    }
                )
            if k.files is not None:
                share = k.files.seconds / max(1, len(k.files.files))  # one task wrote them all
                for f in k.files.files:
                    out.append(
                        {
                            "kind": k.kind,
                            "table": f.path,
                            "records": f.records,
                            "documents": None,
                            "bytes": f.bytes,
                            "seconds": share,
                        }
                    )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "account": self.account,
            "account_name": self.account_name,
            "out": self.out,
            "dialect": self.dialect,
            "started_at": self.started_at,
            "seconds": round(self.seconds, 3),
            "kinds": [
                {
                    "kind": k.kind,
                    "title": k.title,
                    "tables": [t.to_dict() for t in k.tables],
                    "documents": None
                    if k.documents is None
                    else {
                        "count": len(k.documents.documents),
                        "bytes": k.documents.bytes,
                        "bundles": k.documents.bundles,
                        "bundle_pages": k.documents.bundle_pages,
                        "seconds": round(k.documents.seconds, 3),
                    },
                    "files": None if k.files is None else k.files.to_dict(),
                }
                for k in self.kinds
            ],
            "problems": [p.to_dict() for p in self.problems],
            "archive": None
            if self.archive is None
            else {
                "archive_id": self.archive.archive_id,
                "parts": self.archive.locations or [str(p) for p in self.archive.paths],
                "part_bytes": self.archive.part_bytes,
                "files": self.archive.files,
                "payload_bytes": self.archive.payload_bytes,
                "archive_bytes": self.archive.archive_bytes,
                "seconds": round(self.archive.seconds, 3),
            },
        }
