"""Import through a fault proxy, and interrupted imports: the table always ends complete."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from ddbpipe.dynamo.client import DynamoConfig
from ddbpipe.errors import ResumePoint, RetriesExhaustedError
from ddbpipe.formats.datapipeline import encode_items
from ddbpipe.retry import RetryPolicy
from ddbpipe.transfer.checkpoints import import_checkpoint_path
from ddbpipe.transfer.imports import ImportConfig, import_table
from tests.support.compare import canonical_set
from tests.support.fault_proxy import ExactRule, FaultProxyFactory, FaultRules, Throttle
from tests.support.processes import worker_pids
from tests.support.servers import Endpoint
from tests.support.tables import every_type_item, make_table, scan_all

FAST_RETRIES = RetryPolicy(max_attempts=40, base_delay=0.002, max_delay=0.02)


def write_backup(folder: Path, items: list[dict[str, object]], per_file: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for start in range(0, len(items), per_file):
        (folder / f"part-{start:06d}").write_bytes(encode_items(items[start : start + per_file]))
    return folder


@pytest.mark.parametrize("workers", [1, 2])
def test_faults_still_leave_every_item_written(
    dynalite: Endpoint,
    fault_proxy: FaultProxyFactory,
    unique_name: str,
    tmp_path: Path,
    workers: int,
) -> None:
    table = f"ifault-{unique_name}"
    make_table(dynalite, table, [])
    items = [every_type_item(n) for n in range(800)]
    folder = write_backup(tmp_path / "b", items, per_file=200)
    proxy = fault_proxy(
        dynalite,
        FaultRules(
            throttle_rate=0.1,
            error_rate=0.1,
            drop_rate=0.1,
            unprocessed_rate=0.6,
            seed=workers,
            operations=frozenset({"BatchWriteItem"}),
        ),
    )
    config = ImportConfig(
        dynamo=DynamoConfig(region=dynalite.region, endpoint_url=proxy.url),
        workers=workers,
        write_ratio=1,
        max_wcu=100_000,
        retry=FAST_RETRIES,
    )
    result = import_table(str(folder), table, config)
    stats = proxy.stats
    assert stats.throttled > 0
    assert stats.partial_batches > 0
    assert stats.unprocessed_items > 0
    assert stats.errors_before + stats.errors_after > 0
    assert stats.dropped_before + stats.dropped_after > 0
    assert result.written == 800
    assert canonical_set(scan_all(dynalite, table)) == canonical_set(items)


def test_small_retry_budget_fails_loudly_then_resume_completes(
    dynalite: Endpoint, fault_proxy: FaultProxyFactory, unique_name: str, tmp_path: Path
) -> None:
    table = f"ibudget-{unique_name}"
    make_table(dynalite, table, [])
    items = [every_type_item(n) for n in range(300)]
    folder = write_backup(tmp_path / "b", items, per_file=300)
    throttle = ExactRule(Throttle(), "BatchWriteItem", after=4)  # 4 batches, then no more
    proxy = fault_proxy(dynalite, exact_rules=[throttle])
    config = ImportConfig(
        dynamo=DynamoConfig(region=dynalite.region, endpoint_url=proxy.url),
        workers=1,
        write_ratio=1,
        max_wcu=100_000,
        state_dir=str(tmp_path / "state"),
        retry=RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.002),
    )
    checkpoint = import_checkpoint_path(tmp_path / "state", str(folder), table)
    with pytest.raises(
        RetriesExhaustedError, match=r"writing 25 items from .* still failing after 3 attempts"
    ) as caught:
        import_table(str(folder), table, config)
    assert len(scan_all(dynalite, table)) == 4 * 25
    assert proxy.rule_stats(throttle).fired == 3  # one batch, as many times as attempts allow
    assert caught.value.resume == ResumePoint("import", str(folder), table, 4 * 25)
    line, done, acknowledged = orjson.loads(checkpoint.read_bytes())["files"][
        str(folder / "part-000000")
    ]
    assert line == 4 * 25
    assert not done
    assert acknowledged == 4 * 25
    proxy.exact_rules = []
    resumed = import_table(str(folder), table, replace(config, resume=True))
    assert resumed.written < 300  # it did not start again from the first line
    assert canonical_set(scan_all(dynalite, table)) == canonical_set(items)
    assert not checkpoint.exists()


def start_import(endpoint: Endpoint, folder: Path, table: str) -> subprocess.Popen[str]:
    """A slow import (150 WCU/s, 2 workers) in its own process."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ddbpipe",
            "import",
            str(folder),
            table,
            "--endpoint-url",
            endpoint.url,
            "--region",
            endpoint.region,
            "--max-wcu",
            "150",
            "--write-ratio",
            "1",
            "--workers",
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_items(endpoint: Endpoint, table: str, minimum: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(scan_all(endpoint, table)) >= minimum:
            return
        time.sleep(0.1)
    raise AssertionError("the import made no progress")


def resume(endpoint: Endpoint, folder: Path, table: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "ddbpipe",
            "import",
            "--resume",
            str(folder),
            table,
            "--endpoint-url",
            endpoint.url,
            "--region",
            endpoint.region,
            "--max-wcu",
            "100000",
            "--write-ratio",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("how", ["sigint", "sigkill-worker"])
def test_interrupted_import_resumes_to_the_backup(
    dynalite: Endpoint, unique_name: str, tmp_path: Path, how: str
) -> None:
    table = f"istop-{unique_name}"
    make_table(dynalite, table, [])
    items = [every_type_item(n) for n in range(2000)]
    folder = write_backup(tmp_path / "b", items, per_file=500)
    process = start_import(dynalite, folder, table)
    wait_for_items(dynalite, table, minimum=300)
    if how == "sigint":
        process.send_signal(signal.SIGINT)
    else:
        os.kill(worker_pids(process.pid)[0], signal.SIGKILL)
    _, err = process.communicate(timeout=60)
    assert process.returncode == (130 if how == "sigint" else 1), err
    assert f"ddbpipe import --resume {folder} {table}" in err
    assert len(scan_all(dynalite, table)) < 2000
    finished = resume(dynalite, folder, table)
    assert finished.returncode == 0, finished.stderr
    assert canonical_set(scan_all(dynalite, table)) == canonical_set(items)
