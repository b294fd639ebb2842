"""The web console of ``ddbpipe serve``: the pipelines, their runs and logs, the tables
and backups the server can reach, at ``/console`` on the API's port.

Server-rendered pages (jinja2 templates and one stylesheet from the package, no build
step, nothing from elsewhere); without JavaScript everything works but the live refresh
of a running pipeline's page. Each page and action is authorised for the signed-in user
by the same policy evaluation as the API (``access``); sessions, CSRF tokens and sign-in
limits are in ``sessions`` and ``signin``.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from ddbpipe.server.clock import Clock
from ddbpipe.server.config import ServerConfig
from ddbpipe.server.console import auth, create, data, pipelines
from ddbpipe.server.console.progress import ProgressBoard
from ddbpipe.server.console.site import PREFIX, Console
from ddbpipe.server.identities import IdentityStore
from ddbpipe.server.operations import OperationTable
from ddbpipe.server.service_context import ServiceContext

__all__ = ["PREFIX", "Console", "ConsoleApp", "ProgressBoard", "build_console"]

_STATIC = Path(__file__).parent / "static"


class ConsoleApp:
    """The console's routes and error page, for ``create_app``."""

    prefix = PREFIX

    def __init__(self, console: Console) -> None:
        self.console = console

    def routes(self) -> list[BaseRoute]:
        """Every console route: pages, static files, and the way in."""

        async def home(request: Request) -> Response:
            return RedirectResponse(PREFIX + "/pipelines", status_code=303)

        return [
            Route("/", home, methods=["GET"]),
            Route(PREFIX, home, methods=["GET"]),
            Route(PREFIX + "/", home, methods=["GET"]),
            Mount(PREFIX + "/static", StaticFiles(directory=_STATIC), name="console-static"),
            *self.console.routes(),
        ]

    def error_page(self, request: Request, status: int, detail: str) -> Response:
        """The console's error page."""
        return self.console.error_page(request, status, detail)

    async def start(self) -> None:
        """Nothing to start."""

    async def stop(self) -> None:
        """Close the sessions database."""
        self.console.close()


def build_console(
    config: ServerConfig,
    store: IdentityStore,
    context: ServiceContext,
    operations: OperationTable,
    progress: ProgressBoard,
    clock: Clock,
) -> ConsoleApp:
    """The console over a server's pipeline service."""
    console = Console(config, store, context, operations, progress, clock)
    auth.register(console)
    create.register(console)  # before /pipelines/{id}, which would take "new"
    pipelines.register(console)
    data.register(console)
    return ConsoleApp(console)
