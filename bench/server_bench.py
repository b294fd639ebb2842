"""Load on ``ddbpipe serve``: concurrent signed clients mixing DescribePipelines,
QueryObjects, DescribeObjects and PutPipelineDefinition over many pipelines.

    .venv/bin/python bench/server_bench.py                     # 50 clients, 30 s, 1,000 pipelines
    .venv/bin/python bench/server_bench.py --clients 20 --seconds 10 --pipelines 200

The pipelines (the export template, with values) are written into a scratch state
folder, a user allowed everything is added, then ``ddbpipe serve`` starts on a free
127.0.0.1 port with rate limits off and its scheduler idle (no pipeline is active). The
clients run in this process (one thread and one kept-alive connection each; botocore
signs). Reported: requests/s, p50/p99 latency overall and per operation, HTTP statuses,
and whether every acknowledged PutPipelineDefinition reads back. The server is stopped by
its PID at the end.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ddbpipe.server.access_keys import new_access_key  # noqa: E402
from ddbpipe.server.identities import IdentityStore  # noqa: E402
from tests.support.server_load import run_load, seed_pipelines, verify_writes  # noqa: E402

REGION = "us-east-1"
EVERYTHING = (
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}'
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"ddbpipe serve exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("ddbpipe serve did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--pipelines", type=int, default=1000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ddbpipe-server-bench-") as scratch:
        state = Path(scratch) / "state"
        key = new_access_key()
        store = IdentityStore(state)
        store.add_user("load", access_key=key, policies={"all": EVERYTHING})
        creator = store.get("user", "load").unique_id
        store.close()
        began = time.monotonic()
        ids = seed_pipelines(state, args.pipelines, creator)
        print(f"seeded {len(ids)} pipelines in {time.monotonic() - began:.1f} s", flush=True)
        port = free_port()
        command = [
            str(Path(sys.executable).parent / "ddbpipe"),
            "serve",
            "--state",
            str(state),
            "--port",
            str(port),
            "--region",
            REGION,
            "--rate-limit",
            "off",
        ]
        log = open(Path(scratch) / "serve.log", "wb")  # noqa: SIM115
        server = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            wait_listening(port, server)
            url = f"http://127.0.0.1:{port}"
            keys = (key.access_key_id, key.secret_access_key)
            cpu = os.times()
            result = run_load(url, keys, REGION, ids, clients=args.clients, seconds=args.seconds)
            used = os.times()
            print(result.summary())
            print(
                f"client CPU: {used.user - cpu.user + used.system - cpu.system:.1f} s "
                f"in {result.seconds:.1f} s"
            )
            lost = verify_writes(url, keys, REGION, result)
            print(f"{len(result.last_write)} pipelines written; {len(lost)} lost writes")
            stat = Path(f"/proc/{server.pid}/stat").read_text().split()
            seconds = (int(stat[13]) + int(stat[14])) / os.sysconf("SC_CLK_TCK")
            print(f"server CPU (whole run): {seconds:.1f} s")
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=60)
            log.close()


if __name__ == "__main__":
    main()
