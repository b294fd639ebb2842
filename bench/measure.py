"""Measuring one command: wall time, client CPU, peak RSS and the process tree's PSS.

A run is one command under ``/usr/bin/time -v`` or, when that is missing, the child's
rusage from ``os.wait4``; the tree's PSS is sampled from ``/proc`` meanwhile. Also the
median of several runs and reading what a run printed.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import statistics
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from processes import forget, reap_group, remember, stop_process

GNU_TIME = Path("/usr/bin/time")


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


def rss_kb(pid: int) -> int | None:
    """The resident memory of ``pid`` now, from /proc (None when unknown)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * (os.sysconf("SC_PAGE_SIZE") // 1024)


def cpu_s(pid: int) -> float | None:
    """The CPU seconds (user + sys) ``pid`` has used so far, from /proc (None when unknown)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def _pss_kb(pid: int) -> int | None:
    """Proportional set size: shared pages (forked workers) are counted once in a sum."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as rollup:
            for line in rollup:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return rss_kb(pid)


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


@dataclass
class _Waited:
    """How a run ended, as seen while waiting for it."""

    tree_pss_kb: int = 0
    timed_out: bool = False
    usage: resource.struct_rusage | None = None  # from os.wait4, without /usr/bin/time


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
            remember(process)
            try:
                waited = _wait(process, use_time, began + timeout, sample_every)
            finally:
                if process.returncode is None:
                    stop_process(process, grace=5.0)
            wall = time.perf_counter() - began
            forget(process)
            reap_group(process.pid)
        stdout = out_path.read_text(errors="replace")
        stderr = err_path.read_text(errors="replace")
        returncode = process.returncode if process.returncode is not None else -9
        if use_time and time_path.exists() and time_path.stat().st_size:
            try:
                fields = parse_gnu_time(time_path.read_text(errors="replace"))
            except ValueError:
                fields = {"user_s": 0.0, "sys_s": 0.0, "max_rss_kb": 0}
        else:
            fields = _rusage_fields(waited.usage, before)
    return Result(
        wall_s=wall,
        user_s=fields["user_s"],
        sys_s=fields["sys_s"],
        max_rss_kb=int(fields["max_rss_kb"]),
        tree_pss_kb=waited.tree_pss_kb,
        returncode=returncode,
        timed_out=waited.timed_out,
        stdout=stdout,
        stderr=stderr,
    )


def _wait(
    process: subprocess.Popen[bytes], use_time: bool, deadline: float, sample_every: float
) -> _Waited:
    """Wait for ``process``, sampling its tree's PSS; stop it at ``deadline``."""
    waited = _Waited()
    while True:
        if use_time:
            if process.poll() is not None:
                break
        else:
            pid, status, waited.usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                process.returncode = os.waitstatus_to_exitcode(status)
                break
        tree = _tree_pss_kb(process.pid, skip_root=use_time)
        waited.tree_pss_kb = max(waited.tree_pss_kb, tree)
        if time.perf_counter() > deadline:
            waited.timed_out = True
            stop_process(process, grace=5.0)
            break
        time.sleep(sample_every)
    return waited


def _rusage_fields(
    usage: resource.struct_rusage | None, before: resource.struct_rusage
) -> dict[str, float]:
    """CPU and peak RSS without ``/usr/bin/time``: the waited child's rusage, else the
    growth of ``RUSAGE_CHILDREN`` since ``before``."""
    if usage is not None:
        return {"user_s": usage.ru_utime, "sys_s": usage.ru_stime, "max_rss_kb": usage.ru_maxrss}
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "user_s": after.ru_utime - before.ru_utime,
        "sys_s": after.ru_stime - before.ru_stime,
        "max_rss_kb": after.ru_maxrss,
    }


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
