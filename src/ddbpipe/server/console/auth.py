"""The sign-in and sign-out pages.

Sign in with an access key ID and its secret access key, or with a user name and the
console password; either starts a session (``sessions``) and sets its cookie:
``HttpOnly``, ``SameSite=Lax``, ``Secure`` when the request came over HTTPS, expiring
with the session. Attempts are limited per address and per user (``signin``). Sign out
ends the session on the server, so the old cookie no longer works. The sign-in form
carries a CSRF token of its own, bound to a cookie the sign-in page sets.
"""

from __future__ import annotations

import secrets

from starlette.responses import Response

from ddbpipe.server.console.sessions import SESSION_COOKIE, SIGN_IN_COOKIE
from ddbpipe.server.console.signin import (
    SignedIn,
    SignInRefused,
    check_access_key,
    check_console_password,
)
from ddbpipe.server.console.site import PREFIX, Console, View

__all__ = ["register"]


def _safe_next(target: str) -> str:
    """Where to go after signing in: a console path, never another site."""
    if target.startswith(PREFIX + "/") and not target.startswith("//") and "\\" not in target:
        return target
    return PREFIX + "/pipelines"


def sign_in(console: Console, view: View) -> Response:
    """The sign-in form, and signing in."""
    method = view.form.get("method") or view.query("method") or "key"
    target = _safe_next(view.form.get("next") or view.query("next"))
    nonce = view.request.cookies.get(SIGN_IN_COOKIE, "")
    if view.request.method == "GET":
        if view.user is not None:
            return console.redirect(target.removeprefix(PREFIX))
        nonce = nonce if 20 <= len(nonce) <= 64 else secrets.token_urlsafe(24)
        return _form(console, view, nonce, method=method, target=target)
    if not console.sessions.check_sign_in(nonce, view.form.get("csrf_token")):
        return console.error_view(
            view,
            403,
            "This sign-in form has no valid CSRF token: reload the sign-in page and try again",
            title="Sign in again",
        )
    values = view.form.as_values()
    if method == "password":
        who = view.form.get("user_name")
        secret = view.form.raw("password")
    else:
        who = view.form.get("access_key_id")
        secret = view.form.raw("secret_access_key")
    error = ""
    signed: SignedIn | None = None
    status = 200
    if not who or not secret:
        error = "Fill in both fields."
        status = 400
    else:
        try:
            console.limiter.take(view.client_ip, who)
        except SignInRefused as refused:
            error = f"Too many sign-in attempts. Try again in {refused.retry_after} seconds."
            status = 429
        else:
            if method == "password":
                signed = check_console_password(console.store, who, secret)
            else:
                signed = check_access_key(console.store, who, secret)
            if signed is None:
                error = (
                    "The user name or password is not right."
                    if method == "password"
                    else "The access key ID or secret access key is not right."
                )
                status = 401
    if signed is None:
        safe = {
            key: value for key, value in values.items() if key in ("access_key_id", "user_name")
        }
        response = _form(
            console,
            view,
            nonce,
            method=method,
            target=target,
            error=error,
            values=safe,
            status=status,
        )
        if status == 429:
            response.headers["Retry-After"] = "60"
        return response
    session = console.sessions.start(
        signed.principal.name,
        "password" if method == "password" else "key",
        access_key_id=signed.access_key_id,
        password_mark=signed.password_mark,
    )
    response = console.redirect(target.removeprefix(PREFIX))
    lifetime = int((session.expires - session.started).total_seconds())
    response.set_cookie(
        SESSION_COOKIE,
        console.sessions.cookie_value(session),
        max_age=lifetime,
        path=PREFIX,
        secure=view.secure,
        httponly=True,
        samesite="lax",
    )
    return response


def _form(
    console: Console,
    view: View,
    nonce: str,
    *,
    method: str,
    target: str,
    error: str = "",
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    response = console.render(
        view,
        "signin.html",
        status,
        method=method,
        next=target,
        error=error,
        values=values or {},
        sign_in_token=console.sessions.sign_in_token(nonce),
    )
    response.set_cookie(
        SIGN_IN_COOKIE,
        nonce,
        max_age=86_400,
        path=PREFIX,
        secure=view.secure,
        httponly=True,
        samesite="lax",
    )
    return response


def sign_out(console: Console, view: View) -> Response:
    """End the session and drop its cookie."""
    console.sessions.end(view.signed_in.session)
    response = console.redirect("/sign-in")
    response.delete_cookie(SESSION_COOKIE, path=PREFIX, secure=view.secure, httponly=True)
    return response


def register(console: Console) -> None:
    """Add the sign-in and sign-out pages."""
    console.page("/sign-in", sign_in, methods=("GET", "POST"), public=True)
    console.page("/sign-out", sign_out, methods=("POST",))
