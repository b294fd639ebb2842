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

import common
from common import (
    BASELINE_ITEMS,
    BENCH,
    DDBPIPE,
    PROJECT_PYTHON,
    REGION,
    Dataset,
    Dynalite,
    Prepared,
    Result,
    Target,
    Variant,
    log,
)
from rawddb import RawDynamo

TABLE = "bench_export"
BASELINE_TABLE = "bench_export_small"
VARIANTS = ("ddbpipe", "dynamodump", "boto3-scan", "floor")
CPU_TARGET_US = 10.0
DYNAMODUMP_FACTOR = 5.0  # ddbpipe wall < dynamodump wall / 5
FLOOR_FACTOR = 1.5  # ddbpipe wall <= 1.5 x floor wall
MEMORY_TARGET_MB = 200.0


def ddbpipe_variant(url: str, scratch: Path, segments: int, workers: int, keep: bool) -> Variant:
    def prepare(run: int, data: Dataset) -> Prepared:
        dest = scratch / f"ddbpipe-export-{data.label}-{run}"
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        cmd = [str(DDBPIPE), "export", data.table, str(dest), "--endpoint-url", url]
        cmd += ["--region", REGION, "--read-ratio", "1", "--max-rcu", "1000000"]
        cmd += ["--segments", str(segments), "--workers", str(workers)]

        def verify(_result: Result) -> int:
            return common.count_lines(common.backup_data_files(dest))

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
        args = ["-m", "backup", *common.dynamodump_connection(url)]
        args += ["--accessKey", "testing", "--secretKey", "testing", "-s", data.table]
        args += ["--dumpPath", str(dump)]

        def cleanup() -> None:
            if not keep:
                shutil.rmtree(dump, ignore_errors=True)

        return Prepared(
            cmd=common.dynamodump_cmd(python, args),
            cwd=dump,
            verify=lambda _r: common.dynamodump_items(dump, data.table),
            cleanup=cleanup,
        )

    return Variant("dynamodump", prepare)


def script_variant(name: str, script: str, url: str, extra: list[str]) -> Variant:
    def prepare(_run: int, data: Dataset) -> Prepared:
        cmd = [str(PROJECT_PYTHON), str(BENCH / script), "--endpoint-url", url]
        cmd += ["--table", data.table]
        return Prepared(
            cmd=cmd + extra,
            verify=lambda result: int(common.last_json_line(result.stdout)["items"]),
            extras=lambda result: {
                k: v for k, v in common.last_json_line(result.stdout).items() if k in {"pages"}
            },
        )

    return Variant(name, prepare)


def run_compare(args: argparse.Namespace) -> dict[str, object]:
    wanted = args.variants
    python = common.dynamodump_python() if "dynamodump" in wanted else None
    env = common.bench_env()
    main = Dataset("main", args.items, TABLE)
    small = Dataset("baseline", BASELINE_ITEMS, BASELINE_TABLE)
    with common.scratch_dir("bench-export-", keep=args.keep) as scratch:
        store = scratch / "dynalite-db" if args.dynalite_disk else None
        with Dynalite(path=store, log_dir=scratch) as server:
            client = RawDynamo(server.url)
            common.create_loaded_table(client, TABLE, args.items, threads=args.load_threads)
            if args.baseline:
                common.create_loaded_table(client, BASELINE_TABLE, BASELINE_ITEMS)
            log(f"dynalite holds the table(s): {server.rss_kb() / 1024:.0f} MB RSS")
            url = server.url
            floor_args = ["--segments", str(args.segments), "--workers", str(args.workers)]
            catalog = {
                "ddbpipe": lambda: ddbpipe_variant(
                    url, scratch, args.segments, args.workers, args.keep
                ),
                "dynamodump": lambda: dynamodump_variant(url, scratch, python, args.keep),
                "boto3-scan": lambda: script_variant("boto3-scan", "boto3_scan.py", url, []),
                "floor": lambda: script_variant("floor", "floor_scan.py", url, floor_args),
            }
            variants = [catalog[name]() for name in VARIANTS if name in wanted]
            log(
                f"exporting {args.items:,} items; every variant reads the same table from the "
                f"same dynalite (pid {server.pid}); segments={args.segments}, "
                f"workers={args.workers}; {args.repeat} run(s) each, round-robin"
            )
            for dataset in (main, small) if args.baseline else (main,):
                common.run_variants(
                    variants,
                    dataset,
                    repeat=args.repeat,
                    env=env,
                    timeout=args.timeout,
                    server=server,
                )
            client.close()
    rows = common.report(variants, items=args.items)
    checked = common.check_targets(
        common.speed_targets(
            variants,
            args.items,
            cpu_target_us=CPU_TARGET_US,
            dynamodump_factor=DYNAMODUMP_FACTOR,
            floor_factor=FLOOR_FACTOR,
            dynamodump_run="dynamodump's",
        )
    )
    return {
        "benchmark": "export",
        "items": args.items,
        "baseline_items": BASELINE_ITEMS if args.baseline else None,
        "repeat": args.repeat,
        "segments": args.segments,
        "workers": args.workers,
        "server": "dynalite 4.0.0, one instance for all variants, "
        + ("LevelDB on disk" if args.dynalite_disk else "in memory"),
        "results": rows,
        "targets": checked,
    }


def run_memory(args: argparse.Namespace) -> dict[str, object]:
    items = args.memory_items
    repeat = args.repeat or 1
    env = common.bench_env()
    with common.scratch_dir("bench-export-memory-", keep=args.keep) as scratch:
        store = scratch / "dynalite-db" if args.dynalite_disk else None
        with Dynalite(path=store, log_dir=scratch) as server:
            client = RawDynamo(server.url)
            began = time.perf_counter()
            common.create_loaded_table(
                client,
                TABLE,
                items,
                threads=args.load_threads,
                progress_every=max(items // 20, 25),
            )
            log(
                f"load took {time.perf_counter() - began:.0f} s; dynalite RSS "
                f"{server.rss_kb() / 1024:.0f} MB"
            )
            variant = ddbpipe_variant(server.url, scratch, args.segments, args.workers, args.keep)
            common.run_variants(
                [variant],
                Dataset("main", items, TABLE),
                repeat=repeat,
                env=env,
                timeout=args.timeout,
                server=server,
            )
            client.close()
    rows = common.report([variant], items=items)
    median = variant.median
    found: list[Target] = []
    text = f"ddbpipe peak RSS exporting {items:,} items < {MEMORY_TARGET_MB:g} MB"
    if median:
        peak = median.max_rss_kb / 1024
        tree = median.tree_pss_kb / 1024
        found.append(Target(text + " (largest process)", peak < MEMORY_TARGET_MB, f"{peak:.0f} MB"))
        found.append(
            Target(
                text + " (PSS summed over its processes)",
                tree < MEMORY_TARGET_MB,
                f"{tree:.0f} MB with {args.workers} workers",
            )
        )
    else:
        found.append(Target(text, None, f"ddbpipe not measured ({variant.skipped})"))
    checked = common.check_targets(found)
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


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Export benchmark: ddbpipe vs dynamodump, boto3 and the raw-HTTP floor."
    )
    parser.add_argument("--items", type=int, default=100_000, help="items in the table")
    parser.add_argument("--repeat", type=int, default=None, help="runs per variant (median)")
    parser.add_argument("--segments", type=int, default=2, help="parallel scan segments")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--json", type=Path, help="write the numbers to this file")
    parser.add_argument(
        "--variants",
        default=",".join(VARIANTS),
        help=f"comma-separated subset of {','.join(VARIANTS)}",
    )
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
    parser.add_argument(
        "--no-baseline",
        dest="baseline",
        action="store_false",
        help=f"skip the runs on a {BASELINE_ITEMS}-item table that measure start-up cost",
    )
    parser.add_argument("--load-threads", type=int, default=4, help="threads loading the table")
    parser.add_argument(
        "--timeout", type=float, default=1800.0, help="seconds before a run is killed"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch folders")
    args = parser.parse_args(argv)
    args.variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = set(args.variants) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants: {', '.join(sorted(unknown))}")
    if args.memory_items is None and args.repeat is None:
        args.repeat = 3
    for name in ("items", "segments", "workers"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    common.install_cleanup()
    data = run_memory(args) if args.memory_items else run_compare(args)
    data["machine"] = common.machine()
    if args.json:
        common.write_json(args.json, data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
