"""``ddbpipe pipeline template``: the console's templates, for one table or several."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from ddbpipe.cli import cli
from ddbpipe.errors import ConfigError
from ddbpipe.pipeline.definition import definition_from_file
from ddbpipe.pipeline.evaluation import FieldEvaluator
from ddbpipe.pipeline.objects import ObjectGraph
from ddbpipe.pipeline.parameters import resolve_parameters
from ddbpipe.pipeline.steps import ExportStep, activity_jobs
from ddbpipe.pipeline.templates import console_template
from ddbpipe.pipeline.validation import validate_definition

PIPELINES = Path(__file__).resolve().parents[2] / "data" / "pipelines"
START = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kind", "legacy", "name"),
    [
        ("export", False, "export-ondemand"),
        ("import", False, "import-ondemand"),
        ("export", True, "export-2017"),
        ("import", True, "import-2017"),
    ],
)
def test_the_templates_are_the_consoles(kind: str, legacy: bool, name: str) -> None:
    expected = json.loads((PIPELINES / f"{name}.json").read_text())
    assert console_template(kind, legacy=legacy) == expected  # type: ignore[arg-type]
    args = ["pipeline", "template", kind, *(["--legacy"] if legacy else [])]
    printed = CliRunner().invoke(cli, args)
    assert printed.exit_code == 0, printed.output
    assert json.loads(printed.stdout) == expected


def test_one_table_is_the_value_of_its_parameter() -> None:
    template = console_template("import", ["Orders"])
    assert template["values"] == {"myDDBTableName": "Orders"}
    template["values"].update({"myInputS3Loc": "s3://b/in", "myPipelineLogUri": "s3://b/logs"})
    assert not validate_definition(definition_from_file(template)).errored


def test_several_tables_export_together_on_one_cluster() -> None:
    template = console_template("export", ["Orders", "Users", "Items"])
    ids = [item["id"] for item in template["objects"]]
    assert ids == [
        "Default",
        "EmrClusterForBackup",
        *(
            f"{kind}_{t}"
            for t in ("Orders", "Users", "Items")
            for kind in ("DDBSourceTable", "S3BackupLocation", "TableBackupActivity")
        ),
    ]
    activities = [item for item in template["objects"] if item.get("type") == "EmrActivity"]
    assert {item["runsOn"]["ref"] for item in activities} == {"EmrClusterForBackup"}
    assert "myDDBTableName" not in {p["id"] for p in template["parameters"]}
    template["values"] = {"myOutputS3Loc": "s3://b/out", "myPipelineLogUri": "s3://b/logs"}
    definition = definition_from_file(template)
    assert not validate_definition(definition).errored
    graph = ObjectGraph(definition)
    evaluator = FieldEvaluator(graph, resolve_parameters(definition).scope_values())
    jobs = [
        activity_jobs(evaluator, item["id"], {"@scheduledStartTime": START})[0]
        for item in activities
    ]
    assert all(isinstance(job, ExportStep) for job in jobs)
    assert [(job.path, job.table) for job in jobs] == [
        (f"s3://b/out/{table}/2026-11-30-14-00-00", table) for table in ("Orders", "Users", "Items")
    ]


def test_the_legacy_export_of_several_tables_keeps_its_schedule() -> None:
    template = console_template("export", ["aaa", "bbb"], legacy=True)
    activities = [item for item in template["objects"] if item.get("type") == "EmrActivity"]
    assert len(activities) == 2
    assert "DynamoDbExport" in activities[0]["step"][0]
    assert any(item["id"] == "SchedulePeriod" for item in template["objects"])


@pytest.mark.parametrize(
    ("tables", "message"),
    [(["a1!"], "not a DynamoDB table name"), (["abc", "abc"], "named twice")],
)
def test_bad_tables_are_refused(tables: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        console_template("export", tables)


def test_the_import_loads_one_table_at_a_time() -> None:
    with pytest.raises(ConfigError, match="one table at a time"):
        console_template("import", ["aaa", "bbb"])
    refused = CliRunner().invoke(
        cli, ["pipeline", "template", "import", "--table", "aaa", "--table", "bbb"]
    )
    assert refused.exit_code == 3
    assert "one table at a time" in refused.stderr
