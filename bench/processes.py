"""What the harness starts and must clean up: child processes and scratch folders.

Also the environment every command gets (fake credentials, nothing from a real account),
free ports and the log. Run on demand only (never by the test suite). Every server binds
127.0.0.1, and every process started here is stopped by its PID (its process group),
including on Ctrl-C, SIGTERM and SIGHUP.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
PROJECT_PYTHON = REPO / ".venv" / "bin" / "python"
REGION = "us-east-1"

FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
}

_started: dict[int, subprocess.Popen[bytes]] = {}
_started_lock = threading.Lock()


def remember(process: subprocess.Popen[bytes]) -> None:
    """Have ``process`` stopped at exit unless it is stopped or forgotten before."""
    with _started_lock:
        _started[process.pid] = process


def forget(process: subprocess.Popen[bytes]) -> None:
    with _started_lock:
        _started.pop(process.pid, None)


def spawn(
    cmd: Sequence[str],
    log_path: Path,
    *,
    env: dict[str, str] | None = None,
    append: bool = False,
) -> subprocess.Popen[bytes]:
    """Start a server in its own process group, its output going to ``log_path``."""
    with open(log_path, "ab" if append else "wb") as log_file:
        process = subprocess.Popen(
            cmd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    remember(process)
    return process


def stop_process(process: subprocess.Popen[bytes], *, grace: float = 10.0) -> None:
    """Stop a process this harness started (and its process group) by its PID."""
    if process.poll() is None:
        # Started with start_new_session=True, so the group id is the PID we started.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
    else:
        # The leader is gone; stragglers of its group (worker processes) may remain.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
    forget(process)


def reap_group(pgid: int) -> None:
    """Kill what is left of the process group of a command that has exited (stray workers)."""
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return
    log(f"  (processes of group {pgid} outlived their command; stopping them)")
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def stop_all() -> None:
    """Stop every process still running that this harness started."""
    with _started_lock:
        processes = list(_started.values())
    for process in processes:
        stop_process(process, grace=5.0)


def _on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def install_cleanup() -> None:
    """Stop started processes on exit, Ctrl-C, SIGTERM and SIGHUP."""
    atexit.register(stop_all)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)


@contextlib.contextmanager
def scratch_dir(prefix: str, keep: bool = False) -> Iterator[Path]:
    """A fresh folder under ``$TMPDIR``, removed afterwards unless ``keep``."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)


def bench_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for every command: fake credentials, nothing from a real account."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AWS_") and k not in {"VIRTUAL_ENV", "PYTHONPATH"}
    }
    env.update(FAKE_ENV)
    env["AWS_CONFIG_FILE"] = os.devnull
    env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    env["PYTHONUNBUFFERED"] = "1"
    if extra:
        env.update(extra)
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def log(message: str) -> None:
    print(message, flush=True)
