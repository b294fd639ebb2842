"""Table-level calls: describe, create, wait, and the facts ddbpipe needs from them."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from ddbpipe.dynamo.client import DynamoClient
from ddbpipe.errors import FatalError
from ddbpipe.items import KeyAttribute, KeySchema, KeyType

__all__ = [
    "TableInfo",
    "create_table",
    "create_table_like",
    "describe_table",
    "table_info",
    "wait_for_table",
]


@dataclass(frozen=True)
class TableInfo:
    """What DescribeTable says about a table, with the raw description kept."""

    name: str
    status: str
    key_schema: KeySchema
    billing_mode: str
    read_capacity: int
    write_capacity: int
    item_count: int
    size_bytes: int
    description: dict[str, Any]

    @property
    def on_demand(self) -> bool:
        """Whether the table bills per request."""
        return self.billing_mode == "PAY_PER_REQUEST"

    def index_key_types(self) -> dict[str, str]:
        """The attributes that key the table's secondary indexes (and not the table
        itself), with their types."""
        types = {
            d["AttributeName"]: d["AttributeType"]
            for d in self.description.get("AttributeDefinitions", [])
        }
        own = {a.name for a in self.key_schema.attributes}
        names = {
            element["AttributeName"]
            for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes")
            for index in self.description.get(kind) or []
            for element in index.get("KeySchema", [])
        }
        return {name: types[name] for name in sorted(names - own) if name in types}

    def capacity(self, kind: Literal["Read", "Write"], on_demand_default: float) -> float:
        """Units per second the table serves: provisioned capacity, or for an on-demand
        table its ``Max{kind}RequestUnits`` when set, else ``on_demand_default``."""
        if self.on_demand:
            limits = self.description.get("OnDemandThroughput") or {}
            limit = limits.get(f"Max{kind}RequestUnits")
            return float(limit) if limit and limit > 0 else on_demand_default
        return float(self.read_capacity if kind == "Read" else self.write_capacity)


def _key_schema(description: dict[str, Any]) -> KeySchema:
    types = {d["AttributeName"]: d["AttributeType"] for d in description["AttributeDefinitions"]}
    hash_key: KeyAttribute | None = None
    range_key: KeyAttribute | None = None
    for element in description["KeySchema"]:
        attribute = KeyAttribute(
            element["AttributeName"], cast(KeyType, types[element["AttributeName"]])
        )
        if element["KeyType"] == "HASH":
            hash_key = attribute
        else:
            range_key = attribute
    if hash_key is None:
        raise FatalError(f"table {description.get('TableName')!r} has no partition key")
    return KeySchema(hash_key, range_key)


def table_info(description: dict[str, Any]) -> TableInfo:
    """A ``TableInfo`` from a DescribeTable ``Table`` object."""
    throughput = description.get("ProvisionedThroughput") or {}
    billing = (description.get("BillingModeSummary") or {}).get("BillingMode")
    if billing is None:
        billing = "PROVISIONED" if throughput.get("ReadCapacityUnits") else "PAY_PER_REQUEST"
    return TableInfo(
        name=description["TableName"],
        status=description.get("TableStatus", "ACTIVE"),
        key_schema=_key_schema(description),
        billing_mode=billing,
        read_capacity=int(throughput.get("ReadCapacityUnits") or 0),
        write_capacity=int(throughput.get("WriteCapacityUnits") or 0),
        item_count=int(description.get("ItemCount") or 0),
        size_bytes=int(description.get("TableSizeBytes") or 0),
        description=description,
    )


def describe_table(client: DynamoClient, table: str) -> TableInfo:
    """Describe ``table``; raises ``TableNotFoundError`` naming table and region."""
    response = client.call("DescribeTable", {"TableName": table}, resource=table)
    return table_info(response["Table"])


def create_table(
    client: DynamoClient,
    table: str,
    key_schema: KeySchema,
    *,
    billing_mode: str = "PAY_PER_REQUEST",
    read_capacity: int = 0,
    write_capacity: int = 0,
    extra: dict[str, Any] | None = None,
) -> TableInfo:
    """Create ``table`` with ``key_schema`` and wait until it is active."""
    attributes: Sequence[KeyAttribute] = key_schema.attributes
    params: dict[str, Any] = {
        "TableName": table,
        "KeySchema": [
            {"AttributeName": a.name, "KeyType": kind}
            for a, kind in zip(attributes, ("HASH", "RANGE"), strict=False)
        ],
        "AttributeDefinitions": [
            {"AttributeName": a.name, "AttributeType": a.type} for a in attributes
        ],
        "BillingMode": billing_mode,
    }
    if billing_mode == "PROVISIONED":
        params["ProvisionedThroughput"] = {
            "ReadCapacityUnits": read_capacity,
            "WriteCapacityUnits": write_capacity,
        }
    params.update(extra or {})
    client.call("CreateTable", params, resource=table)
    return wait_for_table(client, table)


def _index_spec(index: dict[str, Any], provisioned: bool) -> dict[str, Any]:
    spec: dict[str, Any] = {
        k: index[k] for k in ("IndexName", "KeySchema", "Projection") if k in index
    }
    throughput = index.get("ProvisionedThroughput") or {}
    if provisioned and throughput.get("ReadCapacityUnits"):
        spec["ProvisionedThroughput"] = {
            "ReadCapacityUnits": throughput["ReadCapacityUnits"],
            "WriteCapacityUnits": throughput["WriteCapacityUnits"],
        }
    return spec


def create_table_like(client: DynamoClient, table: str, description: dict[str, Any]) -> TableInfo:
    """Create ``table`` with the keys, indexes and billing mode of a DescribeTable
    ``description`` (as kept in a backup's ``_table.json``), and wait until it is active."""
    billing = description.get("BillingMode") or (
        (description.get("BillingModeSummary") or {}).get("BillingMode") or "PROVISIONED"
    )
    provisioned = billing == "PROVISIONED"
    params: dict[str, Any] = {
        "TableName": table,
        "KeySchema": description["KeySchema"],
        "AttributeDefinitions": description["AttributeDefinitions"],
        "BillingMode": billing,
    }
    if provisioned:
        throughput = description.get("ProvisionedThroughput") or {}
        params["ProvisionedThroughput"] = {
            "ReadCapacityUnits": max(1, int(throughput.get("ReadCapacityUnits") or 1)),
            "WriteCapacityUnits": max(1, int(throughput.get("WriteCapacityUnits") or 1)),
        }
    for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if description.get(kind):
            params[kind] = [
                _index_spec(i, provisioned and kind[0] == "G") for i in description[kind]
            ]
    client.call("CreateTable", params, resource=table)
    return wait_for_table(client, table)


def wait_for_table(
    client: DynamoClient,
    table: str,
    *,
    timeout: float = 300.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> TableInfo:
    """Wait until ``table`` is ACTIVE; raise ``FatalError`` after ``timeout`` seconds."""
    deadline = clock() + timeout
    while True:
        info = describe_table(client, table)
        if info.status == "ACTIVE":
            return info
        if clock() >= deadline:
            raise FatalError(f"table {table!r} is still {info.status} after {timeout:.0f} s")
        sleep(1.0)
