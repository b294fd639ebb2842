"""Exit codes and how errors are shown: the only place that maps errors to exits.

Errors carry data; the sentences for people are written here: what went wrong (one
line), then what to do — the command that resumes a stopped job, with every flag it
needs; how each table of a multi-table export ended; that a failed conversion left
nothing behind.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import click
from rich.markup import escape

from ddbpipe.cli.output import Output, current_output, err_console
from ddbpipe.cli.signals import stopping_signal
from ddbpipe.errors import (
    AccessDeniedError,
    AlreadyExistsError,
    ConfigError,
    DataError,
    DdbpipeError,
    InterruptedExportError,
    JobSignal,
    KeySchemaMismatchError,
    NotABackupError,
    NotFoundError,
    ResumePoint,
    RetriableError,
    RetriesExhaustedError,
)

__all__ = [
    "EXIT_CODES",
    "EXIT_MEANINGS",
    "EXIT_OTHER",
    "EXIT_USAGE",
    "ResumeCommand",
    "exit_code_for",
    "handle_errors",
    "render",
]

P = ParamSpec("P")
R = TypeVar("R")

EXIT_USAGE = 2
EXIT_OTHER = 1
# Most specific first.
EXIT_CODES: tuple[tuple[type[DdbpipeError], int], ...] = (
    (ConfigError, 3),
    (DataError, 4),
    (NotABackupError, 5),
    (NotFoundError, 6),
    (AccessDeniedError, 7),
    (AlreadyExistsError, 8),
    (KeySchemaMismatchError, 9),
    (RetriesExhaustedError, 10),
    (RetriableError, 10),
    (JobSignal, 130),
)


EXIT_MEANINGS = {
    EXIT_OTHER: "anything else, such as a worker process that died",
    EXIT_USAGE: "usage: an unknown option, a missing argument",
    3: "configuration: an invalid option, region, path or state folder, or an endpoint that "
    "does not answer",
    4: "bad data (or `inspect --verify` found problems)",
    5: "not a backup folder, or an export that did not finish",
    6: "not found: a table, bucket, folder or object",
    7: "access denied",
    8: "already exists: an export never overwrites a folder",
    9: "key schema mismatch between the backup and the table",
    10: "retries exhausted: throttling, server errors or dropped connections outlasted the "
    "retry budget",
    11: "`pipeline run` / `pipeline resume`: an instance failed, timed out, was canceled or "
    "cascade-failed",
    130: "stopped (Ctrl-C); 143 for SIGTERM, 129 for SIGHUP: resumable",
}


def exit_code_for(error: DdbpipeError) -> int:
    """The process exit code for ``error``: for a job stopped by a signal, 128 + the
    signal's number (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP)."""
    if isinstance(error, JobSignal):
        signum = stopping_signal()
        return 128 + signum if signum else 130
    for kind, code in EXIT_CODES:
        if isinstance(error, kind):
            return code
    return EXIT_OTHER


def render(error: DdbpipeError) -> str:
    """The message a user sees for ``error``."""
    if isinstance(error, ConfigError) and len(error.problems) > 1:
        return "invalid configuration:\n" + "\n".join(f"  - {p}" for p in error.problems)
    return str(error)


class ResumeCommand:
    """Builds the command that resumes a stopped job: the command's own flags, kept by
    each command as it starts (``flags``), with paths made absolute."""

    def __init__(self) -> None:
        self.connection: dict[str, str | None] = {}
        self.options: dict[str, str | None] = {}

    def text(self, point: ResumePoint) -> str:
        """``ddbpipe export --resume FOLDER ...`` or ``ddbpipe import --resume SOURCE
        TABLE ...``."""
        words = ["ddbpipe", point.job, "--resume", point.location]
        if point.job == "import" and point.table is not None:
            words.append(point.table)
        return self._joined(words, {**self.connection, **self.options})

    def finish_export(self, folder: str) -> str:
        """The command that finishes the interrupted export in ``folder`` (found by
        another command: only the connection options apply)."""
        return self._joined(["ddbpipe", "export", "--resume", folder], self.connection)

    @staticmethod
    def _joined(words: list[str], flags: dict[str, str | None]) -> str:
        for name, value in flags.items():
            if value:
                words = [*words, f"--{name.replace('_', '-')}", value]
        return " ".join(shlex.quote(word) for word in words)


def _hints(error: DdbpipeError, resume: ResumeCommand | None) -> list[str]:
    hints: list[str] = []
    for outcome in error.tables:
        detail = outcome.folder if outcome.status == "finished" else outcome.reason or ""
        hints.append(f"  {outcome.table}: {outcome.status}" + (f" ({detail})" if detail else ""))
    if error.discarded:
        hints.append(f"nothing was kept: what was written to {error.discarded} was removed")
    point = error.resume
    if point is not None and resume is not None:
        if isinstance(error, JobSignal):
            hints.append(f"resume with: {resume.text(point)}")
        else:
            done = f"{point.done:,} items are done; " if point.done else ""
            hints.append(f"{done}once the cause is fixed, resume with: {resume.text(point)}")
    elif isinstance(error, InterruptedExportError) and error.resumable:
        command = (resume or ResumeCommand()).finish_export(error.folder)
        hints.append(f"finish it with: {command}")
    return hints


def error_document(error: DdbpipeError, resume: ResumeCommand | None) -> dict[str, Any]:
    """The ``error`` member of a command's ``--json`` output."""
    point = error.resume
    return {
        "type": type(error).__name__,
        "code": exit_code_for(error),
        "message": render(error),
        "resume_command": resume.text(point) if point is not None and resume else None,
        "items_done": point.done if point is not None else None,
        "tables": [
            {"table": t.table, "status": t.status, "folder": t.folder, "reason": t.reason}
            for t in error.tables
        ],
        "discarded": error.discarded,
    }


def handle_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn ddbpipe errors into one red line on stderr (and, with ``--json``, one JSON
    object on stdout), then what to do, and a distinct exit code."""

    @wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except DdbpipeError as exc:
            if click.get_current_context().find_root().params.get("debug"):
                raise
            _report(exc, current_output())
            sys.exit(exit_code_for(exc))
        except KeyboardInterrupt:
            err_console.print("[bold red]interrupted[/]")
            sys.exit(130)

    return wrapper


def _report(error: DdbpipeError, output: Output | None) -> None:
    resume = output.resume if output is not None else None
    err_console.print(f"[bold red]error:[/] {escape(render(error))}", soft_wrap=True)
    for hint in _hints(error, resume):
        err_console.print(hint, soft_wrap=True, markup=False, highlight=False)
    if output is not None and output.json:
        output.emit(
            {
                "ok": False,
                "exit_code": exit_code_for(error),
                "results": [],
                "error": error_document(error, resume),
            }
        )
