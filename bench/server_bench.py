"""Load on ``ddbpipe serve``: concurrent signed clients mixing DescribePipelines,
QueryObjects, DescribeObjects and PutPipelineDefinition over many pipelines.

    .venv/bin/python bench/server_bench.py                     # 50 clients, 30 s, 1,000 pipelines
    .venv/bin/python bench/server_bench.py --clients 20 --seconds 10 --pipelines 200
    .venv/bin/python bench/server_bench.py --threads 8 --per-second

The pipelines (the export template, with values) are written into a scratch state
folder, a user allowed everything is added, then ``ddbpipe serve`` of this checkout
(``python -m ddbpipe`` with its ``src`` first on the path) starts on a free 127.0.0.1
port with rate limits off and its scheduler idle (no pipeline is active); ``--threads``
is passed on. The clients run in ``--processes`` client processes (4), as real clients
are separate programs, each client a thread with one kept-alive connection; botocore
signs every request, the bodies are serialised beforehand, and a request is timed from
sending it to having read the answer (``tests/support/server_load.py``). Reported:
requests/s, p50/p99 latency overall and per operation, HTTP statuses, the CPU seconds
of the server and of the clients during the load, with ``--per-second`` the answers
and p99 of each second, and whether every acknowledged PutPipelineDefinition reads
back. The server is stopped by its PID at the end.

Measured on a 2-core machine shared with other work, three 30 s runs each, medians
(docs/server.md, Performance): before, 614 requests/s, p50 65 ms, p99 296 ms with the
clients as threads of one process, 631 requests/s, p50 73 ms, p99 207 ms with them in
4 processes; now 710 requests/s, p50 69 ms, p99 106 ms (server 1.3 ms of CPU a
request, clients about 0.35 ms), no error and no lost write.
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
from tests.support.server_load import (  # noqa: E402
    LoadResult,
    run_load,
    seed_pipelines,
    verify_writes,
)

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


def cpu_seconds(pid: int) -> float:
    """The CPU seconds (user and system) process ``pid`` has used."""
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")


def per_second(result: LoadResult) -> str:
    """Answers and p99 latency of each second of the run, by when they arrived."""
    seconds: dict[int, list[float]] = {}
    start = min(arrived for arrived, _ in result.timeline)
    for arrived, latency in result.timeline:
        seconds.setdefault(int(arrived - start), []).append(latency)
    lines = []
    for second, latencies in sorted(seconds.items()):
        latencies.sort()
        p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
        lines.append(f"  second {second:>3}: {len(latencies):>5} answers, p99 {p99 * 1000:6.1f} ms")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--pipelines", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=4, help="client processes")
    parser.add_argument("--threads", type=int, help="the server's --threads")
    parser.add_argument(
        "--per-second", action="store_true", help="also print the rate and p99 of each second"
    )
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
            sys.executable,
            "-m",
            "ddbpipe",
            "serve",
            "--state",
            str(state),
            "--port",
            str(port),
            "--region",
            REGION,
            "--rate-limit",
            "off",
            *(["--threads", str(args.threads)] if args.threads else []),
        ]
        # The server runs the ddbpipe of this checkout, whatever is installed.
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(ROOT / "src"), *filter(None, [env.get("PYTHONPATH")])]
        )
        log = open(Path(scratch) / "serve.log", "wb")  # noqa: SIM115
        server = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env
        )
        try:
            wait_listening(port, server)
            url = f"http://127.0.0.1:{port}"
            keys = (key.access_key_id, key.secret_access_key)
            server_cpu = cpu_seconds(server.pid)
            result = run_load(
                url,
                keys,
                REGION,
                ids,
                clients=args.clients,
                seconds=args.seconds,
                processes=args.processes,
            )
            server_cpu = cpu_seconds(server.pid) - server_cpu
            print(result.summary())
            print(
                f"CPU in {result.seconds:.1f} s: server {server_cpu:.1f} s "
                f"({server_cpu / max(result.requests, 1) * 1000:.2f} ms a request), "
                f"clients {result.client_cpu:.1f} s"
            )
            if args.per_second:
                print(per_second(result))
            lost = verify_writes(url, keys, REGION, result)
            print(f"{len(result.last_write)} pipelines written; {len(lost)} lost writes")
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=60)
            log.close()


if __name__ == "__main__":
    main()
