"""Resuming an export cleans up what the interrupted run left: open multipart uploads in
S3, temporary files in a local folder; and every item still ends up exactly once."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ddbpipe.backups.layout import CHECKPOINT_NAME
from ddbpipe.dynamo.client import DynamoConfig
from ddbpipe.errors import RetriesExhaustedError
from ddbpipe.formats.datapipeline import SUCCESS_NAME
from ddbpipe.retry import RetryPolicy
from ddbpipe.stores.local import TEMP_PREFIX
from ddbpipe.transfer.export import ExportConfig, export_table, resume_export
from tests.support.compare import canonical_set
from tests.support.fault_plan import FaultPlan
from tests.support.fault_proxy import (
    Drop,
    ExactRule,
    FaultProxyFactory,
    FaultRules,
    ProxyRequest,
)
from tests.support.s3_objects import (
    backup_items,
    object_keys,
    open_uploads,
    s3_config,
)
from tests.support.servers import Endpoint
from tests.support.tables import every_type_item, make_table, padded_item

ITEMS = 150
ITEM_PAD = 80_000  # 150 items make one data file of two parts: 8 MiB and the rest


def ddbpipe(*args: str, dynamodb: Endpoint, s3: Endpoint | None, s3_url: str | None) -> list[str]:
    """The command line of ``ddbpipe`` with ``args``, reaching DynamoDB and S3."""
    argv = [sys.executable, "-m", "ddbpipe", *args]
    argv += ["--endpoint-url", dynamodb.url, "--region", dynamodb.region]
    if s3 is not None:
        argv += ["--s3-endpoint-url", s3_url or s3.url]
    return argv


def s3_environment(s3: Endpoint | None) -> dict[str, str]:
    """The environment of a ddbpipe process, with the S3 server's credentials (DynamoDB
    on dynalite takes any)."""
    env = dict(os.environ)
    if s3 is not None:
        env.update(AWS_ACCESS_KEY_ID=s3.access_key, AWS_SECRET_ACCESS_KEY=s3.secret_key)
    return env


def kill_when(
    process: subprocess.Popen[str], ready: Callable[[], bool], timeout: float = 60
) -> None:
    """SIGKILL ``process`` and its workers (its process group) once ``ready()`` holds."""
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            _, err = process.communicate(timeout=30)
            raise AssertionError(
                f"the export ended ({process.returncode}) or stalled before it was killed: {err}"
            )
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    process.communicate(timeout=30)


class HeldRequest:
    """A ``when`` predicate that holds the first request it sees in the proxy until
    ``release``, so that the client can be killed while that request is in flight."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.released = threading.Event()

    def __call__(self, request: ProxyRequest) -> bool:
        if self.reached.is_set():
            return False
        self.reached.set()
        self.released.wait(timeout=60)
        return True

    def release(self) -> None:
        self.released.set()


@pytest.mark.parametrize("destination", ["folder", "moto", "rclone"])
def test_a_killed_export_resumes_with_nothing_left_behind(
    request: pytest.FixtureRequest,
    dynalite: Endpoint,
    fault_proxy: FaultProxyFactory,
    unique_name: str,
    tmp_path: Path,
    destination: str,
) -> None:
    table = f"killed-{unique_name}"
    items = [padded_item(n, ITEM_PAD) for n in range(ITEMS)]
    make_table(dynalite, table, items)
    s3 = None if destination == "folder" else request.getfixturevalue(destination)
    bucket = f"bucket-{unique_name}"
    held = HeldRequest()
    if s3 is None:
        dest, s3_url = str(tmp_path / "exports"), None
    else:
        s3.client("s3").create_bucket(Bucket=bucket)
        # The first part is held in the proxy, and dropped once the export is killed.
        hold = ExactRule(Drop(), "UploadPart", when=held, times=1)
        dest, s3_url = f"s3://{bucket}/exports", fault_proxy(s3, exact_rules=[hold]).url

    def left_behind() -> bool:
        """Whether a data file is being written: a temporary file (not the checkpoint's,
        written before any) or an open multipart upload."""
        if s3 is None:
            return any(tmp_path.glob(f"exports/*/{TEMP_PREFIX}[!_]*"))
        return bool(open_uploads(s3, bucket, "exports/"))

    export = ddbpipe(
        "export", table, dest, "--max-rcu", "100000", "--read-ratio", "1", "--workers", "1",
        dynamodb=dynalite, s3=s3, s3_url=s3_url,
    )  # fmt: skip
    process = subprocess.Popen(
        export,
        env=s3_environment(s3),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    kill_when(process, left_behind if s3 is None else held.reached.is_set)
    held.release()
    assert left_behind()

    plan = FaultPlan(
        {
            "ListMultipartUploads": ["throttle"],
            "AbortMultipartUpload": ["drop-after"],
            "ListObjectsV2": ["error-after"],
        }
    )
    if s3 is None:
        [checkpoint] = tmp_path.glob(f"exports/*/{CHECKPOINT_NAME}")
        folder, s3_url = str(checkpoint.parent), None
    else:
        [checkpoint_key] = [k for k in object_keys(s3, bucket) if k.endswith(CHECKPOINT_NAME)]
        folder = f"s3://{bucket}/{checkpoint_key.rpartition('/')[0]}"
        s3_url = fault_proxy(s3, exact_rules=plan.rules).url
    resume = ddbpipe(
        "export", "--resume", folder, "--max-rcu", "100000", "--read-ratio", "1",
        dynamodb=dynalite, s3=s3, s3_url=s3_url,
    )  # fmt: skip
    finished = subprocess.run(
        resume, env=s3_environment(s3), capture_output=True, text=True, timeout=120, check=False
    )

    assert finished.returncode == 0, finished.stderr
    assert not left_behind()
    if s3 is None:
        assert not list(tmp_path.rglob(f"{TEMP_PREFIX}*"))
        assert (Path(folder) / SUCCESS_NAME).exists()
        assert not (Path(folder) / CHECKPOINT_NAME).exists()
    else:
        keys = object_keys(s3, bucket)
        assert plan.missed() == {}
        assert open_uploads(s3, bucket) == []
        assert f"{folder.removeprefix(f's3://{bucket}/')}/{SUCCESS_NAME}" in keys
        assert not any(key.endswith(CHECKPOINT_NAME) for key in keys)
    exported = backup_items(folder, None if s3 is None else s3_config(s3))
    assert len(exported) == ITEMS
    assert canonical_set(exported) == canonical_set(items)


def test_resume_over_s3_with_no_upload_left_open(
    s3_bucket: tuple[Endpoint, str],
    dynalite: Endpoint,
    fault_proxy: FaultProxyFactory,
    unique_name: str,
) -> None:
    endpoint, bucket = s3_bucket
    table = f"stopped-{unique_name}"
    items = [every_type_item(n) for n in range(300)]
    make_table(dynalite, table, items)
    scans = fault_proxy(dynalite, FaultRules(throttle_rate=1.0, operations=frozenset({"Scan"})))
    config = ExportConfig(
        dynamo=DynamoConfig(region=dynalite.region, endpoint_url=scans.url),
        store=s3_config(endpoint),
        retry=RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.002),
        workers=1,
    )
    with pytest.raises(RetriesExhaustedError) as stopped:
        export_table(table, f"s3://{bucket}/exports", config)
    assert stopped.value.resume is not None
    scans.rules = FaultRules()

    result = resume_export(stopped.value.resume.location, config)

    assert result.items == len(items)
    exported = backup_items(result.folder, s3_config(endpoint))
    assert canonical_set(exported) == canonical_set(items)
    assert not any(key.endswith(CHECKPOINT_NAME) for key in object_keys(endpoint, bucket))
