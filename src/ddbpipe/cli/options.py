"""Options shared by commands."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from ddbpipe.stores import StoreConfig

__all__ = ["store_config", "store_options"]

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


def store_config(region: str | None, profile: str | None, endpoint_url: str | None) -> StoreConfig:
    """The ``StoreConfig`` those options describe."""
    return StoreConfig(region=region, profile=profile, endpoint_url=endpoint_url)
