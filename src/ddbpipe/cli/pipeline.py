"""``ddbpipe pipeline``: run AWS Data Pipeline definitions, and look at their runs."""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from ddbpipe.cli.errors import handle_errors
from ddbpipe.cli.options import (
    Connection,
    connection_options,
    dask_option,
    json_option,
    state_dir,
)
from ddbpipe.cli.output import Output, err_console, use_output
from ddbpipe.cli.pipeline_display import print_run_result, run_display
from ddbpipe.cli.signals import job_signals, stopping_signal
from ddbpipe.errors import ConfigError
from ddbpipe.pipeline.definition import PipelineDefinition, load_definition
from ddbpipe.pipeline.engine import PipelineEngine
from ddbpipe.pipeline.parameters import parameter_values_from_cli
from ddbpipe.pipeline.run import PipelineRunResult, resume_pipeline, run_pipeline
from ddbpipe.pipeline.settings import RunnerConfig
from ddbpipe.pipeline.state import StateStore
from ddbpipe.pipeline.templates import console_template
from ddbpipe.pipeline.validation import ValidationResult, render_validation, validate_definition

__all__ = ["EXIT_PIPELINE_FAILED", "pipeline_group"]

EXIT_PIPELINE_FAILED = 11
EXIT_INVALID = 3
_LIST_RUNS_STATUSES = {"cancelled": "CANCELED"}


def _state_option(command: Any) -> Any:
    return click.option(
        "--state",
        "state",
        metavar="DIR",
        help="Folder of the pipelines' state (default: $XDG_STATE_HOME/ddbpipe, else "
        "~/.local/state/ddbpipe).",
    )(command)


def _values_options(command: Any) -> Any:
    for option in reversed(
        [
            click.option(
                "--parameter-values",
                "parameter_values",
                multiple=True,
                metavar="KEY=VALUE",
                help="A parameter value (repeat the option; a key given twice makes a list). "
                "Replaces the definition's own values.",
            ),
            click.option(
                "--parameter-values-uri",
                metavar="FILE",
                help='A JSON file {"values": {...}} of parameter values (file:// or a path).',
            ),
        ]
    ):
        command = option(command)
    return command


def _run_options(command: Any) -> Any:
    for option in reversed(
        [
            click.option(
                "--once", is_flag=True, help="Run what is due now (backfill included) and exit."
            ),
            click.option(
                "--workers", type=int, help="Worker processes of each job (default: one per core)."
            ),
            click.option("--sns-endpoint-url", help="SNS endpoint for SnsAlarm actions."),
            click.option(
                "--max-rcu",
                type=float,
                help="Read capacity that export ratios are taken of, instead of the table's.",
            ),
            click.option(
                "--max-wcu",
                type=float,
                help="Write capacity that import ratios are taken of, instead of the table's.",
            ),
            dask_option,
        ]
    ):
        command = option(command)
    return command


@click.group("pipeline")
def pipeline_group() -> None:
    """Run AWS Data Pipeline definitions (the DynamoDB export and import templates, and
    definitions taken from the service) and look at their runs."""


def _read_definition(source: str) -> PipelineDefinition:
    if source == "-":
        return load_definition(sys.stdin.read(), source="the definition on stdin")
    path = Path(source.removeprefix("file://"))
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the definition {source}: {exc.strerror or exc}") from None
    return load_definition(text, source=str(path))


def _with_values(
    definition: PipelineDefinition, values: tuple[str, ...], uri: str | None
) -> PipelineDefinition:
    given = parameter_values_from_cli(list(values), uri=uri)
    if given is None:
        return definition
    return replace(definition, parameter_values=given)


def _state(path: str | None) -> str:
    return str(Path(path).expanduser().absolute()) if path else state_dir()


def _validation_document(result: ValidationResult) -> dict[str, Any]:
    return {"id": None, **result.to_api()}


def _refuse(output: Output, result: ValidationResult) -> None:
    err_console.print("[bold red]error:[/] the pipeline definition has errors", highlight=False)
    err_console.print(escape(render_validation(result)), highlight=False, soft_wrap=True)
    if output.json:
        output.emit(
            {
                "ok": False,
                "exit_code": EXIT_INVALID,
                "results": [_validation_document(result)],
                "error": {"type": "PipelineInvalidError", "code": EXIT_INVALID},
            }
        )
    sys.exit(EXIT_INVALID)


def _runner_config(
    connection: Connection,
    workers: int | None,
    sns: str | None,
    max_rcu: float | None,
    max_wcu: float | None,
    dask: str | None,
) -> RunnerConfig:
    return RunnerConfig(
        dynamo=connection.dynamo(),
        store=connection.s3(),
        sns_endpoint_url=sns,
        workers=workers,
        max_rcu=max_rcu,
        max_wcu=max_wcu,
        dask=dask,
    )


def _result_document(result: PipelineRunResult) -> dict[str, Any]:
    return {
        "pipeline_id": result.pipeline_id,
        "name": result.name,
        "state": result.state,
        "health": result.health,
        "stopped": result.stopped,
        "instances": [asdict(item) for item in result.instances],
    }


def _finish(output: Output, result: PipelineRunResult, state: str, connection: Connection) -> None:
    print_run_result(output.console, result)
    if result.stopped:
        signum = stopping_signal()
        code = 128 + signum if signum else 130
        words = ["ddbpipe", "pipeline", "resume", result.pipeline_id, "--state", state]
        for name, value in connection.flags().items():
            if value:
                words += [f"--{name.replace('_', '-')}", value]
        err_console.print(
            f"stopped; resume with: {' '.join(shlex.quote(w) for w in words)}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    elif result.ok:
        code = 0
    else:
        code = EXIT_PIPELINE_FAILED
    if output.json:
        output.emit(
            {
                "ok": code == 0,
                "exit_code": code,
                "results": [_result_document(result)],
                "error": None,
            }
        )
    if code:
        sys.exit(code)


@pipeline_group.command("run")
@click.argument("definition")
@_values_options
@click.option("--name", help="The pipeline's name (default: the definition file's name).")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="A tag of the pipeline.")
@_run_options
@_state_option
@connection_options
@json_option
@handle_errors
def run_command(
    definition: str,
    parameter_values: tuple[str, ...],
    parameter_values_uri: str | None,
    name: str | None,
    tags: tuple[str, ...],
    once: bool,
    workers: int | None,
    sns_endpoint_url: str | None,
    max_rcu: float | None,
    max_wcu: float | None,
    dask: str | None,
    state: str | None,
    connection: Connection,
    as_json: bool,
) -> None:
    """Validate DEFINITION, activate it and run it here until it is done.

    DEFINITION is a pipeline definition file (file form, as `aws datapipeline
    get-pipeline-definition` prints it, or API form), file://path, or - for stdin.
    Running the same --name again (with the same --state) continues that pipeline:
    what finished is not run again. A schedule without an end runs until Ctrl-C;
    --once runs what is due now and exits. Exits 11 when an instance failed, timed
    out or was cascade-failed, 3 when the definition has errors.
    """
    output = use_output(Output("pipeline run", json=as_json))
    if name is None:
        if definition == "-":
            raise click.UsageError("give --name for a definition read from stdin")
        name = Path(definition.removeprefix("file://")).stem
    tag_map = _pairs(tags, "--tag")
    loaded = _with_values(_read_definition(definition), parameter_values, parameter_values_uri)
    validation = validate_definition(loaded, now=datetime.now(UTC))
    if validation.errored:
        _refuse(output, validation)
    if validation.warnings:
        err_console.print(escape(render_validation(validation)), highlight=False, soft_wrap=True)
    folder = _state(state)
    config = _runner_config(connection, workers, sns_endpoint_url, max_rcu, max_wcu, dask)
    with job_signals() as cancel, run_display(err_console) as sink:
        result = run_pipeline(
            loaded,
            name=name,
            state_dir=folder,
            once=once,
            tags=tag_map,
            config=config,
            cancel=cancel,
            on_event=sink,
        )
    _finish(output, result, folder, connection)


@pipeline_group.command("resume")
@click.argument("pipeline_id")
@_run_options
@_state_option
@connection_options
@json_option
@handle_errors
def resume_command(
    pipeline_id: str,
    once: bool,
    workers: int | None,
    sns_endpoint_url: str | None,
    max_rcu: float | None,
    max_wcu: float | None,
    dask: str | None,
    state: str | None,
    connection: Connection,
    as_json: bool,
) -> None:
    """Continue PIPELINE_ID after its runner stopped (Ctrl-C, a crash, a kill).

    Attempts left running are marked FAILED ("interrupted: the runner stopped") and
    retried from their checkpoints; then the pipeline runs on. Connection options not
    given are those of the pipeline's last run.
    """
    output = use_output(Output("pipeline resume", json=as_json))
    folder = _state(state)
    with StateStore.in_folder(folder) as store:
        saved = PipelineEngine(store).pipeline(pipeline_id).run_settings
    connection = Connection(
        region=connection.region or saved.get("region"),
        profile=connection.profile or saved.get("profile"),
        endpoint_url=connection.endpoint_url or saved.get("endpoint_url"),
        s3_region=connection.s3_region or saved.get("s3_region"),
        s3_endpoint_url=connection.s3_endpoint_url or saved.get("s3_endpoint_url"),
    )
    config = _runner_config(
        connection,
        workers or saved.get("workers"),
        sns_endpoint_url or saved.get("sns_endpoint_url"),
        max_rcu or saved.get("max_rcu"),
        max_wcu or saved.get("max_wcu"),
        dask or saved.get("dask"),
    )
    with job_signals() as cancel, run_display(err_console) as sink:
        result = resume_pipeline(
            pipeline_id, state_dir=folder, once=once, config=config, cancel=cancel, on_event=sink
        )
    _finish(output, result, folder, connection)


@pipeline_group.command("validate")
@click.argument("definition")
@_values_options
@_state_option
@json_option
@handle_errors
def validate_command(
    definition: str,
    parameter_values: tuple[str, ...],
    parameter_values_uri: str | None,
    state: str | None,
    as_json: bool,
) -> None:
    """Validate DEFINITION as PutPipelineDefinition does: errors and warnings per
    object, in the service's CODE: text form, as of now (a schedule that starts in the
    past is warned of). Exits 3 on errors. --state is taken as by every pipeline
    command; validating reads no state."""
    output = use_output(Output("pipeline validate", json=as_json))
    loaded = _with_values(_read_definition(definition), parameter_values, parameter_values_uri)
    result = validate_definition(loaded, now=datetime.now(UTC))
    output.console.print(escape(render_validation(result)), highlight=False, soft_wrap=True)
    code = EXIT_INVALID if result.errored else 0
    if output.json:
        output.emit(
            {"ok": not code, "exit_code": code, "results": [result.to_api()], "error": None}
        )
    if code:
        sys.exit(code)


@pipeline_group.command("list")
@_state_option
@json_option
@handle_errors
def list_command(state: str | None, as_json: bool) -> None:
    """List the pipelines in the state folder."""
    output = use_output(Output("pipeline list", json=as_json))
    with StateStore.in_folder(_state(state)) as store:
        engine = PipelineEngine(store)
        rows = [
            {
                "pipeline_id": record.pipeline_id,
                "name": record.name,
                "state": record.state,
                "health": record.health,
                "created": record.created,
                "last_activated": record.last_activated,
                "next_run": engine.next_run_time(record.pipeline_id),
            }
            for record in engine.list_pipelines()
        ]
    table = Table(box=None, pad_edge=False)
    for title in (
        "Pipeline ID",
        "Name",
        "State",
        "Health",
        "Created",
        "Last activated",
        "Next run",
    ):
        table.add_column(title)
    for row in rows:
        table.add_row(*(escape(str(value or "")) for value in row.values()))
    if rows:
        output.console.print(table)
    else:
        output.console.print("no pipelines")
    output.results(rows)


@pipeline_group.command("runs")
@click.argument("pipeline_id")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    help="Only runs in this status (waiting_on_dependencies, running, finished, failed…); "
    "repeat or separate with commas.",
)
@_state_option
@json_option
@handle_errors
def runs_command(
    pipeline_id: str, statuses: tuple[str, ...], state: str | None, as_json: bool
) -> None:
    """List the runs (instances) of PIPELINE_ID as `aws datapipeline list-runs` does."""
    output = use_output(Output("pipeline runs", json=as_json))
    wanted = [
        _LIST_RUNS_STATUSES.get(word.strip().lower(), word.strip().upper())
        for value in statuses
        for word in value.split(",")
        if word.strip()
    ]
    with StateStore.in_folder(_state(state)) as store:
        instances = PipelineEngine(store).instances(pipeline_id, statuses=wanted or None)
    instances.sort(key=lambda item: (item.scheduled_start or "", item.name))
    rows = [
        {
            "name": item.component_id,
            "scheduled_start": item.scheduled_start,
            "status": item.status,
            "id": item.object_id,
            "started": item.actual_start,
            "ended": item.actual_end,
        }
        for item in instances
    ]
    lines = [
        _run_line("", "Name", "Scheduled Start", "Status", 23),
        _run_line("", "ID", "Started", "Ended", 19),
    ]
    lines.append("-" * len(lines[1]))
    for index, row in enumerate(rows, 1):
        lines.append(
            _run_line(f"{index:4d}.", row["name"], row["scheduled_start"], row["status"], 23)
        )
        lines.append(_run_line("", row["id"], row["started"], row["ended"], 19))
        lines.append("")
    output.console.print("\n".join(lines), markup=False, highlight=False)
    output.results(rows)


@pipeline_group.command("template")
@click.argument("kind", type=click.Choice(["export", "import"]))
@click.option("--table", "tables", multiple=True, help="A table (repeat: export several at once).")
@click.option(
    "--legacy",
    is_flag=True,
    help="The 2017 generation (a daily schedule, amiVersion, emr-ddb 2.1.0).",
)
@_state_option
@handle_errors
def template_command(kind: str, tables: tuple[str, ...], legacy: bool, state: str | None) -> None:
    """Print the console's template to export tables to S3 or import a backup into a
    table, ready for `ddbpipe pipeline run` (give its parameter values there). --state
    is taken as by every pipeline command; a template reads no state."""
    template = console_template("export" if kind == "export" else "import", tables, legacy=legacy)
    click.echo(json.dumps(template, indent=2))


def _run_line(
    number: str, first: str | None, second: str | None, third: str | None, width: int
) -> str:
    """A line as `aws datapipeline list-runs` prints it: 50, 19 and ``width`` columns."""
    return (
        f"{number:<5.5}  {first or '':<50.50}  {second or '':<19.19}  "
        f"{third or '':<{width}.{width}}"
    )


def _pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values:
        key, equals, text = value.partition("=")
        if not equals or not key:
            raise click.UsageError(f"{option} takes KEY=VALUE, not {value!r}")
        pairs[key] = text
    return pairs
