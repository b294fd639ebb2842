"""An Activity.log kept in S3 is rewritten whole at least every flush interval, so it can
be read while its attempt runs."""

from __future__ import annotations

from datetime import UTC, datetime

from ddbpipe.pipeline.logs import ActivityLog, attempt_log_url
from ddbpipe.stores import StoreConfig, open_store
from tests.support.clock import SimulatedClock
from tests.support.servers import Endpoint


def test_a_log_in_s3_is_rewritten_every_flush_interval(moto: Endpoint, unique_name: str) -> None:
    bucket = f"logs-{unique_name}"
    moto.client("s3").create_bucket(Bucket=bucket)
    store = StoreConfig(region=moto.region, endpoint_url=moto.url)
    seconds = [0.0]
    url = attempt_log_url(f"s3://{bucket}/logs", "df-X", "C", "@C_1", "@C_1_Attempt=1")
    log = ActivityLog(
        url,
        clock=SimulatedClock(datetime(2026, 1, 1, tzinfo=UTC)),
        store=store,
        flush_interval=30.0,
        monotonic=lambda: seconds[0],
    )
    assert log.problem is None
    assert log.url == url
    folder = open_store(url.rpartition("/")[0], store)
    log.write("started")
    assert not folder.exists("Activity.log")  # buffered
    seconds[0] = 30.0
    log.write("progress")
    assert folder.read_bytes("Activity.log").decode().splitlines() == [
        "2026-01-01T00:00:00 started",
        "2026-01-01T00:00:00 progress",
    ]
    log.write("quiet for a while")
    log.flush(only_if_due=True)  # not due yet
    assert len(folder.read_bytes("Activity.log").splitlines()) == 2
    seconds[0] = 61.0
    log.flush(only_if_due=True)  # what the runner does between writes
    assert len(folder.read_bytes("Activity.log").splitlines()) == 3
    log.write("finished")
    log.close()
    assert folder.read_bytes("Activity.log").decode().splitlines()[-1].endswith(" finished")


def test_a_log_bucket_that_does_not_exist_never_fails_the_attempt(moto: Endpoint) -> None:
    store = StoreConfig(region=moto.region, endpoint_url=moto.url)
    log = ActivityLog(
        "s3://no-such-bucket/logs/Activity.log",
        clock=SimulatedClock(datetime(2026, 1, 1, tzinfo=UTC)),
        store=store,
        flush_interval=0.0,
    )
    log.write("lost")
    log.close()
    assert log.problem is not None
    assert "no-such-bucket" in log.problem
