"""Property: whatever faults DynamoDB and S3 throw, export then import gives back exactly
the table's items.

Each example draws a fault schedule for a proxy in front of DynamoDB (dynalite) and one in
front of S3 (moto or rclone), and the shape of the jobs: items, segments, workers, format
and items per file. Run more examples with DDBPIPE_FAULT_PROFILE=fault-schedules-thorough.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from hypothesis import given, note
from hypothesis import strategies as st

from ddbpipe.dynamo.client import DynamoConfig
from ddbpipe.formats.detect import EXPORT_FORMATS
from ddbpipe.transfer.export import ExportConfig, export_table
from ddbpipe.transfer.imports import ImportConfig, import_table
from tests.support.compare import canonical_set
from tests.support.fault_proxy import FaultProxy, FaultRules
from tests.support.fault_schedules import (
    FAULT_SCHEDULE_SETTINGS,
    dynamodb_fault_rules,
    s3_fault_rules,
)
from tests.support.s3_objects import FAST_RETRIES, backup_items, open_uploads, s3_config
from tests.support.servers import Endpoint
from tests.support.tables import every_type_item, make_table, scan_all


@dataclass(frozen=True)
class Round:
    """One export and import: where, how, and through which faults."""

    s3_server: str
    dynamodb_faults: FaultRules
    s3_faults: FaultRules
    items: int
    segments: int
    workers: int
    format: str
    items_per_file: int


ROUNDS = st.builds(
    Round,
    s3_server=st.sampled_from(["moto", "rclone"]),
    dynamodb_faults=dynamodb_fault_rules(),
    s3_faults=s3_fault_rules(),
    items=st.integers(min_value=0, max_value=300),
    segments=st.integers(min_value=1, max_value=4),
    workers=st.integers(min_value=1, max_value=2),
    format=st.sampled_from(EXPORT_FORMATS),
    items_per_file=st.integers(min_value=10, max_value=300),
)


@FAULT_SCHEDULE_SETTINGS
@given(round_=ROUNDS)
def test_export_then_import_gives_back_exactly_the_table(
    moto_server: Endpoint, rclone_server: Endpoint, dynalite: Endpoint, round_: Round
) -> None:
    s3 = moto_server if round_.s3_server == "moto" else rclone_server
    name = f"schedule-{uuid.uuid4().hex[:12]}"
    items = [every_type_item(n) for n in range(round_.items)]
    make_table(dynalite, name, items)
    make_table(dynalite, f"{name}-copy", [])
    s3.client("s3").create_bucket(Bucket=name)

    with (
        FaultProxy(dynalite.url, round_.dynamodb_faults) as dynamodb,
        FaultProxy(s3.url, round_.s3_faults) as store,
    ):
        dynamo = DynamoConfig(region=dynalite.region, endpoint_url=dynamodb.url)
        exported = export_table(
            name,
            f"s3://{name}/exports",
            ExportConfig(
                dynamo=dynamo,
                store=s3_config(s3, store.url),
                retry=FAST_RETRIES,
                segments=round_.segments,
                workers=round_.workers,
                format=round_.format,
                max_items_per_file=round_.items_per_file,
                read_ratio=1,
                max_rcu=100_000,
            ),
        )
        imported = import_table(
            exported.folder,
            f"{name}-copy",
            ImportConfig(
                dynamo=dynamo,
                store=s3_config(s3, store.url),
                retry=FAST_RETRIES,
                workers=round_.workers,
                write_ratio=1,
                max_wcu=100_000,
            ),
        )
    note(f"DynamoDB proxy: {dynamodb.stats}")
    note(f"S3 proxy: {store.stats}")
    assert (dynamodb.failures, store.failures) == ((), ())

    in_backup = backup_items(exported.folder, s3_config(s3))
    assert exported.items == len(in_backup) == len(items)
    assert canonical_set(in_backup) == canonical_set(items)
    assert imported.items_read == len(items)
    assert canonical_set(scan_all(dynalite, f"{name}-copy")) == canonical_set(items)
    assert open_uploads(s3, name) == []
