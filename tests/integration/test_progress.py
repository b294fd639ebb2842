"""Progress a job reports is true: an import's estimate of the items to come is within
10% of the truth for an uncompressed Data Pipeline backup, from its first report on."""

from __future__ import annotations

from pathlib import Path

import pytest

from ddbpipe.cli.progress import estimate_total
from ddbpipe.transfer.imports import ImportConfig, import_table
from ddbpipe.transfer.progress import JobProgress
from tests.support.jobs import write_backup
from tests.support.servers import Endpoint
from tests.support.tables import dynamo_config, every_type_item, make_table


@pytest.mark.parametrize("workers", [1, 2])
def test_the_estimate_of_an_import_is_within_ten_percent(
    dynalite: Endpoint, unique_name: str, tmp_path: Path, workers: int
) -> None:
    table = f"est-{unique_name}"
    make_table(dynalite, table, [])
    items = [every_type_item(n) for n in range(6000)]
    for n, item in enumerate(items):  # sizes vary from line to line, not from file to file
        item["pad"] = {"S": "x" * (n * 37 % 400)}
    folder = write_backup(tmp_path / "b", items, per_file=1500)
    reports: list[JobProgress] = []
    config = ImportConfig(
        dynamo=dynamo_config(dynalite), write_ratio=1, max_wcu=100_000, workers=workers
    )
    result = import_table(str(folder), table, config, on_progress=reports.append)
    assert result.written == len(items)
    estimates = [
        estimate_total(p.items, p.bytes, p.expected_items, p.expected_bytes)
        for p in reports
        if p.items
    ]
    assert len(estimates) >= 4
    for estimate in estimates:
        assert estimate is not None
        assert abs(estimate - len(items)) <= 0.1 * len(items), estimates
