"""What a person sees: progress bars on a terminal and the final summary table."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from offboard.summary import ExportSummary


def human_bytes(n: int | None) -> str:
    if n is None:
        return ""
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"


@contextmanager
def progress_bars(kinds: list[tuple[str, str]], enabled: bool) -> Iterator[Any]:
    """Yield ``progress(kind, n)``: a bar per kind on a terminal, nothing otherwise."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    bars = Progress(
        TextColumn("{task.description:<34}"),
        BarColumn(),
        TextColumn("{task.completed:>10,} items"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    tasks = {kind: bars.add_task(title, total=None) for kind, title in kinds}

    def advance(kind: str, n: int, finished: bool) -> None:
        task = tasks[kind]
        if finished:  # a full bar whose clock stops
            done = bars.tasks[task].completed
            bars.update(task, total=done or 1, completed=done or 1)
        else:
            bars.advance(task, n)

    with bars:
        yield advance


def print_summary(summary: ExportSummary) -> None:
    """The summary table: kind, table, records, documents, bytes, seconds; then the problems."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    # never narrower than the table: a file or a pipe would otherwise get 80 columns and
    # truncated table names
    console = Console(highlight=False, width=max(100, shutil.get_terminal_size((100, 24))[0]))
    table = Table(title=escape(f"Export of account {summary.account} ({summary.account_name})"))
    for name, justify in (
        ("kind", "left"),
        ("table", "left"),
        ("records", "right"),
        ("documents", "right"),
        ("bytes", "right"),
        ("seconds", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in summary.rows():
        table.add_row(
            escape(row["kind"]),
            escape(row["table"]),
            "" if row["records"] is None else f"{row['records']:,}",
            "" if row["documents"] is None else f"{row['documents']:,}",
            human_bytes(row["bytes"]),
            f"{row['seconds']:.2f}",
        )
    console.print(table)
    problems = summary.problems
    if problems:
        console.print(f"[bold yellow]{len(problems)} document problem(s):[/]")
        for p in problems:
            line = f"  {p.kind} {p.number} (record {p.record_id}): {p.reason}"
            console.print(line, markup=False)
    console.print(
        f"Written to {summary.out} in {summary.seconds:.1f} s", markup=False, soft_wrap=True
    )


def print_verify_report(report: Any) -> None:
    """The verification verdict, then every problem as a table row (type, path, expected, found)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(highlight=False, width=max(100, shutil.get_terminal_size((100, 24))[0]))
    parts = f" ({len(report.parts)} parts)" if len(report.parts) > 1 else ""
    facts = (
        f"account {report.account}, archive id {report.archive_id}, created {report.created_at}, "
        f"{report.files:,} files, {human_bytes(report.bytes)}, signed by key "
        f"{report.signed_by or 'none'}; {report.mode} check in {report.seconds:.1f} s"
    )
    if report.valid:
        console.print(f"[bold green]VALID[/] {escape(report.archive)}{parts}: {escape(facts)}")
        return
    console.print(
        f"[bold red]INVALID[/] {escape(report.archive)}{parts}: "
        f"{len(report.problems)} problem(s); {escape(facts)}"
    )
    table = Table(show_lines=False)
    for name in ("problem", "part", "path", "expected", "found", "detail"):
        table.add_column(name, overflow="fold")
    for p in report.problems[:1000]:
        table.add_row(
            *(escape(x or "") for x in (p.code, p.part, p.path, p.expected, p.found, p.detail))
        )
    console.print(table)
    if len(report.problems) > 1000:
        console.print(f"... and {len(report.problems) - 1000} more (use --json for all)")


def print_mapping_check(result: Any) -> None:
    """What each exporter would get from the source (``offboard mapping check``)."""
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(100, shutil.get_terminal_size().columns))
    console.print(f"mapping {result.mapping}, account {result.account}")
    table = Table("kind", "table", "from", "rows", "sample / problem", show_lines=False)
    for t in result.tables:
        detail = t.problem or ", ".join(f"{k}={v!r}" for k, v in list(t.sample.items())[:4])
        style = "red" if t.problem else None
        table.add_row(
            t.kind,
            t.table,
            "mapping" if t.mapped else "reference",
            f"{t.rows:,}",
            detail,
            style=style,
        )
    for d in result.documents:
        missing = ", ".join(f"{n} {why}" for why, n in sorted(d.unavailable.items()))
        detail = d.problem or f"{d.found:,} files found" + (f"; {missing}" if missing else "")
        table.add_row(
            d.kind,
            "(documents)",
            "mapping" if d.mapped else "reference",
            f"{d.documents:,}",
            detail,
            style="red" if d.problem else None,
        )
    console.print(table)
    console.print("OK: every query works" if result.ok else "PROBLEMS: see the red rows")
