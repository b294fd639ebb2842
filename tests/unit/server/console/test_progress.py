"""Live progress of running instances, from the scheduler's run events."""

from __future__ import annotations

from ddbpipe.pipeline.runner import RunEvent
from ddbpipe.server.console.display import human_bytes, human_seconds, tone
from ddbpipe.server.console.progress import LiveProgress, ProgressBoard
from ddbpipe.transfer.progress import JobProgress


def progress(items: int, expected: int | None = None, job: str = "export") -> JobProgress:
    return JobProgress(
        job=job,  # type: ignore[arg-type]
        table="Forum",
        items=items,
        bytes=items * 250_000,
        consumed=0.0,
        elapsed=10.0,
        expected_items=expected,
    )


def test_rate_megabytes_and_time_left() -> None:
    live = LiveProgress.of(progress(500, expected=2_000))
    assert live.items_per_second == 50.0
    assert live.megabytes == 125.0
    assert live.seconds_left == 30.0
    assert live.percent == 25
    assert live.verb == "read"
    unknown = LiveProgress.of(progress(500, job="import"))
    assert unknown.seconds_left is None
    assert unknown.percent is None
    assert unknown.verb == "written"


def test_board_keeps_the_latest_progress_until_the_instance_moves() -> None:
    board = ProgressBoard()
    instance = "@Backup_2026-05-01T09:00:00"
    board.listen("df-1", RunEvent("progress", instance, "Backup", "INSTANCE", progress=progress(1)))
    board.listen("df-1", RunEvent("progress", instance, "Backup", "INSTANCE", progress=progress(9)))
    found = board.get("df-1", instance)
    assert found is not None
    assert found.items == 9
    assert board.get("df-2", instance) is None
    attempt = f"{instance}_Attempt=1"
    board.listen("df-1", RunEvent("status", attempt, "Backup", "ATTEMPT", status="FINISHED"))
    assert board.get("df-1", instance) is not None
    board.listen("df-1", RunEvent("status", instance, "Backup", "INSTANCE", status="FINISHED"))
    assert board.get("df-1", instance) is None


def test_statuses_have_a_tone_and_values_read_well() -> None:
    assert [tone(s) for s in ("ERROR", "FAILED", "FINISHED", "RUNNING", "PENDING", None)] == [
        "bad",
        "bad",
        "good",
        "busy",
        "idle",
        "idle",
    ]
    assert human_bytes(999) == "999 bytes"
    assert human_bytes(12_345_678) == "12.3 MB"
    assert human_seconds(42) == "42 s"
    assert human_seconds(185) == "3 min 05 s"
    assert human_seconds(3_720) == "1 h 02 min"
