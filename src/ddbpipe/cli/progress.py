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

__all__ = ["LOG_INTERVAL", "ProgressLine", "estimate_total", "progress_reporter"]

LOG_INTERVAL = 5.0
# report(items, bytes, elapsed seconds, expected items, expected bytes)
ProgressLine = Callable[[int, int, float, int | None, int | None], None]


def estimate_total(
    items: int, size: int, expected_items: int | None, expected_bytes: int | None
) -> int | None:
    """The items to expect: the known count, or one scaled from the share of bytes read."""
    if expected_items:
        return max(expected_items, items)
    if expected_bytes and size:
        return max(items, round(items * expected_bytes / size))
    return None


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

            def report(
                items: int,
                size: int,
                elapsed: float,
                expected: int | None,
                expected_bytes: int | None = None,
            ) -> None:
                rate = items / elapsed if elapsed > 0 else 0.0
                total = estimate_total(items, size, expected, expected_bytes)
                bar.update(task, completed=items, total=total, mb=size / 1e6, rate=rate)

            yield report
        return
    last = [0.0]

    def log(
        items: int,
        size: int,
        elapsed: float,
        expected: int | None,
        expected_bytes: int | None = None,
    ) -> None:
        if elapsed - last[0] < LOG_INTERVAL:
            return
        last[0] = elapsed
        rate = items / elapsed if elapsed > 0 else 0.0
        total = estimate_total(items, size, expected, expected_bytes)
        share = f" of ~{total:,}" if total else ""
        console.print(
            f"{label}: {items:,}{share} items, {size / 1e6:,.1f} MB, {rate:,.0f} items/s, "
            f"{elapsed:,.0f} s"
        )

    yield log
