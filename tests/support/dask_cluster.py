"""Pytest plugin: a real Dask cluster on 127.0.0.1 — ``dask scheduler`` and two
``dask worker`` processes (one thread each, under a nanny, no dashboard) — started once
per session when a test first asks for it, and stopped when the session ends.

Workers inherit the test environment: its fake AWS credentials and region, and the
repository on ``PYTHONPATH``. A worker killed by a test is restarted by its nanny; every
test gets the cluster with both workers up. Tests that use the cluster run last: the
Dask client threads they leave in this process would make every later local job start
its worker processes with forkserver rather than fork, which is slower.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.servers import REPO_ROOT, ServerProcess

WORKERS = 2
_READY_TIMEOUT_S = 60.0


@dataclass
class DaskCluster:
    """The running cluster: its scheduler's address, and a client for tests to look."""

    address: str
    client: Any

    def worker_pids(self) -> dict[str, int]:
        """The process id of each worker (not its nanny), by worker address."""
        pids: dict[str, int] = self.client.run(os.getpid)
        return pids

    def busy_workers(self) -> list[str]:
        """Addresses of the workers running a task now."""
        processing: dict[str, Any] = self.client.processing()
        return [address for address, keys in processing.items() if keys]

    def kill_worker(self, address: str) -> None:
        """SIGKILL the worker process at ``address`` (its nanny starts a new one)."""
        os.kill(self.worker_pids()[address], signal.SIGKILL)

    def wait_for_workers(self, count: int = WORKERS) -> None:
        """Wait until ``count`` workers are connected."""
        self.client.wait_for_workers(count, timeout=_READY_TIMEOUT_S)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Move the tests that use the cluster to the end, in their order."""
    uses = [item for item in items if "dask_cluster" in getattr(item, "fixturenames", ())]
    if uses:
        chosen = set(uses)
        items[:] = [item for item in items if item not in chosen] + uses


def _dask_tool() -> str:
    path = Path(sys.executable).parent / "dask"
    if not path.exists():
        pytest.fail(f"{path} is missing: install the dev extras (they include dask)")
    return str(path)


@pytest.fixture(scope="session")
def dask_cluster_session(server_log_dir: Path) -> Iterator[DaskCluster]:
    """The session's cluster (see the module doc)."""
    from distributed import Client  # only sessions that use the cluster pay its import

    dask = _dask_tool()
    python_path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    processes: list[ServerProcess] = []
    try:
        scheduler = ServerProcess(
            "dask-scheduler",
            lambda port: [
                dask,
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-dashboard",
                "--no-show",
            ],
            server_log_dir / "dask-scheduler.log",
        )
        processes.append(scheduler)
        scheduler.start()
        address = f"tcp://127.0.0.1:{scheduler.port}"
        for number in range(WORKERS):
            worker = ServerProcess(
                f"dask-worker-{number}",
                lambda port, n=number: [
                    "env",
                    f"PYTHONPATH={python_path}",
                    dask,
                    "worker",
                    address,
                    "--host",
                    "127.0.0.1",
                    "--nanny-port",
                    str(port),
                    "--nthreads",
                    "1",
                    "--no-dashboard",
                    "--name",
                    f"worker-{n}",
                    "--death-timeout",
                    "60",
                ],
                server_log_dir / f"dask-worker-{number}.log",
            )
            processes.append(worker)
            worker.start()
        client = Client(address, timeout=_READY_TIMEOUT_S, set_as_default=False)
        cluster = DaskCluster(address, client)
        cluster.wait_for_workers()
        yield cluster
        with contextlib.suppress(Exception):
            client.close()
    finally:
        for process in reversed(processes):
            process.stop()


@pytest.fixture
def dask_cluster(dask_cluster_session: DaskCluster) -> DaskCluster:
    """The session's cluster with both workers up (a test may have killed one)."""
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while len(dask_cluster_session.client.nthreads()) < WORKERS:
        if time.monotonic() > deadline:
            pytest.fail("the Dask workers did not come back")
        time.sleep(0.1)
    return dask_cluster_session
