"""Find the worker processes of a running ddbpipe command."""

from __future__ import annotations

from pathlib import Path


def worker_pids(parent: int) -> list[int]:
    """Child processes of ``parent`` that run tasks (not multiprocessing's helpers)."""
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    helpers = (b"resource_tracker", b"forkserver")
    return [
        int(child)
        for child in children
        if not any(h in Path(f"/proc/{child}/cmdline").read_bytes() for h in helpers)
    ]
