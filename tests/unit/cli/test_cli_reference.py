"""docs/cli.md is the text of every command's --help; this test keeps it current.

After changing an option, regenerate it with:
    .venv/bin/python -m tests.unit.cli.test_cli_reference
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from ddbpipe.cli import cli

REFERENCE = Path(__file__).resolve().parents[3] / "docs" / "cli.md"


def render() -> str:
    """The reference as it should read now."""
    parts = [
        "# ddbpipe command reference\n",
        "Generated from `--help`; regenerate with "
        "`.venv/bin/python -m tests.unit.cli.test_cli_reference`.\n",
    ]
    for args in [[], *([name] for name in sorted(cli.commands))]:
        title = " ".join(["ddbpipe", *args])
        result = CliRunner().invoke(cli, [*args, "--help"], prog_name="ddbpipe", terminal_width=100)
        text = result.output
        parts.append(f"## {title}\n\n```text\n{text.rstrip()}\n```\n")
    return "\n".join(parts)


def test_reference_is_current() -> None:
    assert REFERENCE.read_text() == render(), "regenerate docs/cli.md (see this file's docstring)"


if __name__ == "__main__":
    REFERENCE.write_text(render())
