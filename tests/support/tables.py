"""Create and fill tables on the test servers, and read them back."""

from __future__ import annotations

import base64
import random
from typing import Any

from ddbpipe.dynamo.client import DynamoClient, DynamoConfig
from ddbpipe.dynamo.ops import scan_page, write_batch
from ddbpipe.dynamo.table import create_table
from ddbpipe.items import KeyAttribute, KeySchema
from tests.support.servers import Endpoint

PK_SCHEMA = KeySchema(KeyAttribute("pk", "S"))


def dynamo_config(endpoint: Endpoint) -> DynamoConfig:
    """The DynamoConfig that reaches ``endpoint``."""
    return DynamoConfig(region=endpoint.region, endpoint_url=endpoint.url)


def client_for(endpoint: Endpoint) -> DynamoClient:
    """A raw DynamoDB client for ``endpoint``."""
    return DynamoClient(endpoint.boto3_session(), region=endpoint.region, endpoint_url=endpoint.url)


def every_type_item(n: int) -> dict[str, Any]:
    """An item holding every DynamoDB type and its edge cases."""
    return {
        "pk": {"S": f"item-{n:05d}"},
        "s": {"S": f"café 😀 \u2028 \x00 {n}"},
        "empty": {"S": ""},
        "n": {"N": "12345678901234567890123456789012345678"},
        "small": {"N": "-0.000001"},
        "b": {"B": base64.b64encode(bytes(range(256))).decode()},
        "eb": {"B": ""},
        "ss": {"SS": ["a", "b", ""]},
        "ns": {"NS": ["1", "2.5", "-3"]},
        "bs": {"BS": ["AA==", "/w=="]},
        "m": {"M": {"inner": {"L": [{"NULL": True}, {"BOOL": True}, {"M": {}}, {"L": []}]}}},
        "null": {"NULL": True},
        "bool": {"BOOL": n % 2 == 0},
    }


def padded_item(n: int, pad_bytes: int) -> dict[str, Any]:
    """``every_type_item(n)`` with a ``pad`` string of ``pad_bytes`` random letters, which
    no compression shrinks much: for data files of a given size."""
    letters = base64.b64encode(random.Random(n).randbytes(pad_bytes * 3 // 4 + 3)).decode()
    return {**every_type_item(n), "pad": {"S": letters[:pad_bytes]}}


def make_table(
    endpoint: Endpoint, name: str, items: list[dict[str, Any]], schema: KeySchema = PK_SCHEMA
) -> None:
    """Create table ``name`` and put ``items`` into it."""
    client = client_for(endpoint)
    create_table(client, name, schema)
    for start in range(0, len(items), 25):
        pending = items[start : start + 25]
        while pending:
            pending = write_batch(client, name, pending).unprocessed


def scan_all(endpoint: Endpoint, name: str) -> list[dict[str, Any]]:
    """Every item of table ``name``."""
    client = client_for(endpoint)
    items: list[dict[str, Any]] = []
    start = None
    while True:
        page = scan_page(client, name, start_key=start)
        items.extend(page.items)
        start = page.last_key
        if not start:
            return items
