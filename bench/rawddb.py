"""Signed DynamoDB JSON requests with raw bodies: the bench's own minimal client.

botocore is used only for SigV4 signing; bodies go over a urllib3 pool as bytes, so the
harness and the ``floor`` variants pay no parser or serializer cost they do not choose.
Kept apart from ``ddbpipe`` on purpose: the bench must not measure the code under test
with the code under test.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

__all__ = ["DynamoError", "RawDynamo", "find_count", "find_last_evaluated_key"]

_TARGET = "DynamoDB_20120810."
_CONTENT_TYPE = "application/x-amz-json-1.0"
_RETRYABLE = (
    b"ThrottlingException",
    b"ProvisionedThroughputExceededException",
    b"RequestLimitExceeded",
    b"InternalServerError",
    b"ServiceUnavailable",
    b"LimitExceededException",
)


class DynamoError(Exception):
    """A DynamoDB call failed for good."""


class RawDynamo:
    """POST signed DynamoDB calls to ``endpoint_url``; bodies in and out as bytes."""

    def __init__(
        self,
        endpoint_url: str,
        *,
        region: str = "us-east-1",
        access_key: str = "testing",
        secret_key: str = "testing",
        max_connections: int = 16,
        timeout: float = 60.0,
    ) -> None:
        self.url = endpoint_url.rstrip("/") + "/"
        self._auth = SigV4Auth(Credentials(access_key, secret_key), "dynamodb", region)
        self._pool = urllib3.PoolManager(
            maxsize=max_connections,
            block=False,
            timeout=urllib3.Timeout(connect=10.0, read=timeout),
            retries=False,
        )
        # One host: take its connection pool once instead of per request.
        self._http = self._pool.connection_from_url(self.url)

    def post(self, operation: str, body: bytes, *, attempts: int = 8) -> bytes:
        """Send one call; retry throttling, 5xx and connection errors; return the body."""
        delay = 0.05
        for attempt in range(1, attempts + 1):
            request = AWSRequest(
                method="POST",
                url=self.url,
                data=body,
                headers={"Content-Type": _CONTENT_TYPE, "X-Amz-Target": _TARGET + operation},
            )
            self._auth.add_auth(request)
            try:
                response = self._http.urlopen(
                    "POST",
                    "/",
                    body=body,
                    headers=dict(request.headers.items()),
                    retries=False,
                    preload_content=True,
                )
            except urllib3.exceptions.HTTPError as exc:
                if attempt == attempts:
                    raise DynamoError(f"{operation}: {exc}") from exc
            else:
                data: bytes = response.data
                if response.status == 200:
                    return data
                retryable = response.status >= 500 or any(code in data for code in _RETRYABLE)
                if not retryable or attempt == attempts:
                    raise DynamoError(f"{operation}: HTTP {response.status}: {data[:300]!r}")
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
        raise AssertionError("unreachable")

    def call(self, operation: str, payload: dict[str, Any]) -> Any:
        """Send a call built from ``payload``; return the parsed response."""
        return orjson.loads(self.post(operation, orjson.dumps(payload)))

    # ------------------------------------------------------------------ table helpers

    def create_table(self, table: str, *, hash_key: str = "pk", timeout: float = 60.0) -> None:
        """Create an on-demand table keyed by the string ``hash_key``; wait until ACTIVE."""
        self.call(
            "CreateTable",
            {
                "TableName": table,
                "AttributeDefinitions": [{"AttributeName": hash_key, "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": hash_key, "KeyType": "HASH"}],
                "BillingMode": "PAY_PER_REQUEST",
            },
        )
        deadline = time.monotonic() + timeout
        while self.describe_status(table) != "ACTIVE":
            if time.monotonic() > deadline:
                raise DynamoError(f"table {table} did not become ACTIVE in {timeout:.0f} s")
            time.sleep(0.05)

    def describe_status(self, table: str) -> str | None:
        """The table's status, or None when it does not exist."""
        try:
            return self.call("DescribeTable", {"TableName": table})["Table"]["TableStatus"]
        except DynamoError as exc:
            if "ResourceNotFoundException" in str(exc):
                return None
            raise

    def delete_table(self, table: str, *, timeout: float = 60.0) -> None:
        """Delete ``table`` if it exists and wait until it is gone."""
        try:
            self.call("DeleteTable", {"TableName": table})
        except DynamoError as exc:
            if "ResourceNotFoundException" in str(exc):
                return
            raise
        deadline = time.monotonic() + timeout
        while self.describe_status(table) is not None:
            if time.monotonic() > deadline:
                raise DynamoError(f"table {table} was not deleted in {timeout:.0f} s")
            time.sleep(0.05)

    def count(self, table: str) -> int:
        """Items in ``table``, by a paginated ``Select=COUNT`` scan."""
        total = 0
        payload: dict[str, Any] = {"TableName": table, "Select": "COUNT"}
        while True:
            page = self.call("Scan", payload)
            total += page["Count"]
            key = page.get("LastEvaluatedKey")
            if not key:
                return total
            payload["ExclusiveStartKey"] = key

    def batch_write(self, table: str, items: list[dict[str, Any]]) -> int:
        """Put up to 25 wire-form items; retry UnprocessedItems. Returns the retries made."""
        requests = [{"PutRequest": {"Item": item}} for item in items]
        retries = 0
        delay = 0.02
        while requests:
            body = orjson.dumps({"RequestItems": {table: requests}})
            data = self.post("BatchWriteItem", body)
            if b'"UnprocessedItems":{}' in data or b'"UnprocessedItems"' not in data:
                return retries
            requests = orjson.loads(data).get("UnprocessedItems", {}).get(table, [])
            if requests:
                retries += 1
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
        return retries

    def close(self) -> None:
        self._pool.clear()


# ------------------------------------------------------------- cheap looks into bodies


def find_last_evaluated_key(body: bytes) -> bytes | None:
    """The JSON text of a Scan page's ``LastEvaluatedKey``, found without parsing the page.

    AWS puts the key after ``Items``, dynalite before; ``rfind`` finds it in both (items'
    string values cannot hold an unescaped ``"``). The object is cut out by walking its
    braces, so only those few bytes are handed to a parser.
    """
    at = body.rfind(b'"LastEvaluatedKey"')
    if at < 0:
        return None
    start = body.index(b"{", at)
    depth = 0
    in_string = False
    escaped = False
    for position in range(start, len(body)):
        char = body[position]
        if in_string:
            if escaped:
                escaped = False
            elif char == 0x5C:  # backslash
                escaped = True
            elif char == 0x22:  # quote
                in_string = False
        elif char == 0x22:
            in_string = True
        elif char == 0x7B:  # {
            depth += 1
        elif char == 0x7D:  # }
            depth -= 1
            if depth == 0:
                return body[start : position + 1]
    raise DynamoError("LastEvaluatedKey object is not closed")


def find_count(body: bytes) -> int:
    """A Scan page's ``Count``, read from the bytes (it precedes ``Items`` on AWS and dynalite)."""
    at = body.find(b'"Count":')
    if at < 0:
        raise DynamoError("page has no Count")
    start = at + len(b'"Count":')
    end = start
    while body[end : end + 1].isdigit():
        end += 1
    return int(body[start:end])
