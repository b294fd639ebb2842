"""Export through a fault proxy: throttling, 500s and dropped connections still give every item."""

from __future__ import annotations

from pathlib import Path

import pytest

from ddbpipe.backups.opener import open_backup
from ddbpipe.dynamo.client import DynamoConfig
from ddbpipe.errors import ResumePoint, RetriesExhaustedError
from ddbpipe.retry import RetryPolicy
from ddbpipe.transfer.export import ExportConfig, export_table, resume_export
from tests.support.compare import canonical_set
from tests.support.fault_proxy import FaultProxyFactory, FaultRules
from tests.support.servers import Endpoint
from tests.support.tables import every_type_item, make_table, scan_all

FAST_RETRIES = RetryPolicy(max_attempts=30, base_delay=0.005, max_delay=0.05)


def exported(folder: str) -> list[dict[str, object]]:
    backup = open_backup(folder)
    return [item for f in backup.files for _, item in backup.iter_items(f)]


@pytest.mark.parametrize("workers", [1, 2])
def test_faults_do_not_lose_or_repeat_items(
    dynalite: Endpoint,
    fault_proxy: FaultProxyFactory,
    unique_name: str,
    tmp_path: Path,
    workers: int,
) -> None:
    table = f"faults-{unique_name}"
    make_table(dynalite, table, [every_type_item(n) for n in range(1500)])
    rules = FaultRules(
        throttle_rate=0.2,
        error_rate=0.15,
        drop_rate=0.15,
        seed=workers,
        operations=frozenset({"Scan"}),
    )
    proxy = fault_proxy(dynalite, rules)
    # Many segments and a modest rate: many requests for the faults to hit.
    config = ExportConfig(
        dynamo=DynamoConfig(region=dynalite.region, endpoint_url=proxy.url),
        workers=workers,
        segments=24,
        max_rcu=60.0,
        read_ratio=1,
        retry=FAST_RETRIES,
    )
    result = export_table(table, str(tmp_path), config)
    stats = proxy.stats
    assert stats.throttled > 0
    assert stats.errors_before + stats.errors_after > 0
    assert stats.dropped_before + stats.dropped_after > 0
    items = exported(result.folder)
    assert len(items) == 1500
    assert canonical_set(items) == canonical_set(scan_all(dynalite, table))


@pytest.mark.parametrize("export_format", ["datapipeline", "dynamodb-json", "ion"])
def test_exhausted_retries_fail_loudly_then_resume(
    dynalite: Endpoint,
    fault_proxy: FaultProxyFactory,
    unique_name: str,
    tmp_path: Path,
    export_format: str,
) -> None:
    table = f"exhaust-{unique_name}"
    make_table(dynalite, table, [every_type_item(n) for n in range(300)])
    proxy = fault_proxy(dynalite, FaultRules(throttle_rate=1.0, operations=frozenset({"Scan"})))
    config = ExportConfig(
        dynamo=DynamoConfig(region=dynalite.region, endpoint_url=proxy.url),
        workers=1,
        retry=RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.002),
        format=export_format,
    )
    with pytest.raises(RetriesExhaustedError, match="still failing after 3 attempts") as caught:
        export_table(table, str(tmp_path), config)
    [folder] = [p.parent for p in tmp_path.rglob("_checkpoint.json")]
    assert caught.value.resume == ResumePoint("export", str(folder), table, 0)
    assert not (folder / "_SUCCESS").exists()
    proxy.rules = FaultRules()
    result = resume_export(str(folder), config)
    assert result.items == 300
    assert len(exported(result.folder)) == 300
