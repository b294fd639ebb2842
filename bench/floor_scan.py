"""The ``floor`` export variant: the least a client can do to read a whole table.

Signed Scan requests (botocore SigV4Auth, urllib3 pool) whose pages are read as bytes and
never parsed: ``LastEvaluatedKey`` is found with ``rfind`` and only that object is parsed,
the item count is read from ``"Count":``. The ``--segments`` are split across
``--workers`` processes as ddbpipe splits them (segment ``s`` goes to worker
``s % workers``); a worker scans its segments concurrently, one thread each. Nothing is
written. Prints one JSON line ``{"items": N, "pages": P}``.

    .venv/bin/python bench/floor_scan.py --endpoint-url URL --table T --segments 2 --workers 2
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
from typing import Any

import orjson
from rawddb import RawDynamo, find_count, find_last_evaluated_key


def scan_segment(client: RawDynamo, table: str, segment: int, total: int) -> tuple[int, int]:
    request: dict[str, Any] = {"TableName": table}
    if total > 1:
        request["Segment"] = segment
        request["TotalSegments"] = total
    items = 0
    pages = 0
    while True:
        body = client.post("Scan", orjson.dumps(request))
        pages += 1
        items += find_count(body)
        key = find_last_evaluated_key(body)
        if key is None:
            return items, pages
        request["ExclusiveStartKey"] = orjson.loads(key)


def worker(
    endpoint_url: str, region: str, table: str, segments: list[int], total: int
) -> tuple[int, int]:
    client = RawDynamo(endpoint_url, region=region, max_connections=max(len(segments), 1))
    try:
        if len(segments) == 1:
            return scan_segment(client, table, segments[0], total)
        with concurrent.futures.ThreadPoolExecutor(len(segments)) as pool:
            results = list(pool.map(lambda s: scan_segment(client, table, s, total), segments))
        return sum(r[0] for r in results), sum(r[1] for r in results)
    finally:
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint-url", required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--segments", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    workers = max(1, min(args.workers, args.segments))
    shares = [list(range(k, args.segments, workers)) for k in range(workers)]

    if workers == 1:
        items, pages = worker(args.endpoint_url, args.region, args.table, shares[0], args.segments)
    else:
        with concurrent.futures.ProcessPoolExecutor(workers) as pool:
            futures = [
                pool.submit(
                    worker, args.endpoint_url, args.region, args.table, share, args.segments
                )
                for share in shares
            ]
            results = [f.result() for f in futures]
        items = sum(r[0] for r in results)
        pages = sum(r[1] for r in results)
    print(json.dumps({"items": items, "pages": pages, "workers": workers}))


if __name__ == "__main__":
    main()
