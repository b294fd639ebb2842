"""Import benchmark: ddbpipe against dynamodump restore, boto3 batch_writer and the floor.

Loads one source table into one dynalite (in memory, 127.0.0.1), makes a Data Pipeline
backup of it (with ``ddbpipe export`` when that works, else written by the project's own
encoder) and a dynamodump backup, then has every variant import its backup into a fresh
table on that same server, ``--repeat`` times round-robin. Every run is verified by a
``Select=COUNT`` scan of its table, which is then deleted. Reports medians of wall time,
client CPU per item and peak RSS, and checks the targets.

    .venv/bin/python bench/import_bench.py                      # 100,000 items, 3 runs each
    .venv/bin/python bench/import_bench.py --items 20000 --repeat 1
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Callable
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
    Variant,
    log,
)
from rawddb import RawDynamo

SOURCE_TABLE = "bench_source"
BASELINE_SOURCE_TABLE = "bench_source_small"
VARIANTS = ("ddbpipe", "dynamodump", "boto3-batch-writer", "floor")
CPU_TARGET_US = 25.0
DYNAMODUMP_FACTOR = 3.0  # ddbpipe wall < dynamodump restore wall / 3
FLOOR_FACTOR = 1.3  # ddbpipe wall <= 1.3 x floor wall


def make_source_backup(
    url: str,
    table: str,
    folder: Path,
    items: int,
    env: dict[str, str],
    timeout: float,
    generate: bool,
) -> tuple[list[Path], str]:
    """A Data Pipeline backup of ``table``; returns its data files and where it came from."""
    export = folder / "ddbpipe-export"
    if not generate:
        export.mkdir(parents=True)
        cmd = [str(DDBPIPE), "export", table, str(export), "--endpoint-url", url]
        cmd += ["--region", REGION, "--read-ratio", "1", "--max-rcu", "1000000"]
        log(f"making the source backup of {table} with ddbpipe export ...")
        done = common.measure(cmd, env, timeout=timeout)
        if done.ok:
            files = common.backup_data_files(export)
            found = common.count_lines(files)
            if found == items:
                log(f"  {found:,} items in {done.wall_s:.1f} s")
                return files, f"ddbpipe export ({len(files)} data file(s))"
            log(f"  ddbpipe export wrote {found:,} items, expected {items:,}; not using it")
        else:
            why = "timed out" if done.timed_out else f"exit status {done.returncode}"
            log(f"  ddbpipe export failed ({why}); writing the backup with the project's encoder")
            log(common.tail(done.stderr, 10))
        shutil.rmtree(export, ignore_errors=True)
    generated = folder / "generated"
    files = common.write_backup(generated, items)
    found = common.count_lines(files)
    if found != items:
        raise SystemExit(f"generated backup holds {found:,} items, expected {items:,}")
    return files, f"written with encode_items/encode_manifest ({len(files)} data file(s))"


def make_dynamodump_backup(
    url: str,
    table: str,
    folder: Path,
    python: Path,
    items: int,
    env: dict[str, str],
    timeout: float,
) -> Path:
    dump = folder / "dynamodump"
    dump.mkdir(parents=True)
    args = ["-m", "backup", *common.dynamodump_connection(url)]
    args += ["--accessKey", "testing", "--secretKey", "testing", "-s", table]
    args += ["--dumpPath", str(dump)]
    log(f"making the dynamodump backup of {table} ...")
    done = common.measure(common.dynamodump_cmd(python, args), env, cwd=dump, timeout=timeout)
    if not done.ok:
        raise SystemExit(f"dynamodump backup failed:\n{common.tail(done.stderr)}")
    found = common.dynamodump_items(dump, table)
    if found != items:
        raise SystemExit(f"dynamodump backup holds {found:,} items, expected {items:,}")
    log(f"  {found:,} items in {done.wall_s:.1f} s")
    return dump


def table_variant(
    name: str,
    client: RawDynamo,
    command: Callable[[str, Dataset], list[str]],
    *,
    create: bool = True,
    cwd: Callable[[Dataset], Path] | None = None,
    report_keys: frozenset[str] = frozenset(),
) -> Variant:
    """A variant that writes into its own fresh table per run, checked by a COUNT scan."""
    slug = name.replace("-", "_")

    def prepare(run: int, data: Dataset) -> Prepared:
        table = f"bench_import_{slug}_{data.label}_{run}"
        client.delete_table(table)
        if create:
            client.create_table(table)

        def extras(result: Result) -> dict[str, object]:
            if not report_keys:
                return {}
            try:
                report = common.last_json_line(result.stdout)
            except ValueError:
                return {}
            return {k: v for k, v in report.items() if k in report_keys}

        return Prepared(
            cmd=command(table, data),
            cwd=cwd(data) if cwd else None,
            verify=lambda _result: client.count(table),
            cleanup=lambda: client.delete_table(table),
            extras=extras,
        )

    return Variant(name, prepare)


def prepare_dataset(
    label: str,
    table: str,
    items: int,
    *,
    client: RawDynamo,
    url: str,
    scratch: Path,
    python: Path | None,
    env: dict[str, str],
    args: argparse.Namespace,
) -> Dataset:
    """Load ``table`` with ``items`` items, back it up both ways, then drop the table."""
    common.create_loaded_table(client, table, items, threads=args.load_threads)
    folder = scratch / label
    files, origin = make_source_backup(
        url, table, folder / "backup", items, env, args.timeout, args.generate_backup
    )
    log(f"  source backup: {files[0].parent}, {origin}")
    dump = None
    if python is not None:
        dump = make_dynamodump_backup(url, table, folder, python, items, env, args.timeout)
    # The source table is no longer needed: free dynalite's memory for the imports.
    client.delete_table(table)
    return Dataset(
        label,
        items,
        table,
        {"files": files, "folder": files[0].parent, "dump": dump, "origin": origin},
    )


def run(args: argparse.Namespace) -> dict[str, object]:
    wanted = args.variants
    python = common.dynamodump_python() if "dynamodump" in wanted else None
    env = common.bench_env()
    with (
        common.scratch_dir("bench-import-", keep=args.keep) as scratch,
        Dynalite(log_dir=scratch) as server,
    ):
        client = RawDynamo(server.url)
        url = server.url
        setup = {"client": client, "url": url, "scratch": scratch, "python": python}
        main = prepare_dataset("main", SOURCE_TABLE, args.items, env=env, args=args, **setup)
        datasets = [main]
        if args.baseline:
            datasets.append(
                prepare_dataset(
                    "baseline", BASELINE_SOURCE_TABLE, BASELINE_ITEMS, env=env, args=args, **setup
                )
            )
        log(f"dynalite RSS before the imports: {server.rss_kb() / 1024:.0f} MB")

        def ddbpipe_cmd(table: str, data: Dataset) -> list[str]:
            cmd = [str(DDBPIPE), "import", str(data.data["folder"]), table]
            cmd += ["--endpoint-url", url, "--region", REGION]
            cmd += ["--write-ratio", "1", "--max-wcu", "1000000"]
            return [*cmd, "--workers", str(args.workers)]

        def dynamodump_cmd(table: str, data: Dataset) -> list[str]:
            assert python is not None
            restore = ["-m", "restore", *common.dynamodump_connection(url)]
            restore += ["--accessKey", "testing", "--secretKey", "testing"]
            restore += ["-s", data.table, "-d", table, "--dumpPath", str(data.data["dump"])]
            restore += ["--billingMode", "PAY_PER_REQUEST", "--noConfirm"]
            return common.dynamodump_cmd(python, restore)

        def boto3_cmd(table: str, data: Dataset) -> list[str]:
            script = [str(PROJECT_PYTHON), str(BENCH / "boto3_batch_write.py")]
            script += ["--endpoint-url", url, "--table", table]
            return [*script, *map(str, data.data["files"])]

        def floor_cmd(table: str, data: Dataset) -> list[str]:
            script = [str(PROJECT_PYTHON), str(BENCH / "floor_batch_write.py")]
            script += ["--endpoint-url", url, "--table", table]
            script += ["--workers", str(args.workers), "--threads", str(args.floor_threads)]
            return [*script, *map(str, data.data["files"])]

        catalog = {
            "ddbpipe": lambda: table_variant("ddbpipe", client, ddbpipe_cmd),
            # dynamodump creates its table itself, from the schema in its backup.
            "dynamodump": lambda: table_variant(
                "dynamodump",
                client,
                dynamodump_cmd,
                create=False,
                cwd=lambda data: data.data["dump"],
            ),
            "boto3-batch-writer": lambda: table_variant(
                "boto3-batch-writer",
                client,
                boto3_cmd,
                report_keys=frozenset({"read_cpu_s", "read_wall_s"}),
            ),
            "floor": lambda: table_variant(
                "floor",
                client,
                floor_cmd,
                report_keys=frozenset({"build_cpu_s", "retried_batches"}),
            ),
        }
        variants = [catalog[name]() for name in VARIANTS if name in wanted]
        log(
            f"importing {args.items:,} items; every variant writes a fresh table on the "
            f"same dynalite (pid {server.pid}); workers={args.workers}; "
            f"{args.repeat} run(s) each, round-robin"
        )
        for dataset in datasets:
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
    log(
        "  (boto3-batch-writer read_*: its reading + parsing + TypeDeserializer share, "
        "included in its totals; floor build_cpu_s: CPU of its read/parse/body-building "
        "threads)"
    )
    checked = common.check_targets(
        common.speed_targets(
            variants,
            args.items,
            cpu_target_us=CPU_TARGET_US,
            dynamodump_factor=DYNAMODUMP_FACTOR,
            floor_factor=FLOOR_FACTOR,
            dynamodump_run="dynamodump restore's",
        )
    )
    return {
        "benchmark": "import",
        "items": args.items,
        "baseline_items": BASELINE_ITEMS if args.baseline else None,
        "repeat": args.repeat,
        "workers": args.workers,
        "source_backup": main.data["origin"],
        "server": "dynalite 4.0.0 in memory, one instance for all variants",
        "results": rows,
        "targets": checked,
    }


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Import benchmark: ddbpipe vs dynamodump restore, boto3 and the floor."
    )
    parser.add_argument("--items", type=int, default=100_000, help="items in the backup")
    parser.add_argument("--repeat", type=int, default=3, help="runs per variant (median)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--json", type=Path, help="write the numbers to this file")
    parser.add_argument(
        "--variants",
        default=",".join(VARIANTS),
        help=f"comma-separated subset of {','.join(VARIANTS)}",
    )
    parser.add_argument(
        "--generate-backup",
        action="store_true",
        help="write the source backup with the project's encoder instead of ddbpipe export",
    )
    parser.add_argument(
        "--floor-threads", type=int, default=4, help="sending threads per floor worker"
    )
    parser.add_argument(
        "--no-baseline",
        dest="baseline",
        action="store_false",
        help=f"skip the runs on a {BASELINE_ITEMS}-item backup that measure start-up cost",
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
    for name in ("items", "repeat", "workers"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    common.install_cleanup()
    data = run(args)
    data["machine"] = common.machine()
    if args.json:
        common.write_json(args.json, data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
