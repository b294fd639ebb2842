"""The two DynamoDB templates, both generations: load, round-trip, validate, run as jobs.

``export-2017`` and ``import-2017`` are the console templates as the API spec copies
them; ``export-ondemand`` and ``import-ondemand`` are the newer forms it describes
(ONDEMAND, ``pipelineLogUri``, ``releaseLabel``, the 4.11.0 tools jar).
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from ddbpipe.pipeline.definition import (
    PipelineDefinition,
    definition_from_api,
    definition_to_api,
    definition_to_file,
    load_definition,
)
from ddbpipe.pipeline.evaluation import FieldEvaluator
from ddbpipe.pipeline.objects import ObjectGraph
from ddbpipe.pipeline.parameters import (
    parameter_values_from_args,
    parameter_values_from_cli,
    resolve_parameters,
)
from ddbpipe.pipeline.steps import (
    DynamoDBJob,
    ExportStep,
    ImportStep,
    activity_jobs,
    parse_step,
)
from ddbpipe.pipeline.validation import validate_definition

PIPELINES = Path(__file__).resolve().parents[2] / "data" / "pipelines"
START = datetime(2026, 11, 30, 14, 5, tzinfo=UTC)
NOW = datetime(2026, 11, 30, 14, 10, tzinfo=UTC)
EXPORTS = ["export-2017", "export-ondemand"]
IMPORTS = ["import-2017", "import-ondemand"]
VALUES = [
    "myDDBTableName=Orders",
    "myOutputS3Loc=s3://backups/orders",
    "myInputS3Loc=s3://backups/orders/2026-11-29-00-00-00",
    "myPipelineLogUri=s3://backups/logs",
]


def template(name: str) -> PipelineDefinition:
    return load_definition((PIPELINES / f"{name}.json").read_text())


def with_values(definition: PipelineDefinition, *arguments: str) -> PipelineDefinition:
    declared = {parameter.id for parameter in definition.parameter_objects}
    given = [argument for argument in arguments if argument.split("=", 1)[0] in declared]
    return replace(definition, parameter_values=parameter_values_from_args(given))


def rendered_steps(definition: PipelineDefinition) -> tuple[str, ...]:
    graph = ObjectGraph(definition)
    evaluator = FieldEvaluator(graph, resolve_parameters(definition).scope_values())
    (activity,) = [item for item in graph if item.type == "EmrActivity"]
    runtime = {"@scheduledStartTime": START, "@pipelineId": "df-0123456789ABCDEFGHIJ"}
    return evaluator.field(activity.id, "step", runtime)


def job_of(definition: PipelineDefinition) -> DynamoDBJob:
    (step,) = rendered_steps(definition)
    graph = ObjectGraph(definition)
    evaluator = FieldEvaluator(graph, resolve_parameters(definition).scope_values())
    (activity,) = [item for item in graph if item.type == "EmrActivity"]
    jobs = activity_jobs(evaluator, activity.id, {"@scheduledStartTime": START})
    assert jobs == (parse_step(step),)
    return jobs[0]


@pytest.mark.parametrize("name", EXPORTS + IMPORTS)
def test_templates_validate_cleanly_once_their_parameters_have_values(name: str) -> None:
    result = validate_definition(with_values(template(name), *VALUES), now=NOW)
    assert (result.fatal, result.errors, result.warnings) == ({}, {}, {})


@pytest.mark.parametrize("name", EXPORTS + IMPORTS)
def test_in_api_form_they_validate_the_same(name: str) -> None:
    definition = with_values(template(name), *VALUES)
    through_api = definition_from_api(definition_to_api(definition))
    assert through_api == replace(definition, metadata=None)  # the API form has none
    assert not validate_definition(through_api, now=NOW).errored


@pytest.mark.parametrize(
    ("name", "missing"),
    [
        ("export-2017", ["myDDBTableName", "myOutputS3Loc"]),
        ("import-2017", ["myDDBTableName", "myInputS3Loc"]),
        ("export-ondemand", ["myOutputS3Loc", "myDDBTableName", "myPipelineLogUri"]),
        ("import-ondemand", ["myDDBTableName", "myInputS3Loc", "myPipelineLogUri"]),
    ],
)
def test_without_values_only_the_parameters_without_defaults_are_errors(
    name: str, missing: list[str]
) -> None:
    result = validate_definition(template(name), now=NOW)
    assert result.fatal == {}
    assert result.errors == dict.fromkeys(
        missing, ("MISSING_PARAMETER_VALUE: Value is missing for this parameter",)
    )


@pytest.mark.parametrize("name", EXPORTS + IMPORTS)
def test_templates_round_trip_through_both_forms(name: str) -> None:
    text = (PIPELINES / f"{name}.json").read_text()
    definition = load_definition(text)
    assert definition_to_file(definition) == json.loads(text)
    api = definition_to_api(definition)
    assert (
        definition_to_api(load_definition(json.dumps(definition_to_file(definition_from_api(api)))))
        == api
    )


def test_export_2017_runs_the_old_export_class_into_a_timestamped_folder() -> None:
    definition = with_values(template("export-2017"), *VALUES)
    (step,) = rendered_steps(definition)
    assert step == (
        "s3://dynamodb-emr-us-east-1/emr-ddb-storage-handler/2.1.0/emr-ddb-2.1.0.jar,"
        "org.apache.hadoop.dynamodb.tools.DynamoDbExport,"
        "s3://backups/orders/2026-11-30-14-05-00,Orders,0.25"
    )
    assert job_of(definition) == ExportStep(
        "s3://backups/orders/2026-11-30-14-05-00", "Orders", Decimal("0.25")
    )


def test_export_ondemand_runs_the_new_export_class() -> None:
    definition = with_values(template("export-ondemand"), *VALUES, "myDDBReadThroughputRatio=0.5")
    (step,) = rendered_steps(definition)
    assert step.startswith(
        "s3://dynamodb-dpl-us-east-1/emr-ddb-storage-handler/4.11.0/"
        "emr-dynamodb-tools-4.11.0-SNAPSHOT-jar-with-dependencies.jar,"
        "org.apache.hadoop.dynamodb.tools.DynamoDBExport,"
    )
    assert job_of(definition) == ExportStep(
        "s3://backups/orders/2026-11-30-14-05-00", "Orders", Decimal("0.5")
    )


@pytest.mark.parametrize("name", IMPORTS)
def test_imports_read_the_given_folder_into_the_table(name: str) -> None:
    definition = with_values(template(name), *VALUES, "myDDBWriteThroughputRatio=1.0")
    assert job_of(definition) == ImportStep(
        "s3://backups/orders/2026-11-29-00-00-00", "Orders", Decimal("1.0")
    )


def test_region_parameter_reaches_the_jar_path() -> None:
    definition = with_values(template("import-ondemand"), *VALUES, "myDDBRegion=eu-west-1")
    (step,) = rendered_steps(definition)
    assert step.startswith("s3://dynamodb-dpl-eu-west-1/")


def test_a_local_folder_is_a_valid_output_location() -> None:
    definition = with_values(
        template("export-ondemand"), *VALUES, "myOutputS3Loc=/var/backups/orders"
    )
    definition = replace(
        definition,
        parameter_values=tuple(
            value
            for value in definition.parameter_values
            if value.string_value != "s3://backups/orders"
        ),
    )
    assert not validate_definition(definition, now=NOW).errored
    assert job_of(definition) == ExportStep(
        "/var/backups/orders/2026-11-30-14-05-00", "Orders", Decimal("0.25")
    )


def test_values_from_a_values_file_as_activate_pipeline_takes_them() -> None:
    text = json.dumps({"values": {"myDDBTableName": "Orders", "myInputS3Loc": "file:///tmp/in"}})
    values = parameter_values_from_cli(uri="file://values.json", uri_text=text)
    assert values is not None
    definition = replace(template("import-2017"), parameter_values=values)
    assert not validate_definition(definition).errored
    assert job_of(definition) == ImportStep("file:///tmp/in", "Orders", Decimal("0.25"))


def test_the_export_schedule_period_comes_from_its_parameter() -> None:
    definition = with_values(template("export-2017"), *VALUES)
    assert not validate_definition(definition, now=NOW).errored
    too_often = replace(
        definition,
        parameter_values=(
            *definition.parameter_values,
            *parameter_values_from_args(["myDDBSchedulePeriod=10 minutes"]),
        ),
    )
    assert validate_definition(too_often, now=NOW).errors == {
        "SchedulePeriod": (
            "INVALID_FIELD_VALUE: 'period' value must be between 15 minutes and 3 years, "
            "not '10 minutes'.",
        )
    }


def test_newer_templates_log_to_the_given_folder() -> None:
    definition = with_values(template("export-ondemand"), *VALUES)
    graph = ObjectGraph(definition)
    evaluator = FieldEvaluator(graph, resolve_parameters(definition).scope_values())
    assert evaluator.field("TableBackupActivity", "pipelineLogUri", {}) == ("s3://backups/logs",)
    assert graph["TableBackupActivity"].string("scheduleType") == "ONDEMAND"
