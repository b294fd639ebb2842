"""The ``ddbpipe`` command: the only code that prints or exits."""

from __future__ import annotations

import click

from ddbpipe._version import __version__
from ddbpipe.cli.convert import convert_command
from ddbpipe.cli.demo import demo_command
from ddbpipe.cli.export import export_command
from ddbpipe.cli.identities import groups_command, roles_command, users_command
from ddbpipe.cli.import_ import import_command
from ddbpipe.cli.inspect import inspect_command
from ddbpipe.cli.pipeline import pipeline_group
from ddbpipe.cli.serve import serve_command
from ddbpipe.transfer.worker import own_process

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ddbpipe")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
def cli(debug: bool) -> None:
    """Move DynamoDB tables to and from S3, in the Data Pipeline backup format."""


cli.add_command(inspect_command)
cli.add_command(convert_command)
cli.add_command(demo_command)
cli.add_command(export_command)
cli.add_command(import_command)
cli.add_command(pipeline_group)
cli.add_command(serve_command)
cli.add_command(users_command)
cli.add_command(groups_command)
cli.add_command(roles_command)


def main() -> None:
    """Entry point of the ``ddbpipe`` command."""
    own_process()  # this process runs ddbpipe's jobs only: hot loops may pause the collector
    cli(prog_name="ddbpipe")
