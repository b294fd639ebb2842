"""Interrupting an export (Ctrl-C, a killed worker) and resuming it: every item exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import orjson

from ddbpipe.backups.opener import open_backup
from tests.support.jobs import wait_for_parts
from tests.support.processes import worker_pids
from tests.support.servers import Endpoint
from tests.support.tables import every_type_item, make_table

ITEMS = 3000


def start_export(endpoint: Endpoint, table: str, dest: Path) -> subprocess.Popen[str]:
    """A slow export (20 RCU/s, 100-item files, 2 workers) in its own process."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ddbpipe",
            "export",
            table,
            str(dest),
            "--endpoint-url",
            endpoint.url,
            "--region",
            endpoint.region,
            "--max-rcu",
            "40",
            "--read-ratio",
            "1",
            "--segments",
            "4",
            "--workers",
            "2",
            "--items-per-file",
            "100",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def resume(endpoint: Endpoint, folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "ddbpipe",
            "export",
            "--resume",
            str(folder),
            "--endpoint-url",
            endpoint.url,
            "--region",
            endpoint.region,
            "--read-ratio",
            "1",
            "--max-rcu",
            "100000",
            "--workers",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def exported_keys(folder: Path) -> list[str]:
    backup = open_backup(str(folder))
    return [item["pk"]["S"] for f in backup.files for _, item in backup.iter_items(f)]


def test_ctrl_c_then_resume(dynalite: Endpoint, unique_name: str, tmp_path: Path) -> None:
    table = f"sigint-{unique_name}"
    make_table(dynalite, table, [every_type_item(n) for n in range(ITEMS)])
    process = start_export(dynalite, table, tmp_path)
    folder = wait_for_parts(tmp_path, minimum=3)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "stopped" in err
    assert f"ddbpipe export --resume {folder}" in err
    assert f"--endpoint-url {dynalite.url}" in err
    assert not (folder / "_SUCCESS").exists()
    kept = orjson.loads((folder / "_checkpoint.json").read_bytes())
    assert sum(len(s["parts"]) for s in kept["segments"].values()) >= 3
    finished = resume(dynalite, folder)
    assert finished.returncode == 0, finished.stderr
    keys = exported_keys(folder)
    assert len(keys) == ITEMS
    assert set(keys) == {f"item-{n:05d}" for n in range(ITEMS)}
    assert (folder / "_SUCCESS").exists()
    assert not (folder / "_checkpoint.json").exists()


def test_killed_worker_fails_loudly_then_resume(
    dynalite: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    table = f"sigkill-{unique_name}"
    make_table(dynalite, table, [every_type_item(n) for n in range(ITEMS)])
    process = start_export(dynalite, table, tmp_path)
    folder = wait_for_parts(tmp_path, minimum=2)
    # Every worker: one that already finished its last task would not be missed.
    for victim in worker_pids(process.pid):
        os.kill(victim, signal.SIGKILL)
    _, err = process.communicate(timeout=60)
    assert process.returncode != 0
    assert "worker process died" in err
    assert "resume with: ddbpipe export --resume" in err
    assert not (folder / "_SUCCESS").exists()
    finished = resume(dynalite, folder)
    assert finished.returncode == 0, finished.stderr
    keys = exported_keys(folder)
    assert len(keys) == ITEMS
    assert len(set(keys)) == ITEMS
