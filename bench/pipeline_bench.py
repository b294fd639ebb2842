"""How long the planner takes to plan the next tick of many pipelines.

Each of N pipelines (1,000 by default) runs one component on a 15-minute cron
schedule, started at a random second of the last day, every one planned up to the tick
before; some end after a number of occurrences, some at an end time. One tick (at the
next quarter hour) asks each schedule which instances are due, builds their ids and
intervals, and when the next run is. The median of several ticks is printed; the target
is under 50 ms for 1,000 pipelines.

With ``--engine``, the same count of pipelines is also activated in a scratch SQLite
state and one full ``PipelineEngine.tick`` of each is timed, for information: that
includes the state transaction, the dependency checks and health.

Run on demand (the test suite never runs it):

    .venv/bin/python bench/pipeline_bench.py
    .venv/bin/python bench/pipeline_bench.py --pipelines 5000 --repeat 9
    .venv/bin/python bench/pipeline_bench.py --engine --pipelines 200
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ddbpipe.pipeline.definition import definition_from_file
from ddbpipe.pipeline.engine import PipelineEngine
from ddbpipe.pipeline.ids import instance_id
from ddbpipe.pipeline.schedules import ScheduleSpec, due_count, next_run_time
from ddbpipe.pipeline.state import StateStore
from ddbpipe.pipeline.timefmt import Period

QUARTER = Period(15, "minutes")
TARGET_MS = 50.0


def schedules(count: int, now: datetime, rng: random.Random) -> list[tuple[ScheduleSpec, int]]:
    """``count`` schedules and how many instances each has planned before ``now``."""
    planned = []
    for n in range(count):
        start = now - timedelta(seconds=rng.randrange(86_400))
        end = now + timedelta(hours=rng.randrange(1, 48)) if n % 5 == 0 else None
        occurrences = rng.randrange(50, 200) if n % 7 == 0 else None
        spec = ScheduleSpec(
            "cron", QUARTER, start, end=end, occurrences=None if end else occurrences
        )
        before = due_count(spec, QUARTER.subtract_from(now))  # planned a tick earlier
        planned.append((spec, before))
    return planned


def plan_tick(planned: list[tuple[ScheduleSpec, int]], now: datetime) -> int:
    """Plan one tick of every schedule: return how many instances are new."""
    created = 0
    for number, (spec, before) in enumerate(planned):
        due = due_count(spec, now)
        component = f"Backup{number}"
        for index in range(before, due):
            start, _ = spec.interval(index)
            instance_id(component, start)
            created += 1
        next_run_time(spec, now)
    return created


def engine_tick(count: int, now: datetime) -> float:
    """Seconds for one engine tick of each of ``count`` activated pipelines."""
    objects = [
        {
            "id": "Quarter",
            "type": "Schedule",
            "period": "15 minutes",
            "startAt": "FIRST_ACTIVATION_DATE_TIME",
        },
        {"id": "Default", "scheduleType": "cron", "schedule": {"ref": "Quarter"}},
        {"id": "Table", "type": "DynamoDBDataNode", "tableName": "Orders"},
        {"id": "Folder", "type": "S3DataNode", "directoryPath": "s3://b/#{@scheduledStartTime}"},
        {
            "id": "Backup",
            "type": "EmrActivity",
            "input": {"ref": "Table"},
            "output": {"ref": "Folder"},
            "workerGroup": "wg",
            "step": "x.jar,org.apache.hadoop.dynamodb.tools.DynamoDBExport,"
            "#{output.directoryPath},#{input.tableName}",
        },
    ]
    definition = definition_from_file({"objects": objects})
    with tempfile.TemporaryDirectory() as folder, StateStore.in_folder(Path(folder)) as store:
        engine = PipelineEngine(store)
        ids = []
        for n in range(count):
            pipeline_id = engine.create_pipeline(f"p{n}", f"p{n}", now=now)
            engine.put_definition(pipeline_id, definition, now=now)
            engine.activate(pipeline_id, now=now)
            engine.tick(pipeline_id, now=now)
            ids.append(pipeline_id)
        later = now + timedelta(minutes=15)
        began = time.perf_counter()
        for pipeline_id in ids:
            engine.tick(pipeline_id, now=later)
        return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pipelines", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--engine", action="store_true", help="also time full engine ticks")
    parser.add_argument("--json", metavar="PATH", help="write the numbers as JSON")
    args = parser.parse_args()
    now = datetime(2026, 3, 2, 14, 15, tzinfo=UTC)
    planned = schedules(args.pipelines, now, random.Random(args.seed))
    timings, created = [], 0
    for _ in range(args.repeat):
        began = time.perf_counter()
        created = plan_tick(planned, now)
        timings.append(time.perf_counter() - began)
    median_ms = statistics.median(timings) * 1000
    verdict = "within" if median_ms < TARGET_MS else "OVER"
    print(
        f"planner: next tick of {args.pipelines:,} pipelines (15-minute schedules): "
        f"median {median_ms:.2f} ms over {args.repeat} runs, {created:,} new instances "
        f"({verdict} the {TARGET_MS:.0f} ms target)"
    )
    result = {"pipelines": args.pipelines, "planner_median_ms": median_ms, "new_instances": created}
    if args.engine:
        seconds = engine_tick(args.pipelines, now)
        print(
            f"engine: one tick of each of {args.pipelines:,} activated pipelines (SQLite "
            f"state): {seconds * 1000:.0f} ms, {seconds * 1000 / args.pipelines:.2f} ms each"
        )
        result["engine_tick_ms"] = seconds * 1000
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
