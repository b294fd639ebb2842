"""Options that mean one thing everywhere: ``--endpoint-url`` is DynamoDB's endpoint and
``--s3-endpoint-url`` S3's in every command that reaches them, and a resume command
carries every connection flag it was given."""

from __future__ import annotations

import shlex
from collections.abc import Iterator

import click
import pytest

from ddbpipe.cli import cli
from ddbpipe.cli.errors import ResumeCommand
from ddbpipe.cli.options import Connection
from ddbpipe.errors import ResumePoint

# The commands that read or write tables and files; the others manage local state.
DATA_COMMANDS = [
    "convert", "export", "import", "inspect", "pipeline resume", "pipeline run", "serve",
]  # fmt: skip


def commands(group: click.Group = cli, path: str = "") -> Iterator[tuple[str, click.Command]]:
    """Every command under ``group``, by its full name."""
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command is not None
        full = f"{path} {name}".strip()
        if isinstance(command, click.Group):
            yield from commands(command, full)
        else:
            yield full, command


def option_help(command: click.Command, flag: str) -> str | None:
    for param in command.params:
        if isinstance(param, click.Option) and flag in param.opts:
            return param.help or ""
    return None


def test_every_command_that_reaches_dynamodb_or_s3_takes_both_endpoints() -> None:
    found = {}
    for name, command in commands():
        dynamo = option_help(command, "--endpoint-url")
        s3 = option_help(command, "--s3-endpoint-url")
        if dynamo is not None or s3 is not None:
            found[name] = (dynamo, s3)
    # ddbpipe worker's --endpoint-url is the Data Pipeline service it polls, as AWS's
    # Task Runner names it; its jobs' DynamoDB is --dynamodb-endpoint-url.
    worker = found.pop("worker")
    assert "Data Pipeline service" in (worker[0] or "")
    assert "S3 endpoint" in (worker[1] or "")
    assert sorted(found) == DATA_COMMANDS
    for name, (dynamo, s3) in found.items():
        assert (dynamo or "").startswith("DynamoDB endpoint"), name
        assert (s3 or "").startswith("S3 endpoint"), name


@pytest.mark.parametrize("name", [n for n in DATA_COMMANDS if n != "serve"])
def test_jobs_take_the_region_and_profile_of_each_side(name: str) -> None:
    command = dict(commands())[name]
    for flag in ("--region", "--s3-region", "--profile"):
        assert option_help(command, flag), (name, flag)


def test_a_resume_command_keeps_every_connection_flag_given() -> None:
    resume = ResumeCommand()
    resume.connection = Connection(
        region="eu-west-1",
        profile="backup admin",
        endpoint_url="http://127.0.0.1:8000",
        s3_region="us-east-2",
        s3_endpoint_url="http://127.0.0.1:9000",
    ).flags()
    resume.options = {"on_error": "skip", "rejects": "/tmp/r.jsonl"}
    point = ResumePoint(job="import", location="s3://b/backups/2026-11-30", table="Orders")
    words = shlex.split(resume.text(point))
    assert words == [
        "ddbpipe", "import", "--resume", "s3://b/backups/2026-11-30", "Orders",
        "--region", "eu-west-1", "--profile", "backup admin",
        "--endpoint-url", "http://127.0.0.1:8000", "--s3-region", "us-east-2",
        "--s3-endpoint-url", "http://127.0.0.1:9000",
        "--on-error", "skip", "--rejects", "/tmp/r.jsonl",
    ]  # fmt: skip


def test_flags_not_given_are_left_out_of_the_resume_command() -> None:
    resume = ResumeCommand()
    resume.connection = Connection(profile="prod").flags()
    words = shlex.split(resume.finish_export("/data/out/2026-11-30-14-05-00"))
    assert words == [
        "ddbpipe", "export", "--resume", "/data/out/2026-11-30-14-05-00", "--profile", "prod",
    ]  # fmt: skip
