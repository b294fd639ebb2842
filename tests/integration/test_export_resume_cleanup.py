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


def run_ddbpipe(
    *args: str, dynamodb: Endpoint, s3: Endpoint | None = None, s3_url: str | None = None
) -> subprocess.Popen[str]:
    """``ddbpipe ARGS`` in a process group of its own, reaching DynamoDB and S3 (at
    ``s3_url``, a proxy in front of ``s3``, when given) with the S3 server's credentials
    (dynalite takes any)."""
    argv = [sys.executable, "-m", "ddbpipe", *args]
    argv += ["--endpoint-url", dynamodb.url, "--region", dynamodb.region]
    env = dict(os.environ)
    if s3 is not None:
        argv += ["--s3-endpoint-url", s3_url or s3.url]
        env.update(AWS_ACCESS_KEY_ID=s3.access_key, AWS_SECRET_ACCESS_KEY=s3.secret_key)
    return subprocess.Popen(
        argv,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


AS_FAST_AS_IT_GOES = ("--max-rcu", "100000", "--read-ratio", "1")


def export_args(table: str, destination: str) -> list[str]:
    """An export of ``table`` into ``destination`` in one process."""
    return ["export", table, destination, *AS_FAST_AS_IT_GOES, "--workers", "1"]


def resume_args(folder: str) -> list[str]:
    """``export --resume FOLDER``."""
    return ["export", "--resume", folder, *AS_FAST_AS_IT_GOES]


def finish(process: subprocess.Popen[str]) -> None:
    """Wait for ``process``, which must succeed."""
    _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err


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


def test_a_killed_export_to_a_folder_resumes_without_temporary_files(
    dynalite: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    table = f"killed-{unique_name}"
    items = [padded_item(n, ITEM_PAD) for n in range(ITEMS)]
    make_table(dynalite, table, items)
    exports = tmp_path / "exports"

    def writing_data() -> bool:  # the checkpoint's temporary file comes first: not that one
        return any(exports.glob(f"*/{TEMP_PREFIX}[!_]*"))

    kill_when(run_ddbpipe(*export_args(table, str(exports)), dynamodb=dynalite), writing_data)
    assert writing_data()
    [checkpoint] = exports.glob(f"*/{CHECKPOINT_NAME}")
    folder = checkpoint.parent

    finish(run_ddbpipe(*resume_args(str(folder)), dynamodb=dynalite))

    assert not list(tmp_path.rglob(f"{TEMP_PREFIX}*"))
    assert (folder / SUCCESS_NAME).exists()
    assert not checkpoint.exists()
    exported = backup_items(str(folder))
    assert len(exported) == ITEMS
    assert canonical_set(exported) == canonical_set(items)


def test_a_killed_export_to_s3_resumes_with_no_upload_left_open(
    s3_bucket: tuple[Endpoint, str],
    dynalite: Endpoint,
    fault_proxy: FaultProxyFactory,
    unique_name: str,
) -> None:
    s3, bucket = s3_bucket
    table = f"killed-{unique_name}"
    items = [padded_item(n, ITEM_PAD) for n in range(ITEMS)]
    make_table(dynalite, table, items)
    held = HeldRequest()  # the first part waits in the proxy, dropped once the export is killed
    holding = fault_proxy(s3, exact_rules=[ExactRule(Drop(), "UploadPart", when=held, times=1)])
    export = run_ddbpipe(
        *export_args(table, f"s3://{bucket}/exports"), dynamodb=dynalite, s3=s3, s3_url=holding.url
    )
    kill_when(export, held.reached.is_set)
    held.release()
    [(upload_key, _)] = open_uploads(s3, bucket)
    [checkpoint] = [key for key in object_keys(s3, bucket) if key.endswith(CHECKPOINT_NAME)]
    folder = checkpoint.rpartition("/")[0]
    assert upload_key.startswith(f"{folder}/")
    plan = FaultPlan(
        {
            "ListMultipartUploads": ["throttle"],
            "AbortMultipartUpload": ["drop-after"],
            "ListObjectsV2": ["error-after"],
        }
    )
    proxy = fault_proxy(s3, exact_rules=plan.rules)

    resume = resume_args(f"s3://{bucket}/{folder}")
    finish(run_ddbpipe(*resume, dynamodb=dynalite, s3=s3, s3_url=proxy.url))

    assert plan.missed(proxy) == {}
    assert open_uploads(s3, bucket) == []
    keys = object_keys(s3, bucket)
    assert f"{folder}/{SUCCESS_NAME}" in keys
    assert checkpoint not in keys
    exported = backup_items(f"s3://{bucket}/{folder}", s3_config(s3))
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
