"""Export benchmark: ddbpipe against dynamodump, plain boto3 and the raw-HTTP floor.

Loads one table into one dynalite (in memory, 127.0.0.1) and has every variant export that
same table from that same server, ``--repeat`` times round-robin; reports medians of wall
time, client CPU per item and peak RSS, and checks the targets. Every run is verified to
have moved every item. ``--memory-items N`` instead loads N items and reports only
ddbpipe's peak memory.

    .venv/bin/python bench/export_bench.py                      # 100,000 items, 3 runs each
    .venv/bin/python bench/export_bench.py --items 20000 --repeat 1
    .venv/bin/python bench/export_bench.py --memory-items 1000000
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import compare
from backup_files import backup_data_files, count_lines
from compare import Comparison, Session
from dataset import BASELINE_ITEMS, Dataset, create_loaded_table
from ddbpipe_commands import export_cmd
from dynamodump_tool import dynamodump_backup_args, dynamodump_cmd, dynamodump_items
from measure import Result, last_json_line
from processes import BENCH, PROJECT_PYTHON, log
from report import SpeedTargets, Target, check_targets, report
from variants import Prepared, Variant, run_variants

TABLE = "bench_export"
BASELINE_TABLE = "bench_export_small"
VARIANTS = ("ddbpipe", "dynamodump", "boto3-scan", "floor")
TARGETS = SpeedTargets(
    cpu_us=10.0,
    dynamodump_factor=5.0,  # ddbpipe wall < dynamodump wall / 5
    floor_factor=1.5,  # ddbpipe wall <= 1.5 x floor wall
    dynamodump_run="dynamodump's",
)
MEMORY_TARGET_MB = 200.0


def ddbpipe_variant(url: str, scratch: Path, segments: int, workers: int, keep: bool) -> Variant:
    def prepare(run: int, data: Dataset) -> Prepared:
        dest = scratch / f"ddbpipe-export-{data.label}-{run}"
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        cmd = export_cmd(
            url, data.table, dest, "--segments", str(segments), "--workers", str(workers)
        )

        def verify(_result: Result) -> int:
            return count_lines(backup_data_files(dest))

        def cleanup() -> None:
            if not keep:
                shutil.rmtree(dest, ignore_errors=True)

        return Prepared(cmd=cmd, verify=verify, cleanup=cleanup)

    return Variant("ddbpipe", prepare)


def dynamodump_variant(url: str, scratch: Path, python: Path, keep: bool) -> Variant:
    def prepare(run: int, data: Dataset) -> Prepared:
        dump = scratch / f"dynamodump-backup-{data.label}-{run}"
        shutil.rmtree(dump, ignore_errors=True)
        dump.mkdir(parents=True)

        def cleanup() -> None:
            if not keep:
                shutil.rmtree(dump, ignore_errors=True)

        return Prepared(
            cmd=dynamodump_cmd(python, dynamodump_backup_args(url, data.table, dump)),
            cwd=dump,
            verify=lambda _r: dynamodump_items(dump, data.table),
            cleanup=cleanup,
        )

    return Variant("dynamodump", prepare)


def script_variant(name: str, script: str, url: str, extra: list[str]) -> Variant:
    def prepare(_run: int, data: Dataset) -> Prepared:
        cmd = [str(PROJECT_PYTHON), str(BENCH / script), "--endpoint-url", url]
        cmd += ["--table", data.table]
        return Prepared(
            cmd=cmd + extra,
            verify=lambda result: int(last_json_line(result.stdout)["items"]),
            extras=lambda result: {
                k: v for k, v in last_json_line(result.stdout).items() if k in {"pages"}
            },
        )

    return Variant(name, prepare)


class ExportComparison(Comparison):
    """Every variant exports the same loaded table."""

    benchmark = "export"
    variants = VARIANTS
    targets = TARGETS

    def prepare(self, session: Session) -> list[Dataset]:
        args, client = session.args, session.client
        create_loaded_table(client, TABLE, args.items, threads=args.load_threads)
        if args.baseline:
            create_loaded_table(client, BASELINE_TABLE, BASELINE_ITEMS)
        log(f"dynalite holds the table(s): {session.server.rss_kb() / 1024:.0f} MB RSS")
        main = Dataset("main", args.items, TABLE)
        if not args.baseline:
            return [main]
        return [main, Dataset("baseline", BASELINE_ITEMS, BASELINE_TABLE)]

    def make_variant(self, session: Session, name: str) -> Variant:
        args, url, scratch = session.args, session.url, session.scratch
        if name == "ddbpipe":
            return ddbpipe_variant(url, scratch, args.segments, args.workers, args.keep)
        if name == "dynamodump":
            assert session.python is not None
            return dynamodump_variant(url, scratch, session.python, args.keep)
        if name == "boto3-scan":
            return script_variant(name, "boto3_scan.py", url, [])
        floor_args = ["--segments", str(args.segments), "--workers", str(args.workers)]
        return script_variant(name, "floor_scan.py", url, floor_args)

    def describe(self, session: Session) -> str:
        args = session.args
        return (
            f"exporting {args.items:,} items; every variant reads the same table from the "
            f"same dynalite (pid {session.server.pid}); segments={args.segments}, "
            f"workers={args.workers}"
        )

    def settings(self, args: argparse.Namespace, datasets: list[Dataset]) -> dict[str, Any]:
        return {
            "segments": args.segments,
            "workers": args.workers,
            "server": "dynalite 4.0.0, one instance for all variants, "
            + ("LevelDB on disk" if args.dynalite_disk else "in memory"),
        }


def run_memory(args: argparse.Namespace) -> dict[str, Any]:
    items = args.memory_items
    repeat = args.repeat or 1
    with compare.open_session(
        args, "bench-export-memory-", dynalite_disk=args.dynalite_disk
    ) as session:
        server = session.server
        began = time.perf_counter()
        create_loaded_table(
            session.client,
            TABLE,
            items,
            threads=args.load_threads,
            progress_every=max(items // 20, 25),
        )
        log(
            f"load took {time.perf_counter() - began:.0f} s; dynalite RSS "
            f"{server.rss_kb() / 1024:.0f} MB"
        )
        variant = ddbpipe_variant(
            server.url, session.scratch, args.segments, args.workers, args.keep
        )
        run_variants(
            [variant],
            Dataset("main", items, TABLE),
            repeat=repeat,
            env=session.env,
            timeout=args.timeout,
            server=server,
        )
    rows = report([variant], items=items)
    checked = check_targets(memory_targets(variant, items, args.workers))
    return {
        "benchmark": "export-memory",
        "items": items,
        "repeat": repeat,
        "segments": args.segments,
        "workers": args.workers,
        "server": "dynalite 4.0.0, " + ("LevelDB on disk" if args.dynalite_disk else "in memory"),
        "results": rows,
        "targets": checked,
    }


def memory_targets(variant: Variant, items: int, workers: int) -> list[Target]:
    """ddbpipe's peak memory: of its largest process, and summed over its processes."""
    median = variant.median
    text = f"ddbpipe peak RSS exporting {items:,} items < {MEMORY_TARGET_MB:g} MB"
    if not median:
        return [Target(text, None, f"ddbpipe not measured ({variant.skipped})")]
    peak = median.max_rss_kb / 1024
    tree = median.tree_pss_kb / 1024
    return [
        Target(text + " (largest process)", peak < MEMORY_TARGET_MB, f"{peak:.0f} MB"),
        Target(
            text + " (PSS summed over its processes)",
            tree < MEMORY_TARGET_MB,
            f"{tree:.0f} MB with {workers} workers",
        ),
    ]


def add_export_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--segments", type=int, default=2, help="parallel scan segments")
    parser.add_argument(
        "--memory-items",
        type=int,
        help="memory mode: load this many items (e.g. 1000000) and report only ddbpipe's "
        "peak RSS exporting them",
    )
    parser.add_argument(
        "--dynalite-disk",
        action="store_true",
        help="run dynalite on LevelDB on disk instead of in memory (1M items: ~390 MB "
        "instead of ~1.2 GB of server memory, loading ~40%% slower)",
    )


def parse_args(argv: list[str]) -> argparse.Namespace:
    args = compare.parse_args(
        argv,
        description="Export benchmark: ddbpipe vs dynamodump, boto3 and the raw-HTTP floor.",
        variants=VARIANTS,
        subject="table",
        add_options=add_export_options,
        repeat=None,  # 3, or 1 in memory mode
        positive=("segments",),
    )
    if args.memory_items is None and args.repeat is None:
        args.repeat = 3
    return args


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.memory_items:
        return run_memory(args)
    return ExportComparison().run(args, dynalite_disk=args.dynalite_disk)


def main(argv: list[str]) -> int:
    return compare.main(parse_args(argv), run)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
