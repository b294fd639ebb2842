"""Progress of long jobs: a live bar on a terminal, a log line every few seconds otherwise."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

__all__ = ["LOG_INTERVAL", "ProgressLine", "progress_reporter"]

LOG_INTERVAL = 5.0
ProgressLine = Callable[[int, int, float, int | None], None]


@contextmanager
def progress_reporter(console: Console, label: str) -> Iterator[ProgressLine]:
    """Yield ``report(items, bytes, elapsed, expected_items)`` that shows progress."""
    if console.is_terminal:
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[mb]:,.1f} MB  {task.fields[rate]:,.0f} items/s"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task(label, total=None, mb=0.0, rate=0.0)

            def report(items: int, size: int, elapsed: float, expected: int | None) -> None:
                rate = items / elapsed if elapsed > 0 else 0.0
                total = max(expected, items) if expected else None
                bar.update(task, completed=items, total=total, mb=size / 1e6, rate=rate)

            yield report
        return
    last = [0.0]

    def log(items: int, size: int, elapsed: float, expected: int | None) -> None:
        if elapsed - last[0] < LOG_INTERVAL:
            return
        last[0] = elapsed
        rate = items / elapsed if elapsed > 0 else 0.0
        share = f" of ~{expected:,}" if expected else ""
        console.print(
            f"{label}: {items:,}{share} items, {size / 1e6:,.1f} MB, {rate:,.0f} items/s, "
            f"{elapsed:,.0f} s"
        )

    yield log
