"""Documents checked in a worker process: same findings as in-process, faults contained."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from manifests.signing import PublicKey
from manifests.verify import verify_archive, worker
from tests.manifests.conftest import Keys, make_archive, make_keys

TOP = "acc-0001"
FAULTY = Path(__file__).with_name("faulty_worker.py")


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Keys]:
    from offboard.demo import generate_demo

    folder = tmp_path_factory.mktemp("worker")
    db = folder / "few.db"
    generate_demo(db, accounts=1, scale="small", seed=11, jobs=1, documents=12)
    keys = make_keys(folder / "keys")
    return make_archive(db, folder / f"{TOP}.zip", keys, TOP), keys


def flip_at(src: Path, dst: Path, position: int) -> Path:
    """A copy of ``src`` at ``dst`` with the byte at ``position`` XOR-ed with 0xFF."""
    data = bytearray(src.read_bytes())
    data[position] ^= 0xFF
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(bytes(data))
    return dst


def pdf_members(path: Path) -> list[tuple[str, int, int]]:
    """(member name, data offset, size) of every PDF document (not bundle) of the archive."""
    from manifests.zipfmt import ZipReader

    with ZipReader(path) as zr:
        return [
            (e.name, e.data_offset, e.size)
            for e in zr.entries
            if e.name.endswith(".pdf") and "-bundle-" not in e.name
        ]


def report(path: Path, keys: Keys, use_worker: bool) -> list[tuple[str, str, str]]:
    r = verify_archive(path, PublicKey.load(keys.pub), doc_worker=use_worker)
    return [(p.code, p.path, p.detail) for p in r.problems]


def faulty(monkeypatch: pytest.MonkeyPatch, mode: str, target: str) -> None:
    monkeypatch.setattr(
        worker, "worker_command", lambda: [sys.executable, str(FAULTY), mode, target]
    )


def test_the_archive_has_documents_to_check(signed: tuple[Path, Keys]) -> None:
    assert len(pdf_members(signed[0])) >= 3


def test_clean_archive_passes_in_a_worker(signed: tuple[Path, Keys]) -> None:
    path, keys = signed
    assert report(path, keys, use_worker=True) == []


def test_worker_and_in_process_find_the_same_problems(
    signed: tuple[Path, Keys], tmp_path: Path
) -> None:
    path, keys = signed
    seen = 0
    for name, offset, size in pdf_members(path)[:6]:
        for where in (offset, offset + size // 2, offset + size - 1):
            bad = flip_at(path, tmp_path / "bad" / f"{TOP}.zip", where)
            in_process = report(bad, keys, use_worker=False)
            assert in_process, f"flip at {where} in {name} not detected"
            assert report(bad, keys, use_worker=True) == in_process
            seen += 1
    assert seen >= 9


@pytest.mark.parametrize("line", [worker.WORK_LINE, 1, 3])
@pytest.mark.parametrize("mode", ["crash", "crash-early", "garbage"])
def test_a_fault_of_the_pdf_engine_is_contained(
    signed: tuple[Path, Keys],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
    line: int,
) -> None:
    """Whether the work comes in one line or in lines of one or three items, the fault is
    the target's, and the rest is checked after it (by a worker started in careful mode)."""
    path, keys = signed
    monkeypatch.setattr(worker, "WORK_LINE", line)
    docs = pdf_members(path)
    target = docs[1][0].split("/", 1)[1]
    # another document is tampered with: it must still be found after the fault
    _other, offset, size = docs[-1]
    bad = flip_at(path, tmp_path / f"{TOP}.zip", offset + size // 2)
    expected_other = [p for p in report(bad, keys, use_worker=False) if p[1] != target]
    assert expected_other
    faulty(monkeypatch, mode, target)
    found = report(bad, keys, use_worker=True)
    at_target = [p for p in found if p[1] == target]
    assert [p[0] for p in at_target] == ["document-mismatch"]
    word = "garbage" if mode == "garbage" else "crashed"
    assert word in at_target[0][2]
    assert [p for p in found if p[1] != target] == expected_other


def test_a_hang_of_the_pdf_engine_is_contained(
    signed: tuple[Path, Keys], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, keys = signed
    target = pdf_members(path)[0][0].split("/", 1)[1]
    faulty(monkeypatch, "hang", target)
    monkeypatch.setattr(worker, "SILENCE", 1.0)
    found = report(path, keys, use_worker=True)
    assert found == [("document-mismatch", target, "the PDF engine did not finish within 1 s")]


def test_after_too_many_faults_the_rest_is_reported_unchecked(
    signed: tuple[Path, Keys], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, keys = signed
    faulty(monkeypatch, "crash-all", "-")
    monkeypatch.setattr(worker, "MAX_FAULTS", 2)
    found = report(path, keys, use_worker=True)
    crashed = [p for p in found if "crashed" in p[2]]
    unchecked = [p for p in found if p[2].startswith("not checked")]
    assert len(crashed) == 2
    assert unchecked and len(crashed) + len(unchecked) == len(found)


def test_a_worker_that_cannot_start_leaves_the_check_to_the_verifier(
    signed: tuple[Path, Keys], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, keys = signed
    _name, offset, _size = pdf_members(path)[2]
    bad = flip_at(path, tmp_path / f"{TOP}.zip", offset + 1)
    expected = report(bad, keys, use_worker=False)
    faulty(monkeypatch, "no-start", "-")
    assert report(path, keys, use_worker=True) == []
    assert report(bad, keys, use_worker=True) == expected


def test_the_worker_reads_the_file_the_verifier_opened(
    signed: tuple[Path, Keys], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replacing the archive under its name once verification began changes nothing."""
    import manifests.verify.worker as w

    path, keys = signed
    copy = tmp_path / f"{TOP}.zip"
    shutil.copyfile(path, copy)
    _name, offset, _size = pdf_members(path)[0]
    swapped = flip_at(path, tmp_path / "swapped" / f"{TOP}.zip", offset + 1)
    real_spawn = w.DocWorker._spawn

    def spawn_then_swap(self: w.DocWorker) -> object:
        proc = real_spawn(self)
        shutil.copyfile(swapped, tmp_path / "incoming.zip")
        (tmp_path / "incoming.zip").replace(copy)  # a new file under the name
        return proc

    monkeypatch.setattr(w.DocWorker, "_spawn", spawn_then_swap)
    assert report(copy, keys, use_worker=True) == []


def test_a_worker_that_is_done_exits_on_its_own(
    signed: tuple[Path, Keys], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once it has reported the end of its work, the worker is given time to exit (status 0),
    not killed."""
    path, keys = signed
    ended: list[tuple[float, int | None]] = []
    real = worker._stop

    def spy(proc: Any, grace: float = 0.0) -> None:
        real(proc, grace)
        ended.append((grace, proc.returncode))

    monkeypatch.setattr(worker, "_stop", spy)
    assert report(path, keys, use_worker=True) == []
    assert ended and all(grace > 0 and code == 0 for grace, code in ended), ended
