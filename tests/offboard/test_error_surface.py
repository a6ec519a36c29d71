"""The error surface: every user-facing error ends a command with its own documented exit code
and one line naming what is at fault; no bad input makes a command print a traceback.

* the README's exit code table and the tree of ``offboard.errors`` list every ``ExitCode``;
* error classes have distinct exit codes, but for the pairs of :data:`SHARED`;
* every command runs under ``handle_errors``; ``one_line`` escapes what the input brings;
* :data:`MATRIX`, bad inputs for every command (through ``CliRunner``), each checked for its
  exit code, for standard error being one line starting with ``offboard: error:`` (or click's
  usage block, exit 2), for no traceback, and for the file, option or record at fault named;
* a few of them through the real entry point, an internal error among them.

The bad inputs and their folder are made in :mod:`tests.offboard.bad_inputs`.
"""

from __future__ import annotations

import errno
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from offboard import errors
from offboard.cli import cli
from offboard.cli.common import handle_errors
from offboard.errors import ExitCode, OffboardError, one_line
from tests.offboard.bad_inputs import MATRIX, Case, World, make_world

README = Path(__file__).resolve().parents[2] / "README.md"
TABLE_HEADER = "| code | name | meaning | what to do |"
ROW = re.compile(r"^\| (\d+) \| `([A-Z_]+)` \| ([^|]*\S[^|]*) \| ([^|]*\S[^|]*) \|$")

#: codes two error classes share, and why: the base class raised as it is, beside its subclass
SHARED = {
    # an archive table no exporter writes (restore) is an ExporterError, like an unknown kind
    ExitCode.UNKNOWN_KIND: {"ExporterError", "UnknownKind"},
    # BillingUnavailable is BillingError's retriable form (5xx, 429, timeouts, retries spent)
    ExitCode.BILLING: {"BillingError", "BillingUnavailable"},
}


# -- the documentation ------------------------------------------------------------------------
def readme_rows() -> list[tuple[int, str, str, str]]:
    """The rows of the README's exit code table: code, name, meaning, what to do."""
    text = README.read_text(encoding="utf-8")
    _, found, rest = text.partition("\n## Exit codes\n")
    assert found, "README.md has no '## Exit codes' section"
    lines = rest.split("\n## ", 1)[0].splitlines()
    assert TABLE_HEADER in lines, f"the exit code table must start with {TABLE_HEADER!r}"
    start = lines.index(TABLE_HEADER)
    assert lines[start + 1] == "| --- | --- | --- | --- |"
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        match = ROW.match(line)
        assert match, f"a row of the exit code table does not read as | N | `NAME` | ... |: {line}"
        rows.append((int(match[1]), match[2], match[3].strip(), match[4].strip()))
    return rows


def test_the_readme_table_lists_every_exit_code_once_in_order() -> None:
    rows = readme_rows()
    codes = [code for code, *_ in rows]
    assert codes == sorted(set(codes)), "one row per code, in order"
    assert {(code, name) for code, name, *_ in rows} == {(int(c), c.name) for c in ExitCode}


def tree() -> list[tuple[int, str, int]]:
    """The entries of the errors module's tree: indentation, class name, exit code."""
    doc = errors.__doc__ or ""
    entry = re.compile(r"^(?P<lead>[ │├└─]*)(?P<name>[A-Z]\w+) +exit (?P<code>\d+)\b", re.M)
    return [(len(m["lead"]), m["name"], int(m["code"])) for m in entry.finditer(doc)]


def error_classes() -> dict[str, type[OffboardError]]:
    return {
        name: value
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, OffboardError)
    }


def test_the_errors_tree_gives_every_class_its_code_and_parent() -> None:
    entries = tree()
    classes = error_classes()
    assert {name for _, name, _ in entries} == set(classes)
    for i, (depth, name, code) in enumerate(entries):
        assert classes[name].exit_code == code, f"{name}: the tree says exit {code}"
        if i:
            parent = next(n for d, n, _ in reversed(entries[:i]) if d < depth)
            assert classes[name].__bases__ == (classes[parent],), name
    stated = {int(n) for n in re.findall(r"\bExit (\d+) is\b", errors.__doc__ or "")}
    assert {int(c) for c in ExitCode} == {code for *_, code in entries} | stated


def test_error_classes_have_distinct_codes_but_the_shared_ones() -> None:
    classes = error_classes()
    by_code: dict[int, set[str]] = {}
    for name, cls in classes.items():
        by_code.setdefault(int(cls.exit_code), set()).add(name)
    shared = {code: names for code, names in by_code.items() if len(names) > 1}
    assert shared == {int(code): names for code, names in SHARED.items()}
    leaves = [c for c in classes.values() if not any(o.__bases__ == (c,) for o in classes.values())]
    assert len({c.exit_code for c in leaves}) == len(leaves), "leaf classes share a code"


def test_error_classes_elsewhere_keep_their_parent_s_code() -> None:
    import offboard.accounting.fec
    import offboard.restore.members  # noqa: F401 - they define subclasses

    seen, todo = set(), [OffboardError]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub not in seen:
                seen.add(sub)
                todo.append(sub)
    outside = [c for c in seen if c.__module__ != errors.__name__]
    assert outside, "FecError, RestoreRefused... are found"
    for cls in outside:
        assert "exit_code" not in vars(cls), f"{cls.__qualname__} sets an undocumented exit code"


# -- the command line -------------------------------------------------------------------------
def leaf_commands(group: click.Group = cli, prefix: str = "") -> dict[str, click.Command]:
    found: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found.update(leaf_commands(command, f"{prefix}{name} "))
        else:
            found[f"{prefix}{name}"] = command
    return found


def test_every_command_runs_under_handle_errors() -> None:
    wrapper = handle_errors(lambda: None).__code__
    commands = leaf_commands()
    assert len(commands) >= 18
    for name, command in commands.items():
        assert command.callback is not None and command.callback.__code__ is wrapper, name


def test_one_line_escapes_what_would_break_the_line_or_drive_the_terminal() -> None:
    assert one_line("plain: é, ü, \\ and spaces") == "plain: é, ü, \\ and spaces"
    hostile = "a\nb\r\tc\x1b[31md\x7f\x85\u2028\u202e\udcff\U000e0001 e\u00a0f"
    shown = one_line(hostile)
    assert shown == "a\\nb\\r\\tc\\x1b[31md\\x7f\\x85\\u2028\\u202e\\udcff\\U000e0001 e\u00a0f"
    assert len(shown.splitlines()) == 1 and "\x1b" not in shown


@pytest.mark.parametrize(
    ("raised", "code", "text"),
    [
        (click.Abort(), ExitCode.INTERRUPTED, "stopped at the prompt"),  # click alone: exit 1
        (KeyboardInterrupt(), ExitCode.INTERRUPTED, "interrupted"),
        (OSError(errno.ENOSPC, "No space left", "/f/x"), ExitCode.NO_SPACE, "writing /f/x"),
        (ValueError("a bug\non two lines"), ExitCode.INTERNAL, "ValueError: a bug\\non two"),
        (errors.SchemaError("no table '\x1b[2Jx'"), ExitCode.SCHEMA, "no table '\\x1b[2Jx'"),
    ],
    ids=["abort", "interrupt", "no-space", "internal", "offboard-error"],
)
def test_handle_errors_gives_the_code_and_one_line(
    raised: BaseException, code: ExitCode, text: str
) -> None:
    @click.command()
    @handle_errors
    def command() -> None:
        raise raised

    result = CliRunner().invoke(command, [], env={"OFFBOARD_DEBUG": None}, catch_exceptions=False)
    assert result.exit_code == code, result.stderr
    assert result.stderr.startswith("offboard: error: ") and result.stderr.count("\n") == 1
    assert text in result.stderr, result.stderr


def test_the_matrix_covers_every_command() -> None:
    assert {case.command for case in MATRIX} == set(leaf_commands())


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return make_world(tmp_path_factory.mktemp("bad-inputs"))


def check_surface(case: Case, world: World, code: int, out: str, err: str) -> None:
    """The exit code, the one line (or click's usage block), no traceback, what is named."""
    shown = f"exit {code}\n--- stdout\n{out}\n--- stderr\n{err}"
    assert "Traceback" not in out + err, shown
    assert code == case.code, shown
    names = [one_line(world.fill(n)) for n in case.names]
    lines = err.splitlines()
    if case.usage:  # click's own: the Usage block, then "Error: ..." naming the option
        assert err.startswith("Usage: ") and lines[-1].startswith("Error: "), shown
        assert all(n in err for n in names), shown
        return
    assert err.endswith("\n") and lines and lines[-1].startswith("offboard: error: "), shown
    assert err.count("offboard: error:") == 1, shown
    if case.details:  # indented lines of detail (the problems) come before the error's line
        assert all(line.startswith("  ") for line in lines[:-1]), shown
    else:
        assert len(lines) == 1, shown
    assert not any(ch in err for ch in "\x1b\r\x00"), shown
    for name in names:
        assert name in lines[-1], (name, shown)


@pytest.mark.parametrize("case", MATRIX, ids=[case.id for case in MATRIX])
def test_a_bad_input_gets_its_exit_code_and_one_line(case: Case, world: World) -> None:
    env = {"OFFBOARD_PASSPHRASE": None, "OFFBOARD_DEBUG": None, **case.env}
    result = CliRunner().invoke(cli, world.args(case), env=env, catch_exceptions=False)
    check_surface(case, world, result.exit_code, result.stdout, result.stderr)


# -- the real entry point ---------------------------------------------------------------------
ENTRY = Path(sys.executable).with_name("offboard")
THROUGH_THE_ENTRY_POINT = [
    "accounts-hostile-name",
    "verify-missing-archive",
    "export-jobs-out-of-range",
    "fec-check-binary-garbage",
    "keygen-output-exists",
    "export-wrong-passphrase",
]


def run_entry(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OFFBOARD_")}
    return subprocess.run(
        args, capture_output=True, text=True, env={**clean, **env}, timeout=120, check=False
    )


@pytest.mark.parametrize("name", THROUGH_THE_ENTRY_POINT)
def test_the_entry_point_gives_the_same_surface(name: str, world: World) -> None:
    assert ENTRY.is_file(), f"{ENTRY}: install the project (make test does)"
    (case,) = [c for c in MATRIX if c.id == name]
    done = run_entry([str(ENTRY), *world.args(case)], **case.env)
    check_surface(case, world, done.returncode, done.stdout, done.stderr)


INTERNAL = """
import sys, exporters
from offboard.cli import main
def broken():
    raise RuntimeError("a bug\\n\\x1b[31mon two lines")
exporters.load_all = broken
sys.argv = ["offboard", "kinds"]
main()
"""


def test_an_internal_error_is_one_line_and_exit_70_without_offboard_debug() -> None:
    done = run_entry([sys.executable, "-c", INTERNAL])
    assert done.returncode == ExitCode.INTERNAL, done.stderr
    assert done.stderr == (
        "offboard: error: internal error: RuntimeError: a bug\\n\\x1b[31mon two lines (a bug: "
        "rerun with OFFBOARD_DEBUG=1 for the traceback and report it)\n"
    )
    shown = run_entry([sys.executable, "-c", INTERNAL], OFFBOARD_DEBUG="1")
    assert shown.returncode == 1 and "Traceback" in shown.stderr  # the traceback, on request
    assert "RuntimeError: a bug" in shown.stderr


def test_a_closed_standard_output_is_no_error() -> None:
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run(
            [str(ENTRY), "mapping", "reference"], stdout=write, stderr=subprocess.PIPE, timeout=60
        )
    finally:
        os.close(write)
    assert (done.returncode, done.stderr) == (0, b"")
