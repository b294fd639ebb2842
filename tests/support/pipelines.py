"""Pipeline definitions and runs for the tests: the templates with values, a runner
config that reaches the local servers, and reading a run's state."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from ddbpipe.cli import cli
from ddbpipe.dynamo.client import DynamoConfig
from ddbpipe.pipeline.definition import PipelineDefinition, definition_from_file, load_definition
from ddbpipe.pipeline.engine import PipelineEngine
from ddbpipe.pipeline.parameters import parameter_values_from_args
from ddbpipe.pipeline.settings import RunnerConfig
from ddbpipe.pipeline.state import ObjectRecord, StateStore
from ddbpipe.retry import RetryPolicy
from ddbpipe.stores import StoreConfig
from tests.support.servers import Endpoint

PIPELINES = Path(__file__).resolve().parents[1] / "data" / "pipelines"
FAST_RETRIES = RetryPolicy(max_attempts=4, base_delay=0.001, max_delay=0.01)


def template(name: str) -> PipelineDefinition:
    """One of the template files in tests/data/pipelines."""
    return load_definition((PIPELINES / f"{name}.json").read_text())


def with_values(definition: PipelineDefinition, **values: str) -> PipelineDefinition:
    """``definition`` with these parameter values (and no others)."""
    return replace(
        definition,
        parameter_values=parameter_values_from_args([f"{k}={v}" for k, v in values.items()]),
    )


def definition(objects: list[dict[str, Any]], **values: str) -> PipelineDefinition:
    """A definition from file-form objects (and parameter values without declarations)."""
    document: dict[str, Any] = {"objects": objects}
    if values:
        document["values"] = values
    return definition_from_file(json.loads(json.dumps(document)))


def runner_config(dynamodb: Endpoint, s3: Endpoint | None = None, **options: Any) -> RunnerConfig:
    """A runner config that reaches ``dynamodb`` (and ``s3``), one worker per job."""
    options.setdefault("workers", 1)
    options.setdefault("poll_interval", 0.2)
    return RunnerConfig(
        dynamo=DynamoConfig(region=dynamodb.region, endpoint_url=dynamodb.url),
        store=StoreConfig(region=(s3 or dynamodb).region, endpoint_url=(s3 or dynamodb).url),
        **options,
    )


def connection_args(dynamodb: Endpoint, s3: Endpoint | None = None) -> list[str]:
    """Command-line options that reach ``dynamodb`` (and ``s3``)."""
    args = ["--endpoint-url", dynamodb.url, "--region", dynamodb.region]
    if s3 is not None:
        args += ["--s3-endpoint-url", s3.url]
    return args


def instances(state_dir: Path, pipeline_id: str) -> dict[str, ObjectRecord]:
    """Every instance of a pipeline, by id."""
    with StateStore.in_folder(state_dir) as store:
        return {item.object_id: item for item in PipelineEngine(store).instances(pipeline_id)}


def attempts(state_dir: Path, pipeline_id: str, instance_id: str) -> list[ObjectRecord]:
    """The attempts of one instance, first first."""
    with StateStore.in_folder(state_dir) as store:
        return PipelineEngine(store).attempts(pipeline_id, instance_id)


def of_component(found: dict[str, ObjectRecord], component_id: str) -> list[ObjectRecord]:
    """The instances of one component, in scheduled order."""
    return sorted(
        (item for item in found.values() if item.component_id == component_id),
        key=lambda item: item.scheduled_start or "",
    )


def run_cli(*args: str) -> tuple[int, dict[str, Any], str]:
    """Run ``ddbpipe <args> --json`` in this process: the exit code, the JSON document and
    what went to stderr."""
    result = CliRunner().invoke(cli, [*args, "--json"], catch_exceptions=False)
    document = json.loads(result.stdout) if result.stdout.strip() else {}
    return result.exit_code, document, result.stderr


def run_instances(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The instances of a ``pipeline run --json`` result, by component."""
    (result,) = document["results"]
    return {item["component_id"]: item for item in result["instances"]}
