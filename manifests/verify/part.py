"""Verify one part (one zip, one bag): container, tag files, signature, payload, content.

Every check runs and records its problems; nothing stops at the first one, except that a
member whose bytes cannot be located is not read.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from manifests import bag
from manifests import problems as P
from manifests.build import trusted_comment
from manifests.metadata import DATA, shared_digest
from manifests.verify.bounds import METADATA_BUDGET, parse_cost, scale, tag_limit
from manifests.verify.layout import layout_problems, signature_problems
from manifests.verify.shape import parse_time, shape_problems

if TYPE_CHECKING:
    from manifests.signing import PublicKey
    from manifests.verify.tables import TableLane
    from manifests.verify.worker import DocWorker
    from manifests.zipfmt import Limits, ZipEntry, ZipReader

REQUIRED = (bag.BAGIT, bag.BAG_INFO, bag.METADATA, bag.MANIFEST, bag.TAGMANIFEST)
_DATA_PREFIX = f"{DATA}/"
#: PDFs in a part from which, by default, a worker process checks the documents
WORKER_MIN_DOCS = 500


@dataclass
class PartResult:
    path: Path
    problems: list[P.Problem] = field(default_factory=list)
    metadata: dict[str, Any] | None = None
    metadata_sha256: str | None = None
    #: what must be the same in every part of one archive: the SHA-256 of ``offboard.json``
    #: (format version 1) or of its shared sections (version 2)
    shared_sha256: str | None = None
    info: list[tuple[str, str]] = field(default_factory=list)
    #: payload paths (``data/...``) found in the manifest, with their SHA-256
    listed: dict[str, str] = field(default_factory=dict)
    #: the first and the last of them, in the order of their UTF-8 bytes
    first_path: str | None = None
    last_path: str | None = None
    number: int | None = None
    count: int | None = None
    signed_by: str | None = None
    trusted_comment: str | None = None
    files: int = 0
    bytes: int = 0


class PartVerifier:
    def __init__(
        self,
        path: Path,
        pubkey: PublicKey | None,
        *,
        fast: bool,
        allow_unsigned: bool,
        limits: Limits,
        doc_worker: bool | None = None,
        fd: int | None = None,
    ) -> None:
        self.path = path
        self.fd = fd
        #: check documents in a worker process: True, False, or None (when there are many)
        self.doc_worker = doc_worker
        self.worker: DocWorker | None = None
        self.tables: TableLane | None = None
        self.pubkey = pubkey
        self.fast = fast
        self.allow_unsigned = allow_unsigned
        self.limits = limits
        self.result = PartResult(path)

    # -- helpers ---------------------------------------------------------------------------
    def problem(self, kind: type[P.Problem], path: str, detail: str, **kw: Any) -> None:
        self.result.problems.append(kind(path=path, detail=detail, part=self.path.name, **kw))

    def read_tag(self, reader: ZipReader, entry: ZipEntry, rel: str) -> bytes | None:
        from manifests.zipfmt import CorruptDataError

        most = tag_limit(self.limits, rel)
        if entry.size > most:
            self.problem(
                P.BombSuspected,
                rel,
                "tag file too large",
                expected=str(most),
                found=str(entry.size),
            )
            return None
        try:
            return reader.read(entry, most)
        except CorruptDataError as exc:
            self.result.problems.append(_in_part(exc.problem, self.path.name))
            return None

    # -- the whole part --------------------------------------------------------------------
    def run(self) -> PartResult:
        from manifests.zipfmt import ZipReader

        with ZipReader(self.path, limits=self.limits, fd=self.fd) as reader:
            for p in reader.problems:
                self.result.problems.append(_in_part(p, self.path.name))
            members = self._members(reader)
            if members is None:
                return self.result
            self.worker = self._start_worker(reader, members)
            try:
                self._check(reader, members)
            finally:
                if self.worker is not None:
                    self.worker.cancel()
        return self.result

    def _start_worker(self, reader: ZipReader, members: dict[str, ZipEntry]) -> DocWorker | None:
        """A worker process for the documents, started now so that it is ready when they are."""
        if self.fast or self.doc_worker is False or not hasattr(os, "fork"):
            return None
        from manifests.verify.docs import DocItem

        # members are in file order: so are the early items
        early = [
            DocItem(rel, e, "", None)
            for rel, e in members.items()
            if rel.endswith(".pdf") and rel.startswith(_DATA_PREFIX)
        ]
        if self.doc_worker is None and len(early) < WORKER_MIN_DOCS:
            return None
        from manifests.verify.worker import DocWorker

        return DocWorker(reader.fileno(), early)

    def _check(self, reader: ZipReader, members: dict[str, ZipEntry]) -> None:
        tags = {}
        for rel in (*REQUIRED, bag.BROWSER, bag.SIGNATURE):
            entry = members.get(rel)
            if entry is None:
                if rel == bag.BROWSER:
                    continue  # required from format version 3 on: see _browser
                if rel == bag.SIGNATURE:
                    if not self.allow_unsigned:
                        self.problem(P.SignatureMissing, rel, "the archive is not signed")
                else:
                    self.problem(P.BagLayout, rel, "required tag file missing")
                continue
            data = self.read_tag(reader, entry, rel)
            if data is not None:
                tags[rel] = data
        metadata = self._metadata(tags.get(bag.METADATA))
        if metadata is not None and not self.fast:
            self.tables = _start_tables(reader, members, metadata)
        self._tagmanifest(tags, members, metadata)
        tags.pop(bag.METADATA, None)  # parsed and hashed: its bytes are let go
        self._browser(tags.pop(bag.BROWSER, None), metadata, members)
        self._bagit(tags)
        self._info(tags.get(bag.BAG_INFO), metadata, members, reader)
        self._signature(tags, metadata)
        self._payload(reader, members, tags, metadata)
        self._contents(metadata, members)

    def _members(self, reader: ZipReader) -> dict[str, ZipEntry] | None:
        tops = {e.name.split("/", 1)[0] for e in reader.entries}
        if not reader.entries:
            if not reader.problems:
                self.problem(P.BagLayout, "", "the archive holds no files")
            return None
        if len(tops) != 1:
            self.problem(
                P.BagLayout,
                "",
                "the archive must hold one top-level folder",
                expected="1",
                found=", ".join(sorted(tops))[:300],
            )
            return None
        top = next(iter(tops))
        members: dict[str, ZipEntry] = {}
        in_order: list[tuple[str, ZipEntry]] = []
        for e in reader.entries:
            rel = e.name.split("/", 1)[1] if "/" in e.name else ""
            if not rel:
                self.problem(P.BagLayout, e.name, "file at the top level, outside the bag")
                continue
            in_order.append((rel, e))
            if rel in members:  # the reader reports duplicates; keep the first
                continue
            members[rel] = e
        for kind, path, detail, expected, found in layout_problems(in_order):
            self.problem(kind, path, detail, expected=expected, found=found)
        self.top = top
        return members

    def _metadata(self, data: bytes | None) -> dict[str, Any] | None:
        if data is None:
            return None
        cost, budget = parse_cost(data), scale(self.limits) * METADATA_BUDGET
        if cost > budget:
            self.problem(
                P.BombSuspected,
                bag.METADATA,
                "too large or too many values to read in bounded memory",
                expected=f"at most {budget:,} bytes of parsed values",
                found=f"up to {cost:,}",
            )
            return None
        try:
            meta: Any = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            self.problem(P.TagFileSyntax, bag.METADATA, f"not valid JSON: {exc}")
            return None
        except RecursionError:
            self.problem(P.TagFileSyntax, bag.METADATA, "not valid JSON: nested too deep")
            return None
        return self._checked_metadata(meta, data)

    def _checked_metadata(self, meta: Any, data: bytes) -> dict[str, Any] | None:
        problems = shape_problems(meta)
        for detail in problems:
            self.problem(P.TagFileSyntax, bag.METADATA, detail)
        if problems:
            return None
        checked: dict[str, Any] = meta
        self.result.metadata = checked
        self.result.metadata_sha256 = hashlib.sha256(data).hexdigest()
        self.result.shared_sha256 = (
            self.result.metadata_sha256
            if checked["format_version"] == 1
            else shared_digest(checked)
        )
        return checked

    def _tagmanifest(
        self, tags: dict[str, bytes], members: dict[str, ZipEntry], meta: dict[str, Any] | None
    ) -> None:
        listed = self._listing(tags.get(bag.TAGMANIFEST), bag.TAGMANIFEST)
        if listed is None:
            return
        # the tag files of the archive's format version (unknown: those the archive holds)
        if meta is not None:
            tag_files = bag.tag_files(meta["format_version"])
        else:
            tag_files = tuple(n for n in bag.TAG_FILES if n != bag.BROWSER or n in members)
        for name in tag_files:
            if name not in listed:
                self.problem(P.MissingFile, name, "tag file not listed in the tag manifest")
            elif name in tags:
                found = hashlib.sha256(tags[name]).hexdigest()
                if found != listed[name]:
                    self.problem(
                        P.ChecksumMismatch,
                        name,
                        "tag file changed",
                        expected=listed[name],
                        found=found,
                    )
        for name in listed:
            if name not in tag_files:
                self.problem(P.UnlistedFile, name, "unexpected entry in the tag manifest")
        for rel in members:
            if not rel.startswith(f"{DATA}/") and rel not in (
                *tag_files,
                bag.TAGMANIFEST,
                bag.SIGNATURE,
            ):
                self.problem(P.UnlistedFile, rel, "file outside data/ that no manifest covers")

    def _browser(
        self, data: bytes | None, meta: dict[str, Any] | None, members: dict[str, ZipEntry]
    ) -> None:
        """``index.html`` (format version 3 on) is the page ``offboard.json`` gives."""
        from manifests.verify.browser import check_browser

        if meta is None or meta["format_version"] < bag.BROWSER_SINCE:
            return
        if bag.BROWSER not in members:
            self.problem(P.BagLayout, bag.BROWSER, "required tag file missing")
            return
        if data is None:  # not read: its problem is reported
            return
        for kind, detail, expected, found in check_browser(data, meta, self.top):
            self.problem(kind, bag.BROWSER, detail, expected=expected, found=found)

    def _contents(self, meta: dict[str, Any] | None, members: dict[str, ZipEntry]) -> None:
        from manifests.verify.browser import check_contents

        if meta is None:
            return
        for kind, detail, expected, found in check_contents(meta, self.result.number, members):
            self.problem(kind, bag.METADATA, detail, expected=expected, found=found)

    def _listing(self, data: bytes | None, name: str) -> dict[str, str] | None:
        """A manifest's ``{path: sha256}``, its unusable lines reported."""
        if data is None:
            return None
        try:
            listed, errors = bag.parse_manifest(data)
        except bag.TagError as exc:
            self.problem(P.TagFileSyntax, name, str(exc))
            return None
        for err in errors:
            self.problem(P.TagFileSyntax, name, str(err))
        return listed

    def _bagit(self, tags: dict[str, bytes]) -> None:
        data = tags.get(bag.BAGIT)
        if data is None:
            return
        try:
            bag.check_bagit_txt(data)
        except bag.TagError as exc:
            self.problem(P.TagFileSyntax, bag.BAGIT, str(exc))

    def _info(
        self,
        data: bytes | None,
        meta: dict[str, Any] | None,
        members: dict[str, ZipEntry],
        reader: ZipReader,
    ) -> None:
        from manifests.verify.info import check_info

        for kind, path, detail, expected, found in check_info(
            data, meta, members, reader.when, self.result
        ):
            self.problem(kind, path, detail, expected=expected, found=found)

    def _signature(self, tags: dict[str, bytes], meta: dict[str, Any] | None) -> None:
        data = tags.get(bag.SIGNATURE)
        manifest = tags.get(bag.TAGMANIFEST)
        if data is None or manifest is None:
            return
        from manifests.signing import MalformedSignature, Signature, SignatureError, WrongKey

        try:
            sig = Signature.from_bytes(data, source=bag.SIGNATURE)
        except MalformedSignature as exc:
            self.problem(P.SignatureInvalid, bag.SIGNATURE, f"malformed: {exc}")
            return
        self.result.trusted_comment = sig.trusted_comment
        for kind, path, detail, expected, found in signature_problems(sig.untrusted_comment):
            self.problem(kind, path, detail, expected=expected, found=found)
        if self.pubkey is None:
            self.problem(P.SignatureInvalid, bag.SIGNATURE, "no public key given to check it")
            return
        try:
            self.pubkey.verify(manifest, sig)
        except WrongKey as exc:
            self.problem(
                P.SignatureInvalid,
                bag.SIGNATURE,
                f"made by another key: {exc}",
                expected=self.pubkey.key_id_hex,
                found=sig.key_id[::-1].hex().upper(),
            )
            return
        except SignatureError as exc:
            self.problem(P.SignatureInvalid, bag.SIGNATURE, str(exc))
            return
        self.result.signed_by = self.pubkey.key_id_hex
        if meta is not None and self.result.number is not None and self.result.count:
            want = trusted_comment(
                meta["archive_id"],
                meta["account"]["id"],
                parse_time(meta["created_at"]),
                self.result.number,
                self.result.count,
                meta["format_version"],
            )
            if sig.trusted_comment != want:
                self.problem(
                    P.ContextMismatch,
                    bag.SIGNATURE,
                    "the signature was made for another archive or context",
                    expected=want,
                    found=sig.trusted_comment,
                )

    def _payload(
        self,
        reader: ZipReader,
        members: dict[str, ZipEntry],
        tags: dict[str, bytes],
        meta: dict[str, Any] | None,
    ) -> None:
        from manifests.verify.payload import check_payload

        # the manifest's bytes are let go once parsed (they grow with the files of the part)
        listed = self._listing(tags.pop(bag.MANIFEST, None), bag.MANIFEST)
        if listed is None:
            return
        self.result.listed = listed
        if listed:
            self.result.first_path = min(listed, key=str.encode)
            self.result.last_path = max(listed, key=str.encode)
        check_payload(self, reader, members, listed, meta)


def _start_tables(
    reader: ZipReader, members: dict[str, ZipEntry], meta: dict[str, Any]
) -> TableLane:
    """Start checking the tables (and FEC files) ``offboard.json`` names that are in this
    part."""
    from manifests.verify.files import file_specs, is_fec
    from manifests.verify.tables import TableLane

    fecs = [f for f in file_specs(meta).values() if is_fec(f)]
    specs = [*meta["tables"], *fecs]
    work = [(t["path"], members[t["path"]], t) for t in specs if t["path"] in members]
    work.sort(key=lambda w: w[1].data_offset)
    return TableLane(reader, work, meta["csv"])


def _in_part(problem: P.Problem, part: str) -> P.Problem:
    return dataclasses.replace(problem, part=part)
