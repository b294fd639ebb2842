"""An import keeps to ``write ratio x WCU``, with partial batches: a simulated minute."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import orjson

from ddbpipe.backups.reader import BackupFile, RecordFormat
from ddbpipe.dynamo.client import DynamoConfig
from ddbpipe.dynamo.throttle import BucketState
from ddbpipe.formats.datapipeline import encode_items
from ddbpipe.items import KeyAttribute, KeySchema
from ddbpipe.retry import RetryPolicy
from ddbpipe.stores import StoreConfig
from ddbpipe.transfer.import_task import FileTask, run_file
from tests.support.simulated import SimulatedContext, SimulatedTime


class FakeDynamo:
    """Takes BatchWriteItem, charges 1 WCU per started KB per item, and leaves every
    third request's last five items unprocessed."""

    def __init__(self, time: SimulatedTime) -> None:
        self.time = time
        self.stored: dict[str, dict[str, Any]] = {}
        self.log: list[tuple[float, float]] = []
        self.calls = 0

    def request(self, operation: str, body: bytes, *, resource: str = "") -> bytes:
        assert operation == "BatchWriteItem"
        requests = orjson.loads(body)["RequestItems"]["t"]
        assert len(requests) <= 25
        self.calls += 1
        done, left = (requests[:-5], requests[-5:]) if self.calls % 3 == 0 else (requests, [])
        consumed = 0.0
        for request in done:
            item = request["PutRequest"]["Item"]
            self.stored[item["pk"]["S"]] = item
            consumed += math.ceil(len(orjson.dumps(item)) / 1024)
        self.time.now += 0.01
        self.log.append((self.time.now, consumed))
        return orjson.dumps(
            {
                "UnprocessedItems": {"t": left} if left else {},
                "ConsumedCapacity": [{"TableName": "t", "CapacityUnits": consumed}],
            }
        )


def file_task(folder: Path) -> FileTask:
    """The task that writes ``folder/part`` into table ``t``."""
    return FileTask(
        table="t",
        file=BackupFile("part", str(folder / "part"), 0),
        format=RecordFormat("datapipeline"),
        start_line=0,
        schema=KeySchema(KeyAttribute("pk", "S")),
        folder_url=str(folder),
        store=StoreConfig(),
        dynamo=DynamoConfig(region="us-east-1"),
        on_error="fail",
        dry_run=False,
        retry=RetryPolicy(base_delay=0.01, max_delay=0.1),
    )


def test_writes_keep_to_the_rate_and_every_item_lands(tmp_path: Path) -> None:
    items = [{"pk": {"S": f"k{n:05d}"}, "pad": {"S": "x" * (300 + n % 1500)}} for n in range(5000)]
    (tmp_path / "part").write_bytes(encode_items(items))
    rate = 0.5 * 200  # --write-ratio 0.5 of a 200 WCU table
    time = SimulatedTime()
    dynamo = FakeDynamo(time)
    context = SimulatedContext(BucketState(rate=rate, burst=max(rate, 25.0)), time, dynamo)
    result = run_file(file_task(tmp_path), context)
    assert result.written == 5000
    assert dynamo.stored == {i["pk"]["S"]: i for i in items}
    assert time.now > 60
    per_second = sum(c for t, c in dynamo.log if t < 60) / 60
    assert abs(per_second - rate) <= 0.1 * rate, per_second


def test_large_items_never_borrow_more_than_one_request_beyond_the_rate(tmp_path: Path) -> None:
    # Items of ~390 KB cost ~390 WCU each, far more than a second of a 50 WCU/s limit.
    items = [{"pk": {"S": f"k{n:03d}"}, "pad": {"S": "x" * 399_000}} for n in range(12)]
    (tmp_path / "part").write_bytes(encode_items(items))
    rate = 50.0
    time = SimulatedTime()
    dynamo = FakeDynamo(time)
    context = SimulatedContext(BucketState(rate=rate, burst=max(rate, 25.0)), time, dynamo)
    result = run_file(file_task(tmp_path), context)
    assert result.written == 12
    largest = max(consumed for _, consumed in dynamo.log)
    assert largest < 400  # one item per request: a batch never takes more than it must
    elapsed = time.now
    total = sum(consumed for _, consumed in dynamo.log)
    # What was written stays within the rate, plus the one request that started it all.
    assert total <= rate * elapsed + largest, (total, elapsed)
    for start, _ in dynamo.log:
        in_window = sum(c for t, c in dynamo.log if start <= t < start + 1.0)
        assert in_window <= rate + largest, (start, in_window)
