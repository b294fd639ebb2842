"""``ddbpipe inspect``: what a backup holds, and whether it is sound."""

from __future__ import annotations

import sys

import click
from rich.console import Console
from rich.table import Table

from ddbpipe.backups.chain import open_chain
from ddbpipe.cli.errors import handle_errors
from ddbpipe.cli.options import input_options, plain_files, store_config, store_options
from ddbpipe.transfer.inspect import BackupReport, inspect_backup

__all__ = ["inspect_command"]

EXIT_PROBLEMS = 4


@click.command("inspect")
@click.argument("folder")
@click.option("--verify", is_flag=True, help="Parse every line and check the manifest.")
@store_options
@input_options
@handle_errors
def inspect_command(
    folder: str,
    verify: bool,
    region: str | None,
    profile: str | None,
    endpoint_url: str | None,
    input_format: str | None,
    compression: str | None,
    csv_header: str | None,
    csv_delimiter: str,
) -> None:
    """Show the format, files, item counts and size of the backup at FOLDER.

    FOLDER is a local path or s3://bucket/prefix: a Data Pipeline backup, a native export
    (or the prefix above several: the full export and the incremental exports an import
    would apply, in order), or plain files. Exits non-zero if --verify finds a problem.
    """
    chain = open_chain(
        folder,
        store_config(region, profile, endpoint_url),
        plain=plain_files(input_format, compression, csv_header, csv_delimiter),
    )
    console = Console(highlight=False)
    if len(chain.backups) > 1:
        console.print(
            f"[bold]{chain.url}[/]: {len(chain.backups)} exports, applied in this order",
            soft_wrap=True,
        )
    for left_out in chain.left_out:
        console.print(f"[yellow]left out:[/] {left_out}", soft_wrap=True)
    ok = True
    for backup in chain.backups:
        report = inspect_backup(backup, verify=verify)
        _print_report(console, report)
        ok = ok and report.ok
    if not ok:
        sys.exit(EXIT_PROBLEMS)


def _print_report(console: Console, report: BackupReport) -> None:
    backup = report.backup
    console.print(f"[bold]{backup.url}[/]")
    if backup.summary is not None:
        summary = backup.summary
        console.print(f"  format    DynamoDB native export ({summary.output_format})")
        console.print(f"  export    {summary.export_arn}, {summary.end_time}")
        if backup.changes:
            console.print(
                f"  changes   incremental export of [{summary.export_from_time}, "
                f"{summary.export_to_time}), {summary.output_view or 'view not given'}",
                soft_wrap=True,
            )
        console.print(
            f"  manifest  {len(backup.files) + len(backup.missing)} data files, "
            f"{summary.item_count:,} items (checksums verified)"
        )
    elif backup.plain:
        console.print(f"  format    plain {backup.format} files")
    else:
        manifest = "none (every visible file is read)"
        if backup.manifest is not None:
            manifest = f"version {backup.manifest.version}, {len(backup.manifest.urls)} entries"
        finished = "yes (_SUCCESS)" if backup.succeeded else "no _SUCCESS marker"
        console.print(f"  format    Data Pipeline backup ({backup.format})")
        console.print(f"  manifest  {manifest}")
        console.print(f"  finished  {finished}")
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("file")
    table.add_column("bytes", justify="right")
    table.add_column("changes" if backup.changes else "items", justify="right")
    for file in report.files:
        table.add_row(file.file.key, f"{file.file.size:,}", f"{file.items:,}")
    if report.files:
        console.print(table)
    console.print(
        f"  {len(report.files)} data file(s), {report.items:,} items, {backup.size:,} bytes"
        + (" — every line parsed" if report.verified else "")
    )
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {warning}", soft_wrap=True)
    problems = list(report.problems)
    for file in report.files:
        problems.extend(file.problems)
        if file.more_problems:
            problems.append(f"{file.file.url}: {file.more_problems} more bad line(s)")
    for problem in problems:
        console.print(f"[bold red]problem:[/] {problem}", soft_wrap=True)
    if report.verified and not problems:
        console.print("[green]ok:[/] the backup is complete and every line is valid")
