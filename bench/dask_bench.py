"""Dask benchmark: ddbpipe on a Dask cluster against its local process pool.

Starts one dynalite and one Dask cluster on 127.0.0.1 (``dask scheduler`` and ``dask
worker`` processes, one thread each, with the bench's fake credentials), then measures:

1. **Per-task overhead**: an export of a small table cut into many segments (each task
   reads a page of a few items), against the same export in two segments. The extra wall
   time per extra task, times the tasks that run at once, is what a task costs a worker
   slot beyond its work: the local pool's and Dask's.
2. **1 worker against 2** (this machine has 2 cores): export and import of ``--items``
   items (default 100,000) on a cluster of one worker, then of two, and with the local
   pool of two processes.
3. **A projection for 1 TB** on 10, 50 and 100 workers, from the per-task scan rate
   measured in 2, against the table's read capacity; the assumptions are printed.

    .venv/bin/python bench/dask_bench.py                 # 100,000 items, 2 runs each
    .venv/bin/python bench/dask_bench.py --items 20000 --repeat 1
    .venv/bin/python bench/dask_bench.py --json /tmp/dask.json

Every run is verified: an export's data files hold every item, an import's table does.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import compare
from backup_files import backup_data_files, count_lines
from dataset import create_loaded_table
from ddbpipe_commands import export_cmd, import_cmd
from dynalite import Dynalite
from measure import Result, measure, tail
from processes import REPO, bench_env, free_port, log, scratch_dir, spawn, stop_process
from rawddb import RawDynamo

DASK = REPO / ".venv" / "bin" / "dask"
SMALL_TABLE = "bench_dask_small"
TABLE = "bench_dask"
SMALL_ITEMS = 2000
MANY_SEGMENTS = 400
BYTES_PER_RCU = 8192  # a Scan with eventual consistency: half a unit per 4 KB
TB = 1e12


class Cluster:
    """A Dask scheduler and its worker processes, each in its own process group."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.scheduler: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []

    def _start(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        return spawn(argv, self.log_dir / f"{name}.log", env=bench_env(), append=True)

    def start(self) -> Cluster:
        self.scheduler = self._start(
            "scheduler",
            [
                str(DASK),
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-dashboard",
                "--no-show",
            ],
        )
        return self

    def scale(self, workers: int) -> None:
        """Start or stop worker processes until ``workers`` are connected."""
        while len(self.workers) > workers:
            stop_process(self.workers.pop())
        while len(self.workers) < workers:
            argv = [str(DASK), "worker", self.address, "--host", "127.0.0.1"]
            argv += ["--nthreads", "1", "--no-dashboard", "--death-timeout", "60"]
            self.workers.append(self._start(f"worker-{len(self.workers)}", argv))
        self._wait_for(workers)

    def _wait_for(self, workers: int) -> None:
        from distributed import Client

        with Client(self.address, timeout=60, set_as_default=False) as client:
            deadline = time.monotonic() + 60
            while len(client.nthreads()) != workers:
                if time.monotonic() > deadline:
                    raise SystemExit(f"the cluster did not reach {workers} workers")
                time.sleep(0.1)

    def worker_cpu_s(self) -> float:
        """CPU seconds used so far by every worker process group (nannies included)."""
        return sum(_group_cpu_s(w.pid) for w in self.workers)

    def stop(self) -> None:
        for process in [*self.workers, self.scheduler]:
            if process is not None:
                stop_process(process)
        self.workers, self.scheduler = [], None


def _group_cpu_s(pgid: int) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # the process group id
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def run(
    label: str, cmd: list[str], verify: Callable[[], int], expected: int, cluster: Cluster
) -> dict[str, Any]:
    """Run one ddbpipe command, check that it moved every item, and time it."""
    before = cluster.worker_cpu_s()
    result: Result = measure(cmd, bench_env())
    worker_cpu = cluster.worker_cpu_s() - before
    if not result.ok:
        raise SystemExit(f"{label} failed:\n{tail(result.stderr)}")
    moved = verify()
    if moved != expected:
        raise SystemExit(f"{label} moved {moved:,} items, expected {expected:,}")
    log(
        f"  {label}: {result.wall_s:.2f} s wall, {result.cpu_s:.2f} s client CPU, "
        f"{worker_cpu:.2f} s worker CPU"
    )
    return {"wall_s": result.wall_s, "client_cpu_s": result.cpu_s, "worker_cpu_s": worker_cpu}


def median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def export_argv(url: str, table: str, dest: Path, segments: int, extra: list[str]) -> list[str]:
    return export_cmd(url, table, dest, "--segments", str(segments), *extra)


def exported_items(dest: Path) -> Callable[[], int]:
    return lambda: count_lines(backup_data_files(dest))


def overhead(url: str, scratch: Path, cluster: Cluster, repeat: int) -> dict[str, dict[str, float]]:
    """Slot-milliseconds a task costs beyond its work: local pool and Dask, two slots each."""
    log(f"\n1. per-task overhead: {SMALL_ITEMS:,} items in 2 or {MANY_SEGMENTS} segments")
    out: dict[str, dict[str, float]] = {}
    for name, extra in [("local pool", ["--workers", "2"]), ("dask", ["--dask", cluster.address])]:
        walls: dict[int, float] = {}
        for segments in (2, MANY_SEGMENTS):
            runs = []
            for n in range(repeat):
                dest = scratch / f"overhead-{name}-{segments}-{n}"
                argv = export_argv(url, SMALL_TABLE, dest, segments, extra)
                label = f"{name}, {segments} segments"
                runs.append(run(label, argv, exported_items(dest), SMALL_ITEMS, cluster))
                shutil.rmtree(dest, ignore_errors=True)
            walls[segments] = median(runs)["wall_s"]
        per_task = (walls[MANY_SEGMENTS] - walls[2]) / (MANY_SEGMENTS - 2)
        out[name] = {
            "ms_per_task": per_task * 1e3,
            "slot_ms_per_task": 2 * per_task * 1e3,
            "fixed_s": walls[2],  # a whole command that has almost nothing to read
        }
    return out


def scale(
    url: str, raw: RawDynamo, scratch: Path, cluster: Cluster, items: int, repeat: int
) -> dict[str, dict[str, Any]]:
    """Export and import of ``items`` on 1 and 2 Dask workers, and on the local pool."""
    log(f"\n2. {items:,} items: Dask with 1 worker, with 2, and the local pool of 2")
    source = scratch / "source"
    argv = export_argv(url, TABLE, source, 4, ["--workers", "2", "--items-per-file"])
    argv.append(str(-(-items // 4)))
    run("backup for the imports", argv, exported_items(source), items, cluster)
    (backup,) = [p.parent for p in source.rglob("manifest")]
    setups = [
        ("dask, 1 worker", 1, ["--dask", cluster.address]),
        ("dask, 2 workers", 2, ["--dask", cluster.address]),
        ("local pool, 2 workers", 2, ["--workers", "2"]),
    ]
    out: dict[str, dict[str, Any]] = {}
    for name, workers, extra in setups:
        cluster.scale(workers)
        exports, imports = [], []
        for n in range(repeat):
            dest = scratch / f"export-{workers}-{n}"
            argv = export_argv(url, TABLE, dest, 4, extra)
            exports.append(run(f"{name}: export", argv, exported_items(dest), items, cluster))
            shutil.rmtree(dest, ignore_errors=True)
            target = f"bench_dask_import_{n}"
            raw.delete_table(target)
            raw.create_table(target)
            argv = import_cmd(url, backup, target, *extra)
            imports.append(run(f"{name}: import", argv, lambda t=target: raw.count(t), items,
                               cluster))  # fmt: skip
            raw.delete_table(target)
        out[name] = {"export": median(exports), "import": median(imports)}
    return out


def projection(results: dict[str, Any], items: int) -> dict[str, Any]:
    """Wall time of a 1 TB export on 10, 50 and 100 workers, from the rate of one task."""
    one = results["scale"]["dask, 1 worker"]["export"]
    fixed = results["overhead"]["dask"]["fixed_s"]  # start-up, connection, finishing
    item_bytes = 170  # DynamoDB size of the bench's items (dataset.make_item)
    # One worker runs one task at a time: its scan rate is what one task reaches.
    task_bytes_per_s = items * item_bytes / max(one["wall_s"] - fixed, 1e-3)
    rcu = TB / BYTES_PER_RCU
    capacities = {"10,000 RCU/s": 10_000.0, "40,000 RCU/s": 40_000.0}
    rows = []
    for workers in (10, 50, 100):
        client_s = TB / (workers * task_bytes_per_s)
        limits = {name: rcu / rate for name, rate in capacities.items()}
        rows.append(
            {
                "workers": workers,
                "client_bound_h": client_s / 3600,
                **{f"capacity_bound_h_at_{k}": v / 3600 for k, v in limits.items()},
                **{f"projected_h_at_{k}": max(client_s, v) / 3600 for k, v in limits.items()},
            }
        )
    return {"task_mb_per_s": task_bytes_per_s / 1e6, "rcu_for_1tb": rcu, "rows": rows}


def report(results: dict[str, Any]) -> None:
    log("\nper-task overhead (two slots; a task that reads one small page):")
    for name, numbers in results["overhead"].items():
        log(f"  {name:12} {numbers['slot_ms_per_task']:7.1f} slot-ms per task")
    log(f"\n{results['items']:,} items (wall s; client CPU s; worker CPU s):")
    for name, jobs in results["scale"].items():
        for job, numbers in jobs.items():
            log(f"  {name:22} {job:7} {numbers['wall_s']:6.2f}  {numbers['client_cpu_s']:6.2f}"
                f"  {numbers['worker_cpu_s']:6.2f}")  # fmt: skip
    projected = results["projection"]
    log(f"\n1 TB export, projected (one task scans {projected['task_mb_per_s']:.1f} MB/s here; "
        f"{projected['rcu_for_1tb'] / 1e6:.0f} M RCU in all):")  # fmt: skip
    for row in projected["rows"]:
        log(f"  {row['workers']:3} workers: {row['client_bound_h']:6.2f} h if workers are the "
            f"limit; at 10,000 RCU/s {row['projected_h_at_10,000 RCU/s']:5.2f} h, at 40,000 "
            f"RCU/s {row['projected_h_at_40,000 RCU/s']:5.2f} h")  # fmt: skip
    log(
        "  assumptions: items of 170 B; a Scan with eventual consistency costs half a unit per "
        "4 KB; one task per worker, one core each, scanning as fast as here (dynalite is "
        "client-bound on Scan); one segment per GiB, so tasks never run short; the table's "
        "read rate is the ratio times its capacity (10,000 RCU/s: 0.25 of 40,000 provisioned; "
        "40,000: all of it); network and S3 uploads keep up."
    )


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--keep", action="store_true")
    return parser.parse_args(argv)


def run_all(args: argparse.Namespace) -> dict[str, Any]:
    """The three measurements, reported; returns their numbers."""
    with scratch_dir("ddbpipe-dask-bench-", args.keep) as scratch, Dynalite() as dynalite:
        raw = RawDynamo(dynalite.url)
        create_loaded_table(raw, SMALL_TABLE, SMALL_ITEMS)
        create_loaded_table(raw, TABLE, args.items)
        cluster = Cluster(scratch).start()
        try:
            cluster.scale(2)
            results: dict[str, Any] = {"items": args.items}
            results["overhead"] = overhead(dynalite.url, scratch, cluster, args.repeat)
            results["scale"] = scale(dynalite.url, raw, scratch, cluster, args.items, args.repeat)
            results["projection"] = projection(results, args.items)
        finally:
            cluster.stop()
        report(results)
    return results


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if not DASK.exists():
        raise SystemExit(f"{DASK} is missing: install the dev extras (they include dask)")
    return compare.main(args, run_all)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
