"""The ``boto3-batch-writer`` import variant: plain boto3 ``Table.batch_writer()``.

Reads the Data Pipeline data files given on the command line with the project's
``ddbpipe.formats.datapipeline.read_items`` (items in wire form), converts each with
boto3's ``TypeDeserializer`` and puts it through ``Table.batch_writer()``, as a boto3
program would. Reading, parsing and converting is part of the timed run; its own cost is
measured separately (in blocks of 1,000 items) and reported. Prints one JSON line
``{"items": N, "read_cpu_s": ..., "read_wall_s": ...}``.

    .venv/bin/python bench/boto3_batch_write.py --endpoint-url URL --table T FILE...
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import boto3
from boto3.dynamodb.types import TypeDeserializer
from botocore.config import Config

from ddbpipe.formats.datapipeline import read_items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint-url", required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args()

    resource = boto3.resource(
        "dynamodb",
        endpoint_url=args.endpoint_url,
        region_name=args.region,
        config=Config(retries={"mode": "standard", "max_attempts": 10}),
    )
    table = resource.Table(args.table)
    deserialize = TypeDeserializer().deserialize
    items = 0
    read_cpu = 0.0
    read_wall = 0.0
    with table.batch_writer() as writer:
        for path in args.files:
            with open(path, "rb") as data:
                chunks = iter(lambda data=data: data.read(1 << 20), b"")
                stream = read_items(chunks, source=path.name)
                while True:
                    wall0, cpu0 = time.perf_counter(), time.process_time()
                    block = [
                        {name: deserialize(value) for name, value in item.items()}
                        for _, item in itertools.islice(stream, 1000)
                    ]
                    read_wall += time.perf_counter() - wall0
                    read_cpu += time.process_time() - cpu0
                    if not block:
                        break
                    for item in block:
                        writer.put_item(Item=item)
                    items += len(block)
    print(
        json.dumps(
            {"items": items, "read_cpu_s": round(read_cpu, 3), "read_wall_s": round(read_wall, 3)}
        )
    )


if __name__ == "__main__":
    main()
