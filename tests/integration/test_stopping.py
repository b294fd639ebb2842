"""A stopped job stops: SIGTERM, SIGHUP and Ctrl-C are handled alike (workers stop within
a second, the checkpoint is saved, the resume command printed, exit 128 + signal); after
a SIGKILL of the main process every worker notices and ends at once. Nothing is written
after the job is gone, and the printed command resumes it with every item exactly once.
"""

from __future__ import annotations

import os
import shlex
import signal
import time
from pathlib import Path

import pytest

from ddbpipe.backups.opener import open_backup
from tests.support.compare import canonical_set
from tests.support.jobs import (
    endpoint_flags,
    folder_state,
    parts_in_checkpoint,
    run_ddbpipe,
    start_ddbpipe,
    table_size,
    wait_for,
    wait_until_gone,
    worker_pids,
    write_backup,
)
from tests.support.servers import Endpoint
from tests.support.tables import every_type_item, make_table, scan_all

ITEMS = 3000
SIGNALS = {"SIGTERM": signal.SIGTERM, "SIGHUP": signal.SIGHUP, "SIGKILL": signal.SIGKILL}
STOPPED_WITHIN = 2.0  # seconds from the signal until no process of the job is left


def resume_command(stderr: str) -> list[str]:
    """The printed resume command, as arguments after ``ddbpipe``."""
    [line] = [line for line in stderr.splitlines() if "resume with: " in line]
    words = shlex.split(line.partition("resume with: ")[2])
    assert words[0] == "ddbpipe"
    return words[1:]


def stop(process: object, pids: list[int], signum: int) -> tuple[float, str]:
    """Send ``signum`` to the command's main process only; return how long until every
    process of the job was gone, and what the command printed on stderr."""
    assert hasattr(process, "pid")
    started = time.monotonic()
    os.kill(process.pid, signum)
    _, err = process.communicate(timeout=30)  # type: ignore[attr-defined]
    assert wait_until_gone(pids, STOPPED_WITHIN) == []
    return time.monotonic() - started, err


@pytest.mark.parametrize("name", list(SIGNALS))
def test_a_stopped_export_stops_and_resumes(
    dynalite: Endpoint, unique_name: str, tmp_path: Path, name: str
) -> None:
    table = f"stopx-{unique_name}"
    make_table(dynalite, table, [every_type_item(n) for n in range(ITEMS)])
    flags = endpoint_flags(dynalite)
    process = start_ddbpipe(
        "export", table, str(tmp_path), *flags, "--max-rcu", "40", "--read-ratio", "1",
        "--segments", "4", "--workers", "2", "--items-per-file", "100",
    )  # fmt: skip
    wait_for(lambda: parts_in_checkpoint(tmp_path) >= 2, "finished data files")
    workers = worker_pids(process.pid)
    assert len(workers) == 2
    took, err = stop(process, workers, SIGNALS[name])
    assert took < STOPPED_WITHIN
    [folder] = [p.parent for p in tmp_path.rglob("_checkpoint.json")]
    if name != "SIGKILL":
        assert process.returncode == 128 + SIGNALS[name], err
        assert "stopped" in err
        command = resume_command(err)
        assert command[:3] == ["export", "--resume", str(folder)]
    else:
        assert process.returncode == -signal.SIGKILL
        command = ["export", "--resume", str(folder), *flags]
    after_stop = folder_state(tmp_path)
    time.sleep(1.0)
    assert folder_state(tmp_path) == after_stop  # nothing written once the job is gone
    assert not (folder / "_SUCCESS").exists()
    resumed = run_ddbpipe(*command, "--max-rcu", "100000", cwd=Path("/"))
    assert resumed.returncode == 0, resumed.stderr
    backup = open_backup(str(folder))
    keys = [item["pk"]["S"] for f in backup.files for _, item in backup.iter_items(f)]
    assert sorted(keys) == [f"item-{n:05d}" for n in range(ITEMS)]
    assert not list(folder.rglob(".tmp-*"))


@pytest.mark.parametrize("name", list(SIGNALS))
def test_a_stopped_import_stops_and_resumes(
    dynalite: Endpoint, unique_name: str, tmp_path: Path, name: str
) -> None:
    table = f"stopi-{unique_name}"
    make_table(dynalite, table, [])
    items = [every_type_item(n) for n in range(2000)]
    folder = write_backup(tmp_path / "b", items, per_file=500)
    flags = endpoint_flags(dynalite)
    process = start_ddbpipe(
        "import", str(folder), table, *flags, "--max-wcu", "150", "--write-ratio", "1",
        "--workers", "2",
    )  # fmt: skip
    wait_for(lambda: table_size(dynalite, table) >= 300, "items written")
    workers = worker_pids(process.pid)
    assert len(workers) == 2
    took, err = stop(process, workers, SIGNALS[name])
    assert took < STOPPED_WITHIN
    if name != "SIGKILL":
        assert process.returncode == 128 + SIGNALS[name], err
        command = resume_command(err)
        assert command[:4] == ["import", "--resume", str(folder), table]
        # The count printed is what DynamoDB acknowledged, and the table holds just that.
        assert f"after {table_size(dynalite, table):,} items were written" in err
    else:
        assert process.returncode == -signal.SIGKILL
        command = ["import", "--resume", str(folder), table, *flags]
    written = table_size(dynalite, table)
    assert written < len(items)
    time.sleep(1.0)
    assert table_size(dynalite, table) == written  # nothing written once the job is gone
    resumed = run_ddbpipe(*command, "--max-wcu", "100000", cwd=Path("/"))
    assert resumed.returncode == 0, resumed.stderr
    assert canonical_set(scan_all(dynalite, table)) == canonical_set(items)


def test_ctrl_c_reaches_the_whole_process_group_and_stops_within_a_second(
    dynalite: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    # A terminal sends Ctrl-C to every process of the job at once, workers included.
    table = f"stopc-{unique_name}"
    make_table(dynalite, table, [])
    items = [every_type_item(n) for n in range(2000)]
    folder = write_backup(tmp_path / "b", items, per_file=500)
    process = start_ddbpipe(
        "import", str(folder), table, *endpoint_flags(dynalite), "--max-wcu", "150",
        "--write-ratio", "1", "--workers", "2",
    )  # fmt: skip
    wait_for(lambda: table_size(dynalite, table) >= 300, "items written")
    workers = worker_pids(process.pid)
    started = time.monotonic()
    os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert wait_until_gone(workers, STOPPED_WITHIN) == []
    assert time.monotonic() - started < STOPPED_WITHIN
    assert process.returncode == 130, err
    resumed = run_ddbpipe(*resume_command(err), "--max-wcu", "100000")
    assert resumed.returncode == 0, resumed.stderr
    assert canonical_set(scan_all(dynalite, table)) == canonical_set(items)
