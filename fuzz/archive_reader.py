"""Coverage-guided fuzzing of the archive reader and the verifier (atheris, libFuzzer).

    python fuzz/archive_reader.py CORPUS [libFuzzer options, e.g. -max_total_time=60]

Each input is a whole archive file. It is opened with :class:`manifests.zipfmt.ZipReader`,
which may only report problems (and raise :class:`CorruptDataError` when a member's data is
read), then verified in full with :func:`manifests.verify.verify_archive` against the seeds'
public key, which may only return a report or raise :class:`offboard.errors.ArchiveError`
(``ArchiveInvalid`` included). Any other exception is a crash: libFuzzer stops and writes the
input that caused it (``crash-<sha1>``). The seeds folder (``OFFBOARD_FUZZ_HOME``, default
``.fuzz``) is made by ``fuzz/seeds.py`` if it is not there.
"""

from __future__ import annotations

import contextlib
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
from seeds import ACCOUNT, import_project, prepare

with atheris.instrument_imports():
    import_project()

from manifests.signing import PublicKey
from manifests.verify import verify_archive
from manifests.zipfmt import CorruptDataError, ZipReader
from offboard.errors import ArchiveError

HOME = prepare(Path(os.environ.get("OFFBOARD_FUZZ_HOME", ".fuzz")))
PUB = PublicKey.load(HOME.pub)
#: where each input is written (one file, rewritten for every input: libFuzzer ends the process
#: without running exit handlers, so a temporary folder would be left behind)
_SCRATCH = HOME.folder / "scratch-archive"
_SCRATCH.mkdir(exist_ok=True)
#: the archive is named like its folder, as the format wants (else every input is refused)
TARGET = _SCRATCH / f"{ACCOUNT}.zip"


def read_members(path: Path) -> None:
    """The reader's contract: problems are reported, data errors are CorruptDataError."""
    with ZipReader(path) as reader:
        for entry in reader.entries:
            try:
                for _ in reader.iter_data(entry):
                    pass
            except CorruptDataError:
                pass


def test_one_input(data: bytes) -> None:
    TARGET.write_bytes(data)
    read_members(TARGET)
    with contextlib.suppress(ArchiveError):
        verify_archive(TARGET, PUB, doc_worker=False)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
