"""A full disk: ``export`` (to a folder, to an archive, split, encrypted) and ``backup`` exit
16 with one line naming what they were writing, leave nothing under a final name and no
hidden temporary file, and once space is freed a rerun makes the archive a roomy disk makes,
byte for byte (``--created-at`` fixed).

The disk fills two ways:

* on a small file system (:func:`tests.nospace.on_small_fs`): a tmpfs in a private mount
  namespace, sized at 1 MiB and at fractions of the most the command had in use on a large one
  (measured first), so that it fills in the tables, the documents and their bundles, the
  documents spool, the archive writer, its last bytes (signature and directory), the backup's
  second account. Then the tmpfs is made larger and the command run again;
* in this process (:class:`tests.nospace.FullDisk`): the Nth write into the output folder
  fails with ENOSPC, and every later one, through the command line (CliRunner), for N the
  first and last write of every stage (tables, FEC, documents, spool, pack, archive,
  encryption, signature, summary, backup lock, state and report), or every N with
  ``OFFBOARD_DISK_FULL_ALL=1``. The bundles are written by the document worker, a process of
  its own: only the small file system fills under them.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.manifests.conftest import Keys, make_keys
from tests.nospace import FullDisk, Ran, Resize, Run, on_small_fs

CREATED = "2026-01-31T12:00:00Z"
ROOT = Path(__file__).resolve().parents[2]
LARGE = 1 << 30
MIB = 1 << 20
SPLIT = ("--split-size", "4MB")
#: sizes of a small file system: bytes (int), or fractions of what the command needs (float)
Sizes = tuple[int | float, ...]
#: what a failed backup may leave: its locks (empty; they stay, see offboard/gate/lock.py)
#: and the fingerprints of the accounts it did back up
KEPT = re.compile(r"(dest/)?\.offboard-(locks|state)(/|/[^/]+\.(lock|json))?")
#: a file name the message names
NAMED = re.compile(r"[\w.-]+\.(csv|pdf|xml|txt|json|zip|age|minisig|lock)\b")
SCRATCH = re.compile(r"\.(tmp|partial|spool|tables|old|resume|pikepdf|offboard-plain)")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_no_space(returncode: int, stderr: str, where: str) -> str:
    """The command exited 16 with one line saying the disk is full and naming a file."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert returncode == 16, f"{where}: exit {returncode}, not 16: {stderr.strip()}"
    assert len(lines) == 1, f"{where}: not one line: {stderr!r}"
    line = lines[0]
    assert line.startswith("offboard: error: ") and "no space left on" in line.lower(), line
    assert NAMED.search(line), f"{where}: the message names no file: {line}"
    return line


def stage_of(site: str) -> str:
    """What a place that writes is doing (``module:function`` from FullDisk)."""
    for prefix, stage in (
        ("offboard/csvio/", "tables"),
        ("manifests/pack", "tables pack"),
        ("offboard/documents/spool", "documents spool"),
        ("offboard/documents/", "documents"),
        ("offboard/accounting/", "FEC"),
        ("offboard/pipeline", "summary"),
        ("manifests/encryption", "encryption"),
        ("manifests/targets.py:add_small", "signature"),
        ("manifests/", "archive"),
        ("offboard/storage/", "backup state"),
        ("offboard/resume", "resume journal"),
        ("offboard/backup/report", "backup report"),
        ("offboard/gate/lock", "backup lock"),
    ):
        if site.startswith(prefix):
            return stage
    return site


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return make_keys(tmp_path_factory.mktemp("disk-full-keys"))


@pytest.fixture(scope="module")
def few_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small demo with few documents (six per account): cheap to export many times."""
    from offboard.demo import generate_demo

    path = tmp_path_factory.mktemp("few") / "few.db"
    generate_demo(path, accounts=2, scale="small", seed=7, documents=6, jobs=1)
    return path


# -- on a small file system -------------------------------------------------------------------
def _offboard(*args: str) -> list[str]:
    return [sys.executable, "-m", "offboard", *args, "--allow-missing-documents", "--quiet"]


def export_cmd(db: Path, out: Path, keys: Keys | None, *extra: str) -> list[str]:
    sign = [] if keys is None else ["--sign-key", str(keys.key), "--created-at", CREATED]
    return _offboard("export", str(db), "--account", "acc-0001", "--out", str(out), *sign, *extra)


def backup_cmd(db: Path, root: Path, keys: Keys) -> list[str]:
    args = ["backup", str(db), "--accounts", "all", "--dest", str(root / "dest"), "--sign-key"]
    args += [str(keys.key), "--created-at", CREATED, "--workers", "1"]
    return _offboard(*args, "--report", str(root / "report.json"))


def small_sizes(mount: Path, command: Callable[[Path], list[str]], sizes: Sizes) -> list[int]:
    """``sizes`` in bytes: a fraction is of the most bytes ``command`` had in use on a large
    tmpfs (measured), an int a size of its own."""
    if all(isinstance(s, int) for s in sizes):
        return [int(s) for s in sizes]
    ran = on_small_fs(mount, LARGE, Run(command(mount), cwd=str(ROOT), watch=True))[0]
    assert ran.returncode == 0, ran.describe()
    return [s if isinstance(s, int) else int(ran.peak * s) for s in sizes]


def on_full_disks(
    tmp_path: Path,
    command: Callable[[Path], list[str]],
    sizes: Sizes,
    rerun: Sizes,
    digests: tuple[str, ...] = (),
    then: Callable[[Path], list[Run]] = lambda mount: [],
) -> Iterator[tuple[str, Ran, Ran | None]]:
    """For each of ``sizes``: run ``command`` on a small file system of that size; for those
    also in ``rerun``, make it large and run it again (with ``digests`` taken), then the steps
    ``then(mount)``. What was run where (for messages), the run on the full disk, the run
    again or None."""
    for i, (size, given) in enumerate(
        zip(small_sizes(tmp_path / "measure", command, sizes), sizes, strict=True)
    ):
        mount = tmp_path / f"small-{i}"
        steps: list[Run | Resize] = [Run(command(mount), cwd=str(ROOT))]
        if given in rerun:
            steps += [Resize(LARGE), Run(command(mount), cwd=str(ROOT), digests=digests)]
            steps += then(mount)
        ran = on_small_fs(mount, size, *steps)
        yield f"{size:,} bytes ({given})", ran[0], ran[1] if len(ran) > 1 else None


def assert_nothing_left(ran: Ran) -> None:
    assert ran.files == {}, f"left on the full disk:\n{ran.describe()}"


@pytest.fixture(scope="module")
def archives(
    demo_db: Path, keys: Keys, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, int]:
    """The demo account's archive, whole and split in parts of 4 MB, made on a roomy disk;
    and the most bytes making it had in use (on a large tmpfs; split, a few KB more)."""
    folder = tmp_path_factory.mktemp("reference")
    for extra in ((), SPLIT):
        out = folder / f"{len(extra)}" / "a.zip"
        made = CliRunner().invoke(cli_group(), export_cmd(demo_db, out, keys, *extra)[3:])
        assert made.exit_code == 0, made.output
    mount = folder / "measure"
    (peak,) = small_sizes(mount, lambda m: export_cmd(demo_db, m / "a.zip", keys), (1.0,))
    return folder, peak


@pytest.mark.slow
def test_export_to_a_folder_on_a_full_disk(demo_db: Path, tmp_path: Path) -> None:
    messages = []
    sizes = (MIB, 0.5, 0.7)  # the tables; the documents; about the sales invoices' bundle
    runs = on_full_disks(tmp_path, lambda m: export_cmd(demo_db, m / "out", None), sizes, (0.7,))
    for where, full, again in runs:
        messages.append(assert_no_space(full.returncode, full.stderr, where))
        assert_nothing_left(full)
        if again is not None:
            assert again.returncode == 0, again.describe()
            assert "out/export-summary.json" in again.files
            assert not [p for p in again.files if SCRATCH.search(p)], again.describe()
    assert any(".csv" in m for m in messages), messages  # the 1 MiB one: in the tables
    assert any("documents" in m for m in messages), messages


@pytest.mark.slow
@pytest.mark.parametrize(
    ("split", "fractions"), [((), (0.1, 0.5, 0.99)), (SPLIT, (0.95,))], ids=["whole", "split"]
)
def test_export_to_an_archive_on_a_full_disk(
    split: tuple[str, ...],
    fractions: tuple[float, ...],
    archives: tuple[Path, int],
    demo_db: Path,
    keys: Keys,
    tmp_path: Path,
) -> None:
    folder, peak = archives
    want = {p.name: sha256(p) for p in (folder / f"{len(split)}").iterdir()}
    assert len(want) > 3 if split else len(want) == 1, sorted(want)

    def command(mount: Path) -> list[str]:
        return export_cmd(demo_db, mount / "a.zip", keys, *split)

    sizes = tuple(int(peak * f) for f in fractions)
    rerun = sizes[-2:]  # the spool, and the archive's last bytes
    for where, full, again in on_full_disks(tmp_path, command, sizes, rerun, tuple(want)):
        assert_no_space(full.returncode, full.stderr, where)
        assert_nothing_left(full)
        if again is not None:
            assert again.returncode == 0, again.describe()
            assert again.digests == want, f"not the same archive, {where}"
            assert sorted(again.files) == sorted(want), again.describe()


@pytest.mark.slow
def test_encrypted_archive_on_a_full_disk(few_db: Path, keys: Keys, tmp_path: Path) -> None:
    from pyrage import decrypt, x25519

    identity = x25519.Identity.generate()
    reference = tmp_path / "reference" / "a.zip"  # the archive's name is in it
    made = CliRunner().invoke(cli_group(), export_cmd(few_db, reference, keys)[3:])
    assert made.exit_code == 0, made.output
    recipient = str(identity.to_public())
    saved = tmp_path / "saved.age"

    def command(mount: Path) -> list[str]:
        return export_cmd(few_db, mount / "a.zip", keys, "--encrypt-to", recipient)

    def keep(mount: Path) -> list[Run]:
        return [Run(["cp", str(mount / "a.zip.age"), str(saved)])]

    for where, full, again in on_full_disks(tmp_path, command, (0.99,), (0.99,), then=keep):
        assert_no_space(full.returncode, full.stderr, where)
        assert_nothing_left(full)
        if again is not None:
            assert again.returncode == 0, again.describe()
            assert sorted(again.files) == ["a.zip.age", "a.zip.age.minisig"], again.describe()
    # the archive inside is the one a roomy disk makes (age encrypts to a new key each time)
    assert decrypt(saved.read_bytes(), [identity]) == reference.read_bytes()


@pytest.mark.slow
def test_backup_on_a_full_disk(few_db: Path, keys: Keys, tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    made, _ = invoke(backup_cmd(few_db, reference, keys)[3:], reference, None)  # in this process
    assert made.exit_code == 0, made.output
    want = {f"dest/{p.name}": sha256(p) for p in (reference / "dest").glob("*.zip")}
    assert len(want) == 2
    stored_one = False

    def command(mount: Path) -> list[str]:
        return backup_cmd(few_db, mount, keys)

    sizes = (0.5, 0.99)  # both accounts stopped; the second stopped near its end
    for where, full, again in on_full_disks(tmp_path, command, sizes, (0.99,), tuple(want)):
        assert_no_space(full.returncode, full.stderr, where)
        left = [p for p in full.final_names() if p not in ("dest/", "report.json")]
        for name in left:  # an account backed up before the disk was full: whole
            assert name in want, full.describe()
        stored_one |= bool(left)
        hidden = set(full.files) - set(full.final_names())
        assert all(KEPT.fullmatch(p) for p in hidden), full.describe()
        if again is not None:
            assert again.returncode == 0, again.describe()
            assert again.digests == want, f"not the same archives, {where}"
    assert stored_one, "no size let the first account through and stopped the second"


def cli_group() -> Any:
    from offboard.cli import cli

    return cli


# -- in this process: the Nth write fails -----------------------------------------------------
class Inline:
    """The executor of the in-process backup: each account in this process, in turn."""

    name = "inline"
    slots = 1
    workers = 1
    carries_secrets = True

    def __init__(self) -> None:
        self.queue: list[tuple[int, Any]] = []

    def submit(self, key: int, task: Any) -> None:
        import dataclasses

        # one table at a time: the Nth write is the same one from run to run
        self.queue.append((key, dataclasses.replace(task, jobs=1)))

    def next_result(self) -> tuple[int, Any]:
        from offboard.backup.task import backup_account

        key, task = self.queue.pop(0)
        return key, backup_account(task)

    def close(self) -> None:
        self.queue.clear()

    def __enter__(self) -> Inline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def invoke(args: list[str], root: Path, fail_at: int | None) -> tuple[Any, FullDisk]:
    with pytest.MonkeyPatch.context() as patch:
        disk = FullDisk(root, fail_at)
        patch.setattr("offboard.backup.executors.open_executor", lambda *a: Inline())
        disk.install(patch)
        result = CliRunner().invoke(cli_group(), args)
    return result, disk


def points(sites: list[str]) -> list[int]:
    """The writes to fail (1-based): the first of each stage (:func:`stage_of`), the last of
    the archive's (its signature and directory) and the last of all; every one with
    OFFBOARD_DISK_FULL_ALL=1."""
    if os.environ.get("OFFBOARD_DISK_FULL_ALL"):
        return list(range(1, len(sites) + 1))
    stages = [stage_of(site) for site in sites]
    chosen = {stages.index(stage) + 1 for stage in stages} | {len(stages)}
    if "archive" in stages:
        chosen.add(len(stages) - stages[::-1].index("archive"))
    return sorted(chosen)


CASES = {
    "folder": ("export", "--out", "{root}/out"),
    "archive": ("export", "--out", "{root}/a.zip", "--sign-key", "{key}"),
    "encrypted": ("export", "--out", "{root}/a.zip", "--sign-key", "{key}", "--encrypt-to", "{r}"),
    "backup": ("backup", "--accounts", "all", "--dest", "{root}/dest", "--sign-key", "{key}"),
    "resume": ("export", "--out", "{root}/a.zip", "--sign-key", "{key}", "--resume"),
}
STAGES = {
    "folder": {"tables", "documents", "FEC", "summary"},
    "archive": {"tables", "tables pack", "documents spool", "FEC", "archive"},
    "encrypted": {"tables", "documents spool", "FEC", "encryption", "signature"},
    "backup": {"tables", "tables pack", "documents spool", "FEC", "archive", "backup report"},
    "resume": {"tables", "documents", "FEC", "resume journal", "archive"},
}


@pytest.mark.parametrize("case", list(CASES))
def test_every_place_that_writes_fails_cleanly(
    case: str, few_db: Path, keys: Keys, tmp_path: Path
) -> None:
    from pyrage import x25519

    recipient = str(x25519.Identity.generate().to_public())

    def args(root: Path) -> list[str]:
        fields = {"root": root, "key": keys.key, "r": recipient}
        given = [a.format(**fields) for a in CASES[case]]
        args = [given[0], str(few_db), *given[1:], "--kinds", "billing_history,fec"]
        args += ["--allow-missing-documents", "--quiet"]
        args += [] if case == "folder" else ["--created-at", CREATED]
        if case == "backup":
            return [*args, "--report", str(root / "report.json")]
        return [*args, "--account", "acc-0001", "--jobs", "1"]

    reference = tmp_path / "reference"
    reference.mkdir()
    clean, counted = invoke(args(reference), reference, None)
    assert clean.exit_code == 0, clean.output
    made = {p.relative_to(reference).as_posix(): sha256(p) for p in reference.rglob("*.zip")}
    hit: dict[str, int] = {}
    for n in points(counted.sites):
        root = tmp_path / f"at-{n}"
        root.mkdir()
        result, disk = invoke(args(root), root, n)
        where = f"write {n} of {counted.writes} ({disk.failed_in})"
        assert_no_space(result.exit_code, result.stderr, where)
        hit[stage_of(disk.failed_in or "?")] = n
        left = sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))
        if case == "resume":  # its work is kept for the next run, and only that
            left = [name for name in left if not name.startswith(".a.zip.resume")]
        if case != "backup":
            assert left == [], f"{where}: left {left}"
            continue
        for name in left:
            if name.endswith(".zip"):  # an account backed up before the disk was full
                assert sha256(root / name) == made[name], f"{where}: {name} is not whole"
            else:
                assert name in ("dest", "report.json") or KEPT.fullmatch(name), f"{where}: {name}"
    assert STAGES[case] <= set(hit), f"stages hit: {hit}"
    again, _ = invoke(args(root), root, None)  # space freed: the last one run again
    assert again.exit_code == 0, again.output
    if case != "encrypted":  # age encrypts to a new key each time
        assert {p.relative_to(root).as_posix(): sha256(p) for p in root.rglob("*.zip")} == made


SAVE_THROUGH = """
import errno, io, sys
import pikepdf
from offboard.documents.part import SAVE_OPTIONS
from offboard.fsutil import DeferredErrors

class Disk(io.RawIOBase):  # a file on a disk that is full after `room` bytes
    def __init__(self, room):
        self.room, self.data = room, bytearray()
    def writable(self):
        return True
    def tell(self):
        return len(self.data)
    def write(self, b):
        if len(self.data) + len(b) > self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.data += b
        return len(b)

pdf = pikepdf.new()
for i in range(300):
    pdf.add_blank_page()
    pdf.pages[-1].Contents = pdf.make_stream(b"q %d Q " % i * 400)
whole = io.BytesIO()
pdf.save(whole, **SAVE_OPTIONS)
for room in (0, 100, 10_000, len(whole.getvalue()) // 2, len(whole.getvalue()) - 1, 1 << 30):
    disk = Disk(room)
    try:
        with DeferredErrors(disk, "part.pdf") as out:
            pdf.save(out, **SAVE_OPTIONS)
        print(room, "saved", bytes(disk.data) == whole.getvalue())
    except OSError as exc:
        print(room, "error", exc.errno, exc.filename, exc)
"""


def test_a_bundle_saved_on_a_full_disk_is_an_error_not_an_abort(tmp_path: Path) -> None:
    """qpdf aborts the process (SIGABRT) when the stream it saves to fails at some points of
    its output; through DeferredErrors it never sees the failure, which is raised after."""
    import subprocess

    done = subprocess.run(
        [sys.executable, "-c", SAVE_THROUGH], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.split("\n")[:-1]
    assert [" ".join(line.split(" ")[1:4]) for line in lines] == [
        *["error 28 part.pdf"] * 5,
        "saved True",
    ], done.stdout
