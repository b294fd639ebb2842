"""Console sessions: who is signed in, kept server-side, named by a signed cookie.

A session is a row of ``console-sessions.sqlite3`` in the state folder (mode 0600):
its random ID, the user, how the user signed in (an access key, or the console
password), when it started and when it expires (``lifetime``, 12 hours by default). The
cookie holds the ID and an HMAC-SHA256 of it under the server's secret, the file
``console-secret`` in the state folder, made once with mode 0600: a cookie that was not
made by this server is never looked up.

A session ends when the user signs out (its row is marked ended, so the old cookie no
longer works, even if it was copied), when it expires, and as soon as what it was
started with goes: the access key it signed in with is deleted or made inactive, or the
console password is changed or removed, or the user is removed. ``ConsoleSessions.find``
checks all of that on every request.

Every form that changes something carries a CSRF token: an HMAC of the session ID under
the same secret, different for each session and checked in constant time. The sign-in
form, which comes before any session, carries an HMAC of a random value that the
sign-in page also sets in a cookie of its own (``SIGN_IN_COOKIE``).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import secrets
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

__all__ = [
    "DEFAULT_SESSION_LIFETIME",
    "SECRET_NAME",
    "SESSIONS_NAME",
    "SESSION_COOKIE",
    "SIGN_IN_COOKIE",
    "ConsoleSession",
    "ConsoleSessions",
    "load_secret",
]

SESSION_COOKIE = "ddbpipe-console"
SIGN_IN_COOKIE = "ddbpipe-console-sign-in"
SECRET_NAME = "console-secret"
SESSIONS_NAME = "console-sessions.sqlite3"
DEFAULT_SESSION_LIFETIME = timedelta(hours=12)
_SECRET_BYTES = 32

SignInKind = Literal["key", "password"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT PRIMARY KEY,
    user TEXT NOT NULL,
    kind TEXT NOT NULL,
    access_key_id TEXT,
    password_mark TEXT,
    started TEXT NOT NULL,
    expires TEXT NOT NULL,
    ended TEXT
);
"""


def _private_file(path: Path, data: bytes | None = None) -> bool:
    """Create ``path`` with mode 0600 (holding ``data``) unless it exists; True when
    made here."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as file:
        if data:
            file.write(data)
    return True


def load_secret(state_dir: Path) -> bytes:
    """The server's console secret, made (mode 0600) on first use."""
    path = state_dir / SECRET_NAME
    _private_file(path, secrets.token_hex(_SECRET_BYTES).encode("ascii"))
    os.chmod(path, 0o600)
    secret = path.read_bytes().strip()
    if len(secret) < _SECRET_BYTES:
        raise ValueError(f"{path} is damaged: remove it, which signs everyone out")
    return secret


@dataclass(frozen=True)
class ConsoleSession:
    """One signed-in user: ``kind`` says whether an access key (``access_key_id``) or
    the console password (``password_mark``, a digest of its hash then) was used."""

    session_id: str
    user: str
    kind: SignInKind
    access_key_id: str | None
    password_mark: str | None
    started: datetime
    expires: datetime


class ConsoleSessions:
    """The console's sessions in ``state_dir`` (see the module doc), on ``clock``."""

    def __init__(
        self,
        state_dir: Path,
        *,
        clock: Callable[[], datetime],
        lifetime: timedelta = DEFAULT_SESSION_LIFETIME,
    ) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self._secret = load_secret(state_dir)
        path = state_dir / SESSIONS_NAME
        _private_file(path)
        os.chmod(path, 0o600)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA busy_timeout = 5000")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    # --- cookies ------------------------------------------------------------------------

    def _mac(self, purpose: str, value: str) -> str:
        digest = hmac.new(self._secret, f"{purpose}:{value}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def cookie_value(self, session: ConsoleSession) -> str:
        """The cookie that names ``session``: its ID and the ID's signature."""
        return f"{session.session_id}.{self._mac('session', session.session_id)}"

    def csrf_token(self, session: ConsoleSession) -> str:
        """The CSRF token of the forms of ``session``."""
        return self._mac("csrf", session.session_id)

    def check_csrf(self, session: ConsoleSession, token: str | None) -> bool:
        """Whether ``token`` is the CSRF token of ``session``."""
        return bool(token) and hmac.compare_digest(self.csrf_token(session), token or "")

    def sign_in_token(self, nonce: str) -> str:
        """The CSRF token of the sign-in form for the cookie value ``nonce``."""
        return self._mac("sign-in", nonce)

    def check_sign_in(self, nonce: str | None, token: str | None) -> bool:
        """Whether ``token`` goes with the sign-in cookie ``nonce``."""
        if not nonce or not token:
            return False
        return hmac.compare_digest(self.sign_in_token(nonce), token)

    # --- the table ----------------------------------------------------------------------

    def start(
        self,
        user: str,
        kind: SignInKind,
        *,
        access_key_id: str | None = None,
        password_mark: str | None = None,
    ) -> ConsoleSession:
        """A new session for ``user``; expired and ended ones are dropped."""
        now = self.clock()
        session = ConsoleSession(
            session_id=secrets.token_urlsafe(32),
            user=user,
            kind=kind,
            access_key_id=access_key_id,
            password_mark=password_mark,
            started=now,
            expires=now + self.lifetime,
        )
        with self._lock:
            self._db.execute(
                "DELETE FROM sessions WHERE expires < ? OR ended IS NOT NULL",
                ((now - self.lifetime).isoformat(),),
            )
            self._db.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
                (
                    session.session_id,
                    user,
                    kind,
                    access_key_id,
                    password_mark,
                    now.isoformat(),
                    session.expires.isoformat(),
                ),
            )
        return session

    def find(self, cookie: str | None) -> ConsoleSession | None:
        """The live session a cookie names, or ``None`` (unsigned, unknown, ended or
        expired)."""
        if not cookie or "." not in cookie:
            return None
        session_id, _, mac = cookie.rpartition(".")
        if not hmac.compare_digest(self._mac("session", session_id), mac):
            return None
        with self._lock:
            row = self._db.execute(
                "SELECT user, kind, access_key_id, password_mark, started, expires, ended "
                "FROM sessions WHERE session_id = ?",
                (session_id,),
            ).fetchone()
        if row is None or row[6] is not None:
            return None
        session = ConsoleSession(
            session_id=session_id,
            user=row[0],
            kind=row[1],
            access_key_id=row[2],
            password_mark=row[3],
            started=datetime.fromisoformat(row[4]),
            expires=datetime.fromisoformat(row[5]),
        )
        if self.clock() >= session.expires:
            return None
        return session

    def end(self, session: ConsoleSession) -> None:
        """End ``session``: its cookie no longer works."""
        with self._lock, contextlib.suppress(sqlite3.Error):
            self._db.execute(
                "UPDATE sessions SET ended = ? WHERE session_id = ?",
                (self.clock().isoformat(), session.session_id),
            )
