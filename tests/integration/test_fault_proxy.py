"""The fault proxy forwards to moto, dynalite and rclone unchanged, injects the faults it is
told to in each service's own protocol, and logs the capacity DynamoDB reports."""

from __future__ import annotations

import dataclasses
import itertools
import json
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ElementTree
from typing import Any

import pytest
import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    IncompleteReadError,
    ResponseStreamingError,
)

from tests.support.fault_proxy import (
    INTERNAL_ERROR_TYPE,
    THROTTLE_TYPE,
    CapacityRecord,
    CutBody,
    Drop,
    ErrorReply,
    ExactRule,
    FaultProxy,
    FaultProxyFactory,
    FaultRules,
    FaultStats,
    ProxyRequest,
    RuleStats,
    Throttle,
    Unprocessed,
    fault_proxy_fixture,  # noqa: F401
    peak_capacity,
)
from tests.support.servers import Endpoint

NO_RETRIES = Config(retries={"max_attempts": 0})
S3_NO_RETRIES = Config(
    retries={"total_max_attempts": 1},
    response_checksum_validation="when_required",
    s3={"addressing_style": "path"},
)
MiB = 1 << 20


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


# --- exact rules --------------------------------------------------------------------


def test_an_exact_rule_lets_after_through_then_faults_times(
    dynamodb_endpoint: Endpoint, table: str, fault_proxy: FaultProxyFactory
) -> None:
    rule = ExactRule(Throttle(), "GetItem", after=2, times=3)
    proxy = fault_proxy(dynamodb_endpoint, exact_rules=[rule])

    seen = outcomes(dynamodb_endpoint, proxy, table, 8)
    scanned = raw_call(dynamodb_endpoint, proxy.url, "Scan", {"TableName": table})

    assert seen == ["200", "200", "400", "400", "400", "200", "200", "200"]
    assert scanned.status == 200
    assert proxy.rule_stats(rule) == RuleStats(matched=8, fired=3)
    assert proxy.stats.throttled == 3


def test_an_exact_rule_without_times_faults_every_later_request(
    dynamodb_endpoint: Endpoint, table: str, fault_proxy: FaultProxyFactory
) -> None:
    rule = ExactRule(Drop(), "GetItem", after=3)
    proxy = fault_proxy(dynamodb_endpoint, exact_rules=[rule])

    assert outcomes(dynamodb_endpoint, proxy, table, 6) == ["200"] * 3 + ["dropped"] * 3
    assert proxy.rule_stats(rule) == RuleStats(matched=6, fired=3)
    assert (proxy.stats.dropped_before, proxy.stats.forwarded) == (3, 3)


def test_exact_rules_are_checked_in_order_and_a_faulted_request_goes_no_further(
    dynamodb_endpoint: Endpoint, table: str, fault_proxy: FaultProxyFactory
) -> None:
    first = ExactRule(ErrorReply(500, "InternalServerError"), "GetItem", times=1)
    second = ExactRule(Throttle(), "GetItem", after=1, times=1)
    proxy = fault_proxy(dynamodb_endpoint, exact_rules=[first, second])

    assert outcomes(dynamodb_endpoint, proxy, table, 4) == ["500", "200", "400", "200"]
    assert proxy.rule_stats(first) == RuleStats(matched=4, fired=1)
    assert proxy.rule_stats(second) == RuleStats(matched=3, fired=1)


def test_exact_rules_come_before_the_random_rates(
    dynamodb_endpoint: Endpoint, table: str, fault_proxy: FaultProxyFactory
) -> None:
    rule = ExactRule(ErrorReply(500, "InternalServerError"), "GetItem", times=2)
    proxy = fault_proxy(dynamodb_endpoint, FaultRules(throttle_rate=1.0, max_faults=1), [rule])

    assert outcomes(dynamodb_endpoint, proxy, table, 4) == ["500", "500", "400", "200"]
    stats = proxy.stats
    assert (stats.errors_before, stats.throttled) == (2, 1)


def test_exact_rules_replaced_mid_run_start_fresh(
    dynamodb_endpoint: Endpoint, table: str, fault_proxy: FaultProxyFactory
) -> None:
    rule = ExactRule(Throttle(), "GetItem", after=1, times=1)
    proxy = fault_proxy(dynamodb_endpoint, exact_rules=[rule])

    assert outcomes(dynamodb_endpoint, proxy, table, 3) == ["200", "400", "200"]
    proxy.exact_rules = [rule]
    assert proxy.rule_stats(rule) == RuleStats()
    assert outcomes(dynamodb_endpoint, proxy, table, 3) == ["200", "400", "200"]
    other = ExactRule(Drop(), "GetItem", times=1)
    proxy.exact_rules = [other]
    assert outcomes(dynamodb_endpoint, proxy, table, 2) == ["dropped", "200"]
    proxy.exact_rules = []
    assert outcomes(dynamodb_endpoint, proxy, table, 2) == ["200", "200"]

    assert proxy.rule_stats(rule) == RuleStats(matched=3, fired=1)  # its last time in force
    assert proxy.rule_stats(other) == RuleStats(matched=2, fired=1)
    assert proxy.exact_rules == ()
    assert (proxy.stats.throttled, proxy.stats.dropped_before) == (2, 1)


@pytest.mark.parametrize(
    ("status", "code", "error_type"),
    [
        (400, "AccessDeniedException", "com.amazon.coral.service#AccessDeniedException"),
        (400, "ValidationException", "com.amazon.coral.validate#ValidationException"),
        (
            400,
            "ResourceNotFoundException",
            "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",
        ),
        (
            400,
            "ConditionalCheckFailedException",
            "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
        ),
        (503, "ServiceUnavailable", "com.amazonaws.dynamodb.v20120810#ServiceUnavailable"),
    ],
)
def test_custom_dynamodb_errors_parse_in_boto3_as_their_codes(
    dynamodb_endpoint: Endpoint,
    table: str,
    fault_proxy: FaultProxyFactory,
    status: int,
    code: str,
    error_type: str,
) -> None:
    message = f"{code} injected by the fault proxy"
    rule = ExactRule(ErrorReply(status, code, message), "PutItem")
    proxy = fault_proxy(dynamodb_endpoint, exact_rules=[rule])

    with pytest.raises(ClientError) as raised:
        proxied_client(proxy, dynamodb_endpoint).put_item(TableName=table, Item=item_key("a"))
    raw = raw_call(
        dynamodb_endpoint, proxy.url, "PutItem", {"TableName": table, "Item": item_key("b")}
    )

    error = raised.value.response
    assert error["Error"]["Code"] == code
    assert error["Error"]["Message"] == message
    assert error["ResponseMetadata"]["HTTPStatusCode"] == status
    assert raw.status == status
    body = raw.json()
    assert body["__type"] == error_type
    assert message in body.values()
    assert stored_keys(dynamodb_endpoint, table) == set()
    assert proxy.rule_stats(rule) == RuleStats(matched=2, fired=2)


def test_an_error_after_forwarding_follows_a_write_that_happened(
    dynamodb_endpoint: Endpoint, table: str, fault_proxy: FaultProxyFactory
) -> None:
    action = ErrorReply(400, "ValidationException", "rejected late", after=True)
    proxy = fault_proxy(dynamodb_endpoint, exact_rules=[ExactRule(action, "PutItem")])

    with pytest.raises(ClientError) as raised:
        proxied_client(proxy, dynamodb_endpoint).put_item(TableName=table, Item=item_key("a"))

    assert raised.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": "rejected late",
    }
    assert stored_keys(dynamodb_endpoint, table) == {"a"}
    assert (proxy.stats.errors_after, proxy.stats.forwarded) == (1, 1)


def test_predicates_pick_requests_by_body_and_by_table(
    dynamodb_endpoint: Endpoint, unique_name: str, fault_proxy: FaultProxyFactory
) -> None:
    first, second = f"{unique_name}-a", f"{unique_name}-b"
    for name in (first, second):
        create_table(dynamodb_endpoint.client("dynamodb"), name)

    def poisoned(request: ProxyRequest) -> bool:
        return b"poison" in request.body

    def for_second(request: ProxyRequest) -> bool:
        return second in request.tables

    poison = ExactRule(ErrorReply(400, "ValidationException", "poisoned"), "PutItem", when=poisoned)
    throttle_second = ExactRule(Throttle(), when=for_second)
    proxy = fault_proxy(dynamodb_endpoint, exact_rules=[poison, throttle_second])
    client = proxied_client(proxy, dynamodb_endpoint)

    client.put_item(TableName=first, Item=item_key("fine"))
    with pytest.raises(ClientError, match="ValidationException"):
        client.put_item(TableName=first, Item=item_key("poison"))
    with pytest.raises(ClientError, match="ProvisionedThroughputExceeded"):
        client.put_item(TableName=second, Item=item_key("fine"))
    with pytest.raises(ClientError, match="ProvisionedThroughputExceeded"):
        client.get_item(TableName=second, Key=item_key("fine"))
    assert client.get_item(TableName=first, Key=item_key("fine"))["Item"] == item_key("fine")

    assert stored_keys(dynamodb_endpoint, first) == {"fine"}
    assert stored_keys(dynamodb_endpoint, second) == set()
    assert proxy.rule_stats(poison) == RuleStats(matched=1, fired=1)
    assert proxy.rule_stats(throttle_second) == RuleStats(matched=2, fired=2)


def test_unprocessed_forwards_exactly_the_first_writes(
    dynamodb_endpoint: Endpoint, table: str, fault_proxy: FaultProxyFactory
) -> None:
    rule = ExactRule(Unprocessed(forward=10), "BatchWriteItem", times=1)
    proxy = fault_proxy(dynamodb_endpoint, exact_rules=[rule])
    client = proxied_client(proxy, dynamodb_endpoint)
    writes = [{"PutRequest": {"Item": item_key(f"k{i:02d}")}} for i in range(25)]

    partial = client.batch_write_item(RequestItems={table: writes})
    whole = client.batch_write_item(RequestItems={table: writes[10:]})

    assert partial["UnprocessedItems"] == {table: writes[10:]}
    assert whole["UnprocessedItems"] == {}
    assert stored_keys(dynamodb_endpoint, table) == {f"k{i:02d}" for i in range(25)}
    assert proxy.rule_stats(rule) == RuleStats(matched=2, fired=1)
    assert (proxy.stats.partial_batches, proxy.stats.unprocessed_items) == (1, 15)


def test_a_cut_dynamodb_response_is_an_incomplete_read(
    dynamodb_endpoint: Endpoint, table: str, fault_proxy: FaultProxyFactory
) -> None:
    rule = ExactRule(CutBody(keep_bytes=5), "Scan", times=1)
    proxy = fault_proxy(dynamodb_endpoint, exact_rules=[rule])

    with pytest.raises(urllib3.exceptions.ProtocolError, match="IncompleteRead"):
        raw_call(dynamodb_endpoint, proxy.url, "Scan", {"TableName": table})
    whole = raw_call(dynamodb_endpoint, proxy.url, "Scan", {"TableName": table})

    assert whole.json()["Count"] == 0
    assert (proxy.stats.cut_bodies, proxy.stats.forwarded) == (1, 2)


def test_exact_rules_check_what_they_are_given() -> None:
    with pytest.raises(ValueError, match="BatchWriteItems"):
        ExactRule(Throttle(), "BatchWriteItems")
    with pytest.raises(ValueError, match="one service"):
        ExactRule(Throttle(), {"GetItem", "GetObject"})
    with pytest.raises(ValueError, match="s3 has no operation 'GetItem'"):
        ExactRule(Throttle(), "GetItem", service="s3")
    with pytest.raises(ValueError, match="BatchWriteItem"):
        ExactRule(Unprocessed(), "PutItem")
    with pytest.raises(ValueError, match="after"):
        ExactRule(Throttle(), after=-1)
    with pytest.raises(ValueError, match="status"):
        ErrorReply(200, "NotAnError")
    assert ExactRule(Throttle(), ["GetObject", "UploadPart"]).service == "s3"
    assert ExactRule(Drop(), "Scan").service == "dynamodb"
    rule = ExactRule(Throttle())
    with pytest.raises(ValueError, match="only once"):
        FaultProxy("http://127.0.0.1:9", exact_rules=[rule, rule])
    with pytest.raises(KeyError):
        FaultProxy("http://127.0.0.1:9").rule_stats(rule)


def test_a_rule_that_raises_answers_500_and_is_kept_for_the_test(
    dynamodb_endpoint: Endpoint, table: str
) -> None:
    def broken(request: ProxyRequest) -> bool:
        raise RuntimeError("broken predicate")

    rule = ExactRule(Throttle(), "Scan", when=broken)
    with FaultProxy(dynamodb_endpoint.url, exact_rules=[rule]) as proxy:
        response = raw_call(dynamodb_endpoint, proxy.url, "Scan", {"TableName": table})

    assert response.status == 500
    assert response.json()["__type"].endswith("#FaultProxyError")
    [failure] = proxy.failures
    assert "broken predicate" in str(failure)


# --- capacity log -------------------------------------------------------------------


def put_requests(prefix: str, count: int) -> list[dict[str, Any]]:
    """``count`` small PutRequests whose keys start with ``prefix``."""
    return [{"PutRequest": {"Item": item_key(f"{prefix}{i:02d}")}} for i in range(count)]


def test_the_capacity_log_holds_what_dynalite_reports(dynalite: Endpoint, unique_name: str) -> None:
    create_table(dynalite.client("dynamodb"), unique_name)
    ticks = itertools.count(start=0.0, step=0.5)
    with FaultProxy(dynalite.url, clock=lambda: next(ticks)) as proxy:
        client = proxied_client(proxy, dynalite)
        for batch in range(4):
            client.batch_write_item(
                RequestItems={unique_name: put_requests(f"b{batch}-", 25)},
                ReturnConsumedCapacity="TOTAL",
            )
        client.put_item(TableName=unique_name, Item=item_key("one"), ReturnConsumedCapacity="TOTAL")
        client.put_item(TableName=unique_name, Item=item_key("uncounted"))

    batches = [CapacityRecord(n * 0.5, "BatchWriteItem", unique_name, 25.0) for n in range(4)]
    assert proxy.capacity_log() == (*batches, CapacityRecord(2.0, "PutItem", unique_name, 1.0))
    assert proxy.capacity_log("BatchWriteItem", unique_name) == tuple(batches)
    assert proxy.capacity_log(table="another") == ()
    assert proxy.peak_capacity(1.0) == 50.0
    assert proxy.peak_capacity(1.0, operation="PutItem") == 1.0
    assert proxy.peak_capacity(60.0) == 101.0


def test_the_capacity_log_counts_only_the_writes_forwarded(
    dynalite: Endpoint, unique_name: str, fault_proxy: FaultProxyFactory
) -> None:
    create_table(dynalite.client("dynamodb"), unique_name)
    rule = ExactRule(Unprocessed(forward=10), "BatchWriteItem")
    proxy = fault_proxy(dynalite, exact_rules=[rule])
    before = time.monotonic()

    response = proxied_client(proxy, dynalite).batch_write_item(
        RequestItems={unique_name: put_requests("k", 25)}, ReturnConsumedCapacity="TOTAL"
    )

    [record] = proxy.capacity_log()
    assert (record.operation, record.table, record.units) == ("BatchWriteItem", unique_name, 10.0)
    assert before <= record.at <= time.monotonic()
    assert response["ConsumedCapacity"] == [{"TableName": unique_name, "CapacityUnits": 10.0}]


def test_peak_capacity_is_the_most_consumed_in_any_window() -> None:
    records = [
        CapacityRecord(at, "BatchWriteItem", "t", units)
        for at, units in [(0.0, 5.0), (0.4, 5.0), (0.9, 10.0), (1.0, 1.0), (3.0, 7.0)]
    ]

    assert peak_capacity(records, 1.0) == 20.0
    assert peak_capacity(records, 0.5) == 11.0
    assert peak_capacity(reversed(records), 0.5) == 11.0
    assert peak_capacity(records, 5.0) == 28.0
    assert peak_capacity([], 1.0) == 0.0
    with pytest.raises(ValueError, match="window"):
        peak_capacity(records, 0.0)


# --- S3 -----------------------------------------------------------------------------

ODD_KEY = "some dir/a b+c%d=é~!'()*,;.txt"
S3_OPERATIONS = (
    "CreateBucket",
    "HeadBucket",
    "PutObject",
    "GetObject",
    "HeadObject",
    "ListObjectsV2",
    "CreateMultipartUpload",
    "UploadPart",
    "ListMultipartUploads",
    "CompleteMultipartUpload",
    "AbortMultipartUpload",
    "DeleteObject",
    "DeleteBucket",
)


def s3_client(proxy: FaultProxy, endpoint: Endpoint) -> Any:
    """An S3 client that goes through ``proxy`` and never retries."""
    return proxy.via(endpoint).client("s3", config=S3_NO_RETRIES)


def object_keys(endpoint: Endpoint, bucket: str) -> set[str]:
    """The keys in ``bucket``, listed straight from the server."""
    listing = endpoint.client("s3").list_objects_v2(Bucket=bucket)
    return {entry["Key"] for entry in listing.get("Contents", [])}


def read_in_chunks(body: Any, size: int) -> tuple[bytes, BaseException | None]:
    """Read a streaming body ``size`` bytes at a time: what arrived, and the error that
    ended the reading (None if it ended at the end of the body)."""
    received = bytearray()
    try:
        while chunk := body.read(size):
            received += chunk
    except (IncompleteReadError, ResponseStreamingError) as error:
        return bytes(received), error
    return bytes(received), None


def test_s3_requests_reach_the_server_unchanged(
    s3_bucket: tuple[Endpoint, str], fault_proxy: FaultProxyFactory
) -> None:
    endpoint, bucket = s3_bucket
    proxy = fault_proxy(endpoint)
    client = s3_client(proxy, endpoint)

    client.put_object(Bucket=bucket, Key=ODD_KEY, Body=b"payload", Metadata={"origin": "proxy"})
    got = client.get_object(Bucket=bucket, Key=ODD_KEY)["Body"].read()
    listed = client.list_objects_v2(Bucket=bucket, Prefix="some dir/")
    head = client.head_object(Bucket=bucket, Key=ODD_KEY)
    direct = endpoint.client("s3").get_object(Bucket=bucket, Key=ODD_KEY)

    assert got == b"payload"
    assert [entry["Key"] for entry in listed["Contents"]] == [ODD_KEY]
    assert head["ContentLength"] == 7
    assert direct["Body"].read() == b"payload"
    assert {name.lower(): value for name, value in direct["Metadata"].items()} == {
        "origin": "proxy"
    }
    stats = proxy.stats
    assert stats.faults == 0
    assert stats.forwarded == stats.requests == 4


def test_rclone_still_checks_signatures_through_the_proxy(
    rclone: Endpoint, unique_name: str, fault_proxy: FaultProxyFactory
) -> None:
    bucket = f"bucket-{unique_name}"
    rclone.client("s3").create_bucket(Bucket=bucket)
    proxy = fault_proxy(rclone)
    forged = dataclasses.replace(proxy.via(rclone), secret_key=f"not-{rclone.secret_key}")

    with pytest.raises(ClientError) as raised:
        forged.client("s3", config=S3_NO_RETRIES).put_object(Bucket=bucket, Key="k", Body=b"x")
    s3_client(proxy, rclone).put_object(Bucket=bucket, Key="signed", Body=b"x")

    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert object_keys(rclone, bucket) == {"signed"}
    assert proxy.stats.forwarded == 2


def test_s3_operations_are_identified(
    s3_endpoint: Endpoint, unique_name: str, fault_proxy: FaultProxyFactory
) -> None:
    counters = {name: ExactRule(Throttle(), name, times=0) for name in S3_OPERATIONS}
    proxy = fault_proxy(s3_endpoint, exact_rules=list(counters.values()))
    client = s3_client(proxy, s3_endpoint)
    bucket = f"bucket-{unique_name}"

    client.create_bucket(Bucket=bucket)
    client.head_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="small", Body=b"0123456789")
    whole = client.get_object(Bucket=bucket, Key="small")["Body"].read()
    ranged = client.get_object(Bucket=bucket, Key="small", Range="bytes=2-5")["Body"].read()
    client.head_object(Bucket=bucket, Key="small")
    client.list_objects_v2(Bucket=bucket)
    upload = client.create_multipart_upload(Bucket=bucket, Key="big")["UploadId"]
    parts = [
        {
            "PartNumber": number,
            "ETag": client.upload_part(
                Bucket=bucket, Key="big", UploadId=upload, PartNumber=number, Body=body
            )["ETag"],
        }
        for number, body in ((1, b"a" * 5 * MiB), (2, b"b"))
    ]
    pending = client.list_multipart_uploads(Bucket=bucket)
    client.complete_multipart_upload(
        Bucket=bucket, Key="big", UploadId=upload, MultipartUpload={"Parts": parts}
    )
    abandoned = client.create_multipart_upload(Bucket=bucket, Key="gone")["UploadId"]
    client.abort_multipart_upload(Bucket=bucket, Key="gone", UploadId=abandoned)
    size = s3_endpoint.client("s3").head_object(Bucket=bucket, Key="big")["ContentLength"]
    for key in ("small", "big"):
        client.delete_object(Bucket=bucket, Key=key)
    client.delete_bucket(Bucket=bucket)

    assert (whole, ranged) == (b"0123456789", b"2345")
    assert [entry["UploadId"] for entry in pending["Uploads"]] == [upload]
    assert size == 5 * MiB + 1
    matched = {name: proxy.rule_stats(rule).matched for name, rule in counters.items()}
    assert matched == {
        "CreateBucket": 1,
        "HeadBucket": 1,
        "PutObject": 1,
        "GetObject": 2,
        "HeadObject": 1,
        "ListObjectsV2": 1,
        "CreateMultipartUpload": 2,
        "UploadPart": 2,
        "ListMultipartUploads": 1,
        "CompleteMultipartUpload": 1,
        "AbortMultipartUpload": 1,
        "DeleteObject": 2,
        "DeleteBucket": 1,
    }
    stats = proxy.stats
    assert sum(matched.values()) == stats.requests == stats.forwarded
    assert stats.faults == 0


@pytest.mark.parametrize("ranged", [False, True], ids=["whole", "ranged"])
def test_a_cut_get_object_body_is_a_streaming_error(
    s3_bucket: tuple[Endpoint, str], fault_proxy: FaultProxyFactory, ranged: bool
) -> None:
    endpoint, bucket = s3_bucket
    data = bytes(range(256)) * 256
    endpoint.client("s3").put_object(Bucket=bucket, Key="data", Body=data)
    rule = ExactRule(CutBody(keep_bytes=1000), "GetObject", times=2)
    proxy = fault_proxy(endpoint, exact_rules=[rule])
    client = s3_client(proxy, endpoint)
    extra = {"Range": "bytes=100-40099"} if ranged else {}
    expected = data[100:40100] if ranged else data

    streamed = client.get_object(Bucket=bucket, Key="data", **extra)
    received, error = read_in_chunks(streamed["Body"], 100)
    with pytest.raises(ResponseStreamingError, match="IncompleteRead"):
        client.get_object(Bucket=bucket, Key="data", **extra)["Body"].read()
    again = client.get_object(Bucket=bucket, Key="data", **extra)["Body"].read()

    assert streamed["ContentLength"] == len(expected)
    assert isinstance(error, IncompleteReadError)
    assert received == expected[:1000]
    assert again == expected
    assert proxy.rule_stats(rule) == RuleStats(matched=3, fired=2)
    assert proxy.stats.cut_bodies == 2


def test_random_cuts_fall_where_the_seed_says(
    s3_bucket: tuple[Endpoint, str], fault_proxy: FaultProxyFactory
) -> None:
    endpoint, bucket = s3_bucket
    data = bytes(range(256)) * 256
    endpoint.client("s3").put_object(Bucket=bucket, Key="data", Body=data)
    rules = FaultRules(cut_rate=1.0, seed=7, operations=frozenset({"GetObject"}))

    def cut_points(proxy: FaultProxy) -> list[int]:
        client = s3_client(proxy, endpoint)
        points = []
        for _ in range(3):
            received, error = read_in_chunks(
                client.get_object(Bucket=bucket, Key="data")["Body"], 1024
            )
            assert isinstance(error, IncompleteReadError)
            points.append(len(received))
        return points

    first = cut_points(fault_proxy(endpoint, rules))
    second = cut_points(fault_proxy(endpoint, rules))

    assert first == second
    assert len(set(first)) == 3
    assert all(0 <= point < len(data) for point in first)


@pytest.mark.parametrize(
    ("action", "status", "code"),
    [
        (ErrorReply(500, "InternalError"), 500, "InternalError"),
        (Throttle(), 503, "SlowDown"),
        (ErrorReply(404, "NoSuchBucket"), 404, "NoSuchBucket"),
        (ErrorReply(403, "AccessDenied"), 403, "AccessDenied"),
    ],
    ids=["InternalError", "SlowDown", "NoSuchBucket", "AccessDenied"],
)
def test_s3_errors_arrive_with_their_codes(
    s3_bucket: tuple[Endpoint, str],
    fault_proxy: FaultProxyFactory,
    action: ErrorReply | Throttle,
    status: int,
    code: str,
) -> None:
    endpoint, bucket = s3_bucket
    rule = ExactRule(action, {"PutObject", "ListObjectsV2"})
    proxy = fault_proxy(endpoint, exact_rules=[rule])
    client = s3_client(proxy, endpoint)

    with pytest.raises(ClientError) as put_error:
        client.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as list_error:
        client.list_objects_v2(Bucket=bucket)
    raw = urllib3.request("GET", f"{proxy.url}/{bucket}?list-type=2", retries=False)

    for raised in (put_error, list_error):
        assert raised.value.response["Error"]["Code"] == code
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    document = ElementTree.fromstring(raw.data)
    assert raw.status == status
    assert raw.headers["Content-Type"] == "application/xml"
    assert document.tag == "Error"
    assert document.findtext("Code") == code
    assert document.findtext("Message")
    assert document.findtext("RequestId") == raw.headers["x-amz-request-id"]
    if code == "NoSuchBucket":
        assert document.findtext("BucketName") == bucket
    assert object_keys(endpoint, bucket) == set()
    assert proxy.rule_stats(rule) == RuleStats(matched=3, fired=3)
    assert proxy.stats.forwarded == 0


@pytest.mark.parametrize("after", [False, True], ids=["before", "after"])
@pytest.mark.parametrize("kind", ["drop", "error"])
def test_s3_faults_before_or_after_the_write(
    s3_bucket: tuple[Endpoint, str], fault_proxy: FaultProxyFactory, kind: str, after: bool
) -> None:
    endpoint, bucket = s3_bucket
    action = Drop(after=after) if kind == "drop" else ErrorReply(500, "InternalError", after=after)

    def faulty(request: ProxyRequest) -> bool:
        return request.key.startswith("faulty/")

    rule = ExactRule(action, "PutObject", when=faulty)
    proxy = fault_proxy(endpoint, exact_rules=[rule])
    client = s3_client(proxy, endpoint)

    client.put_object(Bucket=bucket, Key="fine/k", Body=b"x")
    with pytest.raises(ConnectionClosedError if kind == "drop" else ClientError):
        client.put_object(Bucket=bucket, Key="faulty/k", Body=b"y")

    assert object_keys(endpoint, bucket) == ({"fine/k", "faulty/k"} if after else {"fine/k"})
    assert proxy.rule_stats(rule) == RuleStats(matched=1, fired=1)
    stats = proxy.stats
    assert stats.forwarded == (2 if after else 1)
    faulted = (stats.dropped_before, stats.dropped_after, stats.errors_before, stats.errors_after)
    expected = [0, 0, 0, 0]
    expected[(0 if kind == "drop" else 2) + after] = 1
    assert faulted == tuple(expected)


def test_random_rates_fault_s3_requests_but_not_bucket_administration(
    s3_endpoint: Endpoint, unique_name: str, fault_proxy: FaultProxyFactory
) -> None:
    proxy = fault_proxy(s3_endpoint, FaultRules(throttle_rate=1.0))
    client = s3_client(proxy, s3_endpoint)
    bucket = f"bucket-{unique_name}"

    client.create_bucket(Bucket=bucket)
    client.head_bucket(Bucket=bucket)
    with pytest.raises(ClientError) as throttled:
        client.put_object(Bucket=bucket, Key="k", Body=b"x")
    proxy.rules = FaultRules(
        error_rate=1.0, error_timing="before", operations=frozenset({"ListObjectsV2"})
    )
    with pytest.raises(ClientError) as failed:
        client.list_objects_v2(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="k", Body=b"x")

    assert throttled.value.response["Error"]["Code"] == "SlowDown"
    assert throttled.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert failed.value.response["Error"]["Code"] == "InternalError"
    assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert object_keys(s3_endpoint, bucket) == {"k"}
    stats = proxy.stats
    assert (stats.throttled, stats.errors_before, stats.forwarded) == (1, 1, 3)
