"""Exports from the command line, and their files, for comparing two sources."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from offboard.cli import cli


def export(source: str, out: Path, *extra: str) -> tuple[int, str]:
    """``offboard export SOURCE -a acc-0001 --out OUT`` (missing documents allowed)."""
    args = ["export", source, "-a", "acc-0001", "--out", str(out), "--quiet"]
    done = CliRunner().invoke(cli, [*args, "--allow-missing-documents", *extra])
    return done.exit_code, done.output


def files(folder: Path) -> dict[str, bytes]:
    """Every file of an export folder but its summary (which names the source and times)."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "export-summary.json"
    }
