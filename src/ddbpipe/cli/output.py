"""Where a command writes: human text, progress, and with ``--json`` one JSON object.

Without ``--json``, results go to stdout and errors and progress to stderr. With it,
stdout carries exactly one JSON object (the command's result or its error) and every
line for people goes to stderr. Output that is not a terminal is never wrapped, so
ARNs, URLs and commands stay whole on one line.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click
import orjson
from rich.console import Console

if TYPE_CHECKING:
    from ddbpipe.cli.errors import ResumeCommand

__all__ = [
    "Output",
    "current_output",
    "err_console",
    "job_output",
    "make_console",
    "use_output",
]

_UNWRAPPED_WIDTH = 100_000


def make_console(*, stderr: bool = False) -> Console:
    """A console that wraps only on a terminal."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else _UNWRAPPED_WIDTH
    return Console(stderr=stderr, highlight=False, soft_wrap=width is not None, width=width)


err_console = make_console(stderr=True)


@dataclass
class Output:
    """One command's output; see the module doc."""

    command: str
    json: bool = False
    resume: ResumeCommand | None = None
    console: Console = field(init=False)

    def __post_init__(self) -> None:
        self.console = make_console(stderr=self.json)

    def emit(self, document: dict[str, Any]) -> None:
        """Write the one JSON object of ``--json`` to stdout."""
        data = orjson.dumps({"command": self.command, **document}, option=orjson.OPT_INDENT_2)
        sys.stdout.write(data.decode() + "\n")
        sys.stdout.flush()

    def results(self, results: list[dict[str, Any]]) -> None:
        """Write a successful command's results as JSON, with ``--json``."""
        if self.json:
            self.emit({"ok": True, "exit_code": 0, "results": results, "error": None})


def job_output(
    command: str,
    as_json: bool,
    connection: dict[str, str | None],
    options: dict[str, str | None] | None = None,
) -> Output:
    """The output of a command that may print how to resume (or finish) a job: with the
    command's ``connection`` flags and its job ``options`` kept for that command line."""
    from ddbpipe.cli.errors import ResumeCommand

    resume = ResumeCommand()
    resume.connection = connection
    resume.options = options or {}
    return use_output(Output(command, json=as_json, resume=resume))


def use_output(output: Output) -> Output:
    """Make ``output`` the current command's output (errors are written through it)."""
    click.get_current_context().meta["ddbpipe.output"] = output
    return output


def current_output() -> Output | None:
    """The output of the command that is running, if it set one."""
    context = click.get_current_context(silent=True)
    if context is None:
        return None
    output: Output | None = context.meta.get("ddbpipe.output")
    return output
