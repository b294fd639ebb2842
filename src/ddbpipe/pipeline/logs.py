"""Each attempt's ``Activity.log``, where the service kept its logs.

The log of an attempt lies at
``<pipelineLogUri>/<pipelineId>/<componentId>/<instanceId>/<attemptId>/Activity.log``
(the Developer Guide's layout); without a ``pipelineLogUri``, under ``logs/`` in the
state folder. Lines are stamped with the runner's clock. A local log is appended to
and flushed line by line, so it can be read while the attempt runs; a log in S3 is
rewritten whole at least every ``flush_interval`` seconds and when it is closed. A log
that cannot be written never fails the attempt: ``problem`` says why it stopped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from ddbpipe.errors import DdbpipeError
from ddbpipe.pipeline.clock import Clock
from ddbpipe.pipeline.timefmt import format_datetime
from ddbpipe.sessions import AnySession
from ddbpipe.stores import LocalStore, Store, StoreConfig, open_store

__all__ = ["LOG_NAME", "ActivityLog", "attempt_log_url"]

LOG_NAME = "Activity.log"


def attempt_log_url(
    log_root: str, pipeline_id: str, component_id: str, instance_id: str, attempt_id: str
) -> str:
    """The URL (or path) of an attempt's log under the log root ``log_root``."""
    return "/".join(
        [log_root.rstrip("/"), pipeline_id, component_id, instance_id, attempt_id, LOG_NAME]
    )


class ActivityLog:
    """The log file at ``url`` (local path or ``s3://``), open for writing lines."""

    def __init__(
        self,
        url: str,
        *,
        clock: Clock,
        store: StoreConfig | None = None,
        session: AnySession | None = None,
        flush_interval: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.clock = clock
        self.flush_interval = flush_interval
        self.monotonic = monotonic
        self.problem: str | None = None
        self._file: IO[str] | None = None
        self._store: Store | None = None
        self._lines: list[str] = []
        self._flushed = monotonic()
        self._dirty = False
        self._lock = threading.Lock()
        folder, _, self._name = url.rpartition("/")
        try:
            store_ = open_store(folder, store, session=session)
            if isinstance(store_, LocalStore):
                path = Path(store_.url_for(self._name))
                path.parent.mkdir(parents=True, exist_ok=True)
                self._file = path.open("a", encoding="utf-8")
                self.url = str(path)
            else:
                self._store = store_
                self.url = store_.url_for(self._name)
        except (DdbpipeError, OSError) as exc:
            self.problem = f"cannot write the log {url}: {exc}"

    def write(self, text: str) -> None:
        """Add ``text`` (one or more lines), stamped with the time."""
        stamp = format_datetime(self.clock.now())
        lines = [f"{stamp} {line}" for line in text.rstrip("\n").split("\n")]
        with self._lock:
            self._write(lines)

    def _write(self, lines: list[str]) -> None:
        if self._file is not None:
            try:
                self._file.write("\n".join(lines) + "\n")
                self._file.flush()
            except OSError as exc:
                self.problem = f"cannot write the log {self.url}: {exc}"
                self._file = None
        elif self._store is not None:
            self._lines.extend(lines)
            self._dirty = True
            if self.monotonic() - self._flushed >= self.flush_interval:
                self._flush()

    def flush(self, *, only_if_due: bool = False) -> None:
        """Write what is buffered (a log kept in S3 is rewritten whole); with
        ``only_if_due``, only when ``flush_interval`` has passed since the last write."""
        with self._lock:
            if only_if_due and self.monotonic() - self._flushed < self.flush_interval:
                return
            self._flush()

    def _flush(self) -> None:
        if self._store is None or not self._dirty:
            return
        try:
            self._store.write_bytes(self._name, ("\n".join(self._lines) + "\n").encode())
        except DdbpipeError as exc:
            self.problem = f"cannot write the log {self.url}: {exc}"
            self._store = None
        self._dirty = False
        self._flushed = self.monotonic()

    def close(self) -> None:
        """Write everything and close the file."""
        with self._lock:
            self._flush()
            if self._file is not None:
                self._file.close()
                self._file = None
