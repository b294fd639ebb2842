"""Pipeline state in SQLite: pipelines, their objects of every sphere, runner leases.

One database file, ``pipelines.sqlite3`` in the state folder, created with mode 0600 in a
folder of mode 0700, in WAL mode with a busy timeout, so that a runner, a server and
command-line readers share it: readers never block the writer, and every write is one
short ``BEGIN IMMEDIATE`` transaction. ``synchronous=FULL``: a crash, even of the
machine, loses nothing committed. Within one process, writes go through one connection
(one transaction at a time) and each thread reads through a connection of its own, so
that reads neither wait for a write to be made durable nor see one half done; a thread
inside a transaction reads through the transaction. Under a steady stream of reads,
SQLite's own checkpoint (by the commit that takes the write-ahead log past
``autocheckpoint`` pages) would run again and again inside commits: a process that
reads and writes all the time (a server) raises ``autocheckpoint`` and calls
``checkpoint`` every few seconds instead, which copies the log back without holding up
readers or writers.

Tables (the Data Pipeline API's object model)::

    pipelines   pipeline_id (df-…), name, unique_id, creator, description, tags (JSON
                [{key, value}]), state (@pipelineState), created, first_activated,
                last_activated, last_deactivated, version (@version), latest_definition
                and active_definition (API form JSON, parameterValues included),
                health, health_from, health_updated, fields (other @-fields, JSON),
                run_settings (JSON), deleted; UNIQUE (creator, name, unique_id) while
                not deleted: CreatePipeline is idempotent on it.
    objects     pipeline_id, object_id, name, sphere (COMPONENT | INSTANCE | ATTEMPT),
                component_id (@componentParent), instance_id (@instanceParent),
                parent_id (parent), status (@status), scheduled_start, scheduled_end,
                actual_start, actual_end (YYYY-MM-DDTHH:MM:SS, UTC), attempt,
                retries, not_before, plan_index, version, cancel_requested, fields (the
                other runtime fields, JSON: errorId, errorMessage, errorStackTrace,
                hostname, reportProgressTime, @cascadeFailedOn…), internal (the
                engine's own bookkeeping, JSON), updated.
                Indexed for QueryObjects: by sphere with status, name and each time
                field; by component; by instance; by parent.
    leases      pipeline_id, owner, host, pid, heartbeat, acquired: the runner that
                runs the pipeline.
    pending_actions  actions (onFail, onSuccess, onLateAction) decided but not yet
                carried out, so that a crash does not lose them.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson

from ddbpipe.errors import ConfigError
from ddbpipe.pipeline.queries import MAX_SELECTORS, Selector, selector_clause

__all__ = [
    "DATABASE_NAME",
    "SCHEMA_VERSION",
    "Lease",
    "ObjectRecord",
    "PipelineOverview",
    "PipelineRecord",
    "PipelineSummary",
    "Sphere",
    "StateStore",
]

DATABASE_NAME = "pipelines.sqlite3"
SCHEMA_VERSION = 1
DEFAULT_BUSY_TIMEOUT = 30.0
DEFAULT_AUTOCHECKPOINT = 1000

Sphere = Literal["COMPONENT", "INSTANCE", "ATTEMPT"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pipelines (
    pipeline_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    unique_id TEXT NOT NULL,
    creator TEXT NOT NULL DEFAULT '',
    description TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    state TEXT NOT NULL,
    created TEXT NOT NULL,
    first_activated TEXT,
    last_activated TEXT,
    last_deactivated TEXT,
    version INTEGER NOT NULL DEFAULT 0,
    latest_definition TEXT,
    active_definition TEXT,
    health TEXT,
    health_from TEXT,
    health_updated TEXT,
    fields TEXT NOT NULL DEFAULT '{}',
    run_settings TEXT NOT NULL DEFAULT '{}',
    deleted INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS pipelines_unique
    ON pipelines (creator, name, unique_id) WHERE deleted = 0;
CREATE TABLE IF NOT EXISTS objects (
    pipeline_id TEXT NOT NULL,
    object_id TEXT NOT NULL,
    name TEXT NOT NULL,
    sphere TEXT NOT NULL,
    component_id TEXT,
    instance_id TEXT,
    parent_id TEXT,
    status TEXT,
    scheduled_start TEXT,
    scheduled_end TEXT,
    actual_start TEXT,
    actual_end TEXT,
    attempt INTEGER NOT NULL DEFAULT 0,
    retries INTEGER NOT NULL DEFAULT 0,
    not_before TEXT,
    plan_index INTEGER,
    version INTEGER NOT NULL DEFAULT 0,
    cancel_requested TEXT,
    fields TEXT NOT NULL DEFAULT '{}',
    internal TEXT NOT NULL DEFAULT '{}',
    updated REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (pipeline_id, object_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS objects_status ON objects (pipeline_id, sphere, status);
CREATE INDEX IF NOT EXISTS objects_name ON objects (pipeline_id, sphere, name);
CREATE INDEX IF NOT EXISTS objects_scheduled_start
    ON objects (pipeline_id, sphere, scheduled_start);
CREATE INDEX IF NOT EXISTS objects_scheduled_end ON objects (pipeline_id, sphere, scheduled_end);
CREATE INDEX IF NOT EXISTS objects_actual_start ON objects (pipeline_id, sphere, actual_start);
CREATE INDEX IF NOT EXISTS objects_actual_end ON objects (pipeline_id, sphere, actual_end);
CREATE INDEX IF NOT EXISTS objects_component
    ON objects (pipeline_id, component_id, sphere, scheduled_start);
CREATE INDEX IF NOT EXISTS objects_instance ON objects (pipeline_id, instance_id);
CREATE INDEX IF NOT EXISTS objects_parent ON objects (pipeline_id, parent_id);
CREATE TABLE IF NOT EXISTS leases (
    pipeline_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    heartbeat REAL NOT NULL,
    acquired REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS pending_actions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    pipeline_id TEXT NOT NULL,
    action_id TEXT NOT NULL,
    node_id TEXT NOT NULL,
    event TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS pending_actions_pipeline ON pending_actions (pipeline_id);
"""

_PIPELINE_JSON = frozenset({"tags", "latest_definition", "active_definition", "fields"})
_OBJECT_COLUMNS = (
    "pipeline_id",
    "object_id",
    "name",
    "sphere",
    "component_id",
    "instance_id",
    "parent_id",
    "status",
    "scheduled_start",
    "scheduled_end",
    "actual_start",
    "actual_end",
    "attempt",
    "retries",
    "not_before",
    "plan_index",
    "version",
    "cancel_requested",
    "fields",
    "internal",
)
_PIPELINE_COLUMNS = (
    "pipeline_id",
    "name",
    "unique_id",
    "creator",
    "description",
    "tags",
    "state",
    "created",
    "first_activated",
    "last_activated",
    "last_deactivated",
    "version",
    "latest_definition",
    "active_definition",
    "health",
    "health_from",
    "health_updated",
    "fields",
    "run_settings",
    "deleted",
)


_WITHOUT_DEFINITIONS = ", ".join(
    name for name in _PIPELINE_COLUMNS if name not in ("latest_definition", "active_definition")
)


@dataclass
class PipelineRecord:
    """A row of ``pipelines``; definitions are in API form."""

    pipeline_id: str
    name: str
    unique_id: str
    state: str
    created: str
    creator: str = ""
    description: str | None = None
    tags: list[dict[str, str]] = field(default_factory=list)
    first_activated: str | None = None
    last_activated: str | None = None
    last_deactivated: str | None = None
    version: int = 0
    latest_definition: dict[str, Any] | None = None
    active_definition: dict[str, Any] | None = None
    health: str | None = None
    health_from: str | None = None
    health_updated: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    run_settings: dict[str, Any] = field(default_factory=dict)
    deleted: bool = False


@dataclass(frozen=True)
class PipelineSummary:
    """What listings need of a pipeline, read without its definitions."""

    pipeline_id: str
    name: str
    creator: str
    tags: list[dict[str, str]]
    state: str
    created: str


@dataclass(frozen=True)
class PipelineOverview:
    """A pipeline as a listing of many shows it: its summary, health and description,
    its latest instance's status and time, and its next run."""

    summary: PipelineSummary
    description: str | None
    health: str | None
    last_status: str | None
    last_time: str | None
    next_run: str | None


@dataclass
class ObjectRecord:
    """A row of ``objects``: a component, an instance or an attempt."""

    pipeline_id: str
    object_id: str
    name: str
    sphere: str
    status: str | None = None
    component_id: str | None = None
    instance_id: str | None = None
    parent_id: str | None = None
    scheduled_start: str | None = None
    scheduled_end: str | None = None
    actual_start: str | None = None
    actual_end: str | None = None
    attempt: int = 0
    retries: int = 0
    not_before: str | None = None
    plan_index: int | None = None
    version: int = 0
    cancel_requested: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    internal: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Lease:
    """Who runs a pipeline: ``owner`` (unique per runner), on ``host`` as process
    ``pid``, alive at ``heartbeat`` (seconds since the epoch)."""

    pipeline_id: str
    owner: str
    host: str
    pid: int
    heartbeat: float
    acquired: float


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _create_private_file(path: Path) -> None:
    """Make ``path`` (mode 0600) unless it exists, in a folder of mode 0700."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


class StateStore:
    """The state database at ``path`` (see the module doc); safe to share between the
    threads of one process, and between processes.

    ``wall_clock`` (seconds since the epoch) times leases and rows.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        wall_clock: Callable[[], float] = time.time,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        autocheckpoint: int = DEFAULT_AUTOCHECKPOINT,
    ) -> None:
        self.path = Path(path)
        self.wall_clock = wall_clock
        try:
            _create_private_file(self.path)
            self._connection = sqlite3.connect(
                self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"cannot open the state database {self.path}: {exc}") from None
        self._lock = threading.RLock()
        self._busy_timeout = busy_timeout
        self._writer: int | None = None
        self._local = threading.local()
        self._readers: dict[int, sqlite3.Connection] = {}
        self._readers_lock = threading.Lock()
        self._closed = False
        self._connection.row_factory = sqlite3.Row
        with self._lock:
            self._connection.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            self._connection.execute("PRAGMA journal_mode = WAL")
            self._connection.execute("PRAGMA synchronous = FULL")
            self._connection.execute(f"PRAGMA wal_autocheckpoint = {int(autocheckpoint)}")
            self._migrate()

    @classmethod
    def in_folder(cls, state_dir: str | os.PathLike[str], **options: Any) -> StateStore:
        """The state database of the state folder ``state_dir``."""
        return cls(Path(state_dir) / DATABASE_NAME, **options)

    def _migrate(self) -> None:
        version = self._connection.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise ConfigError(
                f"the state database {self.path} was written by a newer ddbpipe "
                f"(schema {version}; this one knows {SCHEMA_VERSION})"
            )
        if version < SCHEMA_VERSION:
            with self.transaction() as db:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        """Close the database connections."""
        with self._lock:
            self._closed = True
            self._connection.close()
        with self._readers_lock:
            for reader in self._readers.values():
                reader.close()
            self._readers.clear()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed when the block ends, rolled back on error."""
        with self._lock:
            db = self._connection
            outer = self._writer
            db.execute("BEGIN IMMEDIATE")
            self._writer = threading.get_ident()
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            else:
                db.execute("COMMIT")
            finally:
                self._writer = outer

    def checkpoint(self) -> None:
        """Copy what the write-ahead log holds back into the database, as far as reads
        under way allow, without waiting for them or for writers; the next write starts
        the log over once all of it is copied."""
        self._reader().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def _reader(self) -> sqlite3.Connection:
        """This thread's read connection, opened on first use (those of threads that
        ended are closed then)."""
        reader: sqlite3.Connection | None = getattr(self._local, "reader", None)
        if reader is None:
            with self._readers_lock:
                if self._closed:
                    raise sqlite3.ProgrammingError("the state database is closed")
                alive = {thread.ident for thread in threading.enumerate()}
                for ident in [key for key in self._readers if key not in alive]:
                    self._readers.pop(ident).close()
                reader = sqlite3.connect(
                    self.path,
                    timeout=self._busy_timeout,
                    isolation_level=None,
                    check_same_thread=False,
                )
                reader.row_factory = sqlite3.Row
                reader.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
                self._readers[threading.get_ident()] = reader
            self._local.reader = reader
        return reader

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        if self._writer == threading.get_ident():  # inside this thread's transaction
            return self._connection.execute(sql, params).fetchall()
        return self._reader().execute(sql, params).fetchall()

    # --- pipelines ------------------------------------------------------------------

    def insert_pipeline(self, record: PipelineRecord, db: sqlite3.Connection) -> None:
        """Add a pipeline row, inside the transaction ``db``."""
        values = [_pipeline_value(name, getattr(record, name)) for name in _PIPELINE_COLUMNS]
        marks = ", ".join("?" for _ in _PIPELINE_COLUMNS)
        db.execute(
            f"INSERT INTO pipelines ({', '.join(_PIPELINE_COLUMNS)}) VALUES ({marks})", values
        )

    def update_pipeline(self, pipeline_id: str, db: sqlite3.Connection, **columns: Any) -> None:
        """Set ``columns`` of one pipeline, inside the transaction ``db``."""
        if not columns:
            return
        names = [name for name in columns if name in _PIPELINE_COLUMNS]
        if len(names) != len(columns):
            raise ValueError(f"unknown pipeline columns: {sorted(set(columns) - set(names))}")
        assignments = ", ".join(f"{name} = ?" for name in names)
        values = [_pipeline_value(name, columns[name]) for name in names]
        db.execute(
            f"UPDATE pipelines SET {assignments} WHERE pipeline_id = ?", [*values, pipeline_id]
        )

    def set_latest_definition(self, pipeline_id: str, document: dict[str, Any]) -> bool:
        """Save the latest definition of a pipeline not deleted, in one statement (its
        own transaction); False when there is no such pipeline."""
        text = _dumps(document)
        with self._lock:
            cursor = self._connection.execute(
                "UPDATE pipelines SET latest_definition = ? WHERE pipeline_id = ? AND deleted = 0",
                (text, pipeline_id),
            )
            return cursor.rowcount == 1

    def pipeline(
        self,
        pipeline_id: str,
        *,
        deleted: bool = False,
        db: sqlite3.Connection | None = None,
        definitions: bool = True,
    ) -> PipelineRecord | None:
        """The pipeline ``pipeline_id``; a deleted one only when ``deleted``; without
        its definitions (read as None) unless ``definitions``."""
        columns = "*" if definitions else _WITHOUT_DEFINITIONS
        sql = f"SELECT {columns} FROM pipelines WHERE pipeline_id = ?"
        rows = db.execute(sql, (pipeline_id,)).fetchall() if db else self._read(sql, (pipeline_id,))
        if not rows or (rows[0]["deleted"] and not deleted):
            return None
        return _pipeline_record(rows[0])

    def find_pipeline(
        self, name: str, unique_id: str, creator: str = "", db: sqlite3.Connection | None = None
    ) -> PipelineRecord | None:
        """The pipeline (not deleted) created with ``name`` and ``unique_id``."""
        sql = (
            "SELECT * FROM pipelines WHERE creator = ? AND name = ? AND unique_id = ? "
            "AND deleted = 0"
        )
        params = (creator, name, unique_id)
        rows = db.execute(sql, params).fetchall() if db else self._read(sql, params)
        return _pipeline_record(rows[0]) if rows else None

    def pipelines(self, *, deleted: bool = False) -> list[PipelineRecord]:
        """Every pipeline, oldest first."""
        where = "" if deleted else "WHERE deleted = 0"
        rows = self._read(f"SELECT * FROM pipelines {where} ORDER BY created, pipeline_id")
        return [_pipeline_record(row) for row in rows]

    def pipeline_summaries(self, *, states: Iterable[str] | None = None) -> list[PipelineSummary]:
        """Every pipeline not deleted (in one of ``states`` when given), oldest first,
        without reading definitions."""
        clauses, params = ["deleted = 0"], []
        if states is not None:
            wanted = list(states)
            clauses.append(f"state IN ({', '.join('?' for _ in wanted)})")
            params.extend(wanted)
        rows = self._read(
            "SELECT pipeline_id, name, creator, tags, state, created FROM pipelines "
            f"WHERE {' AND '.join(clauses)} ORDER BY created, pipeline_id",
            params,
        )
        return [_pipeline_summary(row) for row in rows]

    def pipeline_overviews(self) -> list[PipelineOverview]:
        """Every pipeline not deleted, oldest first, with its latest instance and next
        run, in one read."""
        rows = self._read(
            "SELECT p.pipeline_id, p.name, p.creator, p.tags, p.state, p.created, "
            "p.description, p.health, "
            "(SELECT MIN(json_extract(o.fields, '$.\"@nextRunTime\"')) FROM objects o "
            " WHERE o.pipeline_id = p.pipeline_id AND o.sphere = 'COMPONENT') AS next_run, "
            "(SELECT o.status || '|' || COALESCE(o.actual_end, o.actual_start, "
            "  o.scheduled_start, '') FROM objects o "
            " WHERE o.pipeline_id = p.pipeline_id AND o.sphere = 'INSTANCE' "
            " ORDER BY o.scheduled_start DESC, o.actual_start DESC LIMIT 1) AS last_run "
            "FROM pipelines p WHERE p.deleted = 0 ORDER BY p.created, p.pipeline_id"
        )
        found = []
        for row in rows:
            status, _, when = (row["last_run"] or "").partition("|")
            found.append(
                PipelineOverview(
                    _pipeline_summary(row),
                    row["description"],
                    row["health"],
                    status or None,
                    when or None,
                    row["next_run"],
                )
            )
        return found

    def pipeline_summary(self, pipeline_id: str) -> tuple[PipelineSummary, bool] | None:
        """A pipeline's summary and whether it was deleted, or None."""
        rows = self._read(
            "SELECT pipeline_id, name, creator, tags, state, created, deleted FROM pipelines "
            "WHERE pipeline_id = ?",
            (pipeline_id,),
        )
        if not rows:
            return None
        row = rows[0]
        return _pipeline_summary(row), bool(row["deleted"])

    # --- objects --------------------------------------------------------------------

    def put_objects(self, records: Iterable[ObjectRecord], db: sqlite3.Connection) -> None:
        """Insert or replace object rows, inside the transaction ``db``."""
        marks = ", ".join("?" for _ in _OBJECT_COLUMNS)
        sql = (
            f"INSERT OR REPLACE INTO objects ({', '.join(_OBJECT_COLUMNS)}, updated) "
            f"VALUES ({marks}, ?)"
        )
        now = self.wall_clock()
        db.executemany(
            sql,
            [
                [*(_object_value(name, getattr(r, name)) for name in _OBJECT_COLUMNS), now]
                for r in records
            ],
        )

    def update_object(
        self, pipeline_id: str, object_id: str, db: sqlite3.Connection, **columns: Any
    ) -> None:
        """Set ``columns`` of one object, inside the transaction ``db``; ``fields`` and
        ``internal`` are merged into what is stored (a value of None removes a key)."""
        record = self.object(pipeline_id, object_id, db=db)
        if record is None:
            raise KeyError(object_id)
        for merged in ("fields", "internal"):
            if merged in columns:
                current = dict(getattr(record, merged))
                for key, value in columns[merged].items():
                    if value is None:
                        current.pop(key, None)
                    else:
                        current[key] = value
                columns[merged] = current
        names = list(columns)
        unknown = set(names) - set(_OBJECT_COLUMNS)
        if unknown:
            raise ValueError(f"unknown object columns: {sorted(unknown)}")
        assignments = ", ".join(f"{name} = ?" for name in names)
        values = [_object_value(name, columns[name]) for name in names]
        db.execute(
            f"UPDATE objects SET {assignments}, updated = ? "
            "WHERE pipeline_id = ? AND object_id = ?",
            [*values, self.wall_clock(), pipeline_id, object_id],
        )

    def object(
        self, pipeline_id: str, object_id: str, *, db: sqlite3.Connection | None = None
    ) -> ObjectRecord | None:
        """One object, or None."""
        sql = "SELECT * FROM objects WHERE pipeline_id = ? AND object_id = ?"
        params = (pipeline_id, object_id)
        rows = db.execute(sql, params).fetchall() if db else self._read(sql, params)
        return _object_record(rows[0]) if rows else None

    def objects(
        self,
        pipeline_id: str,
        object_ids: Sequence[str] | None = None,
        *,
        sphere: Sphere | None = None,
        component_id: str | None = None,
        statuses: Iterable[str] | None = None,
        db: sqlite3.Connection | None = None,
    ) -> list[ObjectRecord]:
        """Objects of a pipeline, by id or by sphere, component and status, ordered by
        scheduled start then id (those given by id come in the order given)."""
        clauses, params = ["pipeline_id = ?"], [pipeline_id]
        if object_ids is not None:
            if not object_ids:
                return []
            clauses.append(f"object_id IN ({', '.join('?' for _ in object_ids)})")
            params.extend(object_ids)
        if sphere is not None:
            clauses.append("sphere = ?")
            params.append(sphere)
        if component_id is not None:
            clauses.append("component_id = ?")
            params.append(component_id)
        if statuses is not None:
            wanted = list(statuses)
            clauses.append(f"status IN ({', '.join('?' for _ in wanted)})")
            params.extend(wanted)
        sql = (
            f"SELECT * FROM objects WHERE {' AND '.join(clauses)} "
            "ORDER BY scheduled_start, object_id"
        )
        rows = db.execute(sql, params).fetchall() if db else self._read(sql, params)
        records = [_object_record(row) for row in rows]
        if object_ids is not None:
            order = {key: index for index, key in enumerate(object_ids)}
            records.sort(key=lambda record: order[record.object_id])
        return records

    def next_run_time(self, pipeline_id: str) -> str | None:
        """The earliest ``@nextRunTime`` of the pipeline's components, if any."""
        rows = self._read(
            "SELECT MIN(json_extract(fields, '$.\"@nextRunTime\"')) AS next FROM objects "
            "WHERE pipeline_id = ? AND sphere = 'COMPONENT'",
            (pipeline_id,),
        )
        return rows[0]["next"] if rows else None

    def delete_objects(self, pipeline_id: str, db: sqlite3.Connection) -> None:
        """Remove every object, lease and pending action of a pipeline."""
        for table in ("objects", "leases", "pending_actions"):
            db.execute(f"DELETE FROM {table} WHERE pipeline_id = ?", (pipeline_id,))

    def query_object_ids(
        self,
        pipeline_id: str,
        sphere: str,
        selectors: Sequence[Selector] = (),
        *,
        limit: int = 100,
        marker: str | None = None,
    ) -> tuple[list[str], str | None]:
        """QueryObjects: ids of the objects of ``sphere`` that every selector matches,
        in id order, at most ``limit``; and the marker to continue from, or None when
        there are no more."""
        if sphere not in ("COMPONENT", "INSTANCE", "ATTEMPT"):
            raise ConfigError(f"sphere must be COMPONENT, INSTANCE or ATTEMPT, not {sphere!r}")
        if len(selectors) > MAX_SELECTORS:
            raise ConfigError(f"at most {MAX_SELECTORS} selectors, not {len(selectors)}")
        if limit < 1:
            raise ConfigError(f"limit must be at least 1, not {limit}")
        clauses, params = ["pipeline_id = ?", "sphere = ?"], [pipeline_id, sphere]
        for selector in selectors:
            clause, values = selector_clause(selector)
            clauses.append(clause)
            params.extend(values)
        if marker:
            clauses.append("object_id > ?")
            params.append(marker)
        rows = self._read(
            f"SELECT object_id FROM objects WHERE {' AND '.join(clauses)} "
            "ORDER BY object_id LIMIT ?",
            [*params, limit + 1],
        )
        ids = [row["object_id"] for row in rows[:limit]]
        return ids, (ids[-1] if len(rows) > limit else None)

    # --- pending actions ------------------------------------------------------------

    def add_action(
        self,
        pipeline_id: str,
        action_id: str,
        node_id: str,
        event: str,
        created: str,
        db: sqlite3.Connection,
    ) -> None:
        """Record an action to carry out, inside the transaction ``db``."""
        db.execute(
            "INSERT INTO pending_actions (pipeline_id, action_id, node_id, event, created) "
            "VALUES (?, ?, ?, ?, ?)",
            (pipeline_id, action_id, node_id, event, created),
        )

    def pending_actions(self, pipeline_id: str) -> list[tuple[int, str, str, str]]:
        """``(id, action_id, node_id, event)`` of the actions not carried out yet."""
        rows = self._read(
            "SELECT id, action_id, node_id, event FROM pending_actions WHERE pipeline_id = ? "
            "ORDER BY id",
            (pipeline_id,),
        )
        return [(row["id"], row["action_id"], row["node_id"], row["event"]) for row in rows]

    def done_action(self, action_row: int) -> None:
        """Forget an action that was carried out."""
        with self.transaction() as db:
            db.execute("DELETE FROM pending_actions WHERE id = ?", (action_row,))

    # --- leases ---------------------------------------------------------------------

    def acquire_lease(self, pipeline_id: str, owner: str, *, ttl: float) -> Lease | None:
        """Take the lease of ``pipeline_id`` for ``owner``; None when another runner
        holds it. A lease is free when its holder missed heartbeats for ``ttl`` seconds,
        or ran on this host as a process that no longer exists."""
        now = self.wall_clock()
        host, pid = socket.gethostname(), os.getpid()
        with self.transaction() as db:
            rows = db.execute("SELECT * FROM leases WHERE pipeline_id = ?", (pipeline_id,))
            row = rows.fetchone()
            if row is not None and row["owner"] != owner and self._alive(_lease(row), ttl):
                return None
            db.execute(
                "INSERT OR REPLACE INTO leases (pipeline_id, owner, host, pid, heartbeat, "
                "acquired) VALUES (?, ?, ?, ?, ?, ?)",
                (pipeline_id, owner, host, pid, now, now),
            )
        return Lease(pipeline_id, owner, host, pid, now, now)

    def _alive(self, lease: Lease, ttl: float) -> bool:
        if self.wall_clock() - lease.heartbeat >= ttl:
            return False
        return lease.host != socket.gethostname() or _process_exists(lease.pid)

    def runner_alive(self, pipeline_id: str, *, ttl: float) -> bool:
        """Whether a runner holds the lease of ``pipeline_id`` and is alive: its last
        heartbeat is younger than ``ttl`` seconds, and on this host its process exists."""
        lease = self.lease(pipeline_id)
        return lease is not None and self._alive(lease, ttl)

    def heartbeat(self, pipeline_id: str, owner: str) -> bool:
        """Renew ``owner``'s lease; False when it holds it no more."""
        with self.transaction() as db:
            cursor = db.execute(
                "UPDATE leases SET heartbeat = ? WHERE pipeline_id = ? AND owner = ?",
                (self.wall_clock(), pipeline_id, owner),
            )
            return cursor.rowcount == 1

    def release_lease(self, pipeline_id: str, owner: str) -> None:
        """Give the lease up."""
        with self.transaction() as db:
            db.execute(
                "DELETE FROM leases WHERE pipeline_id = ? AND owner = ?", (pipeline_id, owner)
            )

    def lease(self, pipeline_id: str) -> Lease | None:
        """Who holds the lease of ``pipeline_id``, if anyone."""
        rows = self._read("SELECT * FROM leases WHERE pipeline_id = ?", (pipeline_id,))
        return _lease(rows[0]) if rows else None


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _lease(row: sqlite3.Row) -> Lease:
    return Lease(
        row["pipeline_id"],
        row["owner"],
        row["host"],
        row["pid"],
        row["heartbeat"],
        row["acquired"],
    )


def _pipeline_value(name: str, value: Any) -> Any:
    if name in _PIPELINE_JSON or name == "run_settings":
        return None if value is None else _dumps(value)
    if name == "deleted":
        return int(bool(value))
    return value


def _object_value(name: str, value: Any) -> Any:
    if name in ("fields", "internal"):
        return _dumps(value or {})
    return value


def _pipeline_summary(row: sqlite3.Row) -> PipelineSummary:
    return PipelineSummary(
        row["pipeline_id"],
        row["name"],
        row["creator"],
        orjson.loads(row["tags"]),
        row["state"],
        row["created"],
    )


def _pipeline_record(row: sqlite3.Row) -> PipelineRecord:
    present = set(row.keys())
    values: dict[str, Any] = {
        name: row[name] if name in present else None for name in _PIPELINE_COLUMNS
    }
    for name in (*_PIPELINE_JSON, "run_settings"):
        if values[name] is not None:
            values[name] = orjson.loads(values[name])
    values["deleted"] = bool(values["deleted"])
    return PipelineRecord(**values)


def _object_record(row: sqlite3.Row) -> ObjectRecord:
    values = {name: row[name] for name in _OBJECT_COLUMNS}
    values["fields"] = orjson.loads(values["fields"])
    values["internal"] = orjson.loads(values["internal"])
    return ObjectRecord(**values)
