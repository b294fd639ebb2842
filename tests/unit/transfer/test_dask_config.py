"""What a job on a Dask cluster refuses before it starts: a caller's session (its
credentials never travel to workers), a scheduler that does not answer, a missing extra."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import boto3
import pytest

from ddbpipe.cli.errors import exit_code_for
from ddbpipe.errors import ConfigError, EndpointUnreachableError
from ddbpipe.transfer.convert import convert_backup
from ddbpipe.transfer.executor import open_pool
from ddbpipe.transfer.export import ExportConfig, export_table
from ddbpipe.transfer.imports import ImportConfig, import_table
from tests.support.samples import V1_EXPORT
from tests.support.servers import free_port

ADDRESS = "tcp://127.0.0.1:9"
SESSION = boto3.Session(aws_access_key_id="a", aws_secret_access_key="b", region_name="eu-west-1")


def test_a_caller_s_session_is_refused_with_a_dask_cluster(tmp_path: Path) -> None:
    refused = "cannot use the caller's session or credentials"
    with pytest.raises(ConfigError, match=refused):
        export_table("t", str(tmp_path), ExportConfig(dask=ADDRESS), session=SESSION)
    with pytest.raises(ConfigError, match=refused):
        import_table(str(V1_EXPORT), "t", ImportConfig(dask=ADDRESS), session=SESSION)
    with pytest.raises(ConfigError, match=refused):
        convert_backup(str(V1_EXPORT), str(tmp_path), "ion", session=SESSION, dask=ADDRESS)


def test_on_a_cluster_workers_count_tasks_at_once() -> None:
    ExportConfig(workers=1000, dask=ADDRESS).check()
    with pytest.raises(ConfigError, match="workers must be 1 to 256"):
        ExportConfig(workers=1000).check()
    with pytest.raises(ConfigError, match="address is empty"):
        ImportConfig(dask=" ").check()


def test_a_scheduler_that_does_not_answer_is_a_configuration_error() -> None:
    started = time.monotonic()
    with (
        pytest.raises(EndpointUnreachableError, match="cannot connect to the Dask scheduler") as e,
        open_pool(f"tcp://127.0.0.1:{free_port()}"),
    ):
        pass
    assert time.monotonic() - started < 2.0  # refused at once, not after Dask's timeout
    assert exit_code_for(e.value) == 3


def test_without_the_dask_extra_the_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "ddbpipe.transfer.dask_executor", None)
    with pytest.raises(ConfigError, match=r"pip install 'ddbpipe\[dask\]'"), open_pool(ADDRESS):
        pass


def test_a_gateway_address_needs_dask_gateway(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dask_gateway", None)
    with (
        pytest.raises(ConfigError, match="install dask-gateway"),
        open_pool("gateway://gateway.example:443/cluster-1"),
    ):
        pass
