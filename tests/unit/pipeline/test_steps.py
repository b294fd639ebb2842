"""EmrActivity steps and HiveCopyActivity nodes read as DynamoDB export and import jobs."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from ddbpipe.errors import ConfigError
from ddbpipe.pipeline.definition import definition_from_file
from ddbpipe.pipeline.evaluation import FieldEvaluator
from ddbpipe.pipeline.objects import ObjectGraph
from ddbpipe.pipeline.steps import (
    DataNodeFields,
    ExportStep,
    ImportStep,
    StepError,
    activity_jobs,
    hive_copy_job,
    parse_step,
    split_step,
)

OLD_JAR = "s3://dynamodb-emr-us-east-1/emr-ddb-storage-handler/2.1.0/emr-ddb-2.1.0.jar"
NEW_JAR = (
    "s3://dynamodb-dpl-us-east-1/emr-ddb-storage-handler/4.11.0/"
    "emr-dynamodb-tools-4.11.0-SNAPSHOT-jar-with-dependencies.jar"
)
TOOLS = "org.apache.hadoop.dynamodb.tools."


def test_split_on_commas() -> None:
    assert split_step("s3://b/MyWork.jar,arg1,arg2,arg3") == (
        "s3://b/MyWork.jar",
        "arg1",
        "arg2",
        "arg3",
    )


def test_escaped_commas_stay_inside_an_argument() -> None:
    # The Developer Guide's script-runner example as its field value holds it: a\\,b\\,c.
    step = "s3://elasticmapreduce/libs/script-runner/script-runner.jar,s3://datapipeline/echo.sh,a\\\\,b\\\\,c"
    assert split_step(step) == (
        "s3://elasticmapreduce/libs/script-runner/script-runner.jar",
        "s3://datapipeline/echo.sh",
        "a,b,c",
    )
    assert split_step("x.jar,a\\,b") == ("x.jar", "a,b")


def test_backslashes_not_before_a_comma_are_kept() -> None:
    assert split_step("x.jar,C:\\dir\\file,y") == ("x.jar", "C:\\dir\\file", "y")
    assert split_step("x.jar,a,") == ("x.jar", "a", "")


@pytest.mark.parametrize("jar", [OLD_JAR, NEW_JAR, "/home/hadoop/tools.jar", "anything.jar"])
@pytest.mark.parametrize("name", ["DynamoDbExport", "DynamoDBExport"])
def test_exports_of_both_generations_and_any_jar(jar: str, name: str) -> None:
    step = f"{jar},{TOOLS}{name},s3://bk/out/2026-11-30-14-05-00,Orders,0.25"
    assert parse_step(step) == ExportStep(
        "s3://bk/out/2026-11-30-14-05-00", "Orders", Decimal("0.25")
    )


@pytest.mark.parametrize("name", ["DynamoDbImport", "DynamoDBImport"])
def test_imports_of_both_generations(name: str) -> None:
    step = f"{NEW_JAR},{TOOLS}{name},s3://bk/in,Orders,1.0"
    assert parse_step(step) == ImportStep("s3://bk/in", "Orders", Decimal("1.0"))


def test_optional_arguments() -> None:
    assert parse_step(f"t.jar,{TOOLS}DynamoDBExport,/tmp/out,T") == ExportStep("/tmp/out", "T")
    assert parse_step(f"t.jar,{TOOLS}DynamoDBExport,/tmp/out,T,0.5,16") == ExportStep(
        "/tmp/out", "T", Decimal("0.5"), 16
    )
    assert parse_step(f"t.jar,{TOOLS}DynamoDBExport,/tmp/out,T,,8") == ExportStep(
        "/tmp/out", "T", None, 8
    )
    assert parse_step(f"t.jar, {TOOLS}DynamoDBImport , /tmp/in , T ") == ImportStep("/tmp/in", "T")


def test_ratios_stay_decimal() -> None:
    job = parse_step(f"t.jar,{TOOLS}DynamoDBExport,/o,T,0.1")
    assert isinstance(job, ExportStep)
    assert isinstance(job.read_ratio, Decimal)
    assert str(job.read_ratio) == "0.1"


@pytest.mark.parametrize(
    ("step", "reason"),
    [
        ("tools.jar", "it has no main class after the jar"),
        (",org.apache.hadoop.dynamodb.tools.DynamoDBExport,a,b", "the jar is empty"),
        (
            "hadoop-streaming.jar,-input,s3://a",
            "main class '-input' is not DynamoDB export or import",
        ),
        (
            "t.jar,org.example.DynamoDBExport,/o,T",
            "main class 'org.example.DynamoDBExport' is not DynamoDB export or import",
        ),
        (
            f"t.jar,{TOOLS}DynamoDBExport,/o",
            "it has 1 arguments; expected output path, table, [read ratio], [segments]",
        ),
        (
            f"t.jar,{TOOLS}DynamoDBExport,/o,T,0.5,4,x",
            "it has 5 arguments; expected output path, table, [read ratio], [segments]",
        ),
        (
            f"t.jar,{TOOLS}DynamoDBImport,/i,T,0.5,4",
            "it has 4 arguments; expected input path, table, [write ratio]",
        ),
        (f"t.jar,{TOOLS}DynamoDBExport,/o,", "the table is empty"),
        (f"t.jar,{TOOLS}DynamoDBExport,,T", "the output path is empty"),
        (f"t.jar,{TOOLS}DynamoDBExport,/o,T,half", "the read ratio 'half' is not a number"),
        (f"t.jar,{TOOLS}DynamoDBImport,/i,T,0", "the write ratio '0' must be greater than 0"),
        (
            f"t.jar,{TOOLS}DynamoDBExport,/o,T,0.5,0",
            "the segment count '0' is not a whole number >= 1",
        ),
        (
            f"t.jar,{TOOLS}DynamoDBExport,/o,T,0.5,2.5",
            "the segment count '2.5' is not a whole number >= 1",
        ),
    ],
)
def test_anything_else_is_refused_naming_the_step(step: str, reason: str) -> None:
    with pytest.raises(StepError) as caught:
        parse_step(step)
    assert caught.value.reason == reason
    assert str(caught.value) == (
        f"step {step!r} is not a DynamoDB export or import that ddbpipe can run: {reason}"
    )


def test_step_error_is_a_config_error_and_pickles() -> None:
    with pytest.raises(StepError) as caught:
        parse_step("tools.jar")
    copy = pickle.loads(pickle.dumps(caught.value))
    assert isinstance(copy, ConfigError)
    assert (str(copy), copy.reason) == (str(caught.value), caught.value.reason)


TABLE = DataNodeFields(
    "Table",
    "DynamoDBDataNode",
    {"tableName": "Orders", "readThroughputPercent": "0.3", "writeThroughputPercent": "0.7"},
)
FOLDER = DataNodeFields("Folder", "S3DataNode", {"directoryPath": "s3://bk/orders"})


def test_hive_copy_from_dynamodb_to_s3_is_an_export() -> None:
    assert hive_copy_job("Copy", TABLE, FOLDER) == ExportStep(
        "s3://bk/orders", "Orders", Decimal("0.3")
    )


def test_hive_copy_from_s3_to_dynamodb_is_an_import() -> None:
    assert hive_copy_job("Copy", FOLDER, TABLE) == ImportStep(
        "s3://bk/orders", "Orders", Decimal("0.7")
    )


def test_hive_copy_without_ratios() -> None:
    bare = DataNodeFields("Table", "DynamoDBDataNode", {"tableName": "Orders"})
    assert hive_copy_job("Copy", bare, FOLDER) == ExportStep("s3://bk/orders", "Orders")


@pytest.mark.parametrize(
    ("source", "target", "filter_sql", "problem"),
    [
        (
            TABLE,
            FOLDER,
            "`ts` > 5",
            "HiveCopyActivity 'Copy': 'filterSql' is not supported; ddbpipe copies whole tables",
        ),
        (
            TABLE,
            TABLE,
            None,
            "HiveCopyActivity 'Copy' copies from DynamoDBDataNode 'Table' to "
            "DynamoDBDataNode 'Table'; ddbpipe runs copies between a DynamoDBDataNode "
            "and an S3DataNode",
        ),
        (
            DataNodeFields("Folder", "S3DataNode", {"filePath": "s3://bk/one.csv"}),
            TABLE,
            None,
            "HiveCopyActivity 'Copy': S3DataNode 'Folder' needs a directoryPath",
        ),
        (
            DataNodeFields("Table", "DynamoDBDataNode", {}),
            FOLDER,
            None,
            "HiveCopyActivity 'Copy': DynamoDBDataNode 'Table' needs a tableName",
        ),
        (
            DataNodeFields(
                "Table", "DynamoDBDataNode", {"tableName": "T", "readThroughputPercent": "lots"}
            ),
            FOLDER,
            None,
            "HiveCopyActivity 'Copy': readThroughputPercent 'lots' of 'Table' is not a number",
        ),
    ],
)
def test_hive_copy_refusals(
    source: DataNodeFields, target: DataNodeFields, filter_sql: str | None, problem: str
) -> None:
    with pytest.raises(StepError) as caught:
        hive_copy_job("Copy", source, target, filter_sql=filter_sql)
    assert str(caught.value) == problem


START = datetime(2026, 11, 30, 14, 5, tzinfo=UTC)
NODES: list[dict[str, Any]] = [
    {"id": "Default", "scheduleType": "ondemand"},
    {
        "id": "Table",
        "type": "DynamoDBDataNode",
        "tableName": "#{myTable}",
        "writeThroughputPercent": "0.8",
    },
    {
        "id": "Folder",
        "type": "S3DataNode",
        "directoryPath": "s3://bk/#{format(@scheduledStartTime, 'YYYY-MM-dd')}",
    },
]


def evaluator_for(*activities: dict[str, Any]) -> FieldEvaluator:
    definition = definition_from_file({"objects": [*NODES, *activities]})
    return FieldEvaluator(ObjectGraph(definition), {"myTable": "Orders"})


def test_activity_jobs_of_a_hive_copy_read_the_rendered_nodes() -> None:
    evaluator = evaluator_for(
        {
            "id": "Copy",
            "type": "HiveCopyActivity",
            "input": {"ref": "Folder"},
            "output": {"ref": "Table"},
        }
    )
    assert activity_jobs(evaluator, "Copy", {"@scheduledStartTime": START, "@id": "@Copy_1"}) == (
        ImportStep("s3://bk/2026-11-30", "Orders", Decimal("0.8")),
    )


def test_activity_jobs_of_an_emr_activity_one_per_step() -> None:
    export = f"t.jar,{TOOLS}DynamoDBExport,#{{output.directoryPath}},#{{input.tableName}}"
    evaluator = evaluator_for(
        {
            "id": "Backup",
            "type": "EmrActivity",
            "input": {"ref": "Table"},
            "output": {"ref": "Folder"},
            "step": [export, export + ",0.2"],
        }
    )
    assert activity_jobs(evaluator, "Backup", {"@scheduledStartTime": START}) == (
        ExportStep("s3://bk/2026-11-30", "Orders"),
        ExportStep("s3://bk/2026-11-30", "Orders", Decimal("0.2")),
    )


@pytest.mark.parametrize(
    ("activity", "problem"),
    [
        ({"id": "A", "type": "EmrActivity"}, "EmrActivity 'A' has no step to run"),
        (
            {"id": "A", "type": "HiveCopyActivity", "input": {"ref": "Table"}},
            "HiveCopyActivity 'A' needs an input and an output",
        ),
        (
            {"id": "A", "type": "ShellCommandActivity"},
            "ShellCommandActivity 'A' is not an activity ddbpipe can run",
        ),
        (
            {
                "id": "A",
                "type": "HiveCopyActivity",
                "input": {"ref": "Table"},
                "output": {"ref": "Folder"},
                "filterSql": "x > 1",
            },
            "HiveCopyActivity 'A': 'filterSql' is not supported; ddbpipe copies whole tables",
        ),
    ],
)
def test_activity_jobs_refuse_what_cannot_run(activity: dict[str, Any], problem: str) -> None:
    with pytest.raises(StepError) as caught:
        activity_jobs(evaluator_for(activity), "A", {"@scheduledStartTime": START})
    assert str(caught.value) == problem
