"""The one exception tree of ddbpipe.

Classes are grouped by what the caller should do with them::

    DdbpipeError
    ├── ConfigError            fix the configuration; lists every problem at once
    ├── RetriableError         the engine retries these with backoff
    │   ├── ThrottledError         DynamoDB or S3 asked us to slow down
    │   └── TransientError         5xx, dropped connection, timeout
    ├── FatalError             the job stops; never swallowed
    │   ├── NotFoundError          a table, bucket, folder or object is missing
    │   │   ├── TableNotFoundError
    │   │   └── BucketNotFoundError
    │   ├── AccessDeniedError      names the action that was refused
    │   ├── AlreadyExistsError     an output folder that must not be overwritten
    │   ├── KeySchemaMismatchError
    │   ├── NotABackupError        pointed at something that is not a backup folder
    │   │   └── SeveralExportsError    a prefix of native exports: which to read?
    │   ├── RetriesExhaustedError  a retriable error outlived its retry budget
    │   └── ServiceError           any other error a service returned
    ├── DataError              bad input: names the source, the line and what is wrong
    │   └── ItemError              an item or value breaks DynamoDB's rules
    └── JobSignal              not a failure of the data: the job was stopped
        ├── CancelledError
        └── PausedError            stopped with a checkpoint to resume from

The library raises; only ``ddbpipe.cli`` prints and chooses exit codes.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "AccessDeniedError",
    "AlreadyExistsError",
    "BucketNotFoundError",
    "CancelledError",
    "ConfigError",
    "DataError",
    "DdbpipeError",
    "FatalError",
    "ItemError",
    "JobSignal",
    "KeySchemaMismatchError",
    "NotABackupError",
    "NotFoundError",
    "PausedError",
    "RetriableError",
    "RetriesExhaustedError",
    "ServiceError",
    "SeveralExportsError",
    "TableNotFoundError",
    "ThrottledError",
    "TransientError",
]


class DdbpipeError(Exception):
    """Root of every error ddbpipe raises on purpose.

    ``hint`` (when set) tells the user what to do next, such as how to resume.
    """

    hint: str | None = None


class ConfigError(DdbpipeError):
    """The configuration is invalid; ``problems`` holds every problem found."""

    def __init__(self, problems: str | Sequence[str]) -> None:
        self.problems: tuple[str, ...] = (
            (problems,) if isinstance(problems, str) else tuple(problems)
        )
        super().__init__("; ".join(self.problems))


class RetriableError(DdbpipeError):
    """A failure that may succeed when tried again after a pause."""


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


class RetriesExhaustedError(FatalError):
    """A retriable error kept happening until the retry budget ran out."""


class ServiceError(FatalError):
    """An error returned by DynamoDB or S3 that has no more specific class."""

    def __init__(self, service: str, code: str, message: str) -> None:
        self.service = service
        self.code = code
        super().__init__(f"{service} error {code}: {message}")


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


class JobSignal(DdbpipeError):
    """The job was stopped from outside; not a failure of the data."""


class CancelledError(JobSignal):
    """The job was cancelled (for example by Ctrl-C)."""


class PausedError(JobSignal):
    """The job stopped with a checkpoint; ``resume_hint`` says how to go on."""

    def __init__(self, message: str, resume_hint: str) -> None:
        self.resume_hint = resume_hint
        self.hint = resume_hint
        super().__init__(message)
