"""The library serves other callers than the command line: a caller's own session (with
credentials other than the environment's), a job cancelled from another thread and then
resumed, progress delivered to a callback, and the caller's process left as it was."""

from __future__ import annotations

import gc
import threading
from pathlib import Path

import boto3
import pytest

from ddbpipe import (
    CancelToken,
    ExportConfig,
    JobProgress,
    PausedError,
    ResumePoint,
    StoreConfig,
    export_table,
    open_backup,
    resume_export,
)
from ddbpipe.errors import AccessDeniedError
from tests.support.jobs import parts_in_checkpoint, wait_for
from tests.support.servers import Endpoint
from tests.support.tables import dynamo_config, every_type_item, make_table


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
