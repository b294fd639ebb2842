"""The one exception tree of ddbpipe.

Classes are grouped by what the caller should do with them::

    DdbpipeError
    ├── ConfigError            fix the configuration; lists every problem at once
    │   ├── EndpointUnreachableError   nothing answers at the endpoint
    │   └── PipelineInvalidError   a pipeline definition with errors cannot run
    ├── RetriableError         the engine retries these with backoff
    │   ├── ThrottledError         DynamoDB or S3 asked us to slow down
    │   └── TransientError         5xx, dropped connection, timeout
    ├── FatalError             the job stops; never swallowed
    │   ├── NotFoundError          a table, bucket, folder or object is missing
    │   │   ├── TableNotFoundError
    │   │   ├── BucketNotFoundError
    │   │   └── PipelineNotFoundError  (``deleted`` when it was deleted)
    │   ├── AccessDeniedError      names the action that was refused
    │   ├── AlreadyExistsError     an output folder that must not be overwritten
    │   ├── KeySchemaMismatchError
    │   ├── NotABackupError        pointed at something that is not a backup folder
    │   │   ├── SeveralExportsError    a prefix of native exports: which to read?
    │   │   └── InterruptedExportError an export that did not finish: resume it
    │   ├── RetriesExhaustedError  a retriable error outlived its retry budget
    │   ├── WorkerLostError        a worker process died
    │   ├── PipelineBusyError      another runner runs the pipeline
    │   └── ServiceError           any other error a service returned
    ├── DataError              bad input: names the source, the line and what is wrong
    │   └── ItemError              an item or value breaks DynamoDB's rules
    │       └── ItemRejectedError      DynamoDB refused the item
    └── JobSignal              not a failure of the data: the job was stopped
        ├── CancelledError
        └── PausedError            stopped with a checkpoint to resume from

Every error crosses process boundaries whole: pickling keeps its class, message and
data (``DdbpipeError.__reduce__``), so an error raised in a worker process reaches the
caller as itself. Errors carry data — where a job can be resumed (``resume``), what was
durably done, which tables finished — and never command-line text: the library
raises; only ``ddbpipe.cli`` writes sentences for people and chooses exit codes.

``transient`` tells a caller that runs jobs again (the pipeline runner) whether trying
again later may succeed: true for throttling, server errors, dropped connections, an
exhausted retry budget and a lost worker; false for everything a retry cannot fix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

__all__ = [
    "AccessDeniedError",
    "AlreadyExistsError",
    "BucketNotFoundError",
    "CancelledError",
    "ConfigError",
    "DataError",
    "DdbpipeError",
    "EndpointUnreachableError",
    "FatalError",
    "InterruptedExportError",
    "ItemError",
    "ItemRejectedError",
    "JobSignal",
    "KeySchemaMismatchError",
    "NotABackupError",
    "NotFoundError",
    "PausedError",
    "PipelineBusyError",
    "PipelineInvalidError",
    "PipelineNotFoundError",
    "ResumePoint",
    "RetriableError",
    "RetriesExhaustedError",
    "ServiceError",
    "SeveralExportsError",
    "TableNotFoundError",
    "TableOutcome",
    "ThrottledError",
    "TransientError",
    "WorkerLostError",
]


@dataclass(frozen=True)
class ResumePoint:
    """Where a stopped job can go on from.

    ``job`` is ``export`` (``location`` is the run folder) or ``import`` (``location``
    is the source and ``table`` the target); ``done`` counts the items durably done:
    in checkpointed data files (export) or acknowledged by DynamoDB (import).
    """

    job: Literal["export", "import"]
    location: str
    table: str | None = None
    done: int = 0


@dataclass(frozen=True)
class TableOutcome:
    """One table of a multi-table export: ``finished`` (with its folder), ``failed``
    (with why) or ``not started``."""

    table: str
    status: Literal["finished", "failed", "not started"]
    folder: str | None = None
    reason: str | None = None


def _rebuild(cls: type[DdbpipeError], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class DdbpipeError(Exception):
    """Root of every error ddbpipe raises on purpose.

    ``resume`` (when set) says where the job can be resumed from; ``tables`` lists the
    outcome of each table of a multi-table export; ``discarded`` names an output folder
    whose partial content was removed; ``remote_traceback`` is the traceback of an error
    raised in another process.
    """

    transient: ClassVar[bool] = False
    resume: ResumePoint | None = None
    tables: tuple[TableOutcome, ...] = ()
    discarded: str | None = None
    remote_traceback: str | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt without calling ``__init__``, whose arguments differ per class: the
        # message (``args``) and every attribute come back as they were.
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


class ConfigError(DdbpipeError):
    """The configuration is invalid; ``problems`` holds every problem found."""

    def __init__(self, problems: str | Sequence[str]) -> None:
        self.problems: tuple[str, ...] = (
            (problems,) if isinstance(problems, str) else tuple(problems)
        )
        super().__init__("; ".join(self.problems))


class EndpointUnreachableError(ConfigError):
    """Nothing answers at ``endpoint``: a wrong URL or port, or a server that is down."""

    def __init__(self, service: str, endpoint: str, reason: str) -> None:
        self.service = service
        self.endpoint = endpoint
        super().__init__(f"cannot connect to {service} at {endpoint}: {reason}")


class PipelineInvalidError(ConfigError):
    """A pipeline definition whose validation found errors; ``errors`` and ``warnings``
    hold the ``CODE: text`` messages by object id (``""`` for the definition)."""

    def __init__(
        self,
        errors: Mapping[str, Sequence[str]],
        warnings: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.errors = {key: tuple(values) for key, values in errors.items()}
        self.warnings = {key: tuple(values) for key, values in (warnings or {}).items()}
        super().__init__(
            [
                f"{key or '(definition)'}: {text}"
                for key, values in self.errors.items()
                for text in values
            ]
            or ["the pipeline definition has errors"]
        )


class RetriableError(DdbpipeError):
    """A failure that may succeed when tried again after a pause."""

    transient = True


class ThrottledError(RetriableError):
    """The service asked the client to slow down."""


class TransientError(RetriableError):
    """A server error, a dropped connection or a timeout."""


class FatalError(DdbpipeError):
    """The job cannot go on; the message says why."""


class NotFoundError(FatalError):
    """A table, bucket, folder or object does not exist."""


class TableNotFoundError(NotFoundError):
    """The table does not exist in the region that was asked."""

    def __init__(self, table: str, region: str | None) -> None:
        self.table = table
        self.region = region
        where = f" in region {region}" if region else ""
        super().__init__(f"table {table!r} not found{where}")


class BucketNotFoundError(NotFoundError):
    """The S3 bucket does not exist."""

    def __init__(self, bucket: str) -> None:
        self.bucket = bucket
        super().__init__(f"bucket {bucket!r} does not exist")


class AccessDeniedError(FatalError):
    """The credentials are not allowed to perform an action."""

    def __init__(self, action: str, resource: str, detail: str = "") -> None:
        self.action = action
        self.resource = resource
        tail = f": {detail}" if detail else ""
        super().__init__(f"access denied: {action} on {resource}{tail}")


class AlreadyExistsError(FatalError):
    """Something that a run must create already exists."""


class KeySchemaMismatchError(FatalError):
    """The source and the target table have different key schemas."""


class NotABackupError(FatalError):
    """The location is not a backup folder; the message says what to point at."""


class SeveralExportsError(NotABackupError):
    """``root_url`` (an ``AWSDynamoDB/`` folder) holds several native ``exports``: one
    backup cannot stand for them, a chain of them can (``backups.chain``)."""

    def __init__(self, message: str, *, root_url: str, exports: Sequence[str]) -> None:
        self.root_url = root_url
        self.exports = tuple(exports)
        super().__init__(message)


class InterruptedExportError(NotABackupError):
    """``folder`` holds an export that did not finish; ``resumable`` when ddbpipe's
    checkpoint is there to finish it from."""

    def __init__(self, message: str, *, folder: str, resumable: bool) -> None:
        self.folder = folder
        self.resumable = resumable
        super().__init__(message)


class RetriesExhaustedError(FatalError):
    """A retriable error kept happening until the retry budget ran out."""

    transient = True


class WorkerLostError(FatalError):
    """A worker process died before its task finished (killed, or out of memory)."""

    transient = True


class PipelineNotFoundError(NotFoundError):
    """No pipeline has the id ``pipeline_id`` (``deleted`` when it had one until it was
    deleted)."""

    def __init__(self, pipeline_id: str, *, deleted: bool = False) -> None:
        self.pipeline_id = pipeline_id
        self.deleted = deleted
        what = "was deleted" if deleted else "does not exist"
        super().__init__(f"pipeline {pipeline_id} {what}")


class PipelineBusyError(FatalError):
    """Another runner holds the pipeline's lease: ``owner`` on ``host``, process ``pid``."""

    def __init__(self, pipeline_id: str, owner: str, host: str, pid: int) -> None:
        self.pipeline_id = pipeline_id
        self.owner = owner
        self.host = host
        self.pid = pid
        super().__init__(
            f"pipeline {pipeline_id} is being run by another runner (process {pid} on {host})"
        )


class ServiceError(FatalError):
    """An error returned by DynamoDB or S3 that has no more specific class."""

    def __init__(self, service: str, code: str, message: str, *, operation: str = "") -> None:
        self.service = service
        self.code = code
        self.operation = operation
        self.detail = message
        where = f"{operation}: " if operation else ""
        super().__init__(f"{service} error {code}: {where}{message}")


class DataError(DdbpipeError):
    """Bad input data.

    ``source`` names the file (or object URL) and ``line`` the 1-based line number,
    when they are known; ``reason`` says what is wrong.
    """

    def __init__(self, reason: str, *, source: str | None = None, line: int | None = None) -> None:
        self.reason = reason
        self.source = source
        self.line = line
        super().__init__(self._render())

    def _render(self) -> str:
        if self.source is None:
            return self.reason
        where = self.source if self.line is None else f"{self.source}, line {self.line}"
        return f"{where}: {self.reason}"

    def located(self, source: str | None, line: int | None) -> DataError:
        """A copy of this error that names ``source`` and ``line`` (itself if no source)."""
        if not source:
            return self
        return type(self)(self.reason, source=source, line=line)


class ItemError(DataError):
    """An item or attribute value breaks DynamoDB's rules."""


class ItemRejectedError(ItemError):
    """DynamoDB refused to write the item (a ``ValidationException``): for example an
    index key attribute of the wrong type."""


class JobSignal(DdbpipeError):
    """The job was stopped from outside; not a failure of the data."""


class CancelledError(JobSignal):
    """The job was cancelled (Ctrl-C, a signal, or its cancel token)."""


class PausedError(JobSignal):
    """The job stopped with a checkpoint; ``resume`` says where to go on from."""

    def __init__(self, message: str, resume: ResumePoint) -> None:
        self.resume = resume
        super().__init__(message)
