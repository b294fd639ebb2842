"""``ddbpipe import``: a backup folder into a table."""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import Any

import click

from ddbpipe.cli.errors import handle_errors
from ddbpipe.cli.options import (
    Connection,
    InputOptions,
    connection_options,
    dask_option,
    input_options,
    json_option,
    state_dir,
)
from ddbpipe.cli.output import Output, err_console, job_output
from ddbpipe.cli.progress import progress_reporter
from ddbpipe.cli.signals import job_signals
from ddbpipe.transfer.imports import (
    DEFAULT_WRITE_RATIO,
    ImportConfig,
    ImportResult,
    import_table,
)
from ddbpipe.wording import plural

__all__ = ["import_command"]


@click.command("import")
@click.argument("source")
@click.argument("table")
@connection_options
@click.option("--source-region", hidden=True, help="Old name of --s3-region.")
@click.option("--source-endpoint-url", hidden=True, help="Old name of --s3-endpoint-url.")
@click.option(
    "--write-ratio",
    type=float,
    help=f"Share of the table's write capacity to use  [default: {DEFAULT_WRITE_RATIO}].",
)
@click.option(
    "--max-wcu", type=float, help="Write capacity to take the ratio of, instead of the table's."
)
@click.option(
    "--workers",
    type=int,
    help="Worker processes (default: one per core); with --dask, files written at once "
    "(default: the cluster's threads).",
)
@click.option(
    "--resume", is_flag=True, help="Continue the interrupted import of SOURCE into TABLE."
)
@click.option(
    "--create-table", is_flag=True, help="Create TABLE from the backup's _table.json if missing."
)
@click.option(
    "--on-error",
    type=click.Choice(["fail", "skip"]),
    default="fail",
    show_default=True,
    help="On a bad line, or an item DynamoDB refuses: fail the import, or skip it (and "
    "record it with --rejects).",
)
@click.option(
    "--rejects",
    type=click.Path(dir_okay=False),
    help="JSON-lines file for skipped lines, each with its file, line and reason.",
)
@click.option("--dry-run", is_flag=True, help="Read and check everything; write nothing.")
@input_options
@dask_option
@json_option
@handle_errors
def import_command(
    source: str,
    table: str,
    connection: Connection,
    source_region: str | None,
    source_endpoint_url: str | None,
    write_ratio: float | None,
    max_wcu: float | None,
    workers: int | None,
    resume: bool,
    create_table: bool,
    on_error: str,
    rejects: str | None,
    dry_run: bool,
    inputs: InputOptions,
    dask: str | None,
    as_json: bool,
) -> None:
    """Put every item of the backup at SOURCE into TABLE.

    SOURCE (s3://bucket/prefix or a local path) is a Data Pipeline backup folder, a
    DynamoDB native export (its AWSDynamoDB/<id> folder, or the prefix above it, where a
    full export and its incremental exports are applied in order), or plain DYNAMODB_JSON,
    ION or CSV files (a file or a folder). Items with the same key are replaced; other
    items in TABLE are left alone, except those an incremental export deletes.
    """
    connection = _renamed(connection, source_region, source_endpoint_url)
    rejects = os.path.abspath(rejects) if rejects else None
    options = {
        "write_ratio": _text(write_ratio),
        "max_wcu": _text(max_wcu),
        "workers": _text(workers),
        "on_error": None if on_error == "fail" else on_error,
        "rejects": rejects,
        **inputs.flags(),
        "dask": dask,
    }
    output = job_output("import", as_json, connection.flags(), options)
    config = ImportConfig(
        write_ratio=write_ratio,
        workers=workers,
        max_wcu=max_wcu,
        create_table=create_table,
        on_error="skip" if on_error == "skip" else "fail",
        rejects_path=rejects,
        dry_run=dry_run,
        state_dir=state_dir(),
        resume=resume,
        dynamo=connection.dynamo(),
        store=connection.s3(),
        plain=inputs.plain(),
        dask=dask,
    )
    location = source if "://" in source else os.path.abspath(source)
    with job_signals() as cancel, progress_reporter("import") as report:
        result = import_table(location, table, config, cancel=cancel, on_progress=report)
    _print_result(output, result)
    output.results([_document(result)])


def _renamed(
    connection: Connection, source_region: str | None, source_endpoint_url: str | None
) -> Connection:
    """Take the S3 options by their old names too, saying so."""
    if source_region is None and source_endpoint_url is None:
        return connection
    err_console.print(
        "note: --source-region and --source-endpoint-url are now --s3-region and "
        "--s3-endpoint-url, as in every command"
    )
    return Connection(
        region=connection.region,
        profile=connection.profile,
        endpoint_url=connection.endpoint_url,
        s3_region=connection.s3_region or source_region,
        s3_endpoint_url=connection.s3_endpoint_url or source_endpoint_url,
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _document(result: ImportResult) -> dict[str, Any]:
    return {**asdict(result), "left_out": list(result.left_out)}


def _print_result(output: Output, result: ImportResult) -> None:
    verb = "checked (dry run, nothing written)" if result.dry_run else "imported"
    rate = result.written / result.duration if result.duration > 0 else 0.0
    extras = [
        plural(n, one, many)
        for n, one, many in (
            (result.deleted, "item deleted", "items deleted"),
            (result.skipped, "bad line skipped", "bad lines skipped"),
            (
                result.duplicates,
                "repeated key (the later line won)",
                "repeated keys (the later line won)",
            ),
            (result.blank_lines, "blank line", "blank lines"),
        )
        if n
    ]
    for left_out in result.left_out:
        output.console.print(f"[yellow]left out:[/] {left_out}")
    output.console.print(
        f"{verb} {result.source} into [bold]{result.table}[/]: "
        f"{plural(result.items_read, 'item')} read, {result.written:,} written from "
        f"{plural(result.files, 'file')}"
        + (f" of {result.exports} exports" if result.exports > 1 else "")
        + (f", {', '.join(extras)}" if extras else "")
        + f"; {result.consumed_capacity:,.1f} WCU consumed, {result.duration:,.1f} s "
        f"({rate:,.0f} items/s; {plural(result.workers, 'worker')}, "
        f"limit {result.write_rate:,.0f} WCU/s)"
    )
