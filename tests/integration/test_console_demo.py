"""``ddbpipe demo --console``: the console on the embedded DynamoDB + S3, signed in to with
the keys it prints, stopped by Ctrl-C."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.support.console_server import sign_in_over_http
from tests.support.servers import REPO_ROOT, free_port

pytestmark = pytest.mark.integration


def read_until(process: subprocess.Popen[str], marker: str, timeout: float = 90.0) -> str:
    assert process.stdout is not None
    seen = ""
    deadline = time.monotonic() + timeout
    while marker not in seen:
        if time.monotonic() > deadline or process.poll() is not None:
            raise AssertionError(f"no {marker!r} in the demo's output:\n{seen}")
        seen += process.stdout.readline()
    return seen


def test_demo_console_prints_keys_that_sign_in_and_stops_on_ctrl_c() -> None:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ddbpipe",
            "demo",
            "--console",
            "--items",
            "60",
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO_ROOT,
    )
    try:
        output = read_until(process, "Uvicorn running")
        url = re.search(r"The console: (\S+)", output)
        key_id = re.search(r"Access key ID:\s+(\S+)", output)
        secret = re.search(r"Secret access key:\s+(\S+)", output)
        state = re.search(r"state (\S+),", output)
        assert url is not None
        assert key_id is not None
        assert secret is not None
        assert state is not None
        assert url.group(1) == f"http://127.0.0.1:{port}/console"
        status, cookie, _ = sign_in_over_http(
            url.group(1),
            {"access_key_id": key_id.group(1), "secret_access_key": secret.group(1)},
        )
        assert status == 303
        for page, expected in (("/tables", "Forum"), ("/backups", "ddbpipe-demo")):
            request = urllib.request.Request(url.group(1) + page, headers={"Cookie": cookie})
            with urllib.request.urlopen(request, timeout=30) as answer:
                assert expected in answer.read().decode()
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
        assert "stopped" in rest
        assert not Path(state.group(1)).exists()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
