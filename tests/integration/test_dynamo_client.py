"""The raw DynamoDB client against real servers: moto and dynalite."""

from __future__ import annotations

import boto3
import pytest

from ddbpipe.dynamo.client import DynamoClient
from ddbpipe.dynamo.ops import scan_page, write_batch
from ddbpipe.dynamo.table import create_table, describe_table
from ddbpipe.errors import ServiceError, TableNotFoundError
from ddbpipe.items import KeyAttribute, KeySchema
from tests.support.compare import canonical_set
from tests.support.servers import Endpoint
from tests.support.tables import client_for, every_type_item

SCHEMA = KeySchema(KeyAttribute("pk", "S"))


def test_write_and_scan_every_type(dynamodb_endpoint: Endpoint, unique_name: str) -> None:
    client = client_for(dynamodb_endpoint)
    table = f"every-type-{unique_name}"
    info = create_table(client, table, SCHEMA)
    assert info.key_schema == SCHEMA
    assert info.on_demand
    items = [every_type_item(n) for n in range(60)]
    for start in range(0, 60, 25):
        assert write_batch(client, table, items[start : start + 25]).unprocessed == []
    scanned: list[dict[str, object]] = []
    start_key = None
    pages = 0
    while True:
        page = scan_page(client, table, start_key=start_key, limit=7)
        scanned.extend(page.items)
        pages += 1
        start_key = page.last_key
        if not start_key:
            break
    assert pages >= 9
    assert canonical_set(scanned) == canonical_set(items)  # type: ignore[arg-type]


def test_parallel_scan_segments_cover_the_table(
    dynamodb_endpoint: Endpoint, unique_name: str
) -> None:
    client = client_for(dynamodb_endpoint)
    table = f"segments-{unique_name}"
    create_table(client, table, SCHEMA)
    items = [{"pk": {"S": f"k{n}"}, "v": {"N": str(n)}} for n in range(100)]
    for start in range(0, 100, 25):
        write_batch(client, table, items[start : start + 25])
    seen: list[dict[str, object]] = []
    for segment in range(4):
        page = scan_page(client, table, segment=segment, total_segments=4)
        assert page.last_key is None
        seen.extend(page.items)
    assert canonical_set(seen) == canonical_set(items)  # type: ignore[arg-type]


def test_missing_table_names_table_and_region(dynamodb_endpoint: Endpoint) -> None:
    with pytest.raises(TableNotFoundError, match="'no-such-table' not found in region us-east-1"):
        describe_table(client_for(dynamodb_endpoint), "no-such-table")


def test_dynalite_enforces_the_25_item_batch_limit(dynalite: Endpoint, unique_name: str) -> None:
    client = client_for(dynalite)
    table = f"batch-{unique_name}"
    create_table(client, table, SCHEMA)
    items = [{"pk": {"S": f"k{n}"}} for n in range(26)]
    with pytest.raises(ServiceError, match="ValidationException"):
        write_batch(client, table, items)
    result = write_batch(client, table, items[:25])
    assert result.unprocessed == []
    assert result.consumed == 25


def test_regional_endpoint_is_resolved_by_botocore() -> None:
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="eu-west-3"
    )
    client = DynamoClient(session)
    assert client.region == "eu-west-3"
    assert client.endpoint_url == "https://dynamodb.eu-west-3.amazonaws.com/"


def test_requests_are_signed_as_botocore_signs_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """The signature over our Host header and body hash equals botocore's plain one."""
    import datetime

    import botocore.auth
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    frozen = datetime.datetime(2026, 11, 28, 8, 0, 0)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: frozen)
    session = boto3.Session(
        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret", region_name="eu-west-1"
    )
    body = b'{"TableName":"t"}'
    for url, host in [
        ("https://dynamodb.eu-west-1.amazonaws.com", "dynamodb.eu-west-1.amazonaws.com"),
        ("http://127.0.0.1:8000", "127.0.0.1:8000"),
        ("http://[::1]:8000/", "[::1]:8000"),
    ]:
        client = DynamoClient(session, endpoint_url=url)
        ours = client._signed_headers("Scan", body)
        assert ours["Host"] == host
        reference = AWSRequest(
            method="POST",
            url=client.endpoint_url,
            data=body,
            headers={
                "Content-Type": "application/x-amz-json-1.0",
                "X-Amz-Target": "DynamoDB_20120810.Scan",
            },
        )
        SigV4Auth(Credentials("AKIDEXAMPLE", "secret"), "dynamodb", "eu-west-1").add_auth(reference)
        assert ours["X-Amz-Date"] == reference.headers["X-Amz-Date"] == "20261128T080000Z"
        assert ours["Authorization"] == reference.headers["Authorization"]
