"""The ``ddbpipe`` command: the only code that prints or exits.

Each command's module is imported only when that command runs (or help lists them), so
that ``ddbpipe export`` does not pay for the server or the pipeline engine.
"""

from __future__ import annotations

import importlib

import click

from ddbpipe._version import __version__
from ddbpipe.transfer.worker import own_process

__all__ = ["cli", "main"]

# Command name -> "module:attribute" of its click command.
COMMANDS = {
    "convert": "ddbpipe.cli.convert:convert_command",
    "demo": "ddbpipe.cli.demo:demo_command",
    "export": "ddbpipe.cli.export:export_command",
    "groups": "ddbpipe.cli.identities:groups_command",
    "import": "ddbpipe.cli.import_:import_command",
    "inspect": "ddbpipe.cli.inspect:inspect_command",
    "pipeline": "ddbpipe.cli.pipeline:pipeline_group",
    "roles": "ddbpipe.cli.identities:roles_command",
    "serve": "ddbpipe.cli.serve:serve_command",
    "users": "ddbpipe.cli.identities:users_command",
    "worker": "ddbpipe.cli.worker:worker_command",
}


class _LazyGroup(click.Group):
    """A group whose commands are imported when first asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, _, attribute = COMMANDS[cmd_name].partition(":")
            command: click.Command = getattr(importlib.import_module(module), attribute)
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ddbpipe")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
def cli(debug: bool) -> None:
    """Move DynamoDB tables to and from S3, in the Data Pipeline backup format."""


def main() -> None:
    """Entry point of the ``ddbpipe`` command."""
    own_process()  # this process runs ddbpipe's jobs only: hot loops may pause the collector
    cli(prog_name="ddbpipe")
