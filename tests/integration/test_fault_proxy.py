"""The fault proxy forwards to moto and dynalite unchanged, and injects the faults it is told to."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import threading
from typing import Any

import pytest
import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError, ConnectionClosedError

from tests.support.fault_proxy import (
    INTERNAL_ERROR_TYPE,
    THROTTLE_TYPE,
    FaultProxy,
    FaultProxyFactory,
    FaultRules,
    FaultStats,
    fault_proxy_fixture,  # noqa: F401
)
from tests.support.servers import Endpoint

NO_RETRIES = Config(retries={"max_attempts": 0})


def create_table(client: Any, name: str) -> None:
    """Create an on-demand table keyed by the string ``pk`` and wait until it is active."""
    client.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.get_waiter("table_exists").wait(
        TableName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 50}
    )


def stored_keys(endpoint: Endpoint, table: str) -> set[str]:
    """The ``pk`` of every item in ``table``, read straight from the server."""
    paginator = endpoint.client("dynamodb").get_paginator("scan")
    return {
        item["pk"]["S"]
        for page in paginator.paginate(TableName=table, ConsistentRead=True)
        for item in page["Items"]
    }


def proxied_client(proxy: FaultProxy, endpoint: Endpoint) -> Any:
    """A DynamoDB client that goes through ``proxy`` and never retries."""
    return proxy.via(endpoint).client("dynamodb", config=NO_RETRIES)


def raw_call(
    endpoint: Endpoint, url: str, operation: str, payload: dict[str, Any]
) -> urllib3.BaseHTTPResponse:
    """POST a signed DynamoDB JSON 1.0 request to ``url``, without retries."""
    body = json.dumps(payload).encode()
    request = AWSRequest(
        method="POST",
        url=f"{url}/",
        data=body,
        headers={
            "X-Amz-Target": f"DynamoDB_20120810.{operation}",
            "Content-Type": "application/x-amz-json-1.0",
        },
    )
    credentials = Credentials(endpoint.access_key, endpoint.secret_key)
    SigV4Auth(credentials, "dynamodb", endpoint.region).add_auth(request)
    with urllib3.PoolManager() as pool:
        return pool.request(
            "POST", f"{url}/", body=body, headers=dict(request.headers.items()), retries=False
        )


def item_key(pk: str) -> dict[str, Any]:
    """The key of the item whose ``pk`` is ``pk``."""
    return {"pk": {"S": pk}}


@pytest.fixture
def table(dynamodb_endpoint: Endpoint, unique_name: str) -> str:
    """A new table on the server under test, created directly."""
    create_table(dynamodb_endpoint.client("dynamodb"), unique_name)
    return unique_name


def test_with_no_faults_the_proxy_is_transparent(
    dynamodb_endpoint: Endpoint, unique_name: str, fault_proxy: FaultProxyFactory
) -> None:
    proxy = fault_proxy(dynamodb_endpoint, FaultRules())
    client = proxied_client(proxy, dynamodb_endpoint)

    create_table(client, unique_name)
    client.put_item(TableName=unique_name, Item={"pk": {"S": "a"}, "n": {"N": "7"}})
    got = client.get_item(TableName=unique_name, Key=item_key("a"))

    assert got["Item"] == {"pk": {"S": "a"}, "n": {"N": "7"}}
    assert stored_keys(dynamodb_endpoint, unique_name) == {"a"}
    stats = proxy.stats
    assert stats.faults == 0
    assert stats.forwarded == stats.requests >= 4


def test_concurrent_keep_alive_clients_all_get_through(
    dynamodb_endpoint: Endpoint, table: str, fault_proxy: FaultProxyFactory
) -> None:
    proxy = fault_proxy(dynamodb_endpoint, FaultRules())
    failures: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            client = proxied_client(proxy, dynamodb_endpoint)
            for index in range(15):
                client.put_item(TableName=table, Item=item_key(f"w{worker}-{index}"))
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert failures == []
    assert len(stored_keys(dynamodb_endpoint, table)) == 8 * 15
    stats = proxy.stats
    assert stats.forwarded == 8 * 15
    assert stats.connections < stats.requests


CLIENT_PROCESS_SCRIPT = """
import sys
import boto3
from botocore.config import Config

url, region, table, prefix = sys.argv[1:5]
client = boto3.client(
    "dynamodb", endpoint_url=url, region_name=region, config=Config(retries={"max_attempts": 0})
)
for index in range(20):
    client.put_item(TableName=table, Item={"pk": {"S": f"{prefix}-{index}"}})
"""


def test_several_client_processes_get_through_at_once(
    dynamodb_endpoint: Endpoint, table: str, fault_proxy: FaultProxyFactory
) -> None:
    proxy = fault_proxy(dynamodb_endpoint, FaultRules())
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                CLIENT_PROCESS_SCRIPT,
                proxy.url,
                dynamodb_endpoint.region,
                table,
                f"p{number}",
            ],
            stderr=subprocess.PIPE,
        )
        for number in range(3)
    ]
    for process in processes:
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr.decode()

    assert len(stored_keys(dynamodb_endpoint, table)) == 3 * 20
    stats = proxy.stats
    assert stats.forwarded == 3 * 20
    assert stats.connections < stats.requests


def test_throttling_answers_400_without_forwarding(
    dynamodb_endpoint: Endpoint, table: str, fault_proxy: FaultProxyFactory
) -> None:
    proxy = fault_proxy(dynamodb_endpoint, FaultRules(throttle_rate=1.0))

    response = raw_call(dynamodb_endpoint, proxy.url, "Scan", {"TableName": table})

    assert response.status == 400
    assert response.json() == {
        "__type": THROTTLE_TYPE,
        "message": "The level of configured provisioned throughput for the table was exceeded.",
    }
    with pytest.raises(ClientError) as raised:
        proxied_client(proxy, dynamodb_endpoint).put_item(TableName=table, Item=item_key("x"))
    assert raised.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert stored_keys(dynamodb_endpoint, table) == set()
    assert proxy.stats == FaultStats(requests=2, connections=2, throttled=2)


def test_table_administration_is_exempt_by_default(
    dynamodb_endpoint: Endpoint, table: str, fault_proxy: FaultProxyFactory
) -> None:
    proxy = fault_proxy(dynamodb_endpoint, FaultRules(throttle_rate=1.0))
    client = proxied_client(proxy, dynamodb_endpoint)

    assert client.describe_table(TableName=table)["Table"]["TableName"] == table
    assert table in client.list_tables()["TableNames"]
    assert proxy.stats.throttled == 0


def test_faults_apply_only_to_the_listed_operations(
    dynamodb_endpoint: Endpoint, table: str, fault_proxy: FaultProxyFactory
) -> None:
    rules = FaultRules(throttle_rate=1.0, operations=frozenset({"PutItem"}))
    proxy = fault_proxy(dynamodb_endpoint, rules)
    client = proxied_client(proxy, dynamodb_endpoint)

    assert "Item" not in client.get_item(TableName=table, Key=item_key("a"))
    with pytest.raises(ClientError):
        client.put_item(TableName=table, Item=item_key("a"))
    assert proxy.stats.throttled == 1


@pytest.mark.parametrize("seed", range(8))
def test_unprocessed_items_are_exactly_the_writes_not_stored(
    dynamodb_endpoint: Endpoint, table: str, fault_proxy: FaultProxyFactory, seed: int
) -> None:
    proxy = fault_proxy(dynamodb_endpoint, FaultRules(unprocessed_rate=1.0, seed=seed))
    requests = [
        {"PutRequest": {"Item": {"pk": {"S": f"k{i}"}, "v": {"N": str(i)}}}} for i in range(25)
    ]

    response = proxied_client(proxy, dynamodb_endpoint).batch_write_item(
        RequestItems={table: requests}, ReturnConsumedCapacity="TOTAL"
    )

    unprocessed = response["UnprocessedItems"]
    assert set(unprocessed) == {table}
    returned = unprocessed[table]
    assert all(write in requests for write in returned)
    returned_keys = {write["PutRequest"]["Item"]["pk"]["S"] for write in returned}
    stored = stored_keys(dynamodb_endpoint, table)
    assert stored | returned_keys == {f"k{i}" for i in range(25)}
    assert stored & returned_keys == set()
    assert len(returned) == len(returned_keys) >= 1
    [capacity] = response["ConsumedCapacity"]
    assert capacity["TableName"] == table
    if not stored or dynamodb_endpoint.name == "dynalite":
        assert capacity["CapacityUnits"] == len(stored)
    stats = proxy.stats
    assert (stats.partial_batches, stats.unprocessed_items) == (1, len(returned))
    assert stats.forwarded == (1 if stored else 0)


def test_unprocessed_items_keep_puts_and_deletes_of_several_tables(
    dynamodb_endpoint: Endpoint, unique_name: str, fault_proxy: FaultProxyFactory
) -> None:
    direct = dynamodb_endpoint.client("dynamodb")
    first, second = f"{unique_name}-a", f"{unique_name}-b"
    create_table(direct, first)
    create_table(direct, second)
    for index in range(5):
        direct.put_item(TableName=second, Item=item_key(f"d{index}"))
    first_writes = [{"PutRequest": {"Item": item_key(f"a{i}")}} for i in range(10)]
    second_writes = [{"DeleteRequest": {"Key": item_key(f"d{i}")}} for i in range(5)] + [
        {"PutRequest": {"Item": item_key(f"b{i}")}} for i in range(5)
    ]
    proxy = fault_proxy(dynamodb_endpoint, FaultRules(unprocessed_rate=1.0, seed=3))

    response = proxied_client(proxy, dynamodb_endpoint).batch_write_item(
        RequestItems={first: first_writes, second: second_writes}
    )

    unprocessed = response["UnprocessedItems"]
    assert set(unprocessed) <= {first, second}
    first_returned = unprocessed.get(first, [])
    second_returned = unprocessed.get(second, [])
    assert [write for write in first_writes if write in first_returned] == first_returned
    assert [write for write in second_writes if write in second_returned] == second_returned
    first_stored, second_stored = (
        stored_keys(dynamodb_endpoint, first),
        stored_keys(dynamodb_endpoint, second),
    )
    for write in first_writes:
        assert (write["PutRequest"]["Item"]["pk"]["S"] in first_stored) != (write in first_returned)
    for write in second_writes:
        if "PutRequest" in write:
            assert (write["PutRequest"]["Item"]["pk"]["S"] in second_stored) != (
                write in second_returned
            )
        else:
            still_there = write["DeleteRequest"]["Key"]["pk"]["S"] in second_stored
            assert still_there == (write in second_returned)
    assert proxy.stats.unprocessed_items == len(first_returned) + len(second_returned) >= 1


@pytest.mark.parametrize("timing", ["before", "after"])
def test_a_dropped_connection_is_a_connection_error(
    dynamodb_endpoint: Endpoint,
    table: str,
    fault_proxy: FaultProxyFactory,
    timing: str,
) -> None:
    rules = FaultRules(drop_rate=1.0, drop_timing="before" if timing == "before" else "after")
    proxy = fault_proxy(dynamodb_endpoint, rules)
    payload = {"TableName": table, "Item": item_key("raw")}

    with pytest.raises(urllib3.exceptions.ProtocolError):
        raw_call(dynamodb_endpoint, proxy.url, "PutItem", payload)
    with pytest.raises(ConnectionClosedError):
        proxied_client(proxy, dynamodb_endpoint).put_item(TableName=table, Item=item_key("boto"))

    stored = stored_keys(dynamodb_endpoint, table)
    stats = proxy.stats
    if timing == "before":
        assert stored == set()
        assert (stats.dropped_before, stats.dropped_after, stats.forwarded) == (2, 0, 0)
    else:
        assert stored == {"raw", "boto"}
        assert (stats.dropped_before, stats.dropped_after, stats.forwarded) == (0, 2, 2)


@pytest.mark.parametrize("timing", ["before", "after"])
def test_an_internal_error_may_follow_a_write_that_happened(
    dynamodb_endpoint: Endpoint,
    table: str,
    fault_proxy: FaultProxyFactory,
    timing: str,
) -> None:
    rules = FaultRules(error_rate=1.0, error_timing="before" if timing == "before" else "after")
    proxy = fault_proxy(dynamodb_endpoint, rules)

    with pytest.raises(ClientError) as raised:
        proxied_client(proxy, dynamodb_endpoint).put_item(TableName=table, Item=item_key("a"))
    raw = raw_call(
        dynamodb_endpoint, proxy.url, "PutItem", {"TableName": table, "Item": item_key("b")}
    )

    error = raised.value.response
    assert error["Error"]["Code"] == "InternalServerError"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert raw.status == 500
    assert raw.json() == {"__type": INTERNAL_ERROR_TYPE, "message": "Internal server error"}
    stored = stored_keys(dynamodb_endpoint, table)
    stats = proxy.stats
    if timing == "before":
        assert stored == set()
        assert (stats.errors_before, stats.errors_after) == (2, 0)
    else:
        assert stored == {"a", "b"}
        assert (stats.errors_before, stats.errors_after) == (0, 2)


def outcomes(endpoint: Endpoint, proxy: FaultProxy, table: str, count: int) -> list[str]:
    """What each of ``count`` sequential GetItem calls through ``proxy`` saw."""
    seen: list[str] = []
    for _ in range(count):
        try:
            response = raw_call(
                endpoint, proxy.url, "GetItem", {"TableName": table, "Key": item_key("a")}
            )
        except urllib3.exceptions.ProtocolError:
            seen.append("dropped")
        else:
            seen.append(str(response.status))
    return seen


def test_the_same_seed_gives_the_same_faults(
    dynamodb_endpoint: Endpoint, table: str, fault_proxy: FaultProxyFactory
) -> None:
    rules = FaultRules(throttle_rate=0.25, error_rate=0.25, drop_rate=0.25, seed=42)
    first = fault_proxy(dynamodb_endpoint, rules)
    second = fault_proxy(dynamodb_endpoint, rules)

    first_seen = outcomes(dynamodb_endpoint, first, table, 40)
    first_stats = first.stats
    second_seen = outcomes(dynamodb_endpoint, second, table, 40)
    first.rules = rules
    replayed = outcomes(dynamodb_endpoint, first, table, 40)
    first.rules = dataclasses.replace(rules, seed=43)
    other_seed = outcomes(dynamodb_endpoint, first, table, 40)

    assert first_seen == second_seen == replayed
    assert {"200", "400", "500", "dropped"} <= set(first_seen)
    assert first_stats == second.stats
    assert first_stats.dropped_before > 0
    assert first_stats.dropped_after > 0
    assert first_stats.errors_before > 0
    assert first_stats.errors_after > 0
    assert other_seed != first_seen


def test_max_faults_stops_injection_and_new_rules_reset_it(
    dynamodb_endpoint: Endpoint, table: str, fault_proxy: FaultProxyFactory
) -> None:
    proxy = fault_proxy(dynamodb_endpoint, FaultRules(throttle_rate=1.0, max_faults=3))

    assert outcomes(dynamodb_endpoint, proxy, table, 6) == ["400"] * 3 + ["200"] * 3
    proxy.rules = FaultRules(throttle_rate=1.0, max_faults=1)
    assert outcomes(dynamodb_endpoint, proxy, table, 3) == ["400", "200", "200"]
    proxy.rules = FaultRules(throttle_rate=1.0)
    assert outcomes(dynamodb_endpoint, proxy, table, 2) == ["400", "400"]
    proxy.rules = FaultRules()
    assert outcomes(dynamodb_endpoint, proxy, table, 2) == ["200", "200"]
    assert proxy.stats.throttled == 6


def test_the_proxy_only_forwards_to_loopback() -> None:
    with pytest.raises(ValueError, match="upstream"):
        FaultProxy("http://10.1.2.3:8000", FaultRules())
    with pytest.raises(ValueError, match="upstream"):
        FaultProxy("https://127.0.0.1:8000", FaultRules())


def test_rules_reject_rates_outside_zero_to_one() -> None:
    with pytest.raises(ValueError, match="throttle_rate"):
        FaultRules(throttle_rate=1.5)
    with pytest.raises(ValueError, match="max_faults"):
        FaultRules(max_faults=-1)


def test_a_stopped_proxy_refuses_connections(dynamodb_endpoint: Endpoint, table: str) -> None:
    with FaultProxy(dynamodb_endpoint.url, FaultRules()) as proxy:
        url = proxy.url
        assert raw_call(dynamodb_endpoint, url, "Scan", {"TableName": table}).status == 200
    with pytest.raises(urllib3.exceptions.NewConnectionError):
        raw_call(dynamodb_endpoint, url, "Scan", {"TableName": table})
