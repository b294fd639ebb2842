"""The ``boto3-scan`` variant: a plain boto3 ``client.scan`` loop, one segment.

Items are parsed by botocore as any boto3 program gets them; nothing is written. Prints
one JSON line ``{"items": N, "pages": P}`` for the harness to check.

    .venv/bin/python bench/boto3_scan.py --endpoint-url http://127.0.0.1:PORT --table T
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import boto3
from botocore.config import Config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint-url", required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--region", default="us-east-1")
    args = parser.parse_args()

    client = boto3.client(
        "dynamodb",
        endpoint_url=args.endpoint_url,
        region_name=args.region,
        config=Config(retries={"mode": "standard", "max_attempts": 10}),
    )
    items = 0
    pages = 0
    request: dict[str, Any] = {"TableName": args.table}
    while True:
        page = client.scan(**request)
        pages += 1
        items += len(page["Items"])
        key = page.get("LastEvaluatedKey")
        if not key:
            break
        request["ExclusiveStartKey"] = key
    print(json.dumps({"items": items, "pages": pages}))


if __name__ == "__main__":
    main()
