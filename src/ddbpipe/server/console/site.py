"""The console's machinery: sessions on each request, CSRF checks, rendering, errors.

Every page is a plain function ``(Console, View) -> Response`` run in a worker thread.
``Console.page`` wraps it: the form is read (POST), the session cookie resolved to a
signed-in user (pages that need one redirect to the sign-in page without it), the CSRF
token checked on every POST (403 without it), and ``Refused`` turned into the 403 page
that names the action and the resource. ``X-Forwarded-Proto`` and ``X-Forwarded-For``
are believed only from ``--trusted-proxy`` addresses.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio.to_thread
import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ddbpipe.errors import DdbpipeError, NotFoundError
from ddbpipe.server.clock import Clock
from ddbpipe.server.config import ServerConfig
from ddbpipe.server.console import display
from ddbpipe.server.console.access import ConsoleUser, Refused, user_facts
from ddbpipe.server.console.catalog import TableCatalog
from ddbpipe.server.console.forms import MAX_FORM_BYTES, Form, FormTooLarge, parse_form
from ddbpipe.server.console.progress import ProgressBoard
from ddbpipe.server.console.sessions import SESSION_COOKIE, ConsoleSession, ConsoleSessions
from ddbpipe.server.console.signin import SignInLimiter
from ddbpipe.server.errors import ApiError, ErrorCode, api_error_for
from ddbpipe.server.identities import IdentityStore
from ddbpipe.server.operations import OperationTable
from ddbpipe.server.service_context import ServiceContext

__all__ = ["PREFIX", "Console", "PageHandler", "View"]

logger = logging.getLogger("ddbpipe.server")

PREFIX = "/console"
_HERE = Path(__file__).parent
CSRF_FIELD = "csrf_token"


@dataclass
class View:
    """One request to a page: the request, its form, and who made it."""

    request: Request
    form: Form
    user: ConsoleUser | None
    secure: bool
    client_ip: str
    csrf: str = ""
    messages: list[str] = field(default_factory=list)

    @property
    def signed_in(self) -> ConsoleUser:
        """The signed-in user (pages that need one only run with one)."""
        assert self.user is not None
        return self.user

    def query(self, name: str, default: str = "") -> str:
        """A query parameter, stripped."""
        return (self.request.query_params.get(name) or default).strip()

    def path(self, name: str) -> str:
        """A path parameter."""
        return str(self.request.path_params[name])


PageHandler = Callable[["Console", View], Response]


class _NotSignedIn(Exception):
    pass


class Console:
    """The web console of one server (see the package doc)."""

    def __init__(
        self,
        config: ServerConfig,
        store: IdentityStore,
        context: ServiceContext,
        operations: OperationTable,
        progress: ProgressBoard,
        clock: Clock,
    ) -> None:
        self.config = config
        self.store = store
        self.context = context
        self.operations = operations
        self.progress = progress
        self.clock = clock
        self.sessions = ConsoleSessions(config.state_dir, clock=clock.now)
        self.limiter = SignInLimiter(clock.monotonic)
        self.catalog = TableCatalog(config.dynamo, monotonic=clock.monotonic)
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(_HERE / "templates"),
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
            undefined=jinja2.StrictUndefined,
        )
        display.install(self.env)
        self._routes: list[BaseRoute] = []

    @property
    def account_id(self) -> str:
        """The server's account."""
        return self.store.account_id

    # --- routes -------------------------------------------------------------------------

    def page(
        self,
        path: str,
        handler: PageHandler,
        *,
        methods: Sequence[str] = ("GET",),
        public: bool = False,
    ) -> None:
        """Serve ``handler`` at ``PREFIX + path`` (see the module doc)."""

        async def endpoint(request: Request) -> Response:
            form = Form()
            if request.method == "POST":
                try:
                    form = await _read_form(request)
                except FormTooLarge:
                    return self.error_page(request, 413, "The form is too large")
            return await anyio.to_thread.run_sync(self._serve, handler, request, form, public)

        self._routes.append(Route(PREFIX + path, endpoint, methods=list(methods)))

    def routes(self) -> list[BaseRoute]:
        """Every route of the console."""
        return list(self._routes)

    def _serve(self, handler: PageHandler, request: Request, form: Form, public: bool) -> Response:
        secure, client_ip = self._transport(request)
        view = View(request, form, None, secure, client_ip)
        try:
            view.user = self._user(request, secure, client_ip)
            if view.user is None and not public:
                raise _NotSignedIn
            if view.user is not None:
                view.csrf = self.sessions.csrf_token(view.user.session)
            token = form.get(CSRF_FIELD)
            if (
                request.method == "POST"
                and not public
                and not self.sessions.check_csrf(view.signed_in.session, token)
            ):
                return self.error_view(
                    view, 403, "This form has no valid CSRF token: reload the page and try again"
                )
            return handler(self, view)
        except _NotSignedIn:
            target = quote(
                request.url.path + (f"?{request.url.query}" if request.url.query else "")
            )
            return RedirectResponse(f"{PREFIX}/sign-in?next={target}", status_code=303)
        except Refused as refusal:
            return self.error_view(view, 403, str(refusal), title="Not authorized")
        except NotFoundError as error:
            return self.error_view(view, 404, str(error), title="Not found")
        except ApiError as error:
            if error.error_code is ErrorCode.ACCESS_DENIED:  # a page says it as a browser expects
                return self.error_view(view, 403, error.message, title="Not authorized")
            return self.error_view(view, error.status, error.message, title=error.code)
        except DdbpipeError as error:
            mapped = api_error_for(error)
            if mapped.server_fault:
                logger.error("console %s failed: %s", request.url.path, error, exc_info=error)
            return self.error_view(view, mapped.status, mapped.message, title=mapped.code)

    def _transport(self, request: Request) -> tuple[bool, str]:
        client = request.client
        address = client.host if client else "-"
        secure = request.url.scheme == "https"
        if address in self.config.trusted_proxies:
            proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
            secure = secure or proto == "https"
            forwarded = request.headers.get("x-forwarded-for", "").split(",")[0].strip()
            address = forwarded or address
        return secure, address

    def _user(self, request: Request, secure: bool, client_ip: str) -> ConsoleUser | None:
        session = self.sessions.find(request.cookies.get(SESSION_COOKIE))
        if session is None:
            return None
        principal = self._principal(session)
        if principal is None:
            return None
        return user_facts(
            session, principal, now=self.clock.now(), secure=secure, source_ip=client_ip
        )

    def _principal(self, session: ConsoleSession) -> Any:
        """The session's user, or ``None`` once what it signed in with has gone."""
        if session.kind == "key":
            stored = self.store.lookup_credential(session.access_key_id or "")
            if stored is None or stored.principal.name != session.user:
                return None
            return stored.principal
        mark = self.store.password_mark(session.user)
        if mark is None or mark != session.password_mark:
            return None
        try:
            return self.store.principal("user", session.user)
        except DdbpipeError:
            return None

    # --- responses ----------------------------------------------------------------------

    def render(self, view: View, template: str, status: int = 200, **context: Any) -> Response:
        """``template`` rendered for ``view``'s user."""
        text = self.env.get_template(template).render(
            user=view.user,
            csrf=view.csrf,
            csrf_field=CSRF_FIELD,
            prefix=PREFIX,
            path=view.request.url.path,
            now=self.clock.now(),
            messages=view.messages,
            **context,
        )
        return page_response(text, status)

    def error_view(self, view: View, status: int, message: str, *, title: str = "") -> Response:
        """The error page for ``view``."""
        return self.render(
            view, "error.html", status, status_code=status, title=title or "Error", message=message
        )

    def error_page(self, request: Request, status: int, detail: str) -> Response:
        """The error page for a request no page handled (unknown path, wrong method)."""
        text = self.env.get_template("error.html").render(
            user=None,
            csrf="",
            csrf_field=CSRF_FIELD,
            prefix=PREFIX,
            path=request.url.path,
            now=self.clock.now(),
            messages=[],
            status_code=status,
            title=detail,
            message=f"{request.method} {request.url.path}: {detail}",
        )
        return page_response(text, status)

    def redirect(self, path: str) -> Response:
        """See other: ``PREFIX + path``."""
        return RedirectResponse(PREFIX + path, status_code=303)

    def now(self) -> datetime:
        """The server's time."""
        return self.clock.now()

    def close(self) -> None:
        """Close the sessions database."""
        self.sessions.close()


_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def page_response(text: str, status: int = 200) -> Response:
    """An HTML page with the console's security headers."""
    return HTMLResponse(text, status_code=status, headers=dict(_SECURITY_HEADERS))


async def _read_form(request: Request) -> Form:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            raise FormTooLarge
        chunks.append(chunk)
    return parse_form(request.headers.get("content-type", ""), b"".join(chunks))
