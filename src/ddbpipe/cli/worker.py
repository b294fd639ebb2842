"""``ddbpipe worker``: a task runner for a Data Pipeline service (``ddbpipe serve``, or
any server of the API) that runs the activities of one worker group on this machine."""

from __future__ import annotations

import logging
import socket
import sys
from pathlib import Path

import click

from ddbpipe.cli.errors import handle_errors
from ddbpipe.cli.options import state_dir
from ddbpipe.cli.output import err_console
from ddbpipe.cli.signals import job_signals, stopping_signal
from ddbpipe.dynamo.client import DynamoConfig
from ddbpipe.errors import ConfigError
from ddbpipe.pipeline.settings import RunnerConfig
from ddbpipe.pipeline.taskrunner import (
    DEFAULT_HEARTBEAT_INTERVAL,
    TaskResult,
    TaskRunner,
    TaskRunnerConfig,
)
from ddbpipe.stores import StoreConfig

__all__ = ["worker_command"]

_READ_TIMEOUT = 120  # seconds: longer than any PollForTask wait


def _print_result(result: TaskResult) -> None:
    outcome = result.outcome
    what: str = outcome.status
    if outcome.error_message:
        what += f": {outcome.error_message}"
    elif outcome.summary:
        what += f": {outcome.summary}"
    err_console.print(
        f"{result.attempt_id} ({result.pipeline_id}) {what}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


@click.command("worker")
@click.option(
    "--endpoint-url",
    required=True,
    help="The Data Pipeline service to take tasks from (http://host:8080 for ddbpipe serve).",
)
@click.option("--worker-group", required=True, help="Run the activities whose workerGroup is this.")
@click.option(
    "--region",
    help="Region the service's requests are signed for; also the tables' default region.",
)
@click.option("--profile", help="AWS profile: credentials for the service and the jobs.")
@click.option("--dynamodb-endpoint-url", help="DynamoDB endpoint of the jobs' tables.")
@click.option("--s3-endpoint-url", help="S3 endpoint of the jobs' buckets.")
@click.option("--s3-region", help="Region of the buckets, when not the tables'.")
@click.option("--workers", type=int, help="Worker processes of each job (default: one per core).")
@click.option("--max-rcu", type=float, help="Read capacity that export ratios are taken of.")
@click.option("--max-wcu", type=float, help="Write capacity that import ratios are taken of.")
@click.option("--hostname", help="This task runner's name in the service (default: the host's).")
@click.option(
    "--heartbeat-interval",
    type=float,
    default=DEFAULT_HEARTBEAT_INTERVAL,
    show_default=True,
    help="Seconds between ReportTaskRunnerHeartbeat calls.",
)
@click.option(
    "--state",
    metavar="DIR",
    help="Folder for import checkpoints and the logs of tasks without a pipelineLogUri "
    "(default: $XDG_STATE_HOME/ddbpipe, else ~/.local/state/ddbpipe).",
)
@handle_errors
def worker_command(
    endpoint_url: str,
    worker_group: str,
    region: str | None,
    profile: str | None,
    dynamodb_endpoint_url: str | None,
    s3_endpoint_url: str | None,
    s3_region: str | None,
    workers: int | None,
    max_rcu: float | None,
    max_wcu: float | None,
    hostname: str | None,
    heartbeat_interval: float,
    state: str | None,
) -> None:
    """Take the tasks of the worker group --worker-group from the service at
    --endpoint-url and run them here, as AWS Data Pipeline's Task Runner did.

    Requests are signed with the usual AWS credentials (--profile, the environment);
    the caller needs datapipeline:PollForTask, ReportTaskProgress,
    ReportTaskRunnerHeartbeat and SetTaskStatus for the worker group. The jobs reach
    DynamoDB and S3 with the same credentials. Ctrl-C or SIGTERM stops the job under
    way with its checkpoint and hands its task back to the service, for the next task
    runner to go on from there.
    """
    import boto3
    from botocore.config import Config

    if heartbeat_interval <= 0:
        raise ConfigError("--heartbeat-interval must be more than 0 seconds")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    session = boto3.session.Session(profile_name=profile, region_name=region)
    if session.region_name is None:
        raise ConfigError("give --region (or a profile with a region): requests are signed for it")
    client = session.client(
        "datapipeline",
        endpoint_url=endpoint_url,
        config=Config(read_timeout=_READ_TIMEOUT, retries={"max_attempts": 3}),
    )
    jobs = RunnerConfig(
        dynamo=DynamoConfig(
            region=session.region_name, profile=profile, endpoint_url=dynamodb_endpoint_url
        ),
        store=StoreConfig(
            region=s3_region or session.region_name, profile=profile, endpoint_url=s3_endpoint_url
        ),
        workers=workers,
        max_rcu=max_rcu,
        max_wcu=max_wcu,
    )
    config = TaskRunnerConfig(
        worker_group=worker_group,
        state_dir=Path(state).expanduser().absolute() if state else Path(state_dir()),
        jobs=jobs,
        hostname=hostname or socket.gethostname(),
        heartbeat_interval=heartbeat_interval,
    )
    err_console.print(
        f"ddbpipe worker {config.taskrunner_id}: tasks of worker group {worker_group!r} from "
        f"{endpoint_url}",
        markup=False,
        highlight=False,
    )
    with job_signals() as stop:
        TaskRunner(client, config, stop=stop, on_task=_print_result).run()
    signum = stopping_signal()
    if signum is not None:
        err_console.print("stopped", markup=False, highlight=False)
        sys.exit(128 + signum)
