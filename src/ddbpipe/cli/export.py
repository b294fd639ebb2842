"""``ddbpipe export``: tables to Data Pipeline backup folders."""

from __future__ import annotations

from collections.abc import Callable

import click
from rich.console import Console

from ddbpipe.cli.errors import handle_errors
from ddbpipe.cli.options import command_flags, connection_options, dynamo_config, s3_config
from ddbpipe.cli.progress import ProgressLine, progress_reporter
from ddbpipe.errors import ConfigError, DdbpipeError
from ddbpipe.formats.detect import EXPORT_FORMATS
from ddbpipe.transfer.export import (
    DEFAULT_READ_RATIO,
    MAX_ITEMS_PER_FILE,
    ExportConfig,
    ExportProgress,
    ExportResult,
    export_tables,
    resume_export,
)

__all__ = ["export_command"]


@click.command("export")
@click.argument("args", nargs=-1, metavar="TABLE [TABLE ...] DEST")
@connection_options
@click.option(
    "--read-ratio",
    type=float,
    default=DEFAULT_READ_RATIO,
    show_default=True,
    help="Share of the table's read capacity to use.",
)
@click.option(
    "--max-rcu", type=float, help="Read capacity to take the ratio of, instead of the table's."
)
@click.option(
    "--segments", type=int, help="Parallel scan segments (default: planned from table size)."
)
@click.option("--workers", type=int, help="Worker processes (default: one per core).")
@click.option(
    "--format",
    "export_format",
    type=click.Choice(list(EXPORT_FORMATS)),
    default=EXPORT_FORMATS[0],
    show_default=True,
    help="Data Pipeline's backup format, or DynamoDB's native export layout (DYNAMODB_JSON "
    "or ION).",
)
@click.option(
    "--items-per-file",
    type=int,
    default=MAX_ITEMS_PER_FILE,
    show_default=True,
    help="Most items in one data file (more, smaller files import with more parallelism).",
)
@click.option(
    "--consistent-read", is_flag=True, help="Strongly consistent reads (twice the capacity)."
)
@click.option(
    "--resume", "resume", metavar="FOLDER", help="Finish the interrupted export in FOLDER."
)
@handle_errors
def export_command(
    args: tuple[str, ...],
    region: str | None,
    profile: str | None,
    endpoint_url: str | None,
    s3_region: str | None,
    s3_endpoint_url: str | None,
    read_ratio: float,
    max_rcu: float | None,
    segments: int | None,
    workers: int | None,
    export_format: str,
    items_per_file: int,
    consistent_read: bool,
    resume: str | None,
) -> None:
    """Export each TABLE to DEST (s3://bucket/prefix or a local folder).

    One table goes to DEST/<YYYY-MM-dd-HH-mm-ss>/, several to DEST/<table>/<...>/, in the
    Data Pipeline backup format; with --format dynamodb-json or ion, to
    DEST/AWSDynamoDB/<ExportId>/ as DynamoDB's own export lays it out. With --resume
    FOLDER, no TABLE or DEST is given.
    """
    config = ExportConfig(
        read_ratio=read_ratio,
        segments=segments,
        workers=workers,
        consistent_read=consistent_read,
        max_rcu=max_rcu,
        max_items_per_file=items_per_file,
        format=export_format,
        dynamo=dynamo_config(region, profile, endpoint_url),
        store=s3_config(region, profile, s3_region, s3_endpoint_url),
    )
    flags = command_flags(
        region=region,
        profile=profile,
        endpoint_url=endpoint_url,
        s3_region=s3_region,
        s3_endpoint_url=s3_endpoint_url,
    )
    console = Console(highlight=False)
    try:
        results = _run(args, resume, config, console)
    except DdbpipeError as exc:
        if exc.hint and "--resume" in exc.hint:
            exc.hint += flags
        raise
    for result in results:
        _print_result(console, result)


def _run(
    args: tuple[str, ...], resume: str | None, config: ExportConfig, console: Console
) -> list[ExportResult]:
    if resume:
        if args:
            raise ConfigError("with --resume FOLDER, give no TABLE or DEST")
        with progress_reporter(console, "export") as report:
            return [resume_export(resume, config, on_progress=_adapt(report))]
    if len(args) < 2:
        raise ConfigError("give at least one TABLE and a DEST (s3://bucket/prefix or a folder)")
    *tables, destination = args
    with progress_reporter(console, "export") as report:
        return export_tables(tables, destination, config, on_progress=_adapt(report))


def _adapt(report: ProgressLine) -> Callable[[ExportProgress], None]:
    def on_progress(progress: ExportProgress) -> None:
        report(progress.items, progress.bytes, progress.elapsed, progress.expected_items, None)

    return on_progress


def _print_result(console: Console, result: ExportResult) -> None:
    rate = result.items / result.duration if result.duration > 0 else 0.0
    console.print(
        f"exported [bold]{result.table}[/] to {result.folder}: {result.items:,} items in "
        f"{len(result.files)} file(s), {result.bytes / 1e6:,.1f} MB, "
        f"{result.consumed_capacity:,.1f} RCU consumed, {result.duration:,.1f} s "
        f"({rate:,.0f} items/s; {result.segments} segments, {result.workers} workers, "
        f"limit {result.read_rate:,.0f} RCU/s)",
        soft_wrap=True,
    )
