"""``ddbpipe pipeline``: validate, refuse to run a definition with errors, list
pipelines and their runs in list-runs' columns."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from ddbpipe.cli import cli
from ddbpipe.pipeline.engine import PipelineEngine
from ddbpipe.pipeline.state import StateStore
from tests.support.pipelines import PIPELINES, template, with_values

EXPORT = str(PIPELINES / "export-ondemand.json")
VALUES = [
    "--parameter-values",
    "myDDBTableName=Orders",
    "--parameter-values",
    "myOutputS3Loc=s3://backups/orders",
    "--parameter-values",
    "myPipelineLogUri=s3://backups/logs",
]


def invoke(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_validate_prints_the_findings_per_object() -> None:
    code, out, _ = invoke("pipeline", "validate", EXPORT, *VALUES)
    assert (code, out.strip()) == (0, "The definition is valid.")
    code, out, _ = invoke("pipeline", "validate", EXPORT)
    assert code == 3
    assert "  myDDBTableName: MISSING_PARAMETER_VALUE: Value is missing for this parameter" in out
    code, out, _ = invoke("pipeline", "validate", f"file://{EXPORT}", "--json")
    document = json.loads(out)
    assert document["exit_code"] == 3
    (result,) = document["results"]
    assert result["errored"] is True
    assert {e["id"] for e in result["validationErrors"]} == {
        "myDDBTableName",
        "myOutputS3Loc",
        "myPipelineLogUri",
    }


def test_a_definition_with_errors_is_not_run(tmp_path: Path) -> None:
    state = tmp_path / "state"
    code, _, err = invoke("pipeline", "run", EXPORT, "--state", str(state))
    assert code == 3
    assert "the pipeline definition has errors" in err
    assert "myOutputS3Loc: MISSING_PARAMETER_VALUE" in err
    code, out, _ = invoke("pipeline", "list", "--state", str(state), "--json")
    assert (code, json.loads(out)["results"]) == (0, [])


def test_definitions_come_from_stdin_with_a_name() -> None:
    text = (PIPELINES / "import-ondemand.json").read_text()
    code, _, err = invoke("pipeline", "run", "-", stdin=text)
    assert code == 2
    assert "give --name" in err
    code, _, err = invoke("pipeline", "validate", "-", stdin="{not json")
    assert code == 3
    assert "the definition on stdin is not valid JSON" in err


def test_values_come_from_one_place_only(tmp_path: Path) -> None:
    values = tmp_path / "values.json"
    values.write_text(json.dumps({"values": {"myDDBTableName": "Orders"}}))
    code, _, err = invoke(
        "pipeline", "validate", EXPORT, "--parameter-values-uri", str(values), *VALUES[:2]
    )
    assert code == 3
    assert "Only parameter-values or parameter-values-uri is allowed" in err
    code, out, _ = invoke("pipeline", "validate", EXPORT, "--parameter-values-uri", str(values))
    assert code == 3
    assert "myDDBTableName" not in out  # the file gave it


def test_tags_need_a_key_and_a_value() -> None:
    code, _, err = invoke("pipeline", "run", EXPORT, *VALUES, "--tag", "novalue")
    assert code == 2
    assert "--tag takes KEY=VALUE" in err


def test_runs_are_listed_as_list_runs_lists_them(tmp_path: Path) -> None:
    now = datetime(2026, 3, 2, 14, 7, tzinfo=UTC)
    with StateStore.in_folder(tmp_path) as store:
        engine = PipelineEngine(store)
        pipeline_id = engine.create_pipeline("export", "export", now=now)
        definition = with_values(
            template("export-ondemand"),
            myDDBTableName="Orders",
            myOutputS3Loc="s3://b/out",
            myPipelineLogUri="s3://b/logs",
        )
        engine.put_definition(pipeline_id, definition, now=now)
        engine.activate(pipeline_id, now=now)
        tick = engine.tick(pipeline_id, now=now)
        engine.start_attempt(pipeline_id, tick.ready[0].instance_id, hostname="h", now=now)
    code, out, _ = invoke("pipeline", "runs", pipeline_id, "--state", str(tmp_path))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].rstrip() == (
        "       Name                                                Scheduled Start      Status"
    )
    assert lines[1].split() == ["ID", "Started", "Ended"]
    assert set(lines[2]) == {"-"}
    assert "   1.  DDBSourceTable" in out
    assert "TableBackupActivity" in out
    assert "RUNNING" in out
    code, out, _ = invoke(
        "pipeline", "runs", pipeline_id, "--state", str(tmp_path), "--status", "running", "--json"
    )
    rows = json.loads(out)["results"]
    assert [r["id"] for r in rows] == [
        "@EmrClusterForBackup_2026-03-02T14:07:00",
        "@TableBackupActivity_2026-03-02T14:07:00",
    ]
    assert rows[1] == {
        "name": "TableBackupActivity",
        "scheduled_start": "2026-03-02T14:07:00",
        "status": "RUNNING",
        "id": "@TableBackupActivity_2026-03-02T14:07:00",
        "started": "2026-03-02T14:07:00",
        "ended": None,
    }
    code, out, _ = invoke("pipeline", "list", "--state", str(tmp_path), "--json")
    (listed,) = json.loads(out)["results"]
    assert (listed["pipeline_id"], listed["state"]) == (pipeline_id, "SCHEDULED")
    code, _, err = invoke("pipeline", "runs", "df-00000000000000000000", "--state", str(tmp_path))
    assert code == 6
    assert "does not exist" in err


def test_validate_warns_of_a_backfill_as_of_now(tmp_path: Path) -> None:
    document = json.loads(Path(EXPORT).read_text())
    default = next(item for item in document["objects"] if item["id"] == "Default")
    default["failureAndRerunMode"] = "CASCADE"
    default["scheduleType"] = "cron"
    default["schedule"] = {"ref": "Daily"}
    document["objects"].append(
        {
            "id": "Daily",
            "type": "Schedule",
            "period": "1 day",
            "startDateTime": "2020-01-01T00:00:00",
        }
    )
    path = tmp_path / "backfill.json"
    path.write_text(json.dumps(document))
    code, out, _ = invoke("pipeline", "validate", str(path), *VALUES, "--state", str(tmp_path))
    assert code == 0  # a warning, not an error
    assert "CASCADE_BACKFILL" in out
    assert "scheduleStartTime 2020-01-01T00:00:00" in out
