"""The ``floor`` import variant: the least a client can do to write a backup into a table.

Each of ``--workers`` processes takes its share of every data file (a byte range cut at
line ends), parses each line with orjson, renames the Data Pipeline type keys to wire
form, and builds BatchWriteItem bodies of 25 items with orjson. ``--threads`` threads per
process send them signed (botocore SigV4Auth, urllib3 pool); a response is only tested
for a non-empty ``UnprocessedItems`` by substring, and parsed (and retried) only then.
Reading and parsing the files is part of the run, as it is for ddbpipe. Prints one JSON
line ``{"items": N, "build_cpu_s": ..., "retried_batches": R}``; ``build_cpu_s`` is the CPU
of the reading/parsing/body-building threads.

    .venv/bin/python bench/floor_batch_write.py --endpoint-url URL --table T --workers 2 FILE...
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from rawddb import RawDynamo

_WIRE = {
    "s": "S",
    "n": "N",
    "b": "B",
    "sS": "SS",
    "nS": "NS",
    "bS": "BS",
    "m": "M",
    "l": "L",
    "bOOL": "BOOL",
    "nULLValue": "NULL",
}
_BLOCK = 4 << 20


def wire(value: dict[str, Any]) -> dict[str, Any]:
    ((kind, data),) = value.items()
    kind = _WIRE[kind]
    if kind == "M":
        return {"M": {name: wire(v) for name, v in data.items()}}
    if kind == "L":
        return {"L": [wire(v) for v in data]}
    return {kind: data}


def byte_range(path: Path, share: int, shares: int) -> tuple[int, int]:
    """Worker ``share``'s part of ``path``: from the line start at or after size*share/shares."""
    size = path.stat().st_size
    with open(path, "rb") as data:

        def align(position: int) -> int:
            if position <= 0:
                return 0
            if position >= size:
                return size
            data.seek(position - 1)
            data.readline()
            return data.tell()

        return align(size * share // shares), align(size * (share + 1) // shares)


def lines(path: Path, start: int, end: int) -> Iterator[bytes]:
    with open(path, "rb") as data:
        data.seek(start)
        left = end - start
        carry = b""
        while left > 0:
            block = data.read(min(_BLOCK, left))
            if not block:
                break
            left -= len(block)
            parts = (carry + block).split(b"\n")
            carry = parts.pop()
            yield from parts
        if carry:
            yield carry


def worker(
    endpoint_url: str,
    region: str,
    table: str,
    files: list[Path],
    share: int,
    shares: int,
    threads: int,
) -> dict[str, Any]:
    client = RawDynamo(endpoint_url, region=region, max_connections=threads)
    slots = threading.BoundedSemaphore(threads * 2)
    errors: list[BaseException] = []
    retried = [0]

    def send(body: bytes) -> None:
        try:
            data = client.post("BatchWriteItem", body)
            delay = 0.02
            while b'"UnprocessedItems":{}' not in data and b'"UnprocessedItems"' in data:
                left = orjson.loads(data)["UnprocessedItems"]
                if not left:
                    break
                retried[0] += 1
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
                data = client.post("BatchWriteItem", orjson.dumps({"RequestItems": left}))
        except BaseException as exc:
            errors.append(exc)
        finally:
            slots.release()

    items = 0
    cpu0 = time.thread_time()
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:

        def submit(batch: list[dict[str, Any]]) -> None:
            body = orjson.dumps({"RequestItems": {table: batch}})
            slots.acquire()
            pool.submit(send, body)

        for path in files:
            start, end = byte_range(path, share, shares)
            batch: list[dict[str, Any]] = []
            for line in lines(path, start, end):
                if not line.strip():
                    continue
                parsed = orjson.loads(line)
                batch.append({"PutRequest": {"Item": {n: wire(v) for n, v in parsed.items()}}})
                if len(batch) == 25:
                    submit(batch)
                    items += 25
                    batch = []
                    if errors:
                        raise errors[0]
            if batch:
                submit(batch)
                items += len(batch)
        build_cpu = time.thread_time() - cpu0
    client.close()
    if errors:
        raise errors[0]
    return {"items": items, "build_cpu_s": build_cpu, "retried_batches": retried[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint-url", required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4, help="sending threads per worker")
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args()
    workers = max(1, args.workers)
    call = (args.endpoint_url, args.region, args.table, args.files)

    if workers == 1:
        results = [worker(*call, 0, 1, args.threads)]
    else:
        with concurrent.futures.ProcessPoolExecutor(workers) as pool:
            futures = [pool.submit(worker, *call, k, workers, args.threads) for k in range(workers)]
            results = [f.result() for f in futures]
    print(
        json.dumps(
            {
                "items": sum(r["items"] for r in results),
                "build_cpu_s": round(sum(r["build_cpu_s"] for r in results), 3),
                "retried_batches": sum(r["retried_batches"] for r in results),
                "workers": workers,
            }
        )
    )


if __name__ == "__main__":
    main()
