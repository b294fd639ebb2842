"""ddbpipe commands as processes, and what tests watch of them: their workers, the
folders and tables they write, backups made by hand."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from ddbpipe.formats.datapipeline import encode_items
from tests.support.processes import worker_pids
from tests.support.servers import Endpoint
from tests.support.tables import scan_all

__all__ = [
    "alive",
    "endpoint_flags",
    "folder_state",
    "parts_in_checkpoint",
    "run_ddbpipe",
    "start_ddbpipe",
    "wait_for",
    "wait_until_gone",
    "worker_pids",
    "write_backup",
]


def endpoint_flags(endpoint: Endpoint) -> list[str]:
    """The options that point a command at ``endpoint``'s DynamoDB."""
    return ["--endpoint-url", endpoint.url, "--region", endpoint.region]


def start_ddbpipe(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """``ddbpipe ARGS`` in its own process (and process group), output captured."""
    return subprocess.Popen(
        [sys.executable, "-m", "ddbpipe", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )


def run_ddbpipe(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``ddbpipe ARGS`` to its end."""
    return subprocess.run(
        [sys.executable, "-m", "ddbpipe", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        check=False,
    )


def write_backup(folder: Path, items: Sequence[dict[str, Any]], per_file: int) -> Path:
    """A Data Pipeline folder without manifest: data files of ``per_file`` items."""
    folder.mkdir(parents=True, exist_ok=True)
    for start in range(0, len(items), per_file):
        (folder / f"part-{start:06d}").write_bytes(encode_items(items[start : start + per_file]))
    return folder


def wait_for(condition: Any, what: str, timeout: float = 60) -> None:
    """Wait until ``condition()`` is true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def wait_for_parts(dest: Path, minimum: int, timeout: float = 60) -> Path:
    """The run folder under ``dest``, once its export checkpoint lists ``minimum``
    finished data files."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for checkpoint in dest.glob("*/_checkpoint.json"):
            try:
                state = orjson.loads(checkpoint.read_bytes())
            except orjson.JSONDecodeError:
                continue
            if sum(len(s["parts"]) for s in state["segments"].values()) >= minimum:
                return checkpoint.parent
        time.sleep(0.05)
    raise AssertionError("the export made no progress")


def parts_in_checkpoint(dest: Path) -> int:
    """Data files an export running under ``dest`` has checkpointed so far."""
    for checkpoint in dest.rglob("_checkpoint.json"):
        try:
            state = orjson.loads(checkpoint.read_bytes())
        except (orjson.JSONDecodeError, OSError):
            continue
        return sum(len(s["parts"]) for s in state["segments"].values())
    return 0


def alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie waiting to be reaped does not)."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return status.rpartition(")")[2].split()[0] != "Z"


def wait_until_gone(pids: Sequence[int], timeout: float) -> list[int]:
    """The processes of ``pids`` still alive after ``timeout`` seconds (none, hopefully)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(alive(pid) for pid in pids):
            return []
        time.sleep(0.02)
    return [pid for pid in pids if alive(pid)]


def folder_state(folder: Path) -> dict[str, int]:
    """Every file below ``folder`` with its size."""
    return {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*") if p.is_file()}


def table_size(endpoint: Endpoint, table: str) -> int:
    """Items in ``table``."""
    return len(scan_all(endpoint, table))
