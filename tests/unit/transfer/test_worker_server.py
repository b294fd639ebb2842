"""Jobs run from a thread get their workers from a fork server, started early with the
workers' modules imported."""

from __future__ import annotations

import importlib.util
import os
import threading
from typing import Any

from ddbpipe.transfer import executor
from ddbpipe.transfer.executor import make_executor, start_worker_server


def parent_of_worker(task: int, _context: Any) -> tuple[int, int]:
    return task, os.getppid()


def test_the_modules_the_server_imports_exist() -> None:
    for name in executor._WORKER_MODULES:
        assert importlib.util.find_spec(name) is not None, name


def test_a_job_from_a_thread_gets_its_workers_from_the_started_server() -> None:
    start_worker_server()
    results: list[tuple[int, int]] = []
    errors: list[BaseException] = []

    def job() -> None:
        try:
            pool = make_executor(2, rate=1000.0, burst=1000.0)
            pool.run(parent_of_worker, range(6), on_event=lambda _e: None, on_result=results.append)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    thread = threading.Thread(target=job)
    thread.start()
    thread.join(timeout=60)
    assert not errors
    assert sorted(task for task, _ in results) == list(range(6))
    parents = {parent for _, parent in results}
    assert os.getpid() not in parents  # forked by the server, not by this process
