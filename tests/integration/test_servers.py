"""The local test servers answer as expected, and the test environment is sealed."""

from __future__ import annotations

import dataclasses
import os
import socket
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError

from tests.support.servers import Endpoint, NetworkGuardError


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


def put_requests(count: int) -> list[dict[str, Any]]:
    """``count`` small PutRequests for BatchWriteItem."""
    return [{"PutRequest": {"Item": {"pk": {"S": f"item-{i}"}}}} for i in range(count)]


def test_moto_serves_dynamodb_and_s3(moto: Endpoint, unique_name: str) -> None:
    dynamodb = moto.client("dynamodb")
    create_table(dynamodb, unique_name)
    dynamodb.put_item(TableName=unique_name, Item={"pk": {"S": "a"}, "n": {"N": "7"}})
    item = dynamodb.get_item(TableName=unique_name, Key={"pk": {"S": "a"}})["Item"]
    assert item == {"pk": {"S": "a"}, "n": {"N": "7"}}

    s3 = moto.client("s3")
    s3.create_bucket(Bucket=unique_name)
    s3.put_object(Bucket=unique_name, Key="dir/object.txt", Body=b"hello moto")
    body = s3.get_object(Bucket=unique_name, Key="dir/object.txt")["Body"].read()
    assert body == b"hello moto"


def test_moto_fixture_starts_empty(moto: Endpoint) -> None:
    assert moto.client("dynamodb").list_tables()["TableNames"] == []
    assert moto.client("s3").list_buckets()["Buckets"] == []


def test_dynalite_enforces_the_batch_write_limit(dynalite: Endpoint, unique_name: str) -> None:
    client = dynalite.client("dynamodb")
    create_table(client, unique_name)

    with pytest.raises(ClientError) as too_many:
        client.batch_write_item(RequestItems={unique_name: put_requests(26)})
    assert too_many.value.response["Error"]["Code"] == "ValidationException"

    response = client.batch_write_item(
        RequestItems={unique_name: put_requests(25)}, ReturnConsumedCapacity="TOTAL"
    )
    assert response["UnprocessedItems"] == {}
    assert response["ConsumedCapacity"] == [{"TableName": unique_name, "CapacityUnits": 25.0}]
    assert client.scan(TableName=unique_name, Select="COUNT")["Count"] == 25


def test_rclone_serves_s3_objects(rclone: Endpoint, unique_name: str) -> None:
    s3 = rclone.client("s3")
    s3.create_bucket(Bucket=unique_name)
    s3.put_object(Bucket=unique_name, Key="dir/object.bin", Body=b"0123456789")
    assert s3.get_object(Bucket=unique_name, Key="dir/object.bin")["Body"].read() == b"0123456789"
    ranged = s3.get_object(Bucket=unique_name, Key="dir/object.bin", Range="bytes=2-4")
    assert ranged["Body"].read() == b"234"


def test_rclone_rejects_a_wrong_secret_key(rclone: Endpoint, unique_name: str) -> None:
    rclone.client("s3").create_bucket(Bucket=unique_name)
    impostor = dataclasses.replace(rclone, secret_key=rclone.secret_key + "x")

    with pytest.raises(ClientError) as rejected:
        impostor.client("s3").put_object(Bucket=unique_name, Key="k", Body=b"x")
    error = rejected.value.response
    assert error["Error"]["Code"] == "SignatureDoesNotMatch"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
    keys = rclone.client("s3").list_objects_v2(Bucket=unique_name).get("Contents", [])
    assert keys == []


def test_dynamodb_endpoint_round_trips_an_item(
    dynamodb_endpoint: Endpoint, unique_name: str
) -> None:
    client = dynamodb_endpoint.client("dynamodb")
    create_table(client, unique_name)
    client.put_item(TableName=unique_name, Item={"pk": {"S": "k"}, "v": {"B": b"\x00\xff"}})
    item = client.get_item(TableName=unique_name, Key={"pk": {"S": "k"}}, ConsistentRead=True)
    assert item["Item"]["v"]["B"] == b"\x00\xff"


def test_s3_bucket_is_new_and_empty(s3_bucket: tuple[Endpoint, str]) -> None:
    endpoint, bucket = s3_bucket
    s3 = endpoint.client("s3")
    assert s3.list_objects_v2(Bucket=bucket).get("Contents", []) == []
    s3.put_object(Bucket=bucket, Key="a/b.json", Body=b'{"x": 1}')
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="a/")["Contents"]
    assert [entry["Key"] for entry in listed] == ["a/b.json"]


def test_server_tests_are_marked_integration(
    request: pytest.FixtureRequest, moto: Endpoint
) -> None:
    assert request.node.get_closest_marker("integration") is not None


def test_network_guard_refuses_a_remote_address_before_connecting() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        with pytest.raises(NetworkGuardError, match=r"203\.0\.113\.1"):
            sock.connect(("203.0.113.1", 443))
        with pytest.raises(NetworkGuardError, match=r"203\.0\.113\.1"):
            sock.connect_ex(("203.0.113.1", 443))
        with pytest.raises(OSError, match="not connected"):
            sock.getpeername()


def test_network_guard_refuses_remote_ipv6_and_host_names() -> None:
    with (
        socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock,
        pytest.raises(NetworkGuardError, match="2001:db8::1"),
    ):
        sock.connect(("2001:db8::1", 443, 0, 0))
    with pytest.raises(NetworkGuardError, match=r"example\.com"):
        socket.getaddrinfo("example.com", 443)


def test_network_guard_allows_loopback() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        with socket.create_connection(("localhost", port), timeout=5) as client:
            assert client.getpeername()[1] == port


def test_aws_calls_without_an_endpoint_are_refused() -> None:
    client = boto3.client("dynamodb", config=Config(retries={"total_max_attempts": 1}))
    with pytest.raises(
        HTTPClientError, match=r"network guard.*dynamodb\.us-east-1\.amazonaws\.com"
    ):
        client.list_tables()


def test_environment_holds_only_test_credentials() -> None:
    credentials = boto3.Session().get_credentials()
    assert credentials is not None
    assert credentials.access_key == "testing"
    assert credentials.secret_key == "testing"
    assert credentials.token is None
    assert boto3.Session().region_name == "us-east-1"
    assert not [name for name in os.environ if name.startswith("AWS_ENDPOINT_URL")]
    assert "AWS_PROFILE" not in os.environ
    assert os.environ["AWS_EC2_METADATA_DISABLED"] == "true"
