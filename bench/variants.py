"""Variants (ways of doing the job) and running them round-robin, every run verified."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dataset import BASELINE_ITEMS, Dataset
from dynalite import Dynalite
from measure import Result, measure, median_of, tail
from processes import log


@dataclass
class Prepared:
    """One run of a variant: its command, and a check returning the items it really moved."""

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

    def median_extras(self) -> dict[str, Any]:
        """The median of each number the runs reported besides the measurements."""
        keys = {k for e in self.extras for k in e}
        merged: dict[str, Any] = {}
        for key in sorted(keys):
            values = [e[key] for e in self.extras if isinstance(e.get(key), int | float)]
            if values:
                merged[key] = round(statistics.median(values), 3)
        return merged

    def marginal_us_per_item(self, items: int) -> float | None:
        """CPU per item beyond the fixed start-up: (CPU(N) - CPU(baseline)) / (N - baseline)."""
        main, base = self.median, self.baseline
        if main is None or base is None or items <= BASELINE_ITEMS:
            return None
        return (main.cpu_s - base.cpu_s) / (items - BASELINE_ITEMS) * 1e6


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
                _record(variant, prepared, result, dataset, server_cpu)
            finally:
                if prepared.cleanup:
                    prepared.cleanup()


def _record(
    variant: Variant,
    prepared: Prepared,
    result: Result,
    dataset: Dataset,
    server_cpu: float | None,
) -> None:
    """Keep a verified run, or mark the variant failed (on the baseline: its start-up)."""
    baseline = dataset.label == "baseline"
    moved, problem = _verify(variant.name, prepared, result, dataset.items)
    if problem:
        log("  stderr:\n" + _indent(tail(result.stderr) or "(empty)"))
        if baseline:
            variant.baseline_error = problem
        else:
            variant.skipped = problem
            log(f"  {variant.name} is skipped from now on")
        return
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
        f"({result.cpu_us_per_item(dataset.items):.1f} µs/item), "
        f"peak RSS {result.max_rss_kb / 1024:.0f} MB "
        f"(tree PSS {result.tree_pss_kb / 1024:.0f} MB); {moved:,} items verified"
        + (f"; {format_extras(extra)}" if extra else "")
    )


def _verify(name: str, prepared: Prepared, result: Result, items: int) -> tuple[int, str | None]:
    """The items a run moved, and what went wrong (logged) unless it moved ``items``."""
    if not result.ok:
        why = "timed out" if result.timed_out else f"exit status {result.returncode}"
        log(f"  FAILED {name}: {why}; command: {' '.join(prepared.cmd)}")
        return -1, f"command failed ({why})"
    try:
        moved = prepared.verify(result)
    except Exception as exc:
        moved = -1
        log(f"  could not verify {name}: {exc!r}")
    if moved != items:
        problem = f"moved {moved:,} items, expected {items:,}"
        log(f"  FAILED {name}: {problem}")
        return moved, problem
    return moved, None


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def format_extras(extra: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in extra.items())
