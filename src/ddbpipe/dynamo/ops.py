"""Item-level calls: one Scan page, one BatchWriteItem."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from ddbpipe.dynamo.client import DynamoClient
from ddbpipe.items import Item

__all__ = [
    "MAX_BATCH_ITEMS",
    "BatchResult",
    "RequestsResult",
    "ScanPage",
    "WriteRequest",
    "scan_page",
    "write_batch",
    "write_requests",
]

MAX_BATCH_ITEMS = 25
# ``{"PutRequest": {"Item": item}}`` or ``{"DeleteRequest": {"Key": key}}``.
WriteRequest = dict[str, Any]


@dataclass(frozen=True)
class ScanPage:
    """One page of a Scan: items in wire form, where to go on, capacity used."""

    items: list[Item]
    last_key: Item | None
    consumed: float
    scanned: int


def scan_page(
    client: DynamoClient,
    table: str,
    *,
    segment: int = 0,
    total_segments: int = 1,
    start_key: Item | None = None,
    limit: int | None = None,
    consistent_read: bool = False,
) -> ScanPage:
    """Read one page of ``table`` (one segment of a parallel scan when ``total_segments > 1``)."""
    params: dict[str, Any] = {"TableName": table, "ReturnConsumedCapacity": "TOTAL"}
    if total_segments > 1:
        params["Segment"] = segment
        params["TotalSegments"] = total_segments
    if start_key:
        params["ExclusiveStartKey"] = start_key
    if limit:
        params["Limit"] = limit
    if consistent_read:
        params["ConsistentRead"] = True
    response = orjson.loads(client.request("Scan", orjson.dumps(params), resource=table))
    consumed = (response.get("ConsumedCapacity") or {}).get("CapacityUnits") or 0.0
    items: list[Item] = response.get("Items", [])
    return ScanPage(
        items=items,
        last_key=response.get("LastEvaluatedKey"),
        consumed=float(consumed),
        scanned=int(response.get("ScannedCount", len(items))),
    )


@dataclass(frozen=True)
class BatchResult:
    """What one BatchWriteItem left unwritten, and the capacity it used."""

    unprocessed: list[Item]
    consumed: float


@dataclass(frozen=True)
class RequestsResult:
    """The write requests one BatchWriteItem left unprocessed, and the capacity it used."""

    unprocessed: list[WriteRequest]
    consumed: float


def write_requests(
    client: DynamoClient, table: str, requests: Sequence[WriteRequest]
) -> RequestsResult:
    """Send up to 25 ``{"PutRequest": ...}`` / ``{"DeleteRequest": ...}`` in one
    BatchWriteItem; return the requests DynamoDB did not process."""
    body = orjson.dumps({"RequestItems": {table: requests}, "ReturnConsumedCapacity": "TOTAL"})
    response = orjson.loads(client.request("BatchWriteItem", body, resource=table))
    left: list[WriteRequest] = (response.get("UnprocessedItems") or {}).get(table, [])
    consumed = sum(
        float(c.get("CapacityUnits") or 0) for c in response.get("ConsumedCapacity") or []
    )
    return RequestsResult(unprocessed=left, consumed=consumed)


def write_batch(client: DynamoClient, table: str, items: Sequence[Item]) -> BatchResult:
    """Put up to 25 items in one BatchWriteItem; return the items DynamoDB did not write."""
    result = write_requests(client, table, [{"PutRequest": {"Item": item}} for item in items])
    return BatchResult(
        unprocessed=[request["PutRequest"]["Item"] for request in result.unprocessed],
        consumed=result.consumed,
    )
