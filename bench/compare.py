"""What the export and import benchmarks share: their options, the comparison run, main.

A comparison loads one dynalite, runs every variant on every dataset round-robin,
prints the table, checks the speed targets and returns its numbers for the JSON. What
differs between the benchmarks is a ``Comparison`` subclass.
"""

from __future__ import annotations

import abc
import argparse
import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from dataset import BASELINE_ITEMS, Dataset
from dynalite import Dynalite
from dynamodump_tool import dynamodump_python
from processes import bench_env, install_cleanup, log, scratch_dir
from rawddb import RawDynamo
from report import SpeedTargets, check_targets, machine, report, speed_targets, write_json
from variants import Variant, run_variants


@dataclass
class Session:
    """A benchmark's scratch folder and dynalite (with a client), while they exist."""

    args: argparse.Namespace
    scratch: Path
    server: Dynalite
    client: RawDynamo
    env: dict[str, str]
    python: Path | None = None  # dynamodump's, when that variant runs

    @property
    def url(self) -> str:
        return self.server.url


@contextlib.contextmanager
def open_session(
    args: argparse.Namespace,
    scratch_prefix: str,
    *,
    dynalite_disk: bool = False,
    python: Path | None = None,
) -> Iterator[Session]:
    """A scratch folder and one dynalite, in memory or on LevelDB in that folder."""
    env = bench_env()
    with scratch_dir(scratch_prefix, keep=args.keep) as scratch:
        store = scratch / "dynalite-db" if dynalite_disk else None
        with Dynalite(path=store, log_dir=scratch) as server:
            client = RawDynamo(server.url)
            try:
                yield Session(args, scratch, server, client, env, python)
            finally:
                client.close()


class Comparison(abc.ABC):
    """One benchmark that compares variants; a subclass says what it loads and runs."""

    benchmark: ClassVar[str]  # "export": the JSON's "benchmark", and names the scratch folder
    variants: ClassVar[tuple[str, ...]]  # every variant it knows, in the order they run
    targets: ClassVar[SpeedTargets]
    note: ClassVar[str | None] = None  # printed under the table

    @abc.abstractmethod
    def prepare(self, session: Session) -> list[Dataset]:
        """Load what the variants work on: the main dataset first, then the baseline."""

    @abc.abstractmethod
    def make_variant(self, session: Session, name: str) -> Variant:
        """The variant called ``name``."""

    @abc.abstractmethod
    def describe(self, session: Session) -> str:
        """What the variants will do, for the line before the runs."""

    @abc.abstractmethod
    def settings(self, args: argparse.Namespace, datasets: list[Dataset]) -> dict[str, Any]:
        """The run's settings and server, for the JSON."""

    def run(self, args: argparse.Namespace, *, dynalite_disk: bool = False) -> dict[str, Any]:
        """Run the wanted variants on every dataset, print the table and check the
        targets; return the numbers."""
        python = dynamodump_python() if "dynamodump" in args.variants else None
        with open_session(
            args, f"bench-{self.benchmark}-", dynalite_disk=dynalite_disk, python=python
        ) as session:
            datasets = self.prepare(session)
            wanted = [name for name in self.variants if name in args.variants]
            variants = [self.make_variant(session, name) for name in wanted]
            log(f"{self.describe(session)}; {args.repeat} run(s) each, round-robin")
            for dataset in datasets:
                run_variants(
                    variants,
                    dataset,
                    repeat=args.repeat,
                    env=session.env,
                    timeout=args.timeout,
                    server=session.server,
                )
        rows = report(variants, items=args.items)
        if self.note:
            log(self.note)
        checked = check_targets(speed_targets(variants, args.items, self.targets))
        return {
            "benchmark": self.benchmark,
            "items": args.items,
            "baseline_items": BASELINE_ITEMS if args.baseline else None,
            "repeat": args.repeat,
            **self.settings(args, datasets),
            "results": rows,
            "targets": checked,
        }


def parse_args(
    argv: Sequence[str],
    *,
    description: str,
    variants: Sequence[str],
    subject: str,
    add_options: Callable[[argparse.ArgumentParser], None],
    repeat: int | None = 3,
    positive: Sequence[str] = (),
) -> argparse.Namespace:
    """The options of every comparison around the benchmark's own (``add_options``).

    ``subject`` is what ``--items`` fills ("table"). ``--variants`` becomes a list of known
    names; ``--items``, ``--workers``, ``--repeat`` (when given) and the ``positive``
    options must be at least 1.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--items", type=int, default=100_000, help=f"items in the {subject}")
    parser.add_argument("--repeat", type=int, default=repeat, help="runs per variant (median)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--json", type=Path, help="write the numbers to this file")
    parser.add_argument(
        "--variants",
        default=",".join(variants),
        help=f"comma-separated subset of {','.join(variants)}",
    )
    add_options(parser)
    parser.add_argument(
        "--no-baseline",
        dest="baseline",
        action="store_false",
        help=f"skip the runs on a {BASELINE_ITEMS}-item {subject} that measure start-up cost",
    )
    parser.add_argument("--load-threads", type=int, default=4, help="threads loading the table")
    parser.add_argument(
        "--timeout", type=float, default=1800.0, help="seconds before a run is killed"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch folders")
    args = parser.parse_args(argv)
    args.variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = set(args.variants) - set(variants)
    if unknown:
        parser.error(f"unknown variants: {', '.join(sorted(unknown))}")
    for name in ("items", "repeat", "workers", *positive):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name} must be at least 1")
    return args


def main(args: argparse.Namespace, run: Callable[[argparse.Namespace], dict[str, Any]]) -> int:
    """Run a benchmark, stopping every process it starts even on a signal; add the machine
    to its numbers and write them to ``--json`` when asked."""
    install_cleanup()
    data = run(args)
    data["machine"] = machine()
    if args.json:
        write_json(args.json, data)
    return 0
