"""How fast a stopped job stops: from the signal to the last process of the job gone.

An import (and an export) with ``--workers 2``, throttled so that it runs for a while,
is sent SIGINT (to its process group, as a terminal does), SIGTERM, SIGHUP or SIGKILL
once it has written a first share of its items. The time from the signal to the moment
no live process of the job's process group is left bounds the time any write can still
be made. Printed per job and signal: the median over ``--repeat`` runs and the exit
code. The target is under one second.

Run on demand (the test suite never runs it):

    .venv/bin/python bench/stop_bench.py
    .venv/bin/python bench/stop_bench.py --repeat 5
"""

from __future__ import annotations

import argparse
import os
import signal
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

TABLE = "stop_bench"
ITEMS = 20_000
TARGET_S = 1.0
SIGNALS = {
    "SIGINT": signal.SIGINT,
    "SIGTERM": signal.SIGTERM,
    "SIGHUP": signal.SIGHUP,
    "SIGKILL": signal.SIGKILL,
}


def ddbpipe() -> str:
    return str(Path(sys.executable).parent / "ddbpipe")


def live_members(pgid: int) -> list[int]:
    """Processes of group ``pgid`` that are not zombies."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry))
    return members


def stop_once(
    command: list[str], env: dict[str, str], name: str, started: Path
) -> tuple[float, int]:
    """Run ``command``, signal it once it has started writing; seconds until it is gone."""
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while not _started(started):
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{' '.join(command)} ended before it could be stopped")
        time.sleep(0.02)
    time.sleep(0.5)  # well into the job
    number = SIGNALS[name]
    sent = time.monotonic()
    if number == signal.SIGINT:
        os.killpg(process.pid, number)
    else:
        os.kill(process.pid, number)
    while live_members(process.pid):
        if time.monotonic() - sent > 30:
            os.killpg(process.pid, signal.SIGKILL)
            raise SystemExit(f"{' '.join(command)} did not stop within 30 s of {name}")
        process.poll()
        time.sleep(0.005)
    gone = time.monotonic() - sent
    code = process.wait()
    if code == 0:
        raise SystemExit(f"{' '.join(command)} finished before {name} reached it")
    return gone, code


def _started(path: Path) -> bool:
    """Whether the job has written: a data file or a checkpoint under ``path``."""
    return path.exists() and any(path.rglob("*"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    install_cleanup()

    with scratch_dir("ddbpipe-stop-bench-") as scratch, Dynalite(log_dir=scratch) as db:
        client = RawDynamo(db.url)
        create_loaded_table(client, TABLE, ITEMS)
        env = bench_env({"XDG_STATE_HOME": str(scratch / "state")})
        connection = ["--endpoint-url", db.url, "--region", REGION, "--workers", "2"]
        backup = scratch / "backup"
        done = subprocess.run(
            [ddbpipe(), "export", TABLE, str(backup), "--items-per-file", "2500", *connection],
            env=env,
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(done.stderr.decode(errors="replace"))
        [folder] = [p.parent for p in backup.rglob("manifest")]
        client.create_table("stop_target")
        rows = []
        for job in ("export", "import"):
            for name in SIGNALS:
                times, codes = [], set()
                for n in range(args.repeat):
                    state = scratch / f"state-{job}-{name}-{n}"
                    run_env = {**env, "XDG_STATE_HOME": str(state)}
                    if job == "export":
                        dest = scratch / f"out-{name}-{n}"
                        command = [ddbpipe(), "export", TABLE, str(dest), "--max-rcu", "50"]
                        command += ["--read-ratio", "1", "--segments", "4", *connection]
                        watched = dest
                    else:
                        command = [ddbpipe(), "import", str(folder), "stop_target"]
                        command += ["--max-wcu", "2000", "--write-ratio", "1", *connection]
                        watched = state
                    seconds, code = stop_once(command, run_env, name, watched)
                    times.append(seconds)
                    codes.add(code)
                median = statistics.median(times)
                rows.append((job, name, median, max(times), sorted(codes)))
                log(f"{job} {name}: gone after {median * 1000:,.0f} ms (median of {args.repeat})")
        log("")
        log(f"{'job':<7} {'signal':<8} {'median':>9} {'worst':>9}  exit")
        for job, name, median, worst, codes in rows:
            verdict = "" if worst < TARGET_S else "  OVER the 1 s target"
            log(
                f"{job:<7} {name:<8} {median * 1000:>6,.0f} ms {worst * 1000:>6,.0f} ms  "
                f"{','.join(map(str, codes))}{verdict}"
            )


if __name__ == "__main__":
    main()
