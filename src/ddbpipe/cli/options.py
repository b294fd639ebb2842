"""Options shared by commands, meaning one thing everywhere.

``--endpoint-url`` and ``--region`` are DynamoDB's, ``--s3-endpoint-url`` and
``--s3-region`` S3's (the bucket's region defaults to the table's), ``--profile`` gives
credentials for both. ``--json`` prints the result as one JSON object. ``--dask`` (or
``DDBPIPE_DASK_SCHEDULER``) runs a job's tasks on an existing Dask cluster.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from ddbpipe.backups.opener import PlainFiles
from ddbpipe.dynamo.client import DynamoConfig
from ddbpipe.errors import ConfigError
from ddbpipe.formats.csv import CsvOptions
from ddbpipe.formats.detect import COMPRESSIONS, INPUT_FORMATS
from ddbpipe.stores import StoreConfig

__all__ = [
    "DASK_ENVVAR",
    "Connection",
    "connection_options",
    "dask_option",
    "input_options",
    "json_option",
    "state_dir",
    "state_option",
]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Connection:
    """Where the table and the files live, as the connection options say."""

    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    s3_region: str | None = None
    s3_endpoint_url: str | None = None

    def dynamo(self) -> DynamoConfig:
        """The DynamoDB side."""
        return DynamoConfig(
            region=self.region, profile=self.profile, endpoint_url=self.endpoint_url
        )

    def s3(self) -> StoreConfig:
        """The S3 side: the table's region unless told."""
        return StoreConfig(
            region=self.s3_region or self.region,
            profile=self.profile,
            endpoint_url=self.s3_endpoint_url,
        )

    def flags(self) -> dict[str, str | None]:
        """The options as given, for a command to run again."""
        return {
            "region": self.region,
            "profile": self.profile,
            "endpoint_url": self.endpoint_url,
            "s3_region": self.s3_region,
            "s3_endpoint_url": self.s3_endpoint_url,
        }

    def require_s3_endpoint(self, *locations: str) -> None:
        """Refuse ``--endpoint-url`` alone for a command that only reads S3: it is
        DynamoDB's endpoint, and S3 would go to AWS."""
        if (
            self.endpoint_url
            and not self.s3_endpoint_url
            and any(
                location.lower().startswith(("s3://", "s3a://", "s3n://")) for location in locations
            )
        ):
            raise ConfigError(
                "--endpoint-url is DynamoDB's endpoint; give the S3 endpoint with --s3-endpoint-url"
            )


_CONNECTION_OPTIONS = (
    click.option("--region", help="AWS region of the table (default: from the profile)."),
    click.option("--profile", help="AWS profile to take credentials and region from."),
    click.option("--endpoint-url", help="DynamoDB endpoint (a local or compatible server)."),
    click.option("--s3-region", help="Region of the bucket, when not the table's."),
    click.option("--s3-endpoint-url", help="S3 endpoint of an S3-compatible store."),
)
_CONNECTION_NAMES = ("region", "profile", "endpoint_url", "s3_region", "s3_endpoint_url")


def connection_options(command: F) -> F:
    """Add the connection options; the command receives them as ``connection``."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        values = {name: kwargs.pop(name) for name in _CONNECTION_NAMES}
        return command(*args, connection=Connection(**values), **kwargs)

    for option in reversed(_CONNECTION_OPTIONS):
        wrapper = option(wrapper)
    return wrapper  # type: ignore[return-value]


DASK_ENVVAR = "DDBPIPE_DASK_SCHEDULER"

dask_option = click.option(
    "--dask",
    metavar="ADDRESS",
    envvar=DASK_ENVVAR,
    help="Run the tasks on the Dask cluster whose scheduler is at ADDRESS (tcp://host:8786; "
    f"default: ${DASK_ENVVAR}, else this machine). Workers use their own AWS credentials "
    "and must reach DEST or SOURCE: use S3, or a folder every worker sees.",
)

json_option = click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the result (or the error) as one JSON object on stdout; text goes to stderr.",
)


@dataclass(frozen=True)
class InputOptions:
    """How to read plain data files, as the input options say."""

    input_format: str | None = None
    compression: str | None = None
    csv_header: str | None = None
    csv_delimiter: str = ","

    def plain(self) -> PlainFiles:
        """The ``PlainFiles`` the options describe."""
        delimiter = "\t" if self.csv_delimiter in ("\\t", "tab") else self.csv_delimiter
        header = tuple(self.csv_header.split(",")) if self.csv_header is not None else None
        csv = None if header is None and delimiter == "," else CsvOptions(delimiter, header)
        return PlainFiles(format=self.input_format, compression=self.compression, csv=csv)

    def flags(self) -> dict[str, str | None]:
        """The options as given (defaults left out), for a command to run again."""
        return {
            "input_format": self.input_format,
            "compression": self.compression,
            "csv_header": self.csv_header,
            "csv_delimiter": None if self.csv_delimiter == "," else self.csv_delimiter,
        }


_INPUT_OPTIONS = (
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
)
_INPUT_NAMES = ("input_format", "compression", "csv_header", "csv_delimiter")


def input_options(command: F) -> F:
    """Add the options that say how to read plain data files; the command receives them
    as ``inputs``."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        values = {name: kwargs.pop(name) for name in _INPUT_NAMES}
        return command(*args, inputs=InputOptions(**values), **kwargs)

    for option in reversed(_INPUT_OPTIONS):
        wrapper = option(wrapper)
    return wrapper  # type: ignore[return-value]


def state_dir() -> str:
    """ddbpipe's state folder: ``$XDG_STATE_HOME/ddbpipe``, else ``~/.local/state/ddbpipe``."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(Path.home(), ".local", "state")
    return os.path.join(base, "ddbpipe")


state_option = click.option(
    "--state",
    "state",
    type=click.Path(file_okay=False, path_type=Path),
    default=state_dir,
    show_default="$XDG_STATE_HOME/ddbpipe, else ~/.local/state/ddbpipe",
    help="ddbpipe's state folder: checkpoints, the server's identities and pipelines.",
)
