"""The SQLite file that holds the server's identities, and how it is opened.

The file, ``identities.sqlite3`` in the state folder, is made with mode 0600 (it holds
the secrets of access keys) and set back to 0600 whenever it is opened; SQLite gives its
``-wal`` and ``-shm`` files the database's mode. It runs in WAL mode with a busy
timeout, so the running server and ``ddbpipe users ...`` in another process use it at
the same time: readers never wait, and each write is one short ``BEGIN IMMEDIATE``
transaction. Every write adds one to the ``revision`` kept in ``meta``; a reader that
caches what it read compares revisions to know when to read again.

Schema (version 1)::

    meta(key PK, value)                    schema_version, revision, account_id
    principals(id PK, kind user|group|role, name COLLATE NOCASE, unique_id UNIQUE,
               created, description, password_hash NULL; UNIQUE(kind, name))
    memberships(group_id -> principals, user_id -> principals; PK both)
    access_keys(access_key_id PK, secret_access_key, principal_id -> principals,
                created, status Active|Inactive)
    session_credentials(access_key_id PK, secret_access_key, session_token,
                        expiration, principal_id -> principals,
                        source_access_key_id -> access_keys, created)
    inline_policies(principal_id -> principals, name COLLATE NOCASE, document;
                    PK(principal_id, name))
    managed_policies(principal_id -> principals, name; PK(principal_id, name))

Every reference cascades on delete: removing a user removes its keys, sessions,
memberships and policies; deleting an access key ends the sessions made with it.
Times are ISO 8601 in UTC.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from ddbpipe.errors import ConfigError

__all__ = [
    "DB_FILE_NAME",
    "DEFAULT_BUSY_TIMEOUT",
    "FILE_MODE",
    "SCHEMA_VERSION",
    "IdentityDatabase",
]

DB_FILE_NAME = "identities.sqlite3"
SCHEMA_VERSION = 1
DEFAULT_BUSY_TIMEOUT = 10.0  # seconds a writer waits for another writer
FILE_MODE = 0o600
FOLDER_MODE = 0o700

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS principals (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('user', 'group', 'role')),
    name TEXT NOT NULL COLLATE NOCASE,
    unique_id TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    password_hash TEXT,
    UNIQUE (kind, name)
);
CREATE TABLE IF NOT EXISTS memberships (
    group_id INTEGER NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX IF NOT EXISTS memberships_by_user ON memberships (user_id);
CREATE TABLE IF NOT EXISTS access_keys (
    access_key_id TEXT PRIMARY KEY,
    secret_access_key TEXT NOT NULL,
    principal_id INTEGER NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    created TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'Active' CHECK (status IN ('Active', 'Inactive'))
);
CREATE INDEX IF NOT EXISTS access_keys_by_principal ON access_keys (principal_id);
CREATE TABLE IF NOT EXISTS session_credentials (
    access_key_id TEXT PRIMARY KEY,
    secret_access_key TEXT NOT NULL,
    session_token TEXT NOT NULL,
    expiration TEXT NOT NULL,
    principal_id INTEGER NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    source_access_key_id TEXT NOT NULL
        REFERENCES access_keys (access_key_id) ON DELETE CASCADE,
    created TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_principal ON session_credentials (principal_id);
CREATE INDEX IF NOT EXISTS sessions_by_source ON session_credentials (source_access_key_id);
CREATE TABLE IF NOT EXISTS inline_policies (
    principal_id INTEGER NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    name TEXT NOT NULL COLLATE NOCASE,
    document TEXT NOT NULL,
    PRIMARY KEY (principal_id, name)
);
CREATE TABLE IF NOT EXISTS managed_policies (
    principal_id INTEGER NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    PRIMARY KEY (principal_id, name)
);
"""


class IdentityDatabase:
    """The identities file of one state folder, open for the threads of this process.

    Each thread gets its own connection. ``initialize`` runs once, inside the first
    write transaction, when the file is new (it adds the rows every store starts with).
    """

    def __init__(
        self,
        state_dir: Path,
        *,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        initialize: Callable[[sqlite3.Connection], None] | None = None,
    ) -> None:
        self.path = Path(state_dir) / DB_FILE_NAME
        self._busy_timeout = busy_timeout
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        _make_private_file(self.path)
        self._create(initialize)

    def _create(self, initialize: Callable[[sqlite3.Connection], None] | None) -> None:
        connection = self._connection()
        connection.execute("PRAGMA journal_mode=WAL")
        with self.write() as db:
            version = _meta(db, "schema_version")
            if version is None:
                for statement in _SCHEMA.split(";"):  # executescript would COMMIT first
                    if statement.strip():
                        db.execute(statement)
                db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
                db.execute("INSERT INTO meta VALUES ('revision', '0')")
                if initialize is not None:
                    initialize(db)
            elif int(version) != SCHEMA_VERSION:
                raise ConfigError(
                    f"{self.path} has identity schema version {version}; this ddbpipe reads "
                    f"version {SCHEMA_VERSION}"
                )

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            try:
                connection = sqlite3.connect(
                    self.path,
                    timeout=self._busy_timeout,
                    isolation_level=None,
                    check_same_thread=False,
                )
            except sqlite3.Error as error:
                raise ConfigError(f"cannot open {self.path}: {error}") from None
            connection.row_factory = sqlite3.Row
            connection.execute("PRAGMA foreign_keys=ON")
            connection.execute(f"PRAGMA busy_timeout={int(self._busy_timeout * 1000)}")
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    @contextlib.contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: one consistent view of the data."""
        connection = self._connection()
        connection.execute("BEGIN")
        try:
            yield connection
        finally:
            connection.execute("COMMIT")

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that adds one to the revision; rolled back on error."""
        connection = self._connection()
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield connection
            connection.execute(
                "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'revision'"
            )
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    def revision(self) -> int:
        """The number of writes so far: it changes whenever the data changes."""
        row = self._connection().execute("SELECT value FROM meta WHERE key = 'revision'").fetchone()
        return int(row[0])

    def close(self) -> None:
        """Close every thread's connection."""
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._local = threading.local()


def _meta(db: sqlite3.Connection, key: str) -> str | None:
    exists = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
    ).fetchone()
    if exists is None:
        return None
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def _make_private_file(path: Path) -> None:
    """Create ``path`` with mode 0600 (its folder 0700 when new), or set it back to 0600."""
    try:
        path.parent.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            if stat.S_IMODE(os.fstat(fd).st_mode) != FILE_MODE:
                os.fchmod(fd, FILE_MODE)
        finally:
            os.close(fd)
        for suffix in ("-wal", "-shm"):
            companion = path.with_name(path.name + suffix)
            if companion.exists() and stat.S_IMODE(companion.stat().st_mode) != FILE_MODE:
                companion.chmod(FILE_MODE)
    except OSError as error:
        raise ConfigError(f"cannot use the state folder {path.parent}: {error}") from None
