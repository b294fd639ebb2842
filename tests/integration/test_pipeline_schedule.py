"""A cron export every 15 minutes, started at the quarter hour an hour before the
current quarter began, run with --once at 14:07: five instances are backfilled, each
exporting into the folder named from its @scheduledStartTime; running it again adds
none."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from ddbpipe.backups.opener import open_backup
from ddbpipe.pipeline.run import run_pipeline
from tests.support.clock import SimulatedClock
from tests.support.compare import canonical_set
from tests.support.pipelines import attempts, definition, instances, of_component, runner_config
from tests.support.servers import Endpoint
from tests.support.tables import every_type_item, make_table, scan_all

STAMP = "#{format(@scheduledStartTime, 'YYYY-MM-dd-HH-mm-ss')}"
JAR = "s3://dynamodb-dpl-us-east-1/tools.jar,org.apache.hadoop.dynamodb.tools."


def cron_export(table: str, out: Path, start: str) -> list[dict[str, object]]:
    return [
        {"id": "Quarter", "type": "Schedule", "period": "15 minutes", "startDateTime": start},
        {
            "id": "Default",
            "scheduleType": "cron",
            "schedule": {"ref": "Quarter"},
            "failureAndRerunMode": "CASCADE",
        },
        {"id": "Table", "type": "DynamoDBDataNode", "tableName": table},
        {"id": "Folder", "type": "S3DataNode", "directoryPath": f"{out}/{STAMP}"},
        {"id": "Cluster", "type": "EmrCluster", "releaseLabel": "emr-5.23.0"},
        {
            "id": "Backup",
            "type": "EmrActivity",
            "input": {"ref": "Table"},
            "output": {"ref": "Folder"},
            "runsOn": {"ref": "Cluster"},
            "step": f"{JAR}DynamoDBExport,#{{output.directoryPath}},#{{input.tableName}}",
        },
    ]


def test_once_backfills_every_quarter_hour_due_and_never_again(
    dynalite: Endpoint, unique_name: str, tmp_path: Path
) -> None:
    table = f"cron-{unique_name}"
    make_table(dynalite, table, [every_type_item(n) for n in range(30)])
    today = datetime.now(UTC).date()
    now = datetime(today.year, today.month, today.day, 14, 7, tzinfo=UTC)
    start = f"{today.isoformat()}T13:00:00"
    out = tmp_path / "backups"
    objects = cron_export(table, out, start)
    state = tmp_path / "state"

    def run() -> str:
        result = run_pipeline(
            definition(objects),
            name="quarterly",
            state_dir=state,
            once=True,
            config=runner_config(dynalite),
            clock=SimulatedClock(now),
        )
        assert result.ok, result
        return result.pipeline_id

    pipeline_id = run()
    backups = of_component(instances(state, pipeline_id), "Backup")
    assert [b.scheduled_start for b in backups] == [
        f"{today.isoformat()}T{time}"
        for time in ("13:00:00", "13:15:00", "13:30:00", "13:45:00", "14:00:00")
    ]
    expected = [
        f"{today.isoformat()}-{t}"
        for t in ("13-00-00", "13-15-00", "13-30-00", "13-45-00", "14-00-00")
    ]
    assert sorted(p.name for p in out.iterdir()) == expected
    source = canonical_set(scan_all(dynalite, table))
    for name in expected:
        backup = open_backup(str(out / name))
        assert canonical_set([i for f in backup.files for _, i in backup.iter_items(f)]) == source

    assert run() == pipeline_id  # the same pipeline, continued
    again = of_component(instances(state, pipeline_id), "Backup")
    assert len(again) == 5
    assert sorted(p.name for p in out.iterdir()) == expected
    for backup_instance in again:
        assert len(attempts(state, pipeline_id, backup_instance.object_id)) == 1
