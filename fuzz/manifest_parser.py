"""Coverage-guided fuzzing of the tag-file parsers and of what the verifier does with them.

    python fuzz/manifest_parser.py CORPUS [libFuzzer options, e.g. -max_total_time=60]

An input is ``[target, mode] + bytes``: the bytes replace one tag file of the seeds' real
archive (``target`` picks it among :data:`seeds.TARGETS`: the manifests, ``bag-info.txt``,
``bagit.txt``, ``offboard.json``, ``index.html``, the signature). They first go through that
file's own parser, which may only raise its documented error (:class:`manifests.bag.TagError`
for the manifests, ``bag-info.txt`` and ``bagit.txt``; :class:`MalformedSignature` for the
signature; ``ValueError`` for JSON that does not parse, and nothing at all from
:func:`manifests.verify.shape.shape_problems` for any JSON value). Then the archive is written
again around them, in the canonical layout, and verified in full: it may only return a report
(never a valid one when the bytes differ from the original's) or raise
:class:`offboard.errors.ArchiveError`. With an odd ``mode``, the tag manifest and the signature
are made again by the seeds' key, as a key holder would: a hostile but signed ``offboard.json``
then reaches every check that trusts it (and the report may then be valid: the key holder
signed it). Any other exception, or a valid report in the other mode, is a crash.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# the libraries are imported first, so that only the project's own code is instrumented
import isal.isal_zlib  # noqa: F401
import pikepdf  # noqa: F401
import pyarrow
import pyarrow.compute
import pyarrow.csv  # noqa: F401
import pypdfium2  # noqa: F401
from seeds import ACCOUNT, TARGETS, import_project, members, prepare, rewrite

with atheris.instrument_imports():
    import_project()

from manifests import bag
from manifests.signing import MalformedSignature, PublicKey, SecretKey, Signature
from manifests.verify import verify_archive
from manifests.verify.shape import shape_problems
from offboard.errors import ArchiveError

HOME = prepare(Path(os.environ.get("OFFBOARD_FUZZ_HOME", ".fuzz")))
PUB = PublicKey.load(HOME.pub)
KEY = SecretKey.load(HOME.key)
BASE = members(HOME.archive)
ORIGINAL = dict(BASE)
COMMENT = Signature.from_bytes(ORIGINAL[bag.SIGNATURE]).trusted_comment
#: where each input is written (one file, rewritten for every input: libFuzzer ends the process
#: without running exit handlers, so a temporary folder would be left behind)
_SCRATCH = HOME.folder / "scratch-manifest"
_SCRATCH.mkdir(exist_ok=True)
TARGET = _SCRATCH / f"{ACCOUNT}.zip"


def parse_alone(name: str, data: bytes) -> None:
    """The tag file's own parser: its documented error only."""
    try:
        if name in (bag.MANIFEST, bag.TAGMANIFEST):
            bag.parse_manifest(data)
        elif name == bag.BAG_INFO:
            fields = bag.parse_bag_info(data)
            bag.info_value(fields, "Payload-Oxum")
        elif name == bag.BAGIT:
            bag.check_bagit_txt(data)
        elif name == bag.SIGNATURE:
            Signature.from_bytes(data)
    except (bag.TagError, MalformedSignature):
        pass
    if name == bag.METADATA:
        try:
            value = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            return
        shape_problems(value)


def archive_with(name: str, data: bytes, resign: bool) -> list[tuple[str, bytes]]:
    """The seeds' archive with tag file ``name`` replaced; with ``resign``, its tag manifest
    and signature made again (unless they are what is replaced)."""
    files = dict(BASE)
    files[name] = data
    if resign:
        if name != bag.TAGMANIFEST:
            files[bag.TAGMANIFEST] = bag.format_manifest(
                (tag, hashlib.sha256(files[tag]).hexdigest()) for tag in bag.TAG_FILES
            )
        if name != bag.SIGNATURE:
            files[bag.SIGNATURE] = KEY.sign(files[bag.TAGMANIFEST], COMMENT)
    return [(rel, files[rel]) for rel, _ in BASE]


def test_one_input(raw: bytes) -> None:
    if len(raw) < 2:
        return
    name, resign, data = TARGETS[raw[0] % len(TARGETS)], bool(raw[1] & 1), raw[2:]
    parse_alone(name, data)
    rewrite(archive_with(name, data, resign), ACCOUNT, TARGET)
    try:
        report = verify_archive(TARGET, PUB, doc_worker=False)
    except ArchiveError:
        return
    # a key holder may sign what it likes; anyone else's change must be found
    if not resign and data != ORIGINAL[name] and report.valid:
        raise AssertionError(f"{name} changed and the archive still verifies")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
