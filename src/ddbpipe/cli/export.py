"""``ddbpipe export``: tables to backup folders."""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import Any

import click

from ddbpipe.cli.errors import handle_errors
from ddbpipe.cli.options import Connection, connection_options, dask_option, json_option
from ddbpipe.cli.output import Output, job_output
from ddbpipe.cli.progress import progress_reporter
from ddbpipe.cli.signals import job_signals
from ddbpipe.formats.detect import EXPORT_FORMATS, FORMAT_DATAPIPELINE
from ddbpipe.transfer.export import (
    DEFAULT_READ_RATIO,
    MAX_ITEMS_PER_FILE,
    ExportConfig,
    ExportResult,
    export_tables,
    resume_export,
)
from ddbpipe.wording import plural

__all__ = ["export_command"]


@click.command("export")
@click.argument("args", nargs=-1, metavar="TABLE [TABLE ...] DEST")
@connection_options
@click.option(
    "--read-ratio",
    type=float,
    help=f"Share of the table's read capacity to use  [default: {DEFAULT_READ_RATIO}].",
)
@click.option(
    "--max-rcu", type=float, help="Read capacity to take the ratio of, instead of the table's."
)
@click.option(
    "--segments", type=int, help="Parallel scan segments (default: planned from table size)."
)
@click.option(
    "--workers",
    type=int,
    help="Worker processes (default: one per core); with --dask, segments scanned at once "
    "(default: the cluster's threads).",
)
@click.option(
    "--format",
    "export_format",
    type=click.Choice(list(EXPORT_FORMATS)),
    default=FORMAT_DATAPIPELINE,
    show_default=True,
    help="Data Pipeline's backup format, or DynamoDB's native export layout (DYNAMODB_JSON "
    "or ION).",
)
@click.option(
    "--items-per-file",
    type=int,
    help="Most items in one data file; more, smaller files import with more parallelism  "
    f"[default: {MAX_ITEMS_PER_FILE}].",
)
@click.option(
    "--consistent-read", is_flag=True, help="Strongly consistent reads (twice the capacity)."
)
@click.option(
    "--resume",
    "resume",
    metavar="FOLDER",
    help="Finish the interrupted export in FOLDER, in the shape it started with.",
)
@dask_option
@json_option
@handle_errors
def export_command(
    args: tuple[str, ...],
    connection: Connection,
    read_ratio: float | None,
    max_rcu: float | None,
    segments: int | None,
    workers: int | None,
    export_format: str,
    items_per_file: int | None,
    consistent_read: bool,
    resume: str | None,
    dask: str | None,
    as_json: bool,
) -> None:
    """Export each TABLE to DEST (s3://bucket/prefix or a local folder).

    One table goes to DEST/<YYYY-MM-dd-HH-mm-ss>/, several to DEST/<table>/<...>/, in the
    Data Pipeline backup format; with --format dynamodb-json or ion, to
    DEST/AWSDynamoDB/<ExportId>/ as DynamoDB's own export lays it out. With --resume
    FOLDER, no TABLE or DEST is given.
    """
    if resume and args:
        raise click.UsageError("with --resume FOLDER, give no TABLE or DEST")
    if not resume and len(args) < 2:
        raise click.UsageError(
            "give at least one TABLE and a DEST (s3://bucket/prefix or a folder)"
        )
    options = {"workers": _text(workers), "dask": dask}
    output = job_output("export", as_json, connection.flags(), options)
    config = ExportConfig(
        read_ratio=read_ratio,
        segments=segments,
        workers=workers,
        consistent_read=consistent_read,
        max_rcu=max_rcu,
        max_items_per_file=items_per_file,
        format=export_format,
        dynamo=connection.dynamo(),
        store=connection.s3(),
        dask=dask,
    )
    with job_signals() as cancel, progress_reporter("export") as report:
        if resume:
            folder = resume if "://" in resume else os.path.abspath(resume)
            results = [resume_export(folder, config, cancel=cancel, on_progress=report)]
        else:
            *tables, destination = args
            results = export_tables(tables, destination, config, cancel=cancel, on_progress=report)
    for result in results:
        _print_result(output, result)
    output.results([_document(r) for r in results])


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _document(result: ExportResult) -> dict[str, Any]:
    return {**asdict(result), "files": list(result.files)}


def _print_result(output: Output, result: ExportResult) -> None:
    rate = result.items / result.duration if result.duration > 0 else 0.0
    output.console.print(
        f"exported [bold]{result.table}[/] to {result.folder}: {plural(result.items, 'item')} "
        f"in {plural(len(result.files), 'file')}, {result.bytes / 1e6:,.1f} MB, "
        f"{result.consumed_capacity:,.1f} RCU consumed, {result.duration:,.1f} s "
        f"({rate:,.0f} items/s; {plural(result.segments, 'segment')}, "
        f"{plural(result.workers, 'worker')}, limit {result.read_rate:,.0f} RCU/s)"
    )
