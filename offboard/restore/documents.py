"""The documents of a restore: where each one goes, and writing them there.

Every record that had a document in the source gets a locator (its ``pdf_path``) under the
documents folder, laid out as the demo lays it out: ``invoices/<account>/<number>.pdf``,
``quotes/...``, ``purchases/...``, ``billing/...``. Names are made here, from the document
numbers through :func:`offboard.documents.names.safe_file_name` and a
:class:`~offboard.documents.names.NameAllocator` per kind; a name read from the archive is
only ever used to find a member in it, never as a path to write. If another account already
uses ``<folder>/<account>/`` the restore takes ``<account>~2``, and so on.

The records the archive lists as problems keep a locator too. A problem whose bytes the
archive kept (``documents/<kind>/_problems/``: encrypted, not a PDF, unreadable) is written
there as it was; one without bytes (``missing``, too large...) gets a locator to a file that
does not exist, so that an export of the restored database reports it again.

:class:`DocumentWriter` writes the files into hidden folders beside their final ones and
renames them into place in :meth:`~DocumentWriter.publish`; :meth:`~DocumentWriter.rollback`
removes whatever it wrote.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from manifests.paths import is_plain
from offboard.documents.names import COLLISION_MARK, NameAllocator, safe_file_name
from offboard.errors import ArchiveError, OutputError
from offboard.fsutil import fsync_dir

if TYPE_CHECKING:
    from offboard.restore.members import VerifiedArchive

#: document kind -> its folder under the documents root (the demo's layout)
FOLDERS = {
    "sales_invoices": "invoices",
    "quotes": "quotes",
    "purchases": "purchases",
    "billing_history": "billing",
}
#: problem reasons given before a document gets a name in the export (no bytes were read)
NO_BYTES = (
    "missing",
    "no document",
    "unsafe locator",
    "larger than",
    "no documents folder",
    "its URL is on another host",
    "cannot be downloaded",
)
_PROBLEM_FILE = re.compile(r"(?P<stem>[^/~]+)(?:~(?P<n>[0-9]+))?\.pdf")


@dataclass(frozen=True)
class Placed:
    """One record's document: where it goes, and the archive member holding its bytes."""

    kind: str
    record_id: str
    number: str
    #: relative to the documents root, with ``/``
    locator: str
    #: the payload path of its bytes, or None when the archive has none (a problem)
    member: str | None


@dataclass
class DocumentPlan:
    account_folder: str
    placed: list[Placed] = field(default_factory=list)
    #: what could not be placed exactly, for the summary
    notes: list[str] = field(default_factory=list)

    def locators(self, kind: str) -> dict[str, str]:
        return {p.record_id: p.locator for p in self.placed if p.kind == kind}

    @property
    def files(self) -> list[Placed]:
        return [p for p in self.placed if p.member is not None]


def plan_documents(
    documents: list[dict[str, Any]],
    problems: list[dict[str, Any]],
    payload: Iterable[str],
    account: str,
    kinds: set[str],
    root: Path | None,
) -> DocumentPlan:
    """Place every document and problem of the archive (``kinds``: the document kinds whose
    tables the archive holds; ``payload``: its payload paths; ``root``: the documents folder,
    to avoid the account folders other accounts use)."""
    plan = DocumentPlan(_account_folder(account, root))
    names = {kind: NameAllocator() for kind in FOLDERS}
    seen: set[tuple[str, str]] = set()

    def place(kind: str, record_id: str, number: str, member: str | None) -> None:
        if kind not in kinds or kind not in FOLDERS:
            raise ArchiveError(f"document {number!r} is of kind {kind!r}, whose table is absent")
        if not record_id or (kind, record_id) in seen:
            raise ArchiveError(f"{kind} record {record_id!r} has more than one document")
        seen.add((kind, record_id))
        stem = names[kind].allocate(number)
        locator = f"{FOLDERS[kind]}/{plan.account_folder}/{stem}.pdf"
        plan.placed.append(Placed(kind, record_id, number, locator, member))

    files = set(payload)
    for doc in documents:
        kind, path = str(doc["kind"]), str(doc["path"])
        if not _is_document_path(path, kind) or path not in files:
            raise ArchiveError(f"document path {path!r} is not a file of kind {kind!r}")
        place(kind, str(doc["record_id"]), str(doc["number"]), path)
    # a Factur-X problem is about a document the archive holds (placed above), not another one
    problems = [p for p in problems if not str(p.get("reason", "")).startswith(FACTURX_PROBLEM)]
    matched = _problem_files(problems, files, plan.notes)
    for i, problem in enumerate(problems):
        place(str(problem["kind"]), str(problem["record_id"]), str(problem["number"]), matched[i])
    return plan


#: how the reasons of Factur-X problems start (offboard.facturx.checks.Issue.problem)
FACTURX_PROBLEM = "factur-x: "


def _is_document_path(path: str, kind: str) -> bool:
    prefix = f"data/documents/{kind}/"
    name = path[len(prefix) :]
    return path.startswith(prefix) and "/" not in name and name.endswith(".pdf") and is_plain(path)


def _account_folder(account: str, root: Path | None) -> str:
    """``safe(account)``, or ``safe(account)~N`` when another account's files use it."""
    base = safe_file_name(account)
    name, n = base, 1
    while root is not None and any((root / f / name).exists() for f in FOLDERS.values()):
        n += 1
        name = f"{base}{COLLISION_MARK}{n}"
    return name


def _problem_files(
    problems: list[dict[str, Any]], files: set[str], notes: list[str]
) -> dict[int, str | None]:
    """The member holding each problem's bytes (by index in ``problems``), or None.

    The export names a kept problem file like any document of its kind: ``<safe number>``,
    ``~2``, ``~3``... in the order of the documents. Problems with the same safe name are
    matched to their files in that order.
    """
    kept: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for path in files:
        parts = path.split("/")
        if len(parts) != 5 or parts[:2] != ["data", "documents"] or parts[3] != "_problems":
            continue
        m = _PROBLEM_FILE.fullmatch(parts[4])
        if m is None or not is_plain(path):
            notes.append(f"{path}: not a name offboard gives a kept document; left out")
            continue
        key = (parts[2], m["stem"].lower())
        kept.setdefault(key, []).append((int(m["n"] or 1), path))
    groups: dict[tuple[str, str], list[int]] = {}
    for i, p in enumerate(problems):
        key = (str(p["kind"]), safe_file_name(str(p["number"])).lower())
        groups.setdefault(key, []).append(i)
    matched: dict[int, str | None] = dict.fromkeys(range(len(problems)))
    for key, members in groups.items():
        paths = [path for _, path in sorted(kept.pop(key, []))]
        if len(paths) != len(members):
            members = [i for i in members if not str(problems[i]["reason"]).startswith(NO_BYTES)]
        if len(paths) == len(members):
            matched.update(zip(members, paths, strict=True))
        elif paths:
            notes.append(
                f"{len(paths)} kept problem document(s) of {key[0]} named like "
                f"{problems[members[0]]['number']!r} cannot be told apart; restored without them"
            )
    for (kind, _), left in sorted(kept.items()):
        notes.extend(f"{path}: no problem of {kind} names it; left out" for _, path in left)
    return matched


class DocumentWriter:
    """Write a plan's files under ``root``, in hidden folders until :meth:`publish`."""

    def __init__(self, root: Path, plan: DocumentPlan) -> None:
        self.root = root
        self.plan = plan
        self.written = 0
        self.bytes = 0
        folders = sorted({p.locator.split("/", 1)[0] for p in plan.files})
        self._final = {f: root / f / plan.account_folder for f in folders}
        pid = os.getpid()
        self._stage = {f: root / f / f".{plan.account_folder}.restore-{pid}" for f in folders}
        #: folders this writer made (removed by a rollback if they are empty again)
        self._made: list[Path] = []
        self._published: list[Path] = []

    def write(self, archive: VerifiedArchive, progress: Callable[[int], None] | None) -> None:
        """Write every file of the plan, each checked against the archive's manifest."""
        if not self._stage:
            return
        try:
            for folder, stage in self._stage.items():
                self._make(self.root / folder)
                if stage.exists():  # left by a process of the same id that was killed
                    shutil.rmtree(stage)
                stage.mkdir()
            for placed in self.plan.files:
                assert placed.member is not None
                folder, _, name = placed.locator.split("/", 2)
                path = self._stage[folder] / name
                if path.parent != self._stage[folder]:  # cannot happen with safe names
                    raise ValueError(f"document name {name!r} leaves its folder")
                with path.open("xb") as fh:
                    self.bytes += archive.copy(placed.member, fh)
                self.written += 1
                if progress is not None:
                    progress(1)
        except OSError as exc:
            raise OutputError(f"cannot write the documents under {self.root}: {exc}") from exc

    def publish(self) -> None:
        """Give every folder written its final name (after syncing what was written)."""
        if not self._stage:
            return
        os.sync()
        try:
            for folder, stage in self._stage.items():
                os.rename(stage, self._final[folder])
                self._published.append(self._final[folder])
                fsync_dir(self.root / folder)
        except OSError as exc:
            raise OutputError(f"cannot put the documents in place: {exc}") from exc

    def rollback(self) -> None:
        """Remove everything written, published or not, and the folders made for it."""
        for path in [*self._stage.values(), *self._published]:
            shutil.rmtree(path, ignore_errors=True)
        for path in reversed(self._made):
            with contextlib.suppress(OSError):  # not empty: someone else's files are there
                path.rmdir()

    def _make(self, folder: Path) -> None:
        missing = [p for p in (folder, *folder.parents) if not p.exists()]
        for path in reversed(missing):
            path.mkdir()
            self._made.append(path)
