"""Activity.log: where it lies, and a local log read while it is written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from ddbpipe.pipeline.logs import ActivityLog, attempt_log_url
from tests.support.clock import SimulatedClock


def test_the_log_lies_where_the_service_kept_it() -> None:
    url = attempt_log_url(
        "s3://logs/pipelines/",
        "df-00123456ABC7DEF8HIJK",
        "ActivityId_fXNzc",
        "@ActivityId_fXNzc_2014-05-01T00:00:00",
        "@ActivityId_fXNzc_2014-05-01T00:00:00_Attempt=1",
    )
    assert url == (
        "s3://logs/pipelines/df-00123456ABC7DEF8HIJK/ActivityId_fXNzc/"
        "@ActivityId_fXNzc_2014-05-01T00:00:00/@ActivityId_fXNzc_2014-05-01T00:00:00_Attempt=1/"
        "Activity.log"
    )


def test_a_local_log_can_be_read_while_it_is_written(tmp_path: Path) -> None:
    clock = SimulatedClock(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    url = attempt_log_url(str(tmp_path), "df-X", "C", "@C_1", "@C_1_Attempt=1")
    log = ActivityLog(url, clock=clock)
    assert log.problem is None
    log.write("first")
    path = Path(log.url)
    assert path.read_text() == "2026-01-02T03:04:05 first\n"
    clock.advance(timedelta(seconds=61))
    log.write("two\nlines")
    assert path.read_text().splitlines()[1:] == [
        "2026-01-02T03:05:06 two",
        "2026-01-02T03:05:06 lines",
    ]
    log.close()
    again = ActivityLog(url, clock=clock)  # a log is appended to, never replaced
    again.write("more")
    again.close()
    assert len(path.read_text().splitlines()) == 4


def test_a_log_that_cannot_be_written_says_why_without_failing(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    clock = SimulatedClock(datetime(2026, 1, 1, tzinfo=UTC))
    log = ActivityLog(str(blocker / "sub" / "Activity.log"), clock=clock)
    assert log.problem is not None
    assert "cannot write the log" in log.problem
    log.write("lost")  # no error
    log.close()
