"""What every benchmark reports: figures with their unit, target and spread, printed as a table.

Benchmarks are reports, not tests: they measure on this machine and print. Each benchmark module
exposes ``figures(quick: bool) -> list[Figure]`` (``quick``: tiny inputs, for the smoke test that
only checks the benchmark runs) and a ``main()`` for running it alone.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import TypeVar

__all__ = [
    "Figure",
    "Timing",
    "machine",
    "measure",
    "pin_to_one_core",
    "print_table",
    "rss_mib",
    "versions",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Figure:
    group: str  # "hashing", "matching", "end-to-end", "memory", "video", "reports"
    name: str  # what was measured, e.g. "all signals, 1280x960 JPEG"
    value: float
    unit: str  # "ms", "x", "photos/s", "MiB", "s", "%", "bits"
    target: str | None = None  # e.g. "<= 2.5x full decode"; None: reported only
    met: bool | None = None  # None when there is no target
    spread: str | None = None  # e.g. "min 4.1, max 4.6 over 7 runs"

    def row(self) -> list[str]:
        verdict = "" if self.met is None else ("met" if self.met else "MISSED")
        return [
            self.group,
            self.name,
            _number(self.value),
            self.unit,
            self.target or "",
            verdict,
            self.spread or "",
        ]


@dataclass(frozen=True, slots=True)
class Timing:
    """Seconds of repeated runs: median, min and max, and a spread text for a Figure."""

    runs: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    def spread(self, scale: float = 1.0, unit: str = "") -> str:
        low, high = min(self.runs) * scale, max(self.runs) * scale
        return f"min {_number(low)}{unit}, max {_number(high)}{unit} over {len(self.runs)} runs"


def measure(
    run: Callable[[], T], repeat: int, *, clock: Callable[[], float] = time.perf_counter
) -> tuple[Timing, T]:
    """Time ``run`` ``repeat`` times (after one untimed warm-up); the last result too."""
    result = run()
    times = []
    for _ in range(max(1, repeat)):
        start = clock()
        result = run()
        times.append(clock() - start)
    return Timing(tuple(times)), result


def pin_to_one_core() -> str:
    """Pin this process to one CPU (where the OS allows it); says which."""
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "not pinned (no sched_setaffinity)"


def rss_mib() -> float:
    """This process's resident memory now, in MiB (Linux /proc; else the peak)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def versions(
    packages: Sequence[str] = (
        "numpy",
        "pillow",
        "pdqhash",
        "imagehash",
        "av",
        "faiss-cpu",
        "sqlalchemy",
        "telethon",
        "cryptg",
    ),
) -> str:
    found = []
    for name in packages:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


def print_table(figures: Sequence[Figure]) -> None:
    header = ["group", "figure", "value", "unit", "target", "", "spread"]
    rows = [header] + [f.row() for f in figures]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for n, row in enumerate(rows):
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def _number(value: float) -> str:
    if value == 0 or abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"
