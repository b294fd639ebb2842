"""dynamodump as a variant: its own venv, its command lines, the items in its backups.

It has a venv of its own (``bench/.venv-dynamodump``) because it pins its own boto3.
(This module is not named ``dynamodump``: ``run_dynamodump.py`` runs from bench/ and
imports the real package under that name.)
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from processes import BENCH, REGION, log

DYNAMODUMP_VENV = BENCH / ".venv-dynamodump"
DYNAMODUMP_VERSION = "1.11.1"


def dynamodump_python() -> Path:
    """The python of ``bench/.venv-dynamodump``, created with dynamodump on first use."""
    python = DYNAMODUMP_VENV / "bin" / "python"
    check = [str(python), "-c", "import importlib.metadata as m; print(m.version('dynamodump'))"]
    if python.exists():
        found = subprocess.run(check, capture_output=True, text=True, check=False)
        if found.returncode == 0 and found.stdout.strip() == DYNAMODUMP_VERSION:
            return python
    log(f"creating {DYNAMODUMP_VENV} with dynamodump {DYNAMODUMP_VERSION} ...")
    base = getattr(sys, "_base_executable", None) or shutil.which("python3") or "python3"
    subprocess.run([base, "-m", "venv", str(DYNAMODUMP_VENV)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", f"dynamodump=={DYNAMODUMP_VERSION}"],
        check=True,
    )
    return python


def dynamodump_cmd(python: Path, args: Sequence[str]) -> list[str]:
    """Run dynamodump with its thread start-up delay set to 0 (``bench/run_dynamodump.py``)."""
    return [str(python), str(BENCH / "run_dynamodump.py"), *args]


def dynamodump_connection(url: str) -> list[str]:
    port = url.rsplit(":", 1)[1]
    return ["-r", REGION, "--host", "127.0.0.1", "--port", port]


def dynamodump_backup_args(url: str, table: str, dump_path: Path) -> list[str]:
    """dynamodump's arguments for a backup of ``table`` into ``dump_path``."""
    args = ["-m", "backup", *dynamodump_connection(url)]
    args += ["--accessKey", "testing", "--secretKey", "testing", "-s", table]
    return [*args, "--dumpPath", str(dump_path)]


def dynamodump_items(dump_path: Path, table: str) -> int:
    """Items in a dynamodump backup of ``table`` under ``dump_path``."""
    total = 0
    for page in sorted((dump_path / table / "data").glob("*.json")):
        total += len(json.loads(page.read_bytes())["Items"])
    return total
