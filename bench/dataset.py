"""The test data: the items, loading them into a table, and the datasets variants run on."""

from __future__ import annotations

import concurrent.futures
import time
from dataclasses import dataclass, field
from typing import Any

from processes import log
from rawddb import RawDynamo

BASELINE_ITEMS = 100

_FIRST = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia")
_LAST = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson")
_CITY = ("Springfield", "Riverside", "Fairview", "Kingston", "Georgetown", "Clinton", "Salem")
_NOTE = "The quick brown fox jumps over the lazy dog; pack my box with five dozen jugs. "


@dataclass
class Dataset:
    """What the variants work on: a table (and, for imports, backups of it) of ``items``.

    ``main`` is the measured dataset; ``baseline`` a tiny one (``BASELINE_ITEMS``) run
    to find each variant's fixed start-up cost.
    """

    label: str
    items: int
    table: str
    data: dict[str, Any] = field(default_factory=dict)


def make_item(i: int) -> dict[str, Any]:
    """Item ``i`` in DynamoDB wire form: S, N, S, BOOL, N, SS, S, about 200 bytes."""
    return {
        "pk": {"S": f"user#{i:08d}"},
        "visits": {"N": str((i * 7919) % 100000)},
        "name": {"S": f"{_FIRST[i % 9]} {_LAST[i % 8]} of {_CITY[i % 7]}, customer {i}"},
        "active": {"BOOL": i % 3 != 0},
        "balance": {"N": f"{(i * 104729) % 1000000}.{i % 100:02d}"},
        "tags": {
            "SS": [f"segment-{i % 97:02d}", f"cohort-2024-{i % 13:02d}", f"region-eu-{i % 7}"]
        },
        "note": {"S": (_NOTE[i % 40 :] + _NOTE)[:40]},
    }


def load_items(
    client: RawDynamo,
    table: str,
    count: int,
    *,
    threads: int = 4,
    start: int = 0,
    progress_every: int = 0,
) -> float:
    """Put items ``start .. start+count-1`` with raw BatchWriteItem calls; returns seconds."""
    began = time.perf_counter()
    done = 0
    retries = 0
    step = progress_every or max(count // 10, 25)
    next_report = step

    def write(first: int) -> tuple[int, int]:
        last = min(first + 25, start + count)
        items = [make_item(i) for i in range(first, last)]
        return last - first, client.batch_write(table, items)

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        # Submit in windows so a million items never sit in the queue at once.
        window = threads * 64
        firsts = iter(range(start, start + count, 25))
        pending: set[concurrent.futures.Future[tuple[int, int]]] = set()
        while True:
            for first in firsts:
                pending.add(pool.submit(write, first))
                if len(pending) >= window:
                    break
            if not pending:
                break
            finished, pending = concurrent.futures.wait(
                pending, return_when=concurrent.futures.FIRST_COMPLETED
            )
            for future in finished:
                written, retried = future.result()
                done += written
                retries += retried
            if done >= next_report:
                elapsed = time.perf_counter() - began
                log(f"  loaded {done:,}/{count:,} items in {elapsed:.1f} s")
                next_report += step
    seconds = time.perf_counter() - began
    if retries:
        log(f"  ({retries} batches retried for UnprocessedItems)")
    return seconds


def create_loaded_table(
    client: RawDynamo, table: str, count: int, *, threads: int = 4, progress_every: int = 0
) -> None:
    """A fresh on-demand table holding ``count`` items, verified by a COUNT scan."""
    client.delete_table(table)
    client.create_table(table)
    log(f"loading {count:,} items into {table} ...")
    seconds = load_items(client, table, count, threads=threads, progress_every=progress_every)
    found = client.count(table)
    if found != count:
        raise SystemExit(f"loading failed: {table} holds {found:,} items, expected {count:,}")
    log(f"loaded {count:,} items in {seconds:.1f} s ({count / seconds:,.0f}/s); COUNT scan agrees")
