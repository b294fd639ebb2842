"""Exit codes and how errors are shown: the only place that maps errors to exits."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from ddbpipe.errors import (
    AccessDeniedError,
    AlreadyExistsError,
    ConfigError,
    DataError,
    DdbpipeError,
    JobSignal,
    KeySchemaMismatchError,
    NotABackupError,
    NotFoundError,
    RetriableError,
    RetriesExhaustedError,
)

__all__ = ["EXIT_CODES", "err_console", "exit_code_for", "handle_errors", "render"]

P = ParamSpec("P")
R = TypeVar("R")

err_console = Console(stderr=True, highlight=False)

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
EXIT_OTHER = 1


def exit_code_for(error: DdbpipeError) -> int:
    """The process exit code for ``error``."""
    for kind, code in EXIT_CODES:
        if isinstance(error, kind):
            return code
    return EXIT_OTHER


def render(error: DdbpipeError) -> str:
    """The message a user sees for ``error``."""
    if isinstance(error, ConfigError) and len(error.problems) > 1:
        return "invalid configuration:\n" + "\n".join(f"  - {p}" for p in error.problems)
    return str(error)


def handle_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn ddbpipe errors into one red line on stderr and a distinct exit code."""

    @wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except DdbpipeError as exc:
            if click.get_current_context().find_root().params.get("debug"):
                raise
            err_console.print(f"[bold red]error:[/] {escape(render(exc))}", soft_wrap=True)
            if exc.hint:
                err_console.print(exc.hint, soft_wrap=True, markup=False)
            sys.exit(exit_code_for(exc))
        except KeyboardInterrupt:
            err_console.print("[bold red]interrupted[/]")
            sys.exit(130)

    return wrapper
