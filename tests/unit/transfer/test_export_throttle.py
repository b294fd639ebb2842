"""An export keeps to ``read ratio x RCU``: a simulated minute, with an injected clock."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import orjson

from ddbpipe.dynamo.client import DynamoConfig
from ddbpipe.dynamo.throttle import BucketState
from ddbpipe.retry import RetryPolicy
from ddbpipe.stores import StoreConfig
from ddbpipe.transfer.export_task import PageRead, SegmentTask, run_segment
from tests.support.simulated import SimulatedContext, SimulatedTime

ITEM_BYTES = 500
LATENCY = 0.02


class FakeDynamo:
    """Answers Scan from memory and charges capacity as DynamoDB does (4 KB units, halved)."""

    def __init__(self, items: int, time: SimulatedTime) -> None:
        self.items = [
            {"pk": {"S": f"k{n:06d}"}, "pad": {"S": "x" * (ITEM_BYTES - 11)}} for n in range(items)
        ]
        self.time = time
        self.log: list[tuple[float, float]] = []

    def request(self, operation: str, body: bytes, *, resource: str = "") -> bytes:
        assert operation == "Scan"
        params = orjson.loads(body)
        start = 0
        if "ExclusiveStartKey" in params:
            start = int(params["ExclusiveStartKey"]["pk"]["S"][1:]) + 1
        limit = params.get("Limit", 10**9)
        page = []
        size = 0
        for item in self.items[start:]:
            if len(page) >= limit or size + ITEM_BYTES > 1024 * 1024:
                break
            page.append(item)
            size += ITEM_BYTES
        consumed = math.ceil(size / 4096) * 0.5
        self.time.now += LATENCY
        self.log.append((self.time.now, consumed))
        response: dict[str, Any] = {
            "Items": page,
            "Count": len(page),
            "ScannedCount": len(page),
            "ConsumedCapacity": {"CapacityUnits": consumed},
        }
        if start + len(page) < len(self.items):
            response["LastEvaluatedKey"] = {"pk": page[-1]["pk"]}
        return orjson.dumps(response)


def one_segment(folder: Path) -> SegmentTask:
    """The whole table as one segment, written into ``folder``."""
    return SegmentTask(
        table="t",
        segment=0,
        total_segments=1,
        start_key=None,
        key_names=("pk",),
        consistent_read=False,
        dynamo=DynamoConfig(region="us-east-1"),
        folder_url=str(folder),
        store=StoreConfig(),
        max_items_per_file=100_000,
        average_item_bytes=200.0,
        retry=RetryPolicy(),
    )


def test_consumed_capacity_keeps_to_the_rate_over_a_minute(tmp_path: Path) -> None:
    rate = 0.5 * 100  # --read-ratio 0.5 of a 100 RCU table
    time = SimulatedTime()
    dynamo = FakeDynamo(items=80_000, time=time)
    context = SimulatedContext(BucketState(rate=rate, burst=rate), time, dynamo)
    task = one_segment(tmp_path)
    result = run_segment(task, context)
    assert result.items == 80_000
    assert time.now > 60
    in_window = [c for t, c in dynamo.log if t < 60]
    per_second = sum(in_window) / 60
    assert abs(per_second - rate) <= 0.1 * rate, per_second
    for start in range(0, 60, 10):
        window = sum(c for t, c in dynamo.log if start <= t < start + 10) / 10
        assert window <= 1.1 * rate + rate / 10, (start, window)  # a one-second burst at most
        if start:
            assert window >= 0.9 * rate, (start, window)
    reads = [e for e in context.events if isinstance(e, PageRead)]
    assert sum(e.items for e in reads) == 80_000


def test_full_pages_when_capacity_allows(tmp_path: Path) -> None:
    time = SimulatedTime()
    dynamo = FakeDynamo(items=5_000, time=time)
    context = SimulatedContext(BucketState(rate=100_000, burst=100_000), time, dynamo)
    task = one_segment(tmp_path)
    assert run_segment(task, context).pages == 3  # 1 MB pages of 2,097 items: no Limit set
    assert time.now < 0.1
