"""Shared parts of the benchmark harness: dynalite, test data, measuring, reporting.

Run on demand only (never by the test suite). Every server binds 127.0.0.1, uses fake
credentials, and every process started here is stopped by its PID.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import contextlib
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from rawddb import DynamoError, RawDynamo

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
PROJECT_PYTHON = REPO / ".venv" / "bin" / "python"
DDBPIPE = REPO / ".venv" / "bin" / "ddbpipe"
DYNALITE_CLI = REPO / "tests" / "servers" / "node_modules" / "dynalite" / "cli.js"
DYNAMODUMP_VENV = BENCH / ".venv-dynamodump"
DYNAMODUMP_VERSION = "1.11.1"
GNU_TIME = Path("/usr/bin/time")
REGION = "us-east-1"

FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
}

# -------------------------------------------------------------------- processes

_started: dict[int, subprocess.Popen[bytes]] = {}
_started_lock = threading.Lock()


def _remember(process: subprocess.Popen[bytes]) -> None:
    with _started_lock:
        _started[process.pid] = process


def _forget(process: subprocess.Popen[bytes]) -> None:
    with _started_lock:
        _started.pop(process.pid, None)


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
    _forget(process)


def _reap_group(pgid: int) -> None:
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


# ---------------------------------------------------------------------- dynalite


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
        with open(self.log_path, "wb") as log_file:
            self.process = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _remember(self.process)
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
        return _rss_kb(self.process.pid) or 0

    def cpu_s(self) -> float | None:
        """dynalite's CPU seconds so far (user + sys), from /proc."""
        if self.process is None:
            return None
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            return None
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None

    def __enter__(self) -> Dynalite:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


# -------------------------------------------------------------------------- data

_FIRST = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia")
_LAST = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson")
_CITY = ("Springfield", "Riverside", "Fairview", "Kingston", "Georgetown", "Clinton", "Salem")
_NOTE = "The quick brown fox jumps over the lazy dog; pack my box with five dozen jugs. "


def make_item(i: int) -> dict[str, Any]:
    """Item ``i`` in DynamoDB wire form: S, N, S, BOOL, N, SS, S, about 200 bytes."""
    return {
        "pk": {"S": f"user#{i:08d}"},
        "visits": {"N": str((i * 7919) % 100000)},
        "name": {"S": f"{_FIRST[i % 9]} {_LAST[i % 8]} of {_CITY[i % 7]}, customer {i}"},
        "active": {"BOOL": i % 3 != 0},
        "balance": {"N": f"{(i * 104729) % 1000000}.{i % 100:02d}"},
        "tags": {
            "SS": [f"segment-{i % 97:02d}", f"cohort-2024-{i % 13:02d}", f"region-eu-{i % 7}"]
        },
        "note": {"S": (_NOTE[i % 40 :] + _NOTE)[:40]},
    }


def load_items(
    client: RawDynamo,
    table: str,
    count: int,
    *,
    threads: int = 4,
    start: int = 0,
    progress_every: int = 0,
) -> float:
    """Put items ``start .. start+count-1`` with raw BatchWriteItem calls; returns seconds."""
    began = time.perf_counter()
    done = 0
    retries = 0
    step = progress_every or max(count // 10, 25)
    next_report = step

    def write(first: int) -> tuple[int, int]:
        last = min(first + 25, start + count)
        items = [make_item(i) for i in range(first, last)]
        return last - first, client.batch_write(table, items)

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        # Submit in windows so a million items never sit in the queue at once.
        window = threads * 64
        firsts = iter(range(start, start + count, 25))
        pending: set[concurrent.futures.Future[tuple[int, int]]] = set()
        while True:
            for first in firsts:
                pending.add(pool.submit(write, first))
                if len(pending) >= window:
                    break
            if not pending:
                break
            finished, pending = concurrent.futures.wait(
                pending, return_when=concurrent.futures.FIRST_COMPLETED
            )
            for future in finished:
                written, retried = future.result()
                done += written
                retries += retried
            if done >= next_report:
                elapsed = time.perf_counter() - began
                log(f"  loaded {done:,}/{count:,} items in {elapsed:.1f} s")
                next_report += step
    seconds = time.perf_counter() - began
    if retries:
        log(f"  ({retries} batches retried for UnprocessedItems)")
    return seconds


def create_loaded_table(
    client: RawDynamo, table: str, count: int, *, threads: int = 4, progress_every: int = 0
) -> None:
    """A fresh on-demand table holding ``count`` items, verified by a COUNT scan."""
    client.delete_table(table)
    client.create_table(table)
    log(f"loading {count:,} items into {table} ...")
    seconds = load_items(client, table, count, threads=threads, progress_every=progress_every)
    found = client.count(table)
    if found != count:
        raise SystemExit(f"loading failed: {table} holds {found:,} items, expected {count:,}")
    log(f"loaded {count:,} items in {seconds:.1f} s ({count / seconds:,.0f}/s); COUNT scan agrees")


# ------------------------------------------------------------------------ measure


@dataclass
class Result:
    """One measured run. CPU and peak RSS are the client's, the server is not included.

    ``max_rss_kb`` is what ``/usr/bin/time -v`` reports: the largest single process of
    the command's tree. ``tree_pss_kb`` is the peak of the summed PSS of the whole tree
    (sampled every 50 ms; shared pages counted once), which is what counts when a tool
    runs worker processes.
    """

    wall_s: float
    user_s: float
    sys_s: float
    max_rss_kb: int
    tree_pss_kb: int = 0
    returncode: int = 0
    timed_out: bool = False
    stdout: str = field(default="", repr=False)
    stderr: str = field(default="", repr=False)

    @property
    def cpu_s(self) -> float:
        return self.user_s + self.sys_s

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def cpu_us_per_item(self, items: int) -> float:
        return self.cpu_s / items * 1e6

    def numbers(self) -> dict[str, Any]:
        data = asdict(self)
        del data["stdout"], data["stderr"]
        data["cpu_s"] = self.cpu_s
        return data


def _rss_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * (os.sysconf("SC_PAGE_SIZE") // 1024)


def _pss_kb(pid: int) -> int | None:
    """Proportional set size: shared pages (forked workers) are counted once in a sum."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as rollup:
            for line in rollup:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return _rss_kb(pid)


def _tree_pss_kb(root: int, *, skip_root: bool) -> int:
    """Summed PSS (RSS where PSS is unreadable) of ``root`` and its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                ppid = int(stat.read().rpartition(b")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    total = 0
    stack = [root]
    while stack:
        pid = stack.pop()
        if not (skip_root and pid == root):
            total += _pss_kb(pid) or 0
        stack.extend(children.get(pid, ()))
    return total


_TIME_FIELDS = {
    "User time (seconds)": "user_s",
    "System time (seconds)": "sys_s",
    "Maximum resident set size (kbytes)": "max_rss_kb",
}


def parse_gnu_time(text: str) -> dict[str, float]:
    """The fields of ``/usr/bin/time -v`` output that the bench uses."""
    found: dict[str, float] = {}
    for line in text.splitlines():
        name, _, value = line.strip().rpartition(": ")
        if name in _TIME_FIELDS:
            found[_TIME_FIELDS[name]] = float(value)
        elif name.startswith("Elapsed (wall clock) time"):
            seconds = 0.0
            for part in value.split(":"):
                seconds = seconds * 60 + float(part)
            found["elapsed_s"] = seconds
    missing = {"user_s", "sys_s", "max_rss_kb"} - found.keys()
    if missing:
        raise ValueError(f"/usr/bin/time output lacks {sorted(missing)}: {text[-500:]!r}")
    return found


def measure(
    cmd: Sequence[str],
    env: dict[str, str],
    *,
    cwd: Path | None = None,
    timeout: float = 1800.0,
    sample_every: float = 0.05,
) -> Result:
    """Run ``cmd`` and measure wall time, client CPU (user + sys, children included) and RSS.

    Uses ``/usr/bin/time -v`` when present; otherwise the rusage of the waited child
    (``os.wait4``, the per-child form of ``getrusage(RUSAGE_CHILDREN)``). A run longer
    than ``timeout`` seconds is killed (its whole process group) and marked timed out.
    """
    use_time = GNU_TIME.exists()
    with tempfile.TemporaryDirectory(prefix="bench-measure-") as scratch:
        out_path = Path(scratch, "stdout")
        err_path = Path(scratch, "stderr")
        time_path = Path(scratch, "time")
        full = [str(GNU_TIME), "-v", "-o", str(time_path), *cmd] if use_time else list(cmd)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            began = time.perf_counter()
            process = subprocess.Popen(
                full,
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
            _remember(process)
            tree_peak = 0
            timed_out = False
            usage: resource.struct_rusage | None = None
            status = 0
            deadline = began + timeout
            try:
                while True:
                    if use_time:
                        if process.poll() is not None:
                            break
                    else:
                        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
                        if pid:
                            process.returncode = os.waitstatus_to_exitcode(status)
                            break
                    tree_peak = max(tree_peak, _tree_pss_kb(process.pid, skip_root=use_time))
                    if time.perf_counter() > deadline:
                        timed_out = True
                        stop_process(process, grace=5.0)
                        break
                    time.sleep(sample_every)
            finally:
                if process.returncode is None:
                    stop_process(process, grace=5.0)
            wall = time.perf_counter() - began
            _forget(process)
            _reap_group(process.pid)
        stdout = out_path.read_text(errors="replace")
        stderr = err_path.read_text(errors="replace")
        returncode = process.returncode if process.returncode is not None else -9
        if use_time and time_path.exists() and time_path.stat().st_size:
            try:
                fields = parse_gnu_time(time_path.read_text(errors="replace"))
            except ValueError:
                fields = {"user_s": 0.0, "sys_s": 0.0, "max_rss_kb": 0}
        elif usage is not None:
            fields = {
                "user_s": usage.ru_utime,
                "sys_s": usage.ru_stime,
                "max_rss_kb": usage.ru_maxrss,
            }
        else:
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            fields = {
                "user_s": after.ru_utime - before.ru_utime,
                "sys_s": after.ru_stime - before.ru_stime,
                "max_rss_kb": after.ru_maxrss,
            }
    return Result(
        wall_s=wall,
        user_s=fields["user_s"],
        sys_s=fields["sys_s"],
        max_rss_kb=int(fields["max_rss_kb"]),
        tree_pss_kb=tree_peak,
        returncode=returncode,
        timed_out=timed_out,
        stdout=stdout,
        stderr=stderr,
    )


def median_of(runs: Sequence[Result]) -> Result:
    """The median of each number over ``runs`` (the last run's output is kept)."""
    if not runs:
        raise ValueError("no runs")
    return replace(
        runs[-1],
        wall_s=statistics.median(r.wall_s for r in runs),
        user_s=statistics.median(r.user_s for r in runs),
        sys_s=statistics.median(r.sys_s for r in runs),
        max_rss_kb=int(statistics.median(r.max_rss_kb for r in runs)),
        tree_pss_kb=int(statistics.median(r.tree_pss_kb for r in runs)),
    )


def last_json_line(text: str) -> dict[str, Any]:
    """The last line of ``text`` that parses as a JSON object (scripts report this way)."""
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            with contextlib.suppress(json.JSONDecodeError):
                return dict(json.loads(line))
    raise ValueError("no JSON report line in the output")


def tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


# ---------------------------------------------------------------------- dynamodump


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


def dynamodump_items(dump_path: Path, table: str) -> int:
    """Items in a dynamodump backup of ``table`` under ``dump_path``."""
    total = 0
    for page in sorted((dump_path / table / "data").glob("*.json")):
        total += len(json.loads(page.read_bytes())["Items"])
    return total


# -------------------------------------------------------------------- backups


def backup_data_files(folder: Path) -> list[Path]:
    """The data files of a Data Pipeline backup folder, in manifest order when it has one.

    Looks in ``folder`` and, if it holds no data itself, in its subfolders (an exporter
    may add a dated folder under the destination).
    """
    from ddbpipe.formats.datapipeline import (
        MANIFEST_NAME,
        decode_manifest,
        is_data_file_name,
        manifest_file_names,
    )

    candidates = [folder, *sorted(p.parent for p in folder.rglob(MANIFEST_NAME))]
    for candidate in candidates:
        manifest = candidate / MANIFEST_NAME
        if manifest.is_file():
            names = manifest_file_names(decode_manifest(manifest.read_bytes()), source="manifest")
            return [candidate / name for name in names]
    files = [
        p
        for p in folder.rglob("*")
        if p.is_file() and is_data_file_name(p.name) and p.stat().st_size
    ]
    return sorted(files)


def count_lines(files: Sequence[Path]) -> int:
    """Non-blank lines in ``files`` (items, for Data Pipeline data files)."""
    total = 0
    for path in files:
        with open(path, "rb") as data:
            for block in iter(lambda data=data: data.read(1 << 20), b""):
                total += block.count(b"\n")
            if path.stat().st_size and not _ends_with_newline(path):
                total += 1
    return total


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as data:
        data.seek(-1, os.SEEK_END)
        return data.read(1) == b"\n"


def write_backup(folder: Path, count: int, *, lines_per_file: int = 100_000) -> list[Path]:
    """A Data Pipeline backup of items ``0 .. count-1`` (as loaded), written by the project's
    own encoder: data files of at most ``lines_per_file`` lines, ``manifest``, ``_SUCCESS``."""
    from ddbpipe.formats.datapipeline import MANIFEST_NAME, encode_items, encode_manifest

    folder.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    for number, first in enumerate(range(0, count, lines_per_file)):
        last = min(first + lines_per_file, count)
        path = folder / f"{number:05d}-bench-{first:09d}"
        with open(path, "wb") as data:
            for block in range(first, last, 10_000):
                items = (make_item(i) for i in range(block, min(block + 10_000, last)))
                data.write(encode_items(items))
        files.append(path)
    urls = [f"s3://bench-backups/{folder.name}/{p.name}" for p in files]
    (folder / MANIFEST_NAME).write_bytes(encode_manifest(urls))
    (folder / "_SUCCESS").write_bytes(b"")
    return files


# --------------------------------------------------------------------- reporting


@dataclass
class Dataset:
    """What the variants work on: a table (and, for imports, backups of it) of ``items``.

    ``main`` is the measured dataset; ``baseline`` a tiny one (``BASELINE_ITEMS``) run
    to find each variant's fixed start-up cost.
    """

    label: str
    items: int
    table: str
    data: dict[str, Any] = field(default_factory=dict)


BASELINE_ITEMS = 100


@dataclass
class Prepared:
    cmd: list[str]
    verify: Callable[[Result], int]
    cwd: Path | None = None
    cleanup: Callable[[], None] | None = None
    extras: Callable[[Result], dict[str, Any]] | None = None


@dataclass
class Variant:
    """One way of doing the job. ``prepare(run, dataset)`` returns the command, and a
    check returning the number of items the run really moved."""

    name: str
    prepare: Callable[[int, Dataset], Prepared]
    runs: list[Result] = field(default_factory=list)
    extras: list[dict[str, Any]] = field(default_factory=list)
    baseline_runs: list[Result] = field(default_factory=list)
    skipped: str | None = None
    baseline_error: str | None = None

    @property
    def median(self) -> Result | None:
        return median_of(self.runs) if self.runs else None

    @property
    def baseline(self) -> Result | None:
        return median_of(self.baseline_runs) if self.baseline_runs else None


def run_variants(
    variants: Sequence[Variant],
    dataset: Dataset,
    *,
    repeat: int,
    env: dict[str, str],
    timeout: float,
    server: Dynalite | None = None,
) -> None:
    """Run each variant ``repeat`` times on ``dataset``, round-robin, verifying every run.

    On the main dataset, a variant whose command fails, or which moves the wrong number
    of items, is skipped from then on, with its stderr printed. On the baseline dataset a
    failure only drops that variant's start-up figures.
    """
    baseline = dataset.label == "baseline"
    items = dataset.items
    for run in range(1, repeat + 1):
        for variant in variants:
            if variant.skipped or (baseline and variant.baseline_error):
                continue
            log(f"[{dataset.label} {run}/{repeat}] {variant.name} ...")
            prepared = variant.prepare(run, dataset)
            server_cpu = server.cpu_s() if server else None
            try:
                result = measure(prepared.cmd, env, cwd=prepared.cwd, timeout=timeout)
                if server and server_cpu is not None:
                    now = server.cpu_s()
                    server_cpu = None if now is None else now - server_cpu
                problem = None
                if not result.ok:
                    why = "timed out" if result.timed_out else f"exit status {result.returncode}"
                    problem = f"command failed ({why})"
                    log(f"  FAILED {variant.name}: {why}; command: {' '.join(prepared.cmd)}")
                else:
                    try:
                        moved = prepared.verify(result)
                    except Exception as exc:
                        moved = -1
                        log(f"  could not verify {variant.name}: {exc!r}")
                    if moved != items:
                        problem = f"moved {moved:,} items, expected {items:,}"
                        log(f"  FAILED {variant.name}: {problem}")
                if problem:
                    log("  stderr:\n" + _indent(tail(result.stderr) or "(empty)"))
                    if baseline:
                        variant.baseline_error = problem
                    else:
                        variant.skipped = problem
                        log(f"  {variant.name} is skipped from now on")
                    continue
                extra = prepared.extras(result) if prepared.extras else {}
                if server_cpu is not None:
                    extra["server_cpu_s"] = round(server_cpu, 3)
                if baseline:
                    variant.baseline_runs.append(result)
                else:
                    variant.runs.append(result)
                    variant.extras.append(extra)
                log(
                    f"  {result.wall_s:.2f} s wall, {result.cpu_s:.2f} s CPU "
                    f"({result.cpu_us_per_item(items):.1f} µs/item), "
                    f"peak RSS {result.max_rss_kb / 1024:.0f} MB "
                    f"(tree PSS {result.tree_pss_kb / 1024:.0f} MB); {moved:,} items verified"
                    + (f"; {_format_extra(extra)}" if extra else "")
                )
            finally:
                if prepared.cleanup:
                    prepared.cleanup()


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def _format_extra(extra: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in extra.items())


def median_extras(extras: Sequence[dict[str, Any]]) -> dict[str, Any]:
    keys = {k for e in extras for k in e}
    merged: dict[str, Any] = {}
    for key in sorted(keys):
        values = [e[key] for e in extras if isinstance(e.get(key), int | float)]
        if values:
            merged[key] = round(statistics.median(values), 3)
    return merged


def marginal_us_per_item(variant: Variant, items: int) -> float | None:
    """CPU per item beyond the fixed start-up: (CPU(N) - CPU(baseline)) / (N - baseline)."""
    main, base = variant.median, variant.baseline
    if main is None or base is None or items <= BASELINE_ITEMS:
        return None
    return (main.cpu_s - base.cpu_s) / (items - BASELINE_ITEMS) * 1e6


def report(
    variants: Sequence[Variant],
    *,
    items: int,
    reference: str = "ddbpipe",
) -> list[dict[str, Any]]:
    """Print the results table; return its rows as dicts."""
    ref = next((v.median for v in variants if v.name == reference and v.runs), None)
    rows: list[dict[str, Any]] = []
    header = (
        f"{'variant':<19} {'wall s':>7} {'CPU µs/item':>11} {'start-up CPU s':>14} "
        f"{'marginal µs/item':>16} {'peak RSS MB':>11} {'tree PSS MB':>11} "
        f"{'wall/ddbpipe':>12} {'CPU/ddbpipe':>11} {'runs':>4}"
    )
    log("")
    log(header)
    log("-" * len(header))
    for variant in variants:
        m = variant.median
        if m is None:
            log(f"{variant.name:<19} skipped: {variant.skipped}")
            rows.append({"variant": variant.name, "skipped": variant.skipped})
            continue
        cpu = m.cpu_us_per_item(items)
        base = variant.baseline
        marginal = marginal_us_per_item(variant, items)
        wall_ratio = m.wall_s / ref.wall_s if ref else None
        cpu_ratio = m.cpu_s / ref.cpu_s if ref and ref.cpu_s else None
        log(
            f"{variant.name:<19} {m.wall_s:>7.2f} {cpu:>11.1f} "
            f"{'-' if base is None else f'{base.cpu_s:.2f}':>14} "
            f"{'-' if marginal is None else f'{marginal:.1f}':>16} "
            f"{m.max_rss_kb / 1024:>11.0f} {m.tree_pss_kb / 1024:>11.0f} "
            f"{_ratio(wall_ratio):>12} {_ratio(cpu_ratio):>11} {len(variant.runs):>4}"
        )
        row: dict[str, Any] = {
            "variant": variant.name,
            "runs": len(variant.runs),
            "wall_s": round(m.wall_s, 3),
            "user_s": round(m.user_s, 3),
            "sys_s": round(m.sys_s, 3),
            "cpu_us_per_item": round(cpu, 2),
            "startup_cpu_s": None if base is None else round(base.cpu_s, 3),
            "startup_wall_s": None if base is None else round(base.wall_s, 3),
            "marginal_cpu_us_per_item": None if marginal is None else round(marginal, 2),
            "max_rss_mb": round(m.max_rss_kb / 1024, 1),
            "tree_pss_mb": round(m.tree_pss_kb / 1024, 1),
            "wall_ratio_to_ddbpipe": None if wall_ratio is None else round(wall_ratio, 3),
            "cpu_ratio_to_ddbpipe": None if cpu_ratio is None else round(cpu_ratio, 3),
            "all_runs": [r.numbers() for r in variant.runs],
            "baseline_runs": [r.numbers() for r in variant.baseline_runs],
        }
        if variant.baseline_error:
            row["baseline_error"] = variant.baseline_error
        extras = median_extras(variant.extras)
        if extras:
            row["extras"] = extras
        rows.append(row)
    notes = [(v.name, median_extras(v.extras)) for v in variants if v.runs]
    notes = [(name, extras) for name, extras in notes if extras]
    if notes:
        log("")
        for name, extras in notes:
            log(f"  {name}: {_format_extra(extras)}")
    log("")
    log(
        "CPU = user + sys of the client command and its children (the server is not "
        "included); start-up CPU = the same command on a "
        f"{BASELINE_ITEMS}-item dataset; marginal = (CPU - start-up) / (items - "
        f"{BASELINE_ITEMS}); peak RSS = largest single process (/usr/bin/time -v); tree "
        "PSS = peak of the summed proportional set size of the process tree (sampled "
        "every 50 ms). All medians over the runs."
    )
    return rows


def cpu_detail(variant: Variant | None, items: int) -> str:
    """`` (start-up X s + marginal Y µs/item)`` when a baseline was measured."""
    if variant is None:
        return ""
    base = variant.baseline
    marginal = marginal_us_per_item(variant, items)
    if base is None or marginal is None:
        return ""
    return f" (start-up {base.cpu_s:.2f} s CPU + marginal {marginal:.1f} µs/item)"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


@dataclass
class Target:
    text: str
    passed: bool | None  # None: could not be checked
    detail: str

    def line(self) -> str:
        mark = {True: "PASS", False: "FAIL", None: "n/a "}[self.passed]
        return f"  [{mark}] {self.text}: {self.detail}"


def speed_targets(
    variants: Sequence[Variant],
    items: int,
    *,
    cpu_target_us: float,
    dynamodump_factor: float,
    floor_factor: float,
    dynamodump_run: str,
) -> list[Target]:
    """The three speed targets: client CPU per item, wall against dynamodump's (named
    by ``dynamodump_run``, as ``"dynamodump restore's"``), wall against the floor's."""
    medians = medians_by_name(variants)
    ddb = medians.get("ddbpipe")
    dump = medians.get("dynamodump")
    floor = medians.get("floor")
    found: list[Target] = []
    text = f"ddbpipe client CPU <= {cpu_target_us:g} µs/item"
    if ddb:
        cpu = ddb.cpu_us_per_item(items)
        detail = cpu_detail(by_name(variants, "ddbpipe"), items)
        found.append(Target(text, cpu <= cpu_target_us, f"{cpu:.1f} µs/item{detail}"))
    else:
        found.append(Target(text, None, "ddbpipe not measured"))
    text = f"ddbpipe wall < 1/{dynamodump_factor:g} of {dynamodump_run}"
    if ddb and dump:
        limit = dump.wall_s / dynamodump_factor
        found.append(
            Target(
                text,
                ddb.wall_s < limit,
                f"{ddb.wall_s:.2f} s vs limit {limit:.2f} s "
                f"(dynamodump {dump.wall_s:.2f} s, ratio {dump.wall_s / ddb.wall_s:.1f}x)",
            )
        )
    else:
        found.append(Target(text, None, "ddbpipe or dynamodump not measured"))
    text = f"ddbpipe wall <= {floor_factor:g} x floor's"
    if ddb and floor:
        limit = floor.wall_s * floor_factor
        found.append(
            Target(
                text,
                ddb.wall_s <= limit,
                f"{ddb.wall_s:.2f} s vs limit {limit:.2f} s (floor {floor.wall_s:.2f} s)",
            )
        )
    else:
        found.append(Target(text, None, "ddbpipe or floor not measured"))
    return found


def check_targets(targets: Sequence[Target]) -> list[dict[str, Any]]:
    log("")
    log("targets:")
    for target in targets:
        log(target.line())
    return [asdict(t) for t in targets]


def medians_by_name(variants: Sequence[Variant]) -> dict[str, Result]:
    return {v.name: m for v in variants if (m := v.median) is not None}


def by_name(variants: Sequence[Variant], name: str) -> Variant | None:
    return next((v for v in variants if v.name == name), None)


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    log(f"numbers written to {path}")


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": sys.platform,
        "gnu_time": GNU_TIME.exists(),
    }


@contextlib.contextmanager
def scratch_dir(prefix: str, keep: bool = False) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)
