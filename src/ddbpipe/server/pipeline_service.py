"""The pipeline engine behind ``ddbpipe serve``: its state, the 19 operations, the
scheduler and the task board, made once per server.

The state is ``pipelines.sqlite3`` in the server's state folder, the file ``ddbpipe
pipeline`` commands read too. ``operations`` gives the handlers
(``ddbpipe.server.api_pipelines``, ``api_definitions``, ``api_objects``, ``api_tasks``);
``services`` the background services to start with the server: the scheduler, and what
closes the state once it has stopped; ``console`` the web console over the same engine.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from ddbpipe.pipeline.clock import SystemClock
from ddbpipe.pipeline.engine import PipelineEngine
from ddbpipe.pipeline.state import StateStore
from ddbpipe.server.api_definitions import definition_operations
from ddbpipe.server.api_objects import object_operations
from ddbpipe.server.api_pipelines import pipeline_operations
from ddbpipe.server.api_tasks import TaskBoard, task_operations
from ddbpipe.server.clock import SYSTEM_CLOCK, Clock
from ddbpipe.server.config import ServerConfig
from ddbpipe.server.console.progress import ProgressBoard
from ddbpipe.server.identities import IdentityStore
from ddbpipe.server.operations import OperationTable
from ddbpipe.server.pipeline_access import RoleAccess
from ddbpipe.server.scheduler import DEFAULT_SCAN_INTERVAL, PipelineScheduler
from ddbpipe.server.service_context import ServiceContext

if TYPE_CHECKING:
    from ddbpipe.server.console import ConsoleApp

__all__ = ["AUTOCHECKPOINT_PAGES", "PipelineService"]

AUTOCHECKPOINT_PAGES = 20_000
"""The write-ahead log the server lets grow (80 MB) before a commit copies it back; the
scheduler checkpoints it every few seconds (``ddbpipe.pipeline.state``)."""


class _EngineClock(SystemClock):
    """The server's clock as the pipeline engine reads it; waits are real time."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def now(self) -> datetime:
        return self.clock.now()


class _StateCloser:
    """Closes the state database once the scheduler has stopped."""

    def __init__(self, state: StateStore) -> None:
        self.state = state

    async def start(self) -> None:
        """Nothing to start."""

    async def stop(self) -> None:
        """Close the database."""
        self.state.close()


class PipelineService:
    """A server's pipelines (see the module doc); ``scan_interval`` is how often the
    scheduler looks for pipelines to run."""

    def __init__(
        self,
        config: ServerConfig,
        store: IdentityStore,
        *,
        clock: Clock = SYSTEM_CLOCK,
        scan_interval: float = DEFAULT_SCAN_INTERVAL,
    ) -> None:
        self.config = config
        self.state = StateStore.in_folder(config.state_dir, autocheckpoint=AUTOCHECKPOINT_PAGES)
        self.engine = PipelineEngine(self.state, clock=_EngineClock(clock))
        self.board = TaskBoard()
        self.access = RoleAccess(
            store, region=config.region, local_root=config.local_root, clock=clock
        )
        runner_config = config.runner_config()
        self.progress = ProgressBoard()
        self.clock = clock
        self.scheduler = PipelineScheduler(
            self.engine,
            state_dir=config.state_dir,
            config=runner_config,
            offers=self.board,
            access=self.access,
            interval=scan_interval,
            listeners=[self.progress.listen],
        )
        self.context = ServiceContext(
            config, store, self.engine, self.scheduler, self.board, self.access, runner_config
        )

    def operations(self) -> OperationTable:
        """The 19 operations of the Data Pipeline API."""
        ctx = self.context
        return OperationTable(
            [
                *pipeline_operations(ctx),
                *definition_operations(ctx),
                *object_operations(ctx),
                *task_operations(ctx, self.board),
            ]
        )

    def console(self, operations: OperationTable) -> ConsoleApp:
        """The web console over these pipelines, acting through ``operations``."""
        from ddbpipe.server.console import build_console

        return build_console(
            self.config, self.context.store, self.context, operations, self.progress, self.clock
        )

    def services(self) -> list[_StateCloser | PipelineScheduler]:
        """The background services, in the order they start (they stop in reverse)."""
        return [_StateCloser(self.state), self.scheduler]
