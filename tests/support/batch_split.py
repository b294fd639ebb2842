"""Splitting a BatchWriteItem: the writes the proxy forwards and those it returns unprocessed."""

from __future__ import annotations

import json
import random
from typing import Any

WriteRequests = dict[str, list[Any]]
"""A BatchWriteItem's ``RequestItems``: each table's write requests, in order."""


def parse_batch(body: bytes) -> dict[str, Any] | None:
    """A BatchWriteItem request body, or None if it is not a well-formed one."""
    try:
        request = json.loads(body)
    except ValueError:
        return None
    if not isinstance(request, dict):
        return None
    items = request.get("RequestItems")
    if not isinstance(items, dict) or not items:
        return None
    if not all(isinstance(writes, list) and writes for writes in items.values()):
        return None
    return request


def split_batch(
    request_items: WriteRequests, rng: random.Random
) -> tuple[WriteRequests, WriteRequests]:
    """Split each table's write requests into forwarded and withheld, keeping order.

    Each table forwards a random number (0 to all) of its requests; at least one request
    in the whole batch is withheld. Tables with nothing to forward or withhold are left out.
    """
    keep: dict[str, set[int]] = {}
    for table, writes in request_items.items():
        count = rng.randint(0, len(writes))
        keep[table] = set(rng.sample(range(len(writes)), count))
    if all(len(keep[table]) == len(writes) for table, writes in request_items.items()):
        table = rng.choice(sorted(request_items))
        keep[table].discard(rng.choice(sorted(keep[table])))
    return _split_kept(request_items, keep)


def split_batch_at(
    request_items: WriteRequests, forward: int
) -> tuple[WriteRequests, WriteRequests]:
    """Forward the first ``forward`` write requests in request order (all but one at most)."""
    total = sum(len(writes) for writes in request_items.values())
    remaining = min(forward, total - 1)
    keep: dict[str, set[int]] = {}
    for table, writes in request_items.items():
        count = min(remaining, len(writes))
        keep[table] = set(range(count))
        remaining -= count
    return _split_kept(request_items, keep)


def _split_kept(
    request_items: WriteRequests, keep: dict[str, set[int]]
) -> tuple[WriteRequests, WriteRequests]:
    """Each table's writes whose index is in ``keep`` (forwarded) and the others (withheld)."""
    forwarded: WriteRequests = {}
    withheld: WriteRequests = {}
    for table, writes in request_items.items():
        sent = [write for index, write in enumerate(writes) if index in keep[table]]
        held = [write for index, write in enumerate(writes) if index not in keep[table]]
        if sent:
            forwarded[table] = sent
        if held:
            withheld[table] = held
    return forwarded, withheld


__all__ = ["WriteRequests", "parse_batch", "split_batch", "split_batch_at"]
