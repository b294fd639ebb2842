"""The dynalite server every benchmark runs against: in memory or on LevelDB, 127.0.0.1."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from measure import cpu_s, rss_kb
from processes import REPO, free_port, log, spawn, stop_process
from rawddb import DynamoError, RawDynamo

DYNALITE_CLI = REPO / "tests" / "servers" / "node_modules" / "dynalite" / "cli.js"


class Dynalite:
    """dynalite on 127.0.0.1 and a free port: in memory, or on LevelDB under ``path``."""

    def __init__(self, *, path: Path | None = None, log_dir: Path | None = None) -> None:
        self.path = path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log_dir = log_dir or Path(tempfile.gettempdir())
        self.log_path = self._log_dir / f"dynalite-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self, timeout: float = 30.0) -> Dynalite:
        if not DYNALITE_CLI.exists():
            raise SystemExit(f"dynalite is missing at {DYNALITE_CLI}: run tests/servers/install")
        node = shutil.which("node")
        if node is None:
            raise SystemExit("node is not on PATH; dynalite needs Node.js 18+")
        cmd = [node, str(DYNALITE_CLI), "--host", "127.0.0.1", "--port", str(self.port)]
        cmd += ["--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0"]
        if self.path is not None:
            self.path.mkdir(parents=True, exist_ok=True)
            cmd += ["--path", str(self.path)]
        self.process = spawn(cmd, self.log_path)
        client = RawDynamo(self.url, timeout=2.0)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise SystemExit(
                    f"dynalite exited with {self.process.returncode}: "
                    f"{self.log_path.read_text(errors='replace')[-2000:]}"
                )
            try:
                client.post("ListTables", b"{}", attempts=1)
                break
            except DynamoError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise SystemExit(f"dynalite did not answer within {timeout:.0f} s") from None
                time.sleep(0.05)
        client.close()
        where = f"on disk at {self.path}" if self.path else "in memory"
        log(f"dynalite {where}, {self.url} (pid {self.process.pid})")
        return self

    def rss_kb(self) -> int:
        """dynalite's resident memory now, from /proc (0 when unknown)."""
        if self.process is None:
            return 0
        return rss_kb(self.process.pid) or 0

    def cpu_s(self) -> float | None:
        """dynalite's CPU seconds so far (user + sys), from /proc."""
        if self.process is None:
            return None
        return cpu_s(self.process.pid)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None

    def __enter__(self) -> Dynalite:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
