"""Export, import, inspect and convert over S3 through the fault proxy: every item once.

Each S3 server in turn (moto, and rclone, which checks signatures) sits behind a proxy
that follows a ``FaultPlan``: reads cut short, 503 SlowDown, 500 InternalError before and
after forwarding, connections dropped before and after forwarding, on object reads, part
uploads, multipart starts and completions, plain writes, deletes and listings. Every
scheduled fault must have been injected, and every item must arrive exactly once.
"""

from __future__ import annotations

from ddbpipe.backups.opener import open_backup
from ddbpipe.transfer.convert import convert_backup
from ddbpipe.transfer.export import ExportConfig, export_table
from ddbpipe.transfer.imports import ImportConfig, import_table
from ddbpipe.transfer.inspect import inspect_backup
from tests.support.compare import canonical_set
from tests.support.fault_plan import FaultPlan
from tests.support.fault_proxy import FaultProxyFactory
from tests.support.s3_objects import (
    FAST_RETRIES,
    backup_items,
    open_uploads,
    s3_config,
    upload_backup,
)
from tests.support.servers import Endpoint
from tests.support.tables import dynamo_config, make_table, padded_item, scan_all


def test_export_to_s3_writes_every_item_once(
    s3_bucket: tuple[Endpoint, str],
    dynalite: Endpoint,
    fault_proxy: FaultProxyFactory,
    unique_name: str,
) -> None:
    endpoint, bucket = s3_bucket
    table = f"s3export-{unique_name}"
    items = [padded_item(n, 80_000) for n in range(300)]  # two segments of over 8 MiB
    make_table(dynalite, table, items)
    plan = FaultPlan(
        {
            "CreateMultipartUpload": ["drop-after", "throttle"],
            "UploadPart": ["error", "drop-after", "throttle", "error-after"],
            "CompleteMultipartUpload": ["drop-after", "error-after"],
            "PutObject": ["throttle", "error-after", "drop", "drop-after"],
            "ListObjectsV2": ["cut"],
            "DeleteObject": ["drop-after"],
        }
    )
    proxy = fault_proxy(endpoint, exact_rules=plan.rules)
    config = ExportConfig(
        dynamo=dynamo_config(dynalite),
        store=s3_config(endpoint, proxy.url),
        retry=FAST_RETRIES,
        workers=2,
        segments=2,
        read_ratio=1,
        max_rcu=100_000,
    )

    result = export_table(table, f"s3://{bucket}/exports", config)

    exported = backup_items(result.folder, s3_config(endpoint))
    assert plan.missed(proxy) == {}
    assert plan.requests("UploadPart") >= 4 + 4  # two data files of two parts, and retries
    assert result.items == len(exported) == len(items)
    assert canonical_set(exported) == canonical_set(items)
    assert open_uploads(endpoint, bucket) == []


def test_import_from_s3_puts_every_item(
    s3_bucket: tuple[Endpoint, str],
    dynalite: Endpoint,
    fault_proxy: FaultProxyFactory,
    unique_name: str,
) -> None:
    endpoint, bucket = s3_bucket
    table = f"s3import-{unique_name}"
    make_table(dynalite, table, [])
    items = [padded_item(n, 2000) for n in range(600)]
    source = upload_backup(endpoint, bucket, "backup", items, per_file=75)
    plan = FaultPlan(
        {
            "GetObject": ["cut", "throttle", "cut", "error", "drop", "error-after", "drop-after"],
            "ListObjectsV2": ["drop"],
        }
    )
    proxy = fault_proxy(endpoint, exact_rules=plan.rules)
    config = ImportConfig(
        dynamo=dynamo_config(dynalite),
        store=s3_config(endpoint, proxy.url),
        retry=FAST_RETRIES,
        workers=2,
        write_ratio=1,
        max_wcu=100_000,
    )

    result = import_table(source, table, config)

    assert plan.missed(proxy) == {}
    assert proxy.stats.cut_bodies == 2
    assert (result.items_read, result.written) == (len(items), len(items))
    assert canonical_set(scan_all(dynalite, table)) == canonical_set(items)


def test_inspect_verify_over_s3_counts_every_item(
    s3_bucket: tuple[Endpoint, str], fault_proxy: FaultProxyFactory
) -> None:
    endpoint, bucket = s3_bucket
    items = [padded_item(n, 2000) for n in range(600)]
    source = upload_backup(endpoint, bucket, "backup", items, per_file=75)
    plan = FaultPlan(
        {
            "GetObject": ["cut", "error", "cut", "throttle", "drop-after", "cut", "drop"],
            "ListObjectsV2": ["cut"],
        }
    )
    proxy = fault_proxy(endpoint, exact_rules=plan.rules)

    report = inspect_backup(open_backup(source, s3_config(endpoint, proxy.url)), verify=True)

    assert plan.missed(proxy) == {}
    assert proxy.stats.cut_bodies == 4
    assert report.ok, [report.problems, *(f.problems for f in report.files)]
    assert [f.items for f in report.files] == [75] * 8
    assert report.items == len(items)


def test_convert_over_s3_writes_every_item_once(
    s3_bucket: tuple[Endpoint, str], fault_proxy: FaultProxyFactory
) -> None:
    endpoint, bucket = s3_bucket
    items = [padded_item(n, 70_000) for n in range(180)]  # over 8 MiB, even compressed
    # One source file: a converted file comes from one source file, and this one is large
    # enough to go as a multipart upload.
    source = upload_backup(endpoint, bucket, "backup", items, per_file=180)
    plan = FaultPlan(
        {
            "GetObject": ["cut"],  # one source file: two reads in all
            "ListObjectsV2": ["drop", "cut"],
            "PutObject": ["throttle", "drop-after", "error"],
            "CreateMultipartUpload": ["error-after"],
            "UploadPart": ["drop-after", "throttle"],
            "CompleteMultipartUpload": ["drop-after"],
        }
    )
    proxy = fault_proxy(endpoint, exact_rules=plan.rules)
    config = s3_config(endpoint, proxy.url)

    result = convert_backup(source, f"s3://{bucket}/converted", "dynamodb-json", store=config)

    converted = backup_items(result.folder, s3_config(endpoint))
    assert plan.missed(proxy) == {}
    assert result.items == len(converted) == len(items)
    assert canonical_set(converted) == canonical_set(items)
    assert open_uploads(endpoint, bucket) == []
