"""Options shared by commands."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ddbpipe.backups.opener import PlainFiles
from ddbpipe.dynamo.client import DynamoConfig
from ddbpipe.formats.csv import CsvOptions
from ddbpipe.formats.detect import COMPRESSIONS, INPUT_FORMATS
from ddbpipe.stores import StoreConfig

__all__ = [
    "command_flags",
    "connection_options",
    "dynamo_config",
    "input_options",
    "plain_files",
    "s3_config",
    "store_config",
    "store_options",
]

F = TypeVar("F", bound=Callable[..., Any])


def store_options(command: F) -> F:
    """``--region``, ``--profile`` and ``--endpoint-url`` for where files live."""
    for option in reversed(
        [
            click.option("--region", help="AWS region of the bucket (default: from the profile)."),
            click.option("--profile", help="AWS profile to take credentials and region from."),
            click.option(
                "--endpoint-url",
                help="S3 endpoint of an S3-compatible store (MinIO, Ceph, a local server).",
            ),
        ]
    ):
        command = option(command)
    return command


def input_options(command: F) -> F:
    """How to read plain data files: ``--input-format``, ``--compression``, CSV set-up."""
    for option in reversed(
        [
            click.option(
                "--input-format",
                type=click.Choice(INPUT_FORMATS),
                help="Read SOURCE as plain files of this format (default: from the names).",
            ),
            click.option(
                "--compression",
                type=click.Choice(COMPRESSIONS),
                help="Compression of plain files (default: from .gz / .zst names).",
            ),
            click.option(
                "--csv-header",
                help="CSV column names, comma-separated; every row of every file is then data.",
            ),
            click.option(
                "--csv-delimiter",
                default=",",
                show_default=True,
                help="CSV field delimiter: one of , ; : | tab or space ('\\t' for tab).",
            ),
        ]
    ):
        command = option(command)
    return command


def plain_files(
    input_format: str | None, compression: str | None, csv_header: str | None, csv_delimiter: str
) -> PlainFiles:
    """The ``PlainFiles`` those options describe."""
    delimiter = "\t" if csv_delimiter in ("\\t", "tab") else csv_delimiter
    header = tuple(csv_header.split(",")) if csv_header is not None else None
    csv = None if header is None and delimiter == "," else CsvOptions(delimiter, header)
    return PlainFiles(format=input_format, compression=compression, csv=csv)


def store_config(region: str | None, profile: str | None, endpoint_url: str | None) -> StoreConfig:
    """The ``StoreConfig`` those options describe."""
    return StoreConfig(region=region, profile=profile, endpoint_url=endpoint_url)


def connection_options(command: F) -> F:
    """Where the table and the files live: region, profile, endpoints."""
    for option in reversed(
        [
            click.option("--region", help="AWS region of the table (default: from the profile)."),
            click.option("--profile", help="AWS profile to take credentials and region from."),
            click.option(
                "--endpoint-url", help="DynamoDB endpoint (a local or compatible server)."
            ),
            click.option("--s3-region", help="Region of the bucket, when not the table's."),
            click.option("--s3-endpoint-url", help="S3 endpoint of an S3-compatible store."),
        ]
    ):
        command = option(command)
    return command


def dynamo_config(
    region: str | None, profile: str | None, endpoint_url: str | None
) -> DynamoConfig:
    """The ``DynamoConfig`` of the connection options."""
    return DynamoConfig(region=region, profile=profile, endpoint_url=endpoint_url)


def s3_config(
    region: str | None, profile: str | None, s3_region: str | None, s3_endpoint_url: str | None
) -> StoreConfig:
    """The ``StoreConfig`` of the connection options: the table's region unless told."""
    return StoreConfig(region=s3_region or region, profile=profile, endpoint_url=s3_endpoint_url)


def command_flags(**options: str | None) -> str:
    """Options given as flags (``endpoint_url="x"`` -> `` --endpoint-url x``), for hints
    that show a command to run; options left unset are left out."""
    return "".join(
        f" --{name.replace('_', '-')} {shlex.quote(value)}"
        for name, value in options.items()
        if value
    )
