"""Every benchmark, one table: `python -m benchmarks [--quick] [--only GROUP ...]` (make bench).

Prints the machine and the versions that matter, runs each benchmark module's
``figures(quick)`` in turn (each prints what it is doing as it goes), then one table of every
figure with its target and spread, and a line per missed target. Benchmarks report, they do not
assert: the exit code is 0 when targets are missed, and 1 only when a benchmark crashed (its
traceback is printed, the others still run).

``--quick`` runs tiny inputs (seconds per module, what the smoke test runs); ``--only`` picks
groups (``hashing``, ``matching``, ``video``, ``reports``, ``end-to-end``, ``memory``).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import inspect
import os
import sys
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from types import ModuleType

from benchmarks.common import Figure, machine, print_table, versions


@dataclass(frozen=True, slots=True)
class Benchmark:
    module: str  # benchmarks.<module>
    groups: tuple[str, ...]  # the groups of the figures it reports


BENCHMARKS = (
    Benchmark("hashing_bench", ("hashing",)),
    Benchmark("matching_bench", ("matching",)),
    Benchmark("video_bench", ("video",)),
    Benchmark("report_bench", ("reports",)),
    Benchmark("daemon_bench", ("end-to-end", "memory")),
)
GROUPS = tuple(group for b in BENCHMARKS for group in b.groups)


def load(benchmark: Benchmark) -> ModuleType | None:
    """The benchmark's module, or None when the repository has no such module."""
    name = f"benchmarks.{benchmark.module}"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            return None
        raise


def run(module: ModuleType, quick: bool, groups: Sequence[str]) -> list[Figure]:
    """``module.figures(quick)``; modules that report several groups get ``groups=`` too."""
    figures = module.figures
    if "groups" in inspect.signature(figures).parameters:
        found: list[Figure] = figures(quick, groups=tuple(groups))
    else:
        found = figures(quick)
    return [f for f in found if f.group in groups]


@contextlib.contextmanager
def restored_process_state() -> Iterator[None]:
    """A benchmark may pin this process to one core (micro-benchmarks do) or change the working
    directory; the next one starts as this one did."""
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    cwd = os.getcwd()
    try:
        yield
    finally:
        if cpus is not None:
            os.sched_setaffinity(0, cpus)
        os.chdir(cwd)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="tiny inputs: does every path run?")
    parser.add_argument(
        "--only", nargs="+", choices=GROUPS, metavar="GROUP", help=f"groups: {', '.join(GROUPS)}"
    )
    args = parser.parse_args(argv)
    wanted = tuple(args.only or GROUPS)

    print(machine())
    print(versions())
    print(f"benchmarks{' (quick)' if args.quick else ''}: {', '.join(wanted)}", flush=True)
    figures: list[Figure] = []
    crashed: list[str] = []
    for benchmark in BENCHMARKS:
        groups = [g for g in benchmark.groups if g in wanted]
        if not groups:
            continue
        print(f"\n== {benchmark.module} ({', '.join(groups)})", flush=True)
        started = time.monotonic()
        try:
            module = load(benchmark)
            if module is None:
                print(f"{benchmark.module}: not available")
                continue
            with restored_process_state():
                found = run(module, args.quick, groups)
        except Exception:
            traceback.print_exc()
            crashed.append(benchmark.module)
            print(f"{benchmark.module}: CRASHED", flush=True)
            continue
        figures += found
        print(
            f"{benchmark.module}: {len(found)} figures in {time.monotonic() - started:.0f} s",
            flush=True,
        )

    print()
    print_table(figures)
    missed = [f for f in figures if f.met is False]
    print()
    for f in missed:
        print(f"MISSED: {f.group}: {f.name}: {f.row()[2]} {f.unit}, target {f.target}")
    with_target = [f for f in figures if f.met is not None]
    print(
        f"{len(with_target) - len(missed)} of {len(with_target)} targets met"
        + (f"; crashed: {', '.join(crashed)}" if crashed else "")
    )
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
