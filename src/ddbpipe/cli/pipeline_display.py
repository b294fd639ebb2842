"""What ``ddbpipe pipeline run`` shows while a pipeline runs and when it ends.

On a terminal, a live table of the instances on stderr: component, scheduled start,
status, attempt and the running job's progress. Otherwise, one plain line per change
of an instance's status, per action carried out and per problem, and a progress line
every few seconds. At the end, on stdout: the pipeline, then each instance with its
status, what it did or its error, and where its log is.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from ddbpipe.cli.progress import LOG_INTERVAL
from ddbpipe.pipeline.run import PipelineRunResult
from ddbpipe.pipeline.runner import RunEvent
from ddbpipe.pipeline.statuses import FAILURES, ObjectStatus
from ddbpipe.transfer.progress import JobProgress
from ddbpipe.wording import plural

__all__ = ["EventSink", "print_run_result", "run_display"]

_STYLES = {
    ObjectStatus.FINISHED: "green",
    ObjectStatus.RUNNING: "cyan",
    ObjectStatus.FAILED: "red",
    ObjectStatus.CASCADE_FAILED: "red",
    ObjectStatus.TIMEDOUT: "red",
    ObjectStatus.CANCELED: "yellow",
}


@dataclass
class _Row:
    component: str
    start: str
    status: str
    attempt: int = 0
    progress: str = ""


def _progress_text(progress: JobProgress) -> str:
    verb = "written" if progress.job == "import" else "read"
    return (
        f"{progress.items:,} items {verb}, {progress.bytes / 1e6:,.1f} MB, "
        f"{progress.items_per_second:,.0f}/s"
    )


def _start_of(instance_id: str) -> str:
    return instance_id.rpartition("_")[2]


class EventSink:
    """Keeps the instances' rows from the runner's events, and prints plain lines when
    there is no live table."""

    def __init__(self, console: Console, *, live: bool) -> None:
        self.console = console
        self.live = live
        self.rows: dict[str, _Row] = {}
        self.logged: dict[str, float] = {}

    def __call__(self, event: RunEvent) -> None:
        if event.kind == "status" and event.object_id:
            self._status(event)
        elif event.kind == "progress" and event.object_id and event.progress is not None:
            row = self._row(event)
            row.progress = _progress_text(event.progress)
            now = time.monotonic()
            if not self.live and now - self.logged.get(event.object_id, 0.0) >= LOG_INTERVAL:
                self.logged[event.object_id] = now
                self._line(f"{event.object_id}: {row.progress}")
        elif event.kind in ("action", "problem") and event.message:
            prefix = "[yellow]problem:[/] " if event.kind == "problem" else ""
            self._line(f"{prefix}{escape(event.message)}", markup=True)

    def _row(self, event: RunEvent) -> _Row:
        key = event.object_id or ""
        if key not in self.rows:
            self.rows[key] = _Row(event.component_id or "", _start_of(key), "")
        return self.rows[key]

    def _status(self, event: RunEvent) -> None:
        if event.sphere == "ATTEMPT":
            instance_id = (event.object_id or "").rpartition("_Attempt=")[0]
            row = self.rows.get(instance_id)
            if row is not None and event.status == ObjectStatus.RUNNING:
                row.attempt += 1
                row.progress = ""
            return
        if event.sphere != "INSTANCE":
            return
        row = self._row(event)
        row.status = event.status or ""
        if event.status != ObjectStatus.RUNNING:
            row.progress = ""
        if not self.live:
            why = f": {event.message}" if event.message else ""
            self._line(f"{event.object_id} {event.status}{why}")

    def _line(self, text: str, *, markup: bool = False) -> None:
        if self.live:
            self.console.print(text, markup=markup, highlight=False, soft_wrap=True)
        else:
            stamp = time.strftime("%H:%M:%S")
            self.console.print(f"{stamp} {text}", markup=markup, highlight=False, soft_wrap=True)

    def table(self) -> Table:
        """The instances as a table."""
        table = Table(box=None, pad_edge=False)
        for title in ("Component", "Scheduled start", "Status", "Attempt", "Progress"):
            table.add_column(title)
        for row in self.rows.values():
            style = _STYLES.get(row.status, "")  # type: ignore[call-overload]
            status = f"[{style}]{row.status}[/]" if style else row.status
            table.add_row(
                row.component, row.start, status, str(row.attempt or ""), escape(row.progress)
            )
        return table


@contextmanager
def run_display(console: Console) -> Iterator[EventSink]:
    """An event sink for the runner that keeps a live table on ``console`` while the
    block runs (plain lines when it is not a terminal)."""
    sink = EventSink(console, live=console.is_terminal)
    if not sink.live:
        yield sink
        return

    class _Renderable:
        def __rich__(self) -> Table:
            return sink.table()

    with Live(_Renderable(), console=console, refresh_per_second=4, transient=True):
        yield sink


def print_run_result(console: Console, result: PipelineRunResult) -> None:
    """The pipeline and each of its instances, for people."""
    health = f", health {result.health}" if result.health else ""
    console.print(
        f"pipeline [bold]{result.pipeline_id}[/] ({escape(result.name)}): {result.state}{health}",
        highlight=False,
    )
    for item in result.instances:
        style = _STYLES.get(item.status, "")  # type: ignore[call-overload]
        status = f"[{style}]{item.status}[/]" if style else item.status
        attempts = f", {plural(item.attempts, 'attempt')}" if item.attempts else ""
        console.print(
            f"  {escape(item.instance_id)} ({item.component_type or 'object'}): {status}{attempts}",
            highlight=False,
        )
        if item.status in FAILURES and item.error_message:
            console.print(f"    error: {escape(item.error_message)}", highlight=False)
        elif item.summary:
            console.print(f"    {escape(item.summary)}", highlight=False)
        if item.log:
            console.print(f"    log: {escape(item.log)}", highlight=False, soft_wrap=True)
