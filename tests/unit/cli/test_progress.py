"""Progress: totals known or estimated, and plain log lines off a terminal."""

from __future__ import annotations

import io

from rich.console import Console

from ddbpipe.cli.progress import LOG_INTERVAL, estimate_total, progress_reporter
from ddbpipe.transfer.progress import JobProgress


def test_totals_known_estimated_or_unknown() -> None:
    assert estimate_total(10, 100, 50, None) == 50
    assert estimate_total(60, 100, 50, None) == 60  # the count was stale: never below items
    assert estimate_total(10, 100, None, 1000) == 100  # a tenth of the bytes: ten times the items
    assert estimate_total(10, 0, None, 1000) is None
    assert estimate_total(10, 100, None, None) is None


def test_log_lines_every_few_seconds_off_a_terminal() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=200)

    def progress(items: int, size: int, elapsed: float) -> JobProgress:
        return JobProgress("import", "t", items, size, 0.0, elapsed, expected_bytes=10_000)

    with progress_reporter("import", console=console) as report:
        report(progress(100, 1000, 1.0))
        report(progress(500, 5000, LOG_INTERVAL + 1))
        report(progress(600, 6000, LOG_INTERVAL + 2))
    lines = out.getvalue().splitlines()
    assert lines == ["import: 500 of ~1,000 items, 0.0 MB, 83 items/s, 6 s"]
