"""The Tables and Backups pages.

Tables: the tables at the server's DynamoDB endpoint that the user may export
(``dynamodb:Scan`` on the table's ARN) or import into (``dynamodb:BatchWriteItem``);
others are not listed. Backups: the backups under the server's ``--backup-prefix``
folders; an S3 prefix is listed only to users allowed ``s3:ListBucket`` on its bucket.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.responses import Response

from ddbpipe.dynamo.table import TableInfo
from ddbpipe.errors import DdbpipeError
from ddbpipe.server.authorization import AuthorizationKeys
from ddbpipe.server.console.access import table_arn
from ddbpipe.server.console.catalog import BackupEntry, find_backups
from ddbpipe.server.console.site import Console, View
from ddbpipe.server.errors import ApiError
from ddbpipe.server.local_paths import check_local_path
from ddbpipe.stores import split_s3_url

__all__ = ["TableRow", "register"]


@dataclass(frozen=True)
class TableRow:
    """A table and what the user may do with it."""

    table: TableInfo
    region: str
    export: bool
    restore: bool


def tables_page(console: Console, view: View) -> Response:
    """The tables the user may export or import into."""
    user = view.signed_in
    rows: list[TableRow] = []
    problem = ""
    try:
        region = console.catalog.region
        for table in console.catalog.tables():
            keys = AuthorizationKeys(resource=table_arn(region, console.account_id, table.name))
            export = user.allowed("dynamodb:Scan", keys)
            restore = user.allowed("dynamodb:BatchWriteItem", keys)
            if export or restore:
                rows.append(TableRow(table, region, export, restore))
    except DdbpipeError as error:
        problem = f"The server's DynamoDB cannot be listed: {error}"
    return console.render(view, "tables.html", rows=rows, problem=problem)


def backups_page(console: Console, view: View) -> Response:
    """The backups under the server's backup prefixes."""
    user = view.signed_in
    sections: list[tuple[str, list[BackupEntry], str]] = []
    for prefix in console.config.backup_prefixes:
        location = prefix
        if prefix.startswith("s3://"):
            bucket, _ = split_s3_url(prefix)
            if not user.allowed(
                "s3:ListBucket", AuthorizationKeys(resource=f"arn:aws:s3:::{bucket}")
            ):
                continue
        else:
            try:
                location = str(check_local_path(prefix, console.config.local_root))
            except ApiError as error:
                sections.append((prefix, [], error.message))
                continue
        try:
            sections.append((prefix, find_backups(location, console.config.s3), ""))
        except DdbpipeError as error:
            sections.append((prefix, [], str(error)))
    return console.render(
        view,
        "backups.html",
        sections=sections,
        configured=bool(console.config.backup_prefixes),
    )


def register(console: Console) -> None:
    """Add the Tables and Backups pages."""
    console.page("/tables", tables_page)
    console.page("/backups", backups_page)
