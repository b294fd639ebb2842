"""``ddbpipe serve`` with the pipeline engine as a real process, on a clock the tests can
move, and ``ddbpipe worker`` processes beside it.

Run as ``python -m tests.support.pipeline_server CLOCK_FILE [serve options]``: the same
``serve`` command as ``ddbpipe serve`` (``make_serve_command`` with the pipeline
engine's operations and scheduler), on a clock whose offset in seconds is read from
CLOCK_FILE (signatures, schedules, retry delays and task deadlines all read it).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from ddbpipe.pipeline.state import ObjectRecord, StateStore
from tests.support.api_server import ApiServer, OffsetClock, UserKeys
from tests.support.servers import REPO_ROOT, ServerProcess

ACCOUNT_ID = "123456789012"
NO_RATE_LIMIT = ("--rate-limit", "off")
HERE = [sys.executable, "-m", "tests.support.pipeline_server"]


def main() -> None:
    from ddbpipe.cli.serve import clocked_operations, clocked_services, make_serve_command

    clock_file, *args = sys.argv[1:]
    clock = OffsetClock(Path(clock_file))
    command = make_serve_command(clocked_operations(clock), clocked_services(clock), clock)
    command.main(args=args, prog_name="ddbpipe serve")


class PipelineServer(ApiServer):
    """A running ``ddbpipe serve`` over a state folder, which can be killed and started
    again on the same state (a new port each time)."""

    def __init__(self, root: Path, region: str, args: Sequence[str]) -> None:
        self.root = root
        self.region = region
        self.args = list(args)
        state = root / "state"
        clock_file = root / "clock-offset"
        clock_file.write_text("0")
        self.process = ServerProcess(
            f"ddbpipe-serve-{root.name}", self._command, root / "serve.log"
        )
        super().__init__("", state, clock_file, self.process.log_path)

    def _command(self, port: int) -> list[str]:
        return [
            *HERE,
            str(self.clock_file),
            "--state",
            str(self.state),
            "--region",
            self.region,
            "--account-id",
            ACCOUNT_ID,
            "--port",
            str(port),
            *self.args,
        ]

    def start(self, *extra: str) -> None:
        """Start the server (with ``extra`` options this time, when given)."""
        if extra:
            self.args = [*self.args, *extra]
        self.process.start()
        self.url = self.process.url

    def stop(self) -> None:
        """SIGTERM, then wait for the server to stop."""
        self.process.stop(grace=40)

    def kill(self) -> None:
        """SIGKILL the server and every process it started."""
        process = self.process.process
        assert process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        self.process.process = None

    def datapipeline(self, keys: UserKeys) -> Any:
        """A boto3 ``datapipeline`` client of ``keys`` for this server."""
        return self.client("datapipeline", keys, region=self.region)

    def objects(self, pipeline_id: str, sphere: str) -> list[ObjectRecord]:
        """The pipeline's objects of one sphere, read from the state."""
        with StateStore.in_folder(self.state) as store:
            return store.objects(pipeline_id, sphere=sphere)  # type: ignore[arg-type]

    def wait_for(
        self, what: Callable[[], Any], *, timeout: float = 90, message: str = "condition"
    ) -> Any:
        """Poll ``what`` until it gives something true."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = what()
            if found:
                return found
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {message}\n{self.log()[-4000:]}")


@contextlib.contextmanager
def pipeline_server(root: Path, *args: str, region: str = "us-east-1") -> Iterator[PipelineServer]:
    """A started ``PipelineServer`` in ``root``, stopped when the block ends."""
    root.mkdir(parents=True, exist_ok=True)
    server = PipelineServer(root, region, args)
    server.start()
    try:
        yield server
    finally:
        server.process.stop(grace=40)


def aws_cli_env(keys: UserKeys, region: str) -> dict[str, str]:
    """The environment of the AWS CLI: the test environment's config files and ``keys``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE=os.environ["AWS_CONFIG_FILE"],
        AWS_SHARED_CREDENTIALS_FILE=os.environ["AWS_SHARED_CREDENTIALS_FILE"],
        AWS_DEFAULT_REGION=region,
        AWS_EC2_METADATA_DISABLED="true",
        AWS_ACCESS_KEY_ID=keys.access_key_id,
        AWS_SECRET_ACCESS_KEY=keys.secret_access_key,
    )
    return env


def aws_cli(server: PipelineServer, keys: UserKeys, *args: str) -> Any:
    """``aws datapipeline ARGS`` against ``server``: the JSON it prints (or None); the
    test fails on a non-zero exit."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "awscli",
            "--endpoint-url",
            server.url,
            "--output",
            "json",
            "datapipeline",
            *args,
        ],
        env=aws_cli_env(keys, server.region),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
    )
    assert done.returncode == 0, f"aws datapipeline {args[0]} failed: {done.stderr}"
    return json.loads(done.stdout) if done.stdout.strip() else None


def start_worker(
    server: PipelineServer,
    keys: UserKeys,
    worker_group: str,
    *extra: str,
    log: Path,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """``ddbpipe worker`` for ``worker_group`` of ``server``, in its own process group."""
    environment = dict(env or os.environ)
    environment.update(
        AWS_ACCESS_KEY_ID=keys.access_key_id, AWS_SECRET_ACCESS_KEY=keys.secret_access_key
    )
    command = [
        sys.executable,
        "-m",
        "ddbpipe",
        "worker",
        "--endpoint-url",
        server.url,
        "--worker-group",
        worker_group,
        "--region",
        server.region,
        *extra,
    ]
    with log.open("ab") as out:
        return subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=environment,
            cwd=REPO_ROOT,
            start_new_session=True,
        )


def kill_group(process: subprocess.Popen[bytes]) -> int:
    """SIGKILL the process group of ``process`` (it and its worker processes); its exit
    status."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    return process.wait(timeout=60)


def terminate(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM to ``process`` (as ``kill PID`` sends it); its exit status."""
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=60)


def datapipeline_client(url: str, keys: UserKeys, region: str) -> Any:
    """A boto3 ``datapipeline`` client of ``keys`` for the server at ``url``."""
    session = boto3.session.Session(
        aws_access_key_id=keys.access_key_id,
        aws_secret_access_key=keys.secret_access_key,
        region_name=region,
    )
    return session.client(
        "datapipeline", endpoint_url=url, config=Config(retries={"max_attempts": 0})
    )


if __name__ == "__main__":
    main()
