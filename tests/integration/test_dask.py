"""Jobs on a real Dask cluster (``dask scheduler`` and two ``dask worker`` processes on
127.0.0.1): the items of a local run, workers killed mid-job, stopping, typed errors,
and the capacity every worker takes together."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ddbpipe.backups.opener import open_backup
from ddbpipe.cli import cli
from ddbpipe.cli.errors import exit_code_for
from ddbpipe.dynamo.client import DynamoConfig
from ddbpipe.errors import CancelledError, ItemError, PausedError, TableNotFoundError
from ddbpipe.formats.datapipeline import MANIFEST_NAME, decode_manifest, encode_items
from ddbpipe.retry import DEFAULT_RETRY_POLICY
from ddbpipe.stores import StoreConfig
from ddbpipe.transfer.cancel import CancelToken
from ddbpipe.transfer.convert import convert_backup
from ddbpipe.transfer.dask_executor import DaskPool
from ddbpipe.transfer.export import ExportConfig, export_table, resume_export
from ddbpipe.transfer.export_task import SegmentTask, run_segment
from ddbpipe.transfer.imports import ImportConfig, import_table
from ddbpipe.transfer.progress import JobProgress
from tests.support.aws_wire import ProxyRequest
from tests.support.compare import canonical_set
from tests.support.dask_cluster import DaskCluster
from tests.support.dask_tasks import Step, StepsResult, StepsTask, run_steps
from tests.support.fault_proxy import FaultProxyFactory, FaultRules
from tests.support.fault_rules import ExactRule, Throttle
from tests.support.servers import Endpoint
from tests.support.tables import dynamo_config, every_type_item, make_table, scan_all

pytestmark = pytest.mark.integration

BIG_ITEMS = 60  # of ~350 KB, ~21 MB: data files of more than 8 MB go up in parts
_PAD = "x" * 350_000


def s3_config(moto: Endpoint) -> StoreConfig:
    return StoreConfig(region=moto.region, endpoint_url=moto.url)


def new_bucket(moto: Endpoint) -> str:
    bucket = f"dask-{uuid.uuid4().hex[:12]}"
    moto.client("s3").create_bucket(Bucket=bucket)
    return bucket


def items_in(folder: str, store: StoreConfig | None = None) -> list[dict[str, Any]]:
    backup = open_backup(folder, store)
    return [item for f in backup.files for _, item in backup.iter_items(f)]


def open_uploads(moto: Endpoint, bucket: str) -> list[str]:
    listing = moto.client("s3").list_multipart_uploads(Bucket=bucket)
    return [upload["Key"] for upload in listing.get("Uploads", [])]


def data_files(moto: Endpoint, bucket: str, folder: str) -> set[str]:
    """URLs of the data files in an S3 run folder (everything but ``_*`` and the manifest)."""
    prefix = folder.removeprefix(f"s3://{bucket}/") + "/"
    listing = moto.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)
    names = [obj["Key"] for obj in listing.get("Contents", [])]
    return {
        f"s3://{bucket}/{name}"
        for name in names
        if not name.rpartition("/")[2].startswith("_") and not name.endswith(MANIFEST_NAME)
    }


def manifest_files(moto: Endpoint, bucket: str, folder: str) -> set[str]:
    key = folder.removeprefix(f"s3://{bucket}/") + "/" + MANIFEST_NAME
    body = moto.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return set(decode_manifest(body).urls)


@pytest.fixture(scope="module")
def big_table(dynalite_server: Endpoint) -> str:
    """A table of ~21 MB, shared by the tests that only read it."""
    name = f"dask-big-{uuid.uuid4().hex[:8]}"
    items = [{**every_type_item(n), "pad": {"S": _PAD}} for n in range(BIG_ITEMS)]
    make_table(dynalite_server, name, items)
    return name


def test_export_import_and_convert_give_the_items_of_a_local_run(
    dask_cluster: DaskCluster, dynalite: Endpoint, moto: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    table = f"same-{unique_name}"
    make_table(dynalite, table, [every_type_item(n) for n in range(400)])
    store, bucket = s3_config(moto), new_bucket(moto)
    shape = {"segments": 3, "max_items_per_file": 100, "dynamo": dynamo_config(dynalite)}
    local = export_table(table, str(tmp_path / "local"), ExportConfig(workers=2, **shape))
    progress: list[JobProgress] = []
    remote = export_table(
        table,
        f"s3://{bucket}/exports",
        ExportConfig(store=store, dask=dask_cluster.address, **shape),
        on_progress=progress.append,
    )
    assert (remote.items, remote.segments, remote.workers) == (400, 3, 2)
    assert len(remote.files) == len(local.files)
    source = canonical_set(scan_all(dynalite, table))
    assert canonical_set(items_in(remote.folder, store)) == source
    assert canonical_set(items_in(local.folder)) == source
    assert manifest_files(moto, bucket, remote.folder) == data_files(moto, bucket, remote.folder)
    assert progress[-1].items == 400  # the progress display is fed by the workers' events

    imported = {}
    for name, folder, config in [
        ("local", local.folder, {}),
        ("remote", remote.folder, {"store": store, "dask": dask_cluster.address}),
    ]:
        target = f"{name}-{unique_name}"
        make_table(dynalite, target, [])
        imported[name] = import_table(
            folder,
            target,
            ImportConfig(dynamo=dynamo_config(dynalite), write_ratio=1, max_wcu=1e5, **config),
        )
        assert canonical_set(scan_all(dynalite, target)) == source
    fields = ("files", "items_read", "written", "skipped", "duplicates", "blank_lines")
    for field in fields:
        assert getattr(imported["remote"], field) == getattr(imported["local"], field), field
    assert imported["remote"].written == 400

    converted = convert_backup(
        remote.folder,
        f"s3://{bucket}/converted",
        "dynamodb-json",
        store=store,
        dask=dask_cluster.address,
    )
    assert converted.items == 400
    assert canonical_set(items_in(converted.folder, store)) == source


def test_a_lost_worker_s_task_goes_on_from_its_last_checkpoint(
    dask_cluster: DaskCluster,
) -> None:
    pool = DaskPool.connect(dask_cluster.address)
    events: list[object] = []
    results: list[StepsResult] = []
    try:
        tasks = [StepsTask(0, steps=6, crash_after=3), StepsTask(1, steps=4, wait=0.2)]
        pool.executor(2, 10.0, 10.0).run(run_steps, tasks, events.append, results.append)
    finally:
        pool.close()
    crashed = [e.number for e in events if isinstance(e, Step) and e.task == 0]
    assert crashed == [1, 2, 3, 4, 5, 6]  # each step once: the second attempt went on at 4
    (result,) = [r for r in results if r.task == 0]
    assert result.started_at == 3
    assert sorted(r.task for r in results) == [0, 1]


def test_errors_raised_in_tasks_arrive_typed(
    dask_cluster: DaskCluster, dynalite: Endpoint, unique_name: str
) -> None:
    pool = DaskPool.connect(dask_cluster.address)
    try:
        failing = [StepsTask(0, steps=5, fail_at=3, source="s3://bucket/data/part-7")]
        with pytest.raises(ItemError, match="not a number") as bad_line:
            pool.executor(1, 10.0, 10.0).run(run_steps, failing, print, print)
        missing = SegmentTask(
            table=f"missing-{unique_name}",
            segment=0,
            total_segments=1,
            start_key=None,
            key_names=("pk",),
            consistent_read=False,
            dynamo=dynamo_config(dynalite),
            folder_url="/nonexistent-folder",
            store=StoreConfig(),
            max_items_per_file=10,
            average_item_bytes=100.0,
            retry=DEFAULT_RETRY_POLICY,
        )
        with pytest.raises(TableNotFoundError) as no_table:
            pool.executor(1, 10.0, 10.0).run(run_segment, [missing], print, print)
    finally:
        pool.close()
    error = bad_line.value
    assert (error.source, error.line) == ("s3://bucket/data/part-7", 3)
    assert "s3://bucket/data/part-7, line 3" in str(error)
    assert exit_code_for(error) == 4
    assert "run_steps" in (error.remote_traceback or "")
    assert no_table.value.table == f"missing-{unique_name}"
    assert str(no_table.value) == f"table 'missing-{unique_name}' not found in region us-east-1"
    assert exit_code_for(no_table.value) == 6


def test_a_bad_line_fails_an_import_on_the_cluster_with_its_exit_code(
    dask_cluster: DaskCluster, dynalite: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    table = f"bad-{unique_name}"
    make_table(dynalite, table, [])
    folder = tmp_path / "backup"
    folder.mkdir()
    lines = encode_items([every_type_item(n) for n in range(4)]) + b'{"pk":{"s":"trunc\n'
    (folder / "part-0").write_bytes(lines)
    result = CliRunner().invoke(
        cli,
        ["import", str(folder), table, "--endpoint-url", dynalite.url, "--region", "us-east-1"],
        env={"DDBPIPE_DASK_SCHEDULER": dask_cluster.address},
    )
    assert result.exit_code == 4, result.output
    assert f"{folder / 'part-0'}, line 5: malformed JSON" in result.stderr


def test_stopping_reaches_running_tasks_within_a_second(dask_cluster: DaskCluster) -> None:
    pool = DaskPool.connect(dask_cluster.address)
    token = CancelToken()
    events: list[object] = []
    stopped_at: list[float] = []

    def on_event(event: object) -> None:
        events.append(event)
        if len(events) == 4 and not token.is_set():
            token.cancel()
            stopped_at.append(time.monotonic())

    tasks = [StepsTask(n, steps=200, wait=0.05) for n in range(4)]
    try:
        with pytest.raises(CancelledError):
            pool.executor(2, 10.0, 10.0).run(run_steps, tasks, on_event, print, cancel=token)
        ended = time.monotonic()
        busy = dask_cluster.busy_workers()
    finally:
        pool.close()
    assert ended - stopped_at[0] < 1.5
    assert busy == []  # the running tasks ended: none is left on a worker
    assert len(events) < 20


def test_a_worker_killed_mid_export_leaves_every_item_once_and_nothing_behind(
    dask_cluster: DaskCluster,
    dynalite: Endpoint,
    moto: Endpoint,
    fault_proxy: FaultProxyFactory,
    big_table: str,
) -> None:
    bucket = new_bucket(moto)
    proxy = fault_proxy(moto)
    uploads: list[str] = []  # data files in the order their last part was sent
    killed: list[str] = []

    def kill_during_the_second_file(request: ProxyRequest) -> bool:
        """Hold the last part of the second data file, kill the worker that sends it."""
        if request.query.get("partNumber") == "2" and request.key not in uploads:
            uploads.append(request.key)
            if len(uploads) == 2:
                (busy,) = dask_cluster.busy_workers()
                dask_cluster.kill_worker(busy)
                killed.append(busy)
        return False  # forwarded as it is: the upload stays open, never completed

    proxy.exact_rules = [
        ExactRule(Throttle(), operations="UploadPart", when=kill_during_the_second_file)
    ]
    store = StoreConfig(region=moto.region, endpoint_url=proxy.url)
    config = ExportConfig(
        dynamo=dynamo_config(dynalite),
        store=store,
        segments=1,
        max_items_per_file=BIG_ITEMS // 2 - 4,  # ~9 MB: a multipart upload of two parts
        dask=dask_cluster.address,
    )
    result = export_table(big_table, f"s3://{bucket}/out", config)
    assert killed
    assert result.items == BIG_ITEMS
    keys = [item["pk"]["S"] for item in items_in(result.folder, store)]
    assert sorted(keys) == [f"item-{n:05d}" for n in range(BIG_ITEMS)]
    listed = manifest_files(moto, bucket, result.folder)
    assert listed == data_files(moto, bucket, result.folder)
    assert f"s3://{bucket}/{uploads[0]}" in listed  # the new attempt went on after it
    assert open_uploads(moto, bucket) == []


def test_a_stopped_export_aborts_its_uploads_and_resumes_on_the_cluster(
    dask_cluster: DaskCluster,
    dynalite: Endpoint,
    moto: Endpoint,
    fault_proxy: FaultProxyFactory,
    big_table: str,
) -> None:
    bucket = new_bucket(moto)
    proxy = fault_proxy(moto)
    token = CancelToken()
    stopped_at: list[float] = []

    def stop_at_the_first_part(request: ProxyRequest) -> bool:
        if not token.is_set():
            token.cancel()  # as Ctrl-C does, while an upload is open
            stopped_at.append(time.monotonic())
            time.sleep(0.5)  # the workers hear of it before this part is sent
        return False

    proxy.exact_rules = [
        ExactRule(Throttle(), operations="UploadPart", when=stop_at_the_first_part)
    ]
    store = StoreConfig(region=moto.region, endpoint_url=proxy.url)
    config = ExportConfig(
        dynamo=dynamo_config(dynalite), store=store, segments=2, dask=dask_cluster.address
    )
    with pytest.raises(PausedError) as caught:
        export_table(big_table, f"s3://{bucket}/out", config, cancel=token)
    assert time.monotonic() - stopped_at[0] < 3.0
    assert open_uploads(moto, bucket) == []  # the stopped tasks aborted theirs
    resume = caught.value.resume
    assert resume is not None
    result = resume_export(resume.location, config)
    keys = [item["pk"]["S"] for item in items_in(result.folder, store)]
    assert sorted(keys) == [f"item-{n:05d}" for n in range(BIG_ITEMS)]
    assert manifest_files(moto, bucket, result.folder) == data_files(moto, bucket, result.folder)


def test_a_worker_killed_mid_import_still_writes_every_item_once(
    dask_cluster: DaskCluster, dynalite: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    source, target = f"src-{unique_name}", f"dst-{unique_name}"
    make_table(dynalite, source, [every_type_item(n) for n in range(2400)])
    make_table(dynalite, target, [])
    backup = export_table(
        source,
        str(tmp_path),
        ExportConfig(dynamo=dynamo_config(dynalite), segments=3, max_items_per_file=800),
    )
    killed: list[str] = []
    progress: list[JobProgress] = []

    def on_progress(now: JobProgress) -> None:
        progress.append(now)
        # Both files are past their first checkpoint (every 500 items), neither is done.
        if not killed and now.items >= 1200:
            killed.append(dask_cluster.busy_workers()[0])
            dask_cluster.kill_worker(killed[0])

    config = ImportConfig(
        dynamo=dynamo_config(dynalite), write_ratio=1, max_wcu=3000, dask=dask_cluster.address
    )
    result = import_table(backup.folder, target, config, on_progress=on_progress)
    assert killed
    files = len(open_backup(backup.folder).files)
    assert (result.files, result.items_read, result.written) == (files, 2400, 2400)
    # The file of the lost worker went on from its checkpoint: only what followed it was
    # written twice (a run from its first line would write 500 more).
    assert 2400 <= progress[-1].items < 2400 + 400
    assert canonical_set(scan_all(dynalite, target)) == canonical_set(scan_all(dynalite, source))


def test_capacity_summed_over_workers_stays_within_the_rate(
    dask_cluster: DaskCluster,
    dynalite: Endpoint,
    fault_proxy: FaultProxyFactory,
    unique_name: str,
    tmp_path: Path,
) -> None:
    table = f"rate-{unique_name}"
    pad = "y" * 40_000  # 5 RCU an item, read with eventual consistency
    make_table(dynalite, table, [{**every_type_item(n), "pad": {"S": pad}} for n in range(225)])
    proxy = fault_proxy(dynalite, FaultRules())
    rate = 100.0
    workers: set[str] = set()
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.2):
            workers.update(dask_cluster.busy_workers())

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        result = export_table(
            table,
            str(tmp_path),
            ExportConfig(
                dynamo=DynamoConfig(region=dynalite.region, endpoint_url=proxy.url),
                segments=2,
                read_ratio=1,
                max_rcu=rate,
                dask=dask_cluster.address,
            ),
        )
    finally:
        done.set()
        watcher.join()
    assert result.items == 225
    assert len(workers) == 2  # both workers scanned at once
    window = 10.0
    peak = proxy.peak_capacity(window, operation="Scan", table=table)
    print(f"peak {peak} RCU in {window:.0f} s, limit {rate * window}")
    assert 0.9 * rate * window <= peak <= 1.1 * rate * window, peak
