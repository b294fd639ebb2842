"""docs/cli.md is the text of every command's --help, the exit codes and the JSON output;
this test keeps it current.

After changing an option, regenerate it with:
    .venv/bin/python -m tests.unit.cli.test_cli_reference
"""

from __future__ import annotations

from pathlib import Path

import click
from click.testing import CliRunner

from ddbpipe.cli import cli
from ddbpipe.cli.errors import EXIT_MEANINGS

REFERENCE = Path(__file__).resolve().parents[3] / "docs" / "cli.md"

JSON_SCHEMA = """\
With `--json`, `export`, `import`, `inspect`, `convert` and the `pipeline` commands print
exactly one JSON object on stdout, and every line for people (progress, results, errors) on
stderr:

```text
{
  "command":   "export" | "import" | "inspect" | "convert" | "pipeline run" | …,
  "ok":        true | false,
  "exit_code": the process's exit code,
  "results":   [ one object per table exported, import, backup inspected or conversion ],
  "error":     null | {
    "type":           the error's class, e.g. "TableNotFoundError",
    "code":           the exit code,
    "message":        the one-line message,
    "resume_command": the command that resumes the job, or null,
    "items_done":     items durably done before the stop, or null,
    "tables":         [ {"table", "status": "finished" | "failed" | "not started",
                         "folder", "reason"} ],
    "discarded":      the folder whose partial content was removed, or null
  }
}
```

A result holds: for `export`, `table`, `folder`, `files` (URLs), `items`, `bytes`,
`consumed_capacity` (RCU), `duration` (seconds), `segments`, `workers`, `read_rate`; for
`import`, `table`, `source`, `files`, `items_read`, `written`, `skipped`, `duplicates`,
`blank_lines`, `deleted`, `consumed_capacity` (WCU), `duration`, `workers`, `write_rate`,
`dry_run`, `exports`, `left_out`; for `inspect`, `folder`, `format`, `items`, `bytes`,
`files` (each with `key`, `url`, `bytes`, `items`, `problems`), `problems`, `warnings`;
for `convert`, `source`, `folder`, `format`, `files`, `items`, `duration`; for
`pipeline run` and `pipeline resume`, `pipeline_id`, `name`, `state`, `health`, `stopped`
and `instances` (each with `instance_id`, `component_id`, `component_type`, `status`,
`scheduled_start`, `actual_start`, `actual_end`, `attempts`, `error_message`, `log`,
`summary`); for `pipeline validate`, `errored`, `validationErrors`, `validationWarnings`
as ValidatePipelineDefinition returns them; for `pipeline list`, one object per pipeline
(`pipeline_id`, `name`, `state`, `health`, `created`, `last_activated`, `next_run`); for
`pipeline runs`, one per instance (`name`, `scheduled_start`, `status`, `id`, `started`,
`ended`).

`users`, `groups` and `roles` commands print the same object (`command` is, for example,
`"users add"`). Their results describe users, groups or roles: `kind`, `name`, `arn`,
`unique_id`, `created`, `inline_policies`, `managed_policies`, then `groups` for a user
and a role, `members` for a group, `access_keys` and `console_password` for a user,
`description` for a role. `users add` adds `new_access_key` (`user`, `access_key_id`,
`secret_access_key`: null when the key was given with `--access-key-id`);
`users create-access-key` returns that object alone.
"""


def _exit_codes() -> str:
    rows = [f"| {code} | {meaning} |" for code, meaning in sorted(EXIT_MEANINGS.items())]
    return "\n".join(
        [
            "## Exit codes\n",
            "| code | meaning |",
            "| --- | --- |",
            "| 0 | done |",
            *rows,
            "",
            "A job stopped by a signal exits with 128 + the signal's number; its checkpoint is",
            "saved and the command that resumes it is printed.\n",
        ]
    )


def _command_paths() -> list[list[str]]:
    """Every command and subcommand, as the words that name it."""
    paths = []
    context = click.Context(cli)
    for name in cli.list_commands(context):
        paths.append([name])
        command = cli.get_command(context, name)
        if isinstance(command, click.Group):
            paths += [[name, sub] for sub in sorted(command.commands)]
    return paths


def render() -> str:
    """The reference as it should read now."""
    parts = [
        "# ddbpipe command reference\n",
        "Generated from `--help`; regenerate with "
        "`.venv/bin/python -m tests.unit.cli.test_cli_reference`.\n",
    ]
    for args in [[], *_command_paths()]:
        title = " ".join(["ddbpipe", *args])
        result = CliRunner().invoke(cli, [*args, "--help"], prog_name="ddbpipe", terminal_width=100)
        text = result.output
        parts.append(f"## {title}\n\n```text\n{text.rstrip()}\n```\n")
    parts += [_exit_codes(), "## JSON output\n", JSON_SCHEMA]
    return "\n".join(parts)


def test_reference_is_current() -> None:
    assert REFERENCE.read_text() == render(), "regenerate docs/cli.md (see this file's docstring)"


if __name__ == "__main__":
    REFERENCE.write_text(render())
