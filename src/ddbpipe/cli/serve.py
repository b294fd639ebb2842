"""``ddbpipe serve``: the AWS Data Pipeline API on a local port, for boto3 and the AWS
CLI with ``--endpoint-url``.

The command builds the server's configuration from its options, opens the identity
store, and runs the ASGI app under uvicorn until SIGTERM or Ctrl-C, which finish the
requests in flight and stop the background services (the scheduler checkpoints the
attempts it runs). ``make_serve_command`` builds the command around the operations and
background services to run, and the web console; by default they are the pipeline
engine's (``ddbpipe.server.pipeline_service``), made once per server and shared by all
three.
"""

from __future__ import annotations

import copy
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ddbpipe.cli.errors import handle_errors
from ddbpipe.cli.options import dask_option, state_option
from ddbpipe.cli.output import err_console
from ddbpipe.dynamo.client import DynamoConfig
from ddbpipe.errors import ConfigError
from ddbpipe.server.clock import SYSTEM_CLOCK, Clock
from ddbpipe.server.config import (
    DEFAULT_HOST,
    DEFAULT_POLL_WAIT,
    DEFAULT_PORT,
    DEFAULT_REGION,
    DEFAULT_THREADS,
    ServerConfig,
)
from ddbpipe.server.identities import IdentityStore
from ddbpipe.server.operations import OperationTable
from ddbpipe.server.rate_limits import parse_rate_limits
from ddbpipe.server.shapes import operation_names
from ddbpipe.stores import StoreConfig

if TYPE_CHECKING:
    from ddbpipe.server.app import BackgroundService, ConsoleRoutes
    from ddbpipe.server.pipeline_service import PipelineService

__all__ = [
    "GRACEFUL_SHUTDOWN_SECONDS",
    "make_serve_command",
    "run_server",
    "serve_command",
    "server_config",
]

GRACEFUL_SHUTDOWN_SECONDS = 30

OperationsFactory = Callable[[ServerConfig, IdentityStore], OperationTable]
ServicesFactory = Callable[[ServerConfig, IdentityStore], Sequence["BackgroundService"]]
ConsoleFactory = Callable[[ServerConfig, IdentityStore, OperationTable], "ConsoleRoutes | None"]


_PIPELINES: weakref.WeakKeyDictionary[IdentityStore, PipelineService] = weakref.WeakKeyDictionary()


def _pipeline_service(
    config: ServerConfig, store: IdentityStore, clock: Clock = SYSTEM_CLOCK
) -> PipelineService:
    """The pipeline side of the server over ``store``, made on first use."""
    from ddbpipe.server.pipeline_service import PipelineService

    service = _PIPELINES.get(store)
    if service is None:
        service = _PIPELINES[store] = PipelineService(config, store, clock=clock)
    return service


def server_operations(config: ServerConfig, store: IdentityStore) -> OperationTable:
    """The operations the server answers: the 19 of the Data Pipeline API."""
    return _pipeline_service(config, store).operations()


def server_services(config: ServerConfig, store: IdentityStore) -> Sequence[BackgroundService]:
    """What runs beside the API: the pipeline scheduler."""
    return _pipeline_service(config, store).services()


def server_console(
    config: ServerConfig, store: IdentityStore, operations: OperationTable
) -> ConsoleRoutes:
    """The web console over the pipeline service, acting through ``operations``."""
    return _pipeline_service(config, store).console(operations)


def clocked_console(clock: Clock) -> ConsoleFactory:
    """``server_console`` on ``clock``."""

    def console(
        config: ServerConfig, store: IdentityStore, operations: OperationTable
    ) -> ConsoleRoutes:
        return _pipeline_service(config, store, clock).console(operations)

    return console


def clocked_operations(clock: Clock) -> OperationsFactory:
    """``server_operations`` on ``clock`` (a test's movable clock)."""

    def operations(config: ServerConfig, store: IdentityStore) -> OperationTable:
        return _pipeline_service(config, store, clock).operations()

    return operations


def clocked_services(clock: Clock) -> ServicesFactory:
    """``server_services`` on ``clock``."""

    def services(config: ServerConfig, store: IdentityStore) -> Sequence[BackgroundService]:
        return _pipeline_service(config, store, clock).services()

    return services


def _log_config() -> dict[str, Any]:
    import uvicorn.config

    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["loggers"]["ddbpipe.server"] = {
        "handlers": ["default"],
        "level": "INFO",
        "propagate": False,
    }
    return config


def make_serve_command(
    operations: OperationsFactory = server_operations,
    services: ServicesFactory = server_services,
    clock: Clock = SYSTEM_CLOCK,
    console: ConsoleFactory | None = server_console,
) -> click.Command:
    """The ``serve`` command, answering the operations ``operations`` gives and running
    the ``services`` beside them, with the web ``console`` (none when ``None``), on
    ``clock``."""

    @click.command("serve")
    @click.option("--host", default=DEFAULT_HOST, show_default=True, help="Address to listen on.")
    @click.option(
        "--port", type=int, default=DEFAULT_PORT, show_default=True, help="Port to listen on."
    )
    @state_option
    @click.option(
        "--region",
        default=DEFAULT_REGION,
        show_default=True,
        help="The API's region: clients sign for it (STS also accepts us-east-1). Also the "
        "default region of the pipelines' tables and buckets.",
    )
    @click.option(
        "--account-id",
        help="The 12-digit account in every ARN (default: the state folder's, "
        "123456789012 when new).",
    )
    @click.option(
        "--local-root",
        type=click.Path(file_okay=False, path_type=Path),
        help="The only folder pipelines may read and write on this machine (default: none, "
        "only S3).",
    )
    @click.option(
        "--rate-limit",
        "rate_limits",
        multiple=True,
        metavar="OP=RATE/BURST",
        help="Calls a second and burst per user for an operation (* for the others), or "
        "'off'. Repeat. Default: the service's limits (1/100; 2/100 for DescribeObjects, "
        "PollForTask, QueryObjects; 10/100 for ReportTaskProgress, SetTaskStatus).",
    )
    @click.option("--endpoint-url", help="DynamoDB endpoint of the pipelines' tables.")
    @click.option("--s3-endpoint-url", help="S3 endpoint of the pipelines' buckets.")
    @click.option("--sns-endpoint-url", help="SNS endpoint for the pipelines' SnsAlarm actions.")
    @dask_option
    @click.option(
        "--workers",
        type=int,
        help="Worker processes of each pipeline job (default: one per core); with --dask, "
        "tasks run at once.",
    )
    @click.option(
        "--max-rcu",
        type=float,
        help="Read capacity that export ratios are taken of, instead of the table's.",
    )
    @click.option(
        "--max-wcu",
        type=float,
        help="Write capacity that import ratios are taken of, instead of the table's.",
    )
    @click.option(
        "--poll-wait",
        type=float,
        default=DEFAULT_POLL_WAIT,
        show_default=True,
        help="Seconds a PollForTask waits for a task before answering with none (at most 90).",
    )
    @click.option(
        "--threads",
        type=int,
        default=DEFAULT_THREADS,
        show_default=True,
        help="Requests served at once; the others wait their turn.",
    )
    @click.option(
        "--backup-prefix",
        "backup_prefixes",
        multiple=True,
        metavar="URL",
        help="An S3 URL or local folder (under --local-root) whose backups the console's "
        "Backups page lists. Repeat.",
    )
    @click.option(
        "--trusted-proxy",
        "trusted_proxies",
        multiple=True,
        metavar="ADDRESS",
        help="A reverse proxy whose X-Forwarded-Proto and X-Forwarded-For the console "
        "believes (for Secure cookies and sign-in limits). Repeat.",
    )
    @click.option(
        "--signature-hints/--no-signature-hints",
        default=True,
        show_default=True,
        help="Put the canonical request and string to sign the server expected in "
        "signature errors, as AWS does (they repeat the signed headers).",
    )
    @handle_errors
    def serve(
        host: str,
        port: int,
        state: Path,
        region: str,
        account_id: str | None,
        local_root: Path | None,
        rate_limits: tuple[str, ...],
        endpoint_url: str | None,
        s3_endpoint_url: str | None,
        sns_endpoint_url: str | None,
        dask: str | None,
        workers: int | None,
        max_rcu: float | None,
        max_wcu: float | None,
        poll_wait: float,
        threads: int,
        backup_prefixes: tuple[str, ...],
        trusted_proxies: tuple[str, ...],
        signature_hints: bool,
    ) -> None:
        """Serve the AWS Data Pipeline API (and STS's GetSessionToken and
        GetCallerIdentity) for boto3 and the AWS CLI with --endpoint-url.

        Every request must be signed with the access key of a user added with
        ddbpipe users add. The web console is at /console (sign in with an
        access key or a console password). Active pipelines run in this process (their jobs reach
        DynamoDB at --endpoint-url and S3 at --s3-endpoint-url, or run on the Dask
        cluster at --dask); workerGroup activities go to `ddbpipe worker`. Stops
        cleanly on SIGTERM or Ctrl-C, checkpointing running attempts.
        """
        config = server_config(
            state=state,
            host=host,
            port=port,
            region=region,
            account_id=account_id,
            local_root=local_root,
            rate_limits=parse_rate_limits(rate_limits, operation_names()),
            endpoint_url=endpoint_url,
            s3_endpoint_url=s3_endpoint_url,
            signature_hints=signature_hints,
            dask=dask,
            workers=workers,
            max_rcu=max_rcu,
            max_wcu=max_wcu,
            sns_endpoint_url=sns_endpoint_url,
            poll_wait=poll_wait,
            threads=threads,
            backup_prefixes=backup_prefixes,
            trusted_proxies=trusted_proxies,
        )
        run_server(config, operations, services, clock, console)

    return serve


def server_config(
    *,
    state: Path,
    region: str = DEFAULT_REGION,
    local_root: Path | None = None,
    endpoint_url: str | None = None,
    s3_endpoint_url: str | None = None,
    signature_hints: bool = True,
    **options: Any,
) -> ServerConfig:
    """The server's configuration from the command's options; ``ConfigError`` with
    every problem."""
    config = ServerConfig(
        state_dir=state,
        region=region,
        local_root=local_root.resolve() if local_root is not None else None,
        dynamo=DynamoConfig(region=region, endpoint_url=endpoint_url),
        s3=StoreConfig(region=region, endpoint_url=s3_endpoint_url),
        signature_hints=signature_hints,
        **options,
    )
    problems = config.problems()
    if problems:
        raise ConfigError(problems)
    return config


class _StoreCloser:
    """Closes the identity store when the server has shut down: uvicorn then raises the
    stopping signal again, and the process ends without returning here."""

    def __init__(self, store: IdentityStore) -> None:
        self.store = store

    async def start(self) -> None:
        """Nothing to start."""

    async def stop(self) -> None:
        """Close the store's connections."""
        self.store.close()


def run_server(
    config: ServerConfig,
    operations: OperationsFactory = server_operations,
    services: ServicesFactory = server_services,
    clock: Clock = SYSTEM_CLOCK,
    console: ConsoleFactory | None = server_console,
    *,
    announce: Callable[[str], None] | None = None,
) -> None:
    """Run the server until SIGTERM or Ctrl-C; ``announce`` is told its console URL
    once it listens."""
    try:
        import uvicorn

        from ddbpipe.server.app import create_app
    except ImportError as error:
        raise ConfigError(
            f"ddbpipe serve needs the server extra ({error.name} is missing): "
            "pip install 'ddbpipe[server]'"
        ) from None

    store = IdentityStore(config.state_dir, clock=clock.now, account_id=config.account_id)
    try:
        table = operations(config, store)
        background = [_StoreCloser(store), *services(config, store)]  # stopped last
        web = console(config, store, table) if console is not None else None
        app = create_app(config, store, table, clock=clock, services=background, console=web)
        url = f"http://{config.host}:{config.port}"
        err_console.print(
            f"ddbpipe serve: the Data Pipeline API on {url} "
            f"(region {config.region}, account {store.account_id}, state {config.state_dir}, "
            f"{len(table)} operations)",
            markup=False,
            highlight=False,
        )
        if web is not None:
            err_console.print(f"the web console: {url}/console", markup=False, highlight=False)
        if announce is not None:
            announce(f"{url}/console")
        if store.user_count() == 0:
            err_console.print(
                "No users yet, so every request is refused. Add one (while the server runs) "
                f"with: ddbpipe users add NAME --state {config.state_dir}",
                markup=False,
                highlight=False,
            )
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                host=config.host,
                port=config.port,
                access_log=False,
                log_config=_log_config(),
                lifespan="on",
                timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
            )
        )
        server.run()
    finally:
        store.close()


serve_command = make_serve_command()
