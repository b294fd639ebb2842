"""``ddbpipe convert``: a backup into another format, without touching a table."""

from __future__ import annotations

import click
from rich.console import Console

from ddbpipe.cli.errors import handle_errors
from ddbpipe.cli.options import input_options, plain_files, store_config, store_options
from ddbpipe.formats.detect import EXPORT_FORMATS
from ddbpipe.transfer.convert import convert_backup
from ddbpipe.transfer.export import MAX_ITEMS_PER_FILE

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
@store_options
@input_options
@handle_errors
def convert_command(
    source: str,
    dest: str,
    to_format: str,
    items_per_file: int,
    region: str | None,
    profile: str | None,
    endpoint_url: str | None,
    input_format: str | None,
    compression: str | None,
    csv_header: str | None,
    csv_delimiter: str,
) -> None:
    """Write every item of the backup at SOURCE into a new folder under DEST, in another format.

    SOURCE is anything import reads except an incremental export: a Data Pipeline
    folder, a native export, or plain files (CSV columns are all read as strings, as no
    table says their types). The items written are counted against the items read.
    Region, profile and endpoint apply to both SOURCE and DEST.
    """
    config = store_config(region, profile, endpoint_url)
    result = convert_backup(
        source,
        dest,
        to_format,
        source_store=config,
        store=config,
        max_items_per_file=items_per_file,
        plain=plain_files(input_format, compression, csv_header, csv_delimiter),
    )
    Console(highlight=False).print(
        f"converted {result.source} to {result.format} in {result.folder}: {result.items:,} "
        f"items in {len(result.files)} file(s), {result.duration:,.1f} s",
        soft_wrap=True,
    )
