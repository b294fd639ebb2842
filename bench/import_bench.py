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
import functools
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import compare
from backup_files import backup_data_files, count_lines, write_backup
from compare import Comparison, Session
from dataset import BASELINE_ITEMS, Dataset, create_loaded_table
from ddbpipe_commands import export_cmd, import_cmd
from dynamodump_tool import (
    dynamodump_backup_args,
    dynamodump_cmd,
    dynamodump_connection,
    dynamodump_items,
)
from measure import Result, last_json_line, measure, tail
from processes import BENCH, PROJECT_PYTHON, log
from rawddb import RawDynamo
from report import SpeedTargets
from variants import Prepared, Variant

SOURCE_TABLE = "bench_source"
BASELINE_SOURCE_TABLE = "bench_source_small"
VARIANTS = ("ddbpipe", "dynamodump", "boto3-batch-writer", "floor")
TARGETS = SpeedTargets(
    cpu_us=25.0,
    dynamodump_factor=3.0,  # ddbpipe wall < dynamodump restore wall / 3
    floor_factor=1.3,  # ddbpipe wall <= 1.3 x floor wall
    dynamodump_run="dynamodump restore's",
)


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
        log(f"making the source backup of {table} with ddbpipe export ...")
        done = measure(export_cmd(url, table, export), env, timeout=timeout)
        if done.ok:
            files = backup_data_files(export)
            found = count_lines(files)
            if found == items:
                log(f"  {found:,} items in {done.wall_s:.1f} s")
                return files, f"ddbpipe export ({len(files)} data file(s))"
            log(f"  ddbpipe export wrote {found:,} items, expected {items:,}; not using it")
        else:
            why = "timed out" if done.timed_out else f"exit status {done.returncode}"
            log(f"  ddbpipe export failed ({why}); writing the backup with the project's encoder")
            log(tail(done.stderr, 10))
        shutil.rmtree(export, ignore_errors=True)
    generated = folder / "generated"
    files = write_backup(generated, items)
    found = count_lines(files)
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
    log(f"making the dynamodump backup of {table} ...")
    cmd = dynamodump_cmd(python, dynamodump_backup_args(url, table, dump))
    done = measure(cmd, env, cwd=dump, timeout=timeout)
    if not done.ok:
        raise SystemExit(f"dynamodump backup failed:\n{tail(done.stderr)}")
    found = dynamodump_items(dump, table)
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
                report = last_json_line(result.stdout)
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


def prepare_dataset(session: Session, label: str, table: str, items: int) -> Dataset:
    """Load ``table`` with ``items`` items, back it up both ways, then drop the table."""
    args, client, url = session.args, session.client, session.url
    create_loaded_table(client, table, items, threads=args.load_threads)
    folder = session.scratch / label
    files, origin = make_source_backup(
        url, table, folder / "backup", items, session.env, args.timeout, args.generate_backup
    )
    log(f"  source backup: {files[0].parent}, {origin}")
    dump = None
    if session.python is not None:
        dump = make_dynamodump_backup(
            url, table, folder, session.python, items, session.env, args.timeout
        )
    # The source table is no longer needed: free dynalite's memory for the imports.
    client.delete_table(table)
    return Dataset(
        label,
        items,
        table,
        {"files": files, "folder": files[0].parent, "dump": dump, "origin": origin},
    )


def ddbpipe_cmd(session: Session, table: str, data: Dataset) -> list[str]:
    workers = str(session.args.workers)
    return import_cmd(session.url, data.data["folder"], table, "--workers", workers)


def dynamodump_restore_cmd(session: Session, table: str, data: Dataset) -> list[str]:
    assert session.python is not None
    restore = ["-m", "restore", *dynamodump_connection(session.url)]
    restore += ["--accessKey", "testing", "--secretKey", "testing"]
    restore += ["-s", data.table, "-d", table, "--dumpPath", str(data.data["dump"])]
    restore += ["--billingMode", "PAY_PER_REQUEST", "--noConfirm"]
    return dynamodump_cmd(session.python, restore)


def boto3_cmd(session: Session, table: str, data: Dataset) -> list[str]:
    script = [str(PROJECT_PYTHON), str(BENCH / "boto3_batch_write.py")]
    script += ["--endpoint-url", session.url, "--table", table]
    return [*script, *map(str, data.data["files"])]


def floor_cmd(session: Session, table: str, data: Dataset) -> list[str]:
    args = session.args
    script = [str(PROJECT_PYTHON), str(BENCH / "floor_batch_write.py")]
    script += ["--endpoint-url", session.url, "--table", table]
    script += ["--workers", str(args.workers), "--threads", str(args.floor_threads)]
    return [*script, *map(str, data.data["files"])]


class ImportComparison(Comparison):
    """Every variant imports a backup of the same table into a fresh table of its own."""

    benchmark = "import"
    variants = VARIANTS
    targets = TARGETS
    note = (
        "  (boto3-batch-writer read_*: its reading + parsing + TypeDeserializer share, "
        "included in its totals; floor build_cpu_s: CPU of its read/parse/body-building "
        "threads)"
    )

    def prepare(self, session: Session) -> list[Dataset]:
        args = session.args
        datasets = [prepare_dataset(session, "main", SOURCE_TABLE, args.items)]
        if args.baseline:
            datasets.append(
                prepare_dataset(session, "baseline", BASELINE_SOURCE_TABLE, BASELINE_ITEMS)
            )
        log(f"dynalite RSS before the imports: {session.server.rss_kb() / 1024:.0f} MB")
        return datasets

    def make_variant(self, session: Session, name: str) -> Variant:
        client = session.client
        if name == "ddbpipe":
            return table_variant(name, client, functools.partial(ddbpipe_cmd, session))
        if name == "dynamodump":
            # dynamodump creates its table itself, from the schema in its backup.
            return table_variant(
                name,
                client,
                functools.partial(dynamodump_restore_cmd, session),
                create=False,
                cwd=lambda data: data.data["dump"],
            )
        if name == "boto3-batch-writer":
            return table_variant(
                name,
                client,
                functools.partial(boto3_cmd, session),
                report_keys=frozenset({"read_cpu_s", "read_wall_s"}),
            )
        return table_variant(
            name,
            client,
            functools.partial(floor_cmd, session),
            report_keys=frozenset({"build_cpu_s", "retried_batches"}),
        )

    def describe(self, session: Session) -> str:
        return (
            f"importing {session.args.items:,} items; every variant writes a fresh table on "
            f"the same dynalite (pid {session.server.pid}); workers={session.args.workers}"
        )

    def settings(self, args: argparse.Namespace, datasets: list[Dataset]) -> dict[str, Any]:
        return {
            "workers": args.workers,
            "source_backup": datasets[0].data["origin"],
            "server": "dynalite 4.0.0 in memory, one instance for all variants",
        }


def add_import_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--generate-backup",
        action="store_true",
        help="write the source backup with the project's encoder instead of ddbpipe export",
    )
    parser.add_argument(
        "--floor-threads", type=int, default=4, help="sending threads per floor worker"
    )


def parse_args(argv: list[str]) -> argparse.Namespace:
    return compare.parse_args(
        argv,
        description="Import benchmark: ddbpipe vs dynamodump restore, boto3 and the floor.",
        variants=VARIANTS,
        subject="backup",
        add_options=add_import_options,
    )


def main(argv: list[str]) -> int:
    return compare.main(parse_args(argv), ImportComparison().run)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
