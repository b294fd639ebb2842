"""What a benchmark prints and writes: the results table, its targets, the JSON numbers."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dataset import BASELINE_ITEMS
from measure import GNU_TIME, Result
from processes import log
from variants import Variant, format_extras

_FOOTNOTE = (
    "CPU = user + sys of the client command and its children (the server is not "
    "included); start-up CPU = the same command on a "
    f"{BASELINE_ITEMS}-item dataset; marginal = (CPU - start-up) / (items - "
    f"{BASELINE_ITEMS}); peak RSS = largest single process (/usr/bin/time -v); tree "
    "PSS = peak of the summed proportional set size of the process tree (sampled "
    "every 50 ms). All medians over the runs."
)


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
        line, row = _line_and_row(variant, m, ref, items)
        log(line)
        rows.append(row)
    notes = [(v.name, v.median_extras()) for v in variants if v.runs]
    notes = [(name, extras) for name, extras in notes if extras]
    if notes:
        log("")
        for name, extras in notes:
            log(f"  {name}: {format_extras(extras)}")
    log("")
    log(_FOOTNOTE)
    return rows


def _line_and_row(
    variant: Variant, m: Result, ref: Result | None, items: int
) -> tuple[str, dict[str, Any]]:
    """A measured variant's line of the table (``m``: its medians), and its JSON row."""
    cpu = m.cpu_us_per_item(items)
    base = variant.baseline
    marginal = variant.marginal_us_per_item(items)
    wall_ratio = m.wall_s / ref.wall_s if ref else None
    cpu_ratio = m.cpu_s / ref.cpu_s if ref and ref.cpu_s else None
    line = (
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
    extras = variant.median_extras()
    if extras:
        row["extras"] = extras
    return line, row


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def cpu_detail(variant: Variant | None, items: int) -> str:
    """`` (start-up X s + marginal Y µs/item)`` when a baseline was measured."""
    if variant is None:
        return ""
    base = variant.baseline
    marginal = variant.marginal_us_per_item(items)
    if base is None or marginal is None:
        return ""
    return f" (start-up {base.cpu_s:.2f} s CPU + marginal {marginal:.1f} µs/item)"


@dataclass
class Target:
    text: str
    passed: bool | None  # None: could not be checked
    detail: str

    def line(self) -> str:
        mark = {True: "PASS", False: "FAIL", None: "n/a "}[self.passed]
        return f"  [{mark}] {self.text}: {self.detail}"


@dataclass(frozen=True)
class SpeedTargets:
    """A benchmark's three speed targets for ddbpipe: client CPU per item, wall under
    dynamodump's divided by a factor, wall within a factor of the floor's."""

    cpu_us: float
    dynamodump_factor: float
    floor_factor: float
    dynamodump_run: str  # how the targets name dynamodump's run: "dynamodump restore's"


def speed_targets(variants: Sequence[Variant], items: int, targets: SpeedTargets) -> list[Target]:
    """Check ``targets`` against the measured medians."""
    medians = medians_by_name(variants)
    ddb = medians.get("ddbpipe")
    dump = medians.get("dynamodump")
    floor = medians.get("floor")
    found: list[Target] = []
    text = f"ddbpipe client CPU <= {targets.cpu_us:g} µs/item"
    if ddb:
        cpu = ddb.cpu_us_per_item(items)
        detail = cpu_detail(by_name(variants, "ddbpipe"), items)
        found.append(Target(text, cpu <= targets.cpu_us, f"{cpu:.1f} µs/item{detail}"))
    else:
        found.append(Target(text, None, "ddbpipe not measured"))
    text = f"ddbpipe wall < 1/{targets.dynamodump_factor:g} of {targets.dynamodump_run}"
    if ddb and dump:
        limit = dump.wall_s / targets.dynamodump_factor
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
    text = f"ddbpipe wall <= {targets.floor_factor:g} x floor's"
    if ddb and floor:
        limit = floor.wall_s * targets.floor_factor
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
    """Print each target's PASS, FAIL or n/a; return them as dicts."""
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
