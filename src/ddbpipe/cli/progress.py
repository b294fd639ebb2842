"""Progress of long jobs on stderr: a live bar on a terminal, a log line every few seconds
otherwise. The bar is one subscriber of a job's progress callback."""

from __future__ import annotations

from collections.abc import Iterator
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

from ddbpipe.cli.output import err_console
from ddbpipe.transfer.progress import JobProgress, ProgressCallback

__all__ = ["LOG_INTERVAL", "estimate_total", "progress_reporter"]

LOG_INTERVAL = 5.0


def estimate_total(
    items: int, size: int, expected_items: int | None, expected_bytes: int | None
) -> int | None:
    """The items to expect: the known count, or one scaled from the share of bytes read."""
    if expected_items:
        return max(expected_items, items)
    if expected_bytes and size:
        return max(items, round(items * expected_bytes / size))
    return None


def _total(progress: JobProgress) -> int | None:
    return estimate_total(
        progress.items, progress.bytes, progress.expected_items, progress.expected_bytes
    )


@contextmanager
def progress_reporter(label: str, *, console: Console | None = None) -> Iterator[ProgressCallback]:
    """Yield a progress callback that shows a job's progress on stderr."""
    console = console or err_console
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

            def report(progress: JobProgress) -> None:
                bar.update(
                    task,
                    completed=progress.items,
                    total=_total(progress),
                    mb=progress.bytes / 1e6,
                    rate=progress.items_per_second,
                )

            yield report
        return
    last = [0.0]

    def log(progress: JobProgress) -> None:
        if progress.elapsed - last[0] < LOG_INTERVAL:
            return
        last[0] = progress.elapsed
        total = _total(progress)
        share = f" of ~{total:,}" if total else ""
        console.print(
            f"{label}: {progress.items:,}{share} items, {progress.bytes / 1e6:,.1f} MB, "
            f"{progress.items_per_second:,.0f} items/s, {progress.elapsed:,.0f} s"
        )

    yield log
