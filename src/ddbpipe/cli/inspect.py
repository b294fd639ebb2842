"""``ddbpipe inspect``: what a backup holds, and whether it is sound."""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from ddbpipe.backups.chain import open_chain
from ddbpipe.cli.errors import handle_errors
from ddbpipe.cli.options import (
    Connection,
    InputOptions,
    connection_options,
    input_options,
    json_option,
)
from ddbpipe.cli.output import job_output
from ddbpipe.formats.datapipeline import SUCCESS_NAME
from ddbpipe.transfer.inspect import BackupReport, inspect_backup
from ddbpipe.wording import plural

__all__ = ["inspect_command"]

EXIT_PROBLEMS = 4


@click.command("inspect")
@click.argument("folder")
@click.option(
    "--verify",
    is_flag=True,
    help="Parse every line and check it as an import would: manifest, item sizes, and "
    "with _table.json key and index key types.",
)
@connection_options
@input_options
@json_option
@handle_errors
def inspect_command(
    folder: str,
    verify: bool,
    connection: Connection,
    inputs: InputOptions,
    as_json: bool,
) -> None:
    """Show the format, files, item counts and size of the backup at FOLDER.

    FOLDER is a local path or s3://bucket/prefix: a Data Pipeline backup, a native export
    (or the prefix above several: the full export and the incremental exports an import
    would apply, in order), or plain files. Exits 4 if --verify finds a problem.
    """
    connection.require_s3_endpoint(folder)
    output = job_output("inspect", as_json, connection.flags())
    chain = open_chain(
        folder,
        connection.s3(),
        plain=inputs.plain(),
    )
    console = output.console
    if len(chain.backups) > 1:
        console.print(f"[bold]{chain.url}[/]: {len(chain.backups)} exports, applied in this order")
    for left_out in chain.left_out:
        console.print(f"[yellow]left out:[/] {left_out}")
    reports = [inspect_backup(backup, verify=verify) for backup in chain.backups]
    for report in reports:
        _print_report(console, report)
    ok = all(report.ok for report in reports)
    if output.json:
        output.emit(
            {
                "ok": ok,
                "exit_code": 0 if ok else EXIT_PROBLEMS,
                "results": [_document(r) for r in reports],
                "left_out": list(chain.left_out),
                "error": None,
            }
        )
    if not ok:
        sys.exit(EXIT_PROBLEMS)


def _document(report: BackupReport) -> dict[str, Any]:
    backup = report.backup
    return {
        "folder": backup.url,
        "format": backup.format,
        "changes": backup.changes,
        "finished": backup.succeeded,
        "verified": report.verified,
        "items": report.items,
        "bytes": backup.size,
        "files": [
            {
                "key": f.file.key,
                "url": f.file.url,
                "bytes": f.file.size,
                "items": f.items,
                "problems": f.problems,
                "more_problems": f.more_problems,
            }
            for f in report.files
        ],
        "problems": report.problems,
        "warnings": report.warnings,
    }


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
                f"{summary.export_to_time}), {summary.output_view or 'view not given'}"
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
        finished = f"yes ({SUCCESS_NAME})" if backup.succeeded else f"no {SUCCESS_NAME} marker"
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
        f"  {plural(len(report.files), 'data file')}, {plural(report.items, 'item')}, "
        f"{plural(backup.size, 'byte')}" + (" — every line parsed" if report.verified else "")
    )
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    problems = list(report.problems)
    for file in report.files:
        problems.extend(file.problems)
        if file.more_problems:
            problems.append(f"{file.file.url}: {plural(file.more_problems, 'more bad line')}")
    for problem in problems:
        console.print(f"[bold red]problem:[/] {problem}")
    if report.verified and not problems:
        console.print("[green]ok:[/] the backup is complete and every line is valid")
