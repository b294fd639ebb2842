"""``ddbpipe import``: a backup folder into a table."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import click
from rich.console import Console

from ddbpipe.cli.errors import handle_errors
from ddbpipe.cli.options import (
    command_flags,
    dynamo_config,
    input_options,
    plain_files,
    store_config,
)
from ddbpipe.cli.progress import ProgressLine, progress_reporter
from ddbpipe.errors import DdbpipeError
from ddbpipe.transfer.imports import (
    DEFAULT_WRITE_RATIO,
    ImportConfig,
    ImportProgress,
    ImportResult,
    import_table,
)

__all__ = ["checkpoint_path", "import_command"]


def checkpoint_path(source: str, table: str) -> Path:
    """Where the checkpoint of importing ``source`` into ``table`` is kept."""
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(Path.home(), ".local", "state")
    digest = hashlib.sha256(f"{source.rstrip('/')}\n{table}".encode()).hexdigest()[:16]
    return Path(state) / "ddbpipe" / "imports" / f"{table}-{digest}.json"


@click.command("import")
@click.argument("source")
@click.argument("table")
@click.option("--region", help="AWS region of the table (default: from the profile).")
@click.option("--profile", help="AWS profile to take credentials and region from.")
@click.option("--endpoint-url", help="DynamoDB endpoint (a local or compatible server).")
@click.option("--source-region", help="Region of the bucket holding SOURCE, when not the table's.")
@click.option("--source-endpoint-url", help="S3 endpoint of an S3-compatible store holding SOURCE.")
@click.option(
    "--write-ratio",
    type=float,
    default=DEFAULT_WRITE_RATIO,
    show_default=True,
    help="Share of the table's write capacity to use.",
)
@click.option(
    "--max-wcu", type=float, help="Write capacity to take the ratio of, instead of the table's."
)
@click.option("--workers", type=int, help="Worker processes (default: one per core).")
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
    help="On a bad line: fail the import, or skip it (and record it with --rejects).",
)
@click.option(
    "--rejects", type=click.Path(dir_okay=False), help="JSON-lines file for skipped lines."
)
@click.option("--dry-run", is_flag=True, help="Read and check everything; write nothing.")
@input_options
@handle_errors
def import_command(
    source: str,
    table: str,
    region: str | None,
    profile: str | None,
    endpoint_url: str | None,
    source_region: str | None,
    source_endpoint_url: str | None,
    write_ratio: float,
    max_wcu: float | None,
    workers: int | None,
    resume: bool,
    create_table: bool,
    on_error: str,
    rejects: str | None,
    dry_run: bool,
    input_format: str | None,
    compression: str | None,
    csv_header: str | None,
    csv_delimiter: str,
) -> None:
    """Put every item of the backup at SOURCE into TABLE.

    SOURCE (s3://bucket/prefix or a local path) is a Data Pipeline backup folder, a
    DynamoDB native export (its AWSDynamoDB/<id> folder, or the prefix above it, where a
    full export and its incremental exports are applied in order), or plain DYNAMODB_JSON,
    ION or CSV files (a file or a folder). Items with the same key are replaced; other
    items in TABLE are left alone, except those an incremental export deletes.
    """
    config = ImportConfig(
        write_ratio=write_ratio,
        workers=workers,
        max_wcu=max_wcu,
        create_table=create_table,
        on_error="skip" if on_error == "skip" else "fail",
        rejects_path=rejects,
        dry_run=dry_run,
        checkpoint_path=str(checkpoint_path(source, table)),
        resume=resume,
        dynamo=dynamo_config(region, profile, endpoint_url),
        source=store_config(source_region or region, profile, source_endpoint_url),
        plain=plain_files(input_format, compression, csv_header, csv_delimiter),
    )
    console = Console(highlight=False)
    flags = command_flags(
        region=region,
        profile=profile,
        endpoint_url=endpoint_url,
        source_region=source_region,
        source_endpoint_url=source_endpoint_url,
        input_format=input_format,
        compression=compression,
        csv_header=csv_header,
        csv_delimiter=None if csv_delimiter == "," else csv_delimiter,
    )
    try:
        with progress_reporter(console, "import") as report:
            result = import_table(source, table, config, on_progress=_adapt(report))
    except DdbpipeError as exc:
        if exc.hint and "--resume" in exc.hint:
            exc.hint += flags
        raise
    _print_result(console, result)


def _adapt(report: ProgressLine) -> Callable[[ImportProgress], None]:
    def on_progress(progress: ImportProgress) -> None:
        report(progress.items, progress.bytes, progress.elapsed, None, progress.expected_bytes)

    return on_progress


def _print_result(console: Console, result: ImportResult) -> None:
    verb = "checked (dry run, nothing written)" if result.dry_run else "imported"
    rate = result.written / result.duration if result.duration > 0 else 0.0
    extras = [
        f"{n:,} {what}"
        for n, what in (
            (result.deleted, "deleted (by incremental exports)"),
            (result.skipped, "bad lines skipped"),
            (result.duplicates, "repeated keys (the later line won)"),
            (result.blank_lines, "blank lines"),
        )
        if n
    ]
    for left_out in result.left_out:
        console.print(f"[yellow]left out:[/] {left_out}", soft_wrap=True)
    console.print(
        f"{verb} {result.source} into [bold]{result.table}[/]: {result.items_read:,} items read, "
        f"{result.written:,} written from {result.files} file(s)"
        + (f" of {result.exports} exports" if result.exports > 1 else "")
        + (f", {', '.join(extras)}" if extras else "")
        + f"; {result.consumed_capacity:,.1f} WCU consumed, {result.duration:,.1f} s "
        f"({rate:,.0f} items/s; {result.workers} workers, limit {result.write_rate:,.0f} WCU/s)",
        soft_wrap=True,
    )
