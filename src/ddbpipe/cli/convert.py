"""``ddbpipe convert``: a backup into another format, without touching a table."""

from __future__ import annotations

from dataclasses import asdict

import click

from ddbpipe.cli.errors import handle_errors
from ddbpipe.cli.options import (
    Connection,
    InputOptions,
    connection_options,
    dask_option,
    input_options,
    json_option,
)
from ddbpipe.cli.output import job_output
from ddbpipe.cli.progress import progress_reporter
from ddbpipe.cli.signals import job_signals
from ddbpipe.formats.detect import EXPORT_FORMATS
from ddbpipe.transfer.convert import convert_backup
from ddbpipe.transfer.export import MAX_ITEMS_PER_FILE
from ddbpipe.wording import plural

__all__ = ["convert_command"]


@click.command("convert")
@click.argument("source")
@click.argument("dest")
@click.option(
    "--to",
    "to_format",
    type=click.Choice(list(EXPORT_FORMATS)),
    required=True,
    help="The format to write.",
)
@click.option(
    "--items-per-file",
    type=int,
    default=MAX_ITEMS_PER_FILE,
    show_default=True,
    help="Most items in one data file.",
)
@connection_options
@input_options
@dask_option
@json_option
@handle_errors
def convert_command(
    source: str,
    dest: str,
    to_format: str,
    items_per_file: int,
    connection: Connection,
    inputs: InputOptions,
    dask: str | None,
    as_json: bool,
) -> None:
    """Write every item of the backup at SOURCE into a new folder under DEST, in another format.

    SOURCE is anything import reads except an incremental export: a Data Pipeline
    folder, a native export, or plain files (CSV columns are all read as strings, as no
    table says their types). The items written are counted against the items read. The S3
    options apply to both SOURCE and DEST. A conversion that fails or is stopped removes
    what it wrote.
    """
    connection.require_s3_endpoint(source, dest)
    output = job_output("convert", as_json, connection.flags())
    config = connection.s3()
    with job_signals() as cancel, progress_reporter("convert") as report:
        result = convert_backup(
            source,
            dest,
            to_format,
            source_store=config,
            store=config,
            max_items_per_file=items_per_file,
            plain=inputs.plain(),
            cancel=cancel,
            on_progress=report,
            dask=dask,
        )
    output.console.print(
        f"converted {result.source} to {result.format} in {result.folder}: "
        f"{plural(result.items, 'item')} in {plural(len(result.files), 'file')}, "
        f"{result.duration:,.1f} s"
    )
    output.results([{**asdict(result), "files": list(result.files)}])
