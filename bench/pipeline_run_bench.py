"""What running the export template as a pipeline costs over ``ddbpipe export``.

One dynalite table of N items (10,000 by default) is exported to a local folder, in
turn, by

- ``ddbpipe export TABLE DEST``, and
- ``ddbpipe pipeline run`` of the console's export template (``ddbpipe pipeline template
  export``) with only its parameter values given: the same table, a local output folder,
  the same read ratio, a fresh state folder each time (the definition is validated and
  activated, the instance planned, the step's arguments rendered, the log folder
  written),

``--repeat`` times each (5 by default), alternating, both with ``--max-rcu`` high
enough that throttling is not what is timed. Every run's backup is checked (the
manifest lists N items, ``_SUCCESS`` is there). Printed: the median wall time of each
and their difference; the target is at most 0.5 s.

Run on demand (the test suite never runs it):

    .venv/bin/python bench/pipeline_run_bench.py
    .venv/bin/python bench/pipeline_run_bench.py --items 100000 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dataset import create_loaded_table
from dynalite import Dynalite
from processes import REGION, bench_env, install_cleanup, log, scratch_dir
from rawddb import RawDynamo

TABLE = "pipeline_bench"
TARGET_S = 0.5
MAX_RCU = "1000000"
RATIO = "1.0"


def ddbpipe() -> str:
    return str(Path(sys.executable).parent / "ddbpipe")


def timed(command: list[str], env: dict[str, str]) -> float:
    began = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, check=False)
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(
            f"{' '.join(command)} exited with {done.returncode}:\n"
            f"{done.stderr.decode(errors='replace')[-3000:]}"
        )
    return seconds


def backup_items(dest: Path) -> int:
    """Items the one backup folder under ``dest`` lists in its manifest, checked finished."""
    folders = [path.parent for path in dest.rglob("manifest")]
    if len(folders) != 1:
        raise SystemExit(f"expected one backup under {dest}, found {len(folders)}")
    folder = folders[0]
    if not (folder / "_SUCCESS").exists():
        raise SystemExit(f"{folder} has no _SUCCESS")
    count = 0
    for entry in json.loads((folder / "manifest").read_text())["entries"]:
        data = (folder / entry["url"].rsplit("/", 1)[-1]).read_bytes()
        count += sum(1 for line in data.splitlines() if line)
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    install_cleanup()

    with scratch_dir("ddbpipe-pipeline-run-bench-") as scratch, Dynalite(log_dir=scratch) as db:
        create_loaded_table(RawDynamo(db.url), TABLE, args.items)
        env = bench_env()
        template = scratch / "export.json"
        template.write_bytes(
            subprocess.run(
                [ddbpipe(), "pipeline", "template", "export"],
                env=env,
                capture_output=True,
                check=True,
            ).stdout
        )
        common = ["--endpoint-url", db.url, "--region", REGION, "--workers", str(args.workers)]
        common += ["--max-rcu", MAX_RCU]
        times: dict[str, list[float]] = {"export": [], "pipeline run": []}
        for n in range(args.repeat):
            dest = scratch / f"export-{n}"
            command = [ddbpipe(), "export", TABLE, str(dest), "--read-ratio", RATIO, *common]
            times["export"].append(timed(command, env))
            found = backup_items(dest)
            if found != args.items:
                raise SystemExit(f"export wrote {found:,} items, not {args.items:,}")

            dest = scratch / f"pipeline-{n}"
            command = [ddbpipe(), "pipeline", "run", str(template), "--once", *common]
            command += ["--state", str(scratch / f"state-{n}"), "--name", f"bench-{n}"]
            for key, value in (
                ("myDDBTableName", TABLE),
                ("myOutputS3Loc", str(dest)),
                ("myDDBReadThroughputRatio", RATIO),
                ("myDDBRegion", REGION),
                ("myPipelineLogUri", str(scratch / f"logs-{n}")),
            ):
                command += ["--parameter-values", f"{key}={value}"]
            times["pipeline run"].append(timed(command, env))
            found = backup_items(dest)
            if found != args.items:
                raise SystemExit(f"the pipeline wrote {found:,} items, not {args.items:,}")
            log(
                f"run {n + 1}: export {times['export'][-1]:.3f} s, "
                f"pipeline run {times['pipeline run'][-1]:.3f} s"
            )

        export = statistics.median(times["export"])
        pipeline = statistics.median(times["pipeline run"])
        log(f"{args.items:,} items, median of {args.repeat}:")
        log(f"  ddbpipe export        {export:.3f} s")
        log(f"  ddbpipe pipeline run  {pipeline:.3f} s")
        verdict = "within" if pipeline - export <= TARGET_S else "OVER"
        log(f"  the pipeline adds {pipeline - export:+.3f} s ({verdict} the {TARGET_S} s target)")


if __name__ == "__main__":
    main()
