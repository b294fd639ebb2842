"""The library serves other callers than the command line: a caller's own session (with
credentials other than the environment's) for export, import and convert, a job
cancelled from another thread and then resumed, progress delivered to a callback, and
the caller's process left as it was."""

from __future__ import annotations

import gc
import threading
from dataclasses import replace
from pathlib import Path

import boto3
import pytest

from ddbpipe import (
    CancelToken,
    ExportConfig,
    ImportConfig,
    JobProgress,
    PausedError,
    ResumePoint,
    StoreConfig,
    convert_backup,
    export_table,
    import_table,
    open_backup,
    resume_export,
)
from ddbpipe.errors import AccessDeniedError
from tests.support.compare import canonical_set
from tests.support.jobs import parts_in_checkpoint, table_size, wait_for
from tests.support.servers import Endpoint
from tests.support.tables import dynamo_config, every_type_item, make_table, scan_all


@pytest.mark.parametrize("workers", [1, 2])
def test_an_export_uses_the_session_it_is_given(
    dynalite: Endpoint, rclone: Endpoint, unique_name: str, workers: int
) -> None:
    table = f"sess-{unique_name}"
    make_table(dynalite, table, [every_type_item(n) for n in range(50)])
    bucket = f"bucket-{unique_name}"
    rclone.client("s3").create_bucket(Bucket=bucket)
    config = ExportConfig(
        dynamo=dynamo_config(dynalite),
        store=StoreConfig(endpoint_url=rclone.url),
        workers=workers,
        segments=2,
    )
    # The environment's credentials are not rclone's: without the session, S3 refuses.
    with pytest.raises(AccessDeniedError):
        export_table(table, f"s3://{bucket}/refused", config)
    session = boto3.Session(
        aws_access_key_id=rclone.access_key,
        aws_secret_access_key=rclone.secret_key,
        region_name="us-east-1",
    )
    result = export_table(table, f"s3://{bucket}/backups", config, session=session)
    assert result.items == 50
    backup = open_backup(result.folder, StoreConfig(endpoint_url=rclone.url), session=session)
    assert sum(1 for f in backup.files for _ in backup.iter_items(f)) == 50


def test_an_import_and_a_conversion_use_the_session_they_are_given(
    dynalite: Endpoint, rclone: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    source = f"isrc-{unique_name}"
    items = [every_type_item(n) for n in range(60)]
    make_table(dynalite, source, items)
    bucket = f"bucket-{unique_name}"
    rclone.client("s3").create_bucket(Bucket=bucket)
    store = StoreConfig(endpoint_url=rclone.url)
    session = boto3.Session(
        aws_access_key_id=rclone.access_key,
        aws_secret_access_key=rclone.secret_key,
        region_name="us-east-1",
    )
    exported = export_table(
        source,
        f"s3://{bucket}/backups",
        ExportConfig(dynamo=dynamo_config(dynalite), store=store),
        session=session,
    )
    target = f"itgt-{unique_name}"
    make_table(dynalite, target, [])
    config = ImportConfig(dynamo=dynamo_config(dynalite), store=store, workers=2)
    with pytest.raises(AccessDeniedError):  # the environment's credentials are not rclone's
        import_table(exported.folder, target, config)
    assert table_size(dynalite, target) == 0
    result = import_table(exported.folder, target, config, session=session)
    assert result.written == 60
    assert canonical_set(scan_all(dynalite, target)) == canonical_set(items)
    with pytest.raises(AccessDeniedError):
        convert_backup(exported.folder, str(tmp_path / "refused"), "ion", source_store=store)
    converted = convert_backup(
        exported.folder, str(tmp_path / "ion"), "ion", source_store=store, session=session
    )
    assert converted.items == 60
    backup = open_backup(converted.folder)
    assert canonical_set([i for f in backup.files for _, i in backup.iter_items(f)]) == (
        canonical_set(items)
    )


def test_an_import_cancelled_from_another_thread_resumes_to_every_item(
    dynalite: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    source = f"csrc-{unique_name}"
    items = [every_type_item(n) for n in range(3000)]
    make_table(dynalite, source, items)
    exported = export_table(
        source, str(tmp_path / "b"), ExportConfig(dynamo=dynamo_config(dynalite), segments=4)
    )
    target = f"ctgt-{unique_name}"
    make_table(dynalite, target, [])
    config = ImportConfig(
        dynamo=dynamo_config(dynalite),
        max_wcu=300,
        write_ratio=1,
        workers=2,
        state_dir=str(tmp_path / "state"),
    )
    token = CancelToken()
    progress: list[JobProgress] = []
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            import_table(exported.folder, target, config, cancel=token, on_progress=progress.append)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    wait_for(lambda: table_size(dynalite, target) >= 300, "items written")
    token.cancel("the caller changed its mind")
    worker.join(timeout=10)
    assert not worker.is_alive()
    [error] = outcome
    assert isinstance(error, PausedError)
    assert error.resume is not None
    assert (error.resume.job, error.resume.table) == ("import", target)
    settled = table_size(dynalite, target)
    assert 0 < error.resume.done <= settled < 3000
    assert progress
    assert progress[-1].job == "import"
    resumed = import_table(exported.folder, target, replace(config, resume=True, max_wcu=100_000))
    assert resumed.items_read + error.resume.done >= 3000
    assert canonical_set(scan_all(dynalite, target)) == canonical_set(items)


def test_an_export_cancelled_from_another_thread_resumes_to_every_item(
    dynalite: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    table = f"canc-{unique_name}"
    make_table(dynalite, table, [every_type_item(n) for n in range(3000)])
    config = ExportConfig(
        dynamo=dynamo_config(dynalite),
        max_rcu=40,
        read_ratio=1,
        segments=4,
        workers=2,
        max_items_per_file=100,
    )
    token = CancelToken()
    progress: list[JobProgress] = []
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            export_table(table, str(tmp_path), config, cancel=token, on_progress=progress.append)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    wait_for(lambda: parts_in_checkpoint(tmp_path) >= 2, "finished data files")
    token.cancel("the caller changed its mind")
    worker.join(timeout=10)
    assert not worker.is_alive()
    [error] = outcome
    assert isinstance(error, PausedError)
    [folder] = [p.parent for p in tmp_path.rglob("_checkpoint.json")]
    assert error.resume == ResumePoint("export", str(folder), table, error.resume.done)
    assert 0 < error.resume.done < 3000
    assert progress
    assert progress[-1].job == "export"
    assert progress[-1].items >= error.resume.done
    result = resume_export(str(folder), ExportConfig(dynamo=dynamo_config(dynalite)))
    assert result.items == 3000
    backup = open_backup(str(folder))
    keys = [item["pk"]["S"] for f in backup.files for _, item in backup.iter_items(f)]
    assert sorted(keys) == [f"item-{n:05d}" for n in range(3000)]


def test_an_inline_export_leaves_the_garbage_collector_as_it_found_it(
    dynalite: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    table = f"gc-{unique_name}"
    make_table(dynalite, table, [every_type_item(n) for n in range(300)])
    seen: list[bool] = []
    config = ExportConfig(dynamo=dynamo_config(dynalite), workers=1)
    assert gc.isenabled()
    export_table(table, str(tmp_path), config, on_progress=lambda _: seen.append(gc.isenabled()))
    assert gc.isenabled()
    assert seen
    assert all(seen)  # never paused in a caller's process, even for a moment
