"""Report, not a test: exact radius search over hash lists of 1 and 10 million entries.

    .venv/bin/python -m benchmarks.matching_bench [--quick]

For PDQ (256 bits, radius 31) and pHash (64 bits, radius 8), on uniformly random lists and on
clustered ones (near copies of the hashes of a few thousand generated images, see
``benchmarks/_matching_data.py``), all on one pinned core:

* milliseconds per query of :class:`~monitor.matching.index.BinaryIndex` (median over the
  queries: near-duplicates planted at every distance 0..radius, uniformly random hashes and the
  hashes of generated images that are not listed), of faiss ``IndexBinaryFlat`` and of a numpy
  brute-force scan, measured in the same run, and the speedup over faiss;
* exactness: every query's result equals the brute-force one (ids and distances);
* the index's memory against the raw hash bytes.

Then a 10-million-entry SQLite store (built once, cached in ``.bench-cache/``): the time of
:func:`monitor.runtime.load_matcher`, the resident memory of a fresh process with that matcher
loaded, and the time to add one entry to it (no rebuild), each in a fresh process per run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from benchmarks import _matching_data as data_mod
from benchmarks.common import (
    Figure,
    machine,
    pin_to_one_core,
    print_table,
    rss_mib,
    versions,
)
from monitor.matching.index import BinaryIndex

Bytes = npt.NDArray[np.uint8]
Result = list[tuple[int, int]]

TARGET_MS = 1.0
TARGET_MEMORY_RATIO = 3.0
TARGET_BUILD_S = 60.0
TARGET_RSS_MIB = 1536.0
TARGET_ADD_MS = 10.0
STORE_SEED = 7


@dataclass(frozen=True)
class Setup:
    """Sizes and repetitions of one run of the benchmark."""

    sizes: tuple[int, ...]
    bases: int  # generated images behind the clustered lists
    per_distance: int  # planted queries per distance
    misses: int  # random queries, and as many unseen generated images
    runs: int  # timed passes over the queries (ours)
    reference_queries: int  # queries timed for faiss and brute force
    reference_runs: int
    store_size: int
    store_runs: int


FULL = Setup(
    sizes=(1_000_000, 10_000_000),
    bases=4000,
    per_distance=2,
    misses=64,
    runs=5,
    reference_queries=24,
    reference_runs=3,
    store_size=10_000_000,
    store_runs=3,
)
QUICK = Setup(
    sizes=(20_000,),
    bases=200,
    per_distance=1,
    misses=4,
    runs=2,
    reference_queries=4,
    reference_runs=1,
    store_size=20_000,
    store_runs=1,
)
CONFIGS = ((256, 31, "PDQ"), (64, 8, "pHash"))


def figures(
    quick: bool,
    *,
    groups: tuple[str, ...] = ("matching", "memory"),
    sizes: tuple[int, ...] | None = None,
    hashes: tuple[str, ...] = ("PDQ", "pHash"),
    kinds: tuple[str, ...] = ("random", "clustered"),
    store: bool = True,
) -> list[Figure]:
    """Group ``matching``: the search figures and the store's build and add times; group
    ``memory``: the resident memory with the 10M-entry matcher loaded (from the same runs)."""
    setup = QUICK if quick else FULL
    if sizes:
        setup = replace(setup, sizes=sizes)
    pin_to_one_core()
    found: list[Figure] = []
    if "matching" in groups:
        for bits, radius, name in CONFIGS:
            if name not in hashes:
                continue
            for kind in kinds:
                for n in setup.sizes:
                    _say(f"{name} r={radius}, {_count(n)} {kind} list")
                    found.extend(search_figures(setup, n, bits, radius, name, kind))
                    gc.collect()
    if store and ("matching" in groups or "memory" in groups):
        found.extend(store_figures(setup))
    return [f for f in found if f.group in groups]


def _say(text: str) -> None:
    print(f"matching_bench: {text}", flush=True)


# -- search ---------------------------------------------------------------------------------


def search_figures(
    setup: Setup, n: int, bits: int, radius: int, name: str, kind: str
) -> list[Figure]:
    label = f"{name} r={radius}, {_count(n)} {kind}"
    pdq_bases, phash_bases = data_mod.generated_hashes(setup.bases)
    unseen_pdq, unseen_phash = data_mod.generated_hashes(
        setup.misses, first_seed=data_mod.BASE_SEED + setup.bases
    )
    bases, unseen = (pdq_bases, unseen_pdq) if bits == 256 else (phash_bases, unseen_phash)
    if kind == "random":
        listed = data_mod.random_list(n, bits, seed=1)
    else:
        listed = data_mod.clustered_list(n, bits, seed=2, bases=bases)
    planted, _ = data_mod.planted_queries(listed, radius, setup.per_distance, seed=3)
    random_queries = data_mod.random_list(setup.misses, bits, seed=4)
    groups = {"hits": planted, "misses": np.concatenate([random_queries, unseen])}
    queries = np.concatenate(list(groups.values()))
    hexes = [bytes(q).hex() for q in queries]

    index = BinaryIndex(bits)
    index.add(np.arange(n, dtype=np.int64), listed)
    memory_ratio = index.memory_bytes() / listed.nbytes

    brute = BruteForce(listed, radius)
    expected = [brute.search(q) for q in queries]
    ours_results = [index.search(h, radius) for h in hexes]
    exact = sum(got == want for got, want in zip(ours_results, expected, strict=True))

    # ours: every query, several passes; the figure is the median of the passes' medians
    passes: list[list[float]] = []
    for _ in range(setup.runs):
        times = []
        for h in hexes:
            start = time.perf_counter()
            index.search(h, radius)
            times.append(time.perf_counter() - start)
        passes.append(times)
    ours = statistics.median(statistics.median(p) for p in passes) * 1e3
    per_pass = [statistics.median(p) * 1e3 for p in passes]
    by_group = {}
    first = 0
    for group, members in groups.items():
        times = [
            statistics.median(p[i] for p in passes) for i in range(first, first + len(members))
        ]
        by_group[group] = statistics.median(times) * 1e3
        first += len(members)
    worst = max(statistics.median(p[i] for p in passes) for i in range(len(hexes))) * 1e3

    # references on a subset of the queries (both hits and misses)
    pick = np.linspace(0, len(queries) - 1, min(setup.reference_queries, len(queries)))
    subset = queries[np.unique(pick.astype(int))]
    brute_ms, brute_spread = _reference(lambda q: brute.search(q), subset, setup.reference_runs)
    faiss_search = _faiss(listed, radius)
    del listed
    faiss_agrees: bool | None = None
    faiss_ms: float | None = None
    faiss_spread = ""
    if faiss_search is not None:
        faiss_agrees = all(faiss_search(q) == expected[i] for i, q in enumerate(queries))
        faiss_ms, faiss_spread = _reference(faiss_search, subset, setup.reference_runs)

    target = n >= 1_000_000 or n == max(setup.sizes)
    results = [len(r) for r in expected]
    figs = [
        Figure(
            "matching",
            f"{label}: ours, ms/query",
            ours,
            "ms",
            f"<= {TARGET_MS:g} ms" if target else None,
            ours <= TARGET_MS if target else None,
            f"min {min(per_pass):.3g}, max {max(per_pass):.3g} over {setup.runs} runs of "
            f"{len(hexes)} queries; hits {by_group['hits']:.3g}, misses "
            f"{by_group['misses']:.3g}, slowest query {worst:.3g}",
        ),
        Figure(
            "matching",
            f"{label}: numpy brute force, ms/query",
            brute_ms,
            "ms",
            spread=brute_spread,
        ),
    ]
    if faiss_ms is not None:
        figs.append(
            Figure(
                "matching",
                f"{label}: faiss IndexBinaryFlat, ms/query",
                faiss_ms,
                "ms",
                spread=faiss_spread,
            )
        )
        figs.append(Figure("matching", f"{label}: speedup over faiss flat", faiss_ms / ours, "x"))
    else:
        figs.append(Figure("matching", f"{label}: faiss not installed (make bench)", 0, "-"))
    figs.append(
        Figure(
            "matching",
            f"{label}: results equal to brute force",
            exact,
            f"of {len(queries)}",
            "all queries",
            exact == len(queries),
            f"planted at every distance 0..{radius} (x{setup.per_distance}), "
            f"{setup.misses} random, {len(unseen)} unseen images; results per query "
            f"{min(results)}..{max(results)}"
            + ("" if faiss_agrees is None else f"; faiss agrees: {faiss_agrees}"),
        )
    )
    if kind == "random":  # the same arrays for both kinds
        memory_target = bits == 256 and n == max(setup.sizes)
        figs.append(
            Figure(
                "matching",
                f"{name}, {_count(n)}: index memory / raw hash bytes",
                memory_ratio,
                "x",
                f"<= {TARGET_MEMORY_RATIO:g}x" if memory_target else None,
                memory_ratio <= TARGET_MEMORY_RATIO if memory_target else None,
                f"{index.memory_bytes() / 2**20:,.0f} MiB for {n * bits // 8 / 2**20:,.0f} MiB",
            )
        )
    return figs


class BruteForce:
    """XOR and popcount over every row, a column of 64-bit words at a time, in blocks (any byte
    order gives the same distances)."""

    def __init__(self, listed: Bytes, radius: int) -> None:
        self.words = listed.view(np.uint64)
        self.radius = radius

    def search(self, query: Bytes) -> Result:
        q = np.frombuffer(query.tobytes(), dtype=np.uint64)
        found: Result = []
        block = 1 << 17
        for start in range(0, len(self.words), block):
            rows = self.words[start : start + block]
            dist = _popcount(rows[:, 0] ^ q[0]).astype(np.uint16)
            for w in range(1, len(q)):
                dist += _popcount(rows[:, w] ^ q[w])
            hits = np.flatnonzero(dist <= self.radius)
            found.extend(zip((hits + start).tolist(), dist[hits].tolist(), strict=True))
        return sorted(found, key=lambda pair: (pair[1], pair[0]))


_BYTE_COUNTS = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _popcount(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint8]:
    if hasattr(np, "bitwise_count"):
        counts: npt.NDArray[np.uint8] = np.bitwise_count(x)
        return counts
    per_byte = _BYTE_COUNTS[np.ascontiguousarray(x).view(np.uint8)].reshape(len(x), 8)
    summed: npt.NDArray[np.uint8] = per_byte.sum(axis=1, dtype=np.uint8)
    return summed


def _faiss(listed: Bytes, radius: int) -> Callable[[Bytes], Result] | None:
    try:
        import faiss
    except ImportError:
        return None
    faiss.omp_set_num_threads(1)
    flat = faiss.IndexBinaryFlat(listed.shape[1] * 8)
    flat.add(listed)

    def search(query: Bytes) -> Result:
        # range_search is strict (< r): ask for radius + 1 to get <= radius
        _, dist, ids = flat.range_search(query.reshape(1, -1), radius + 1)
        return sorted(zip(ids.tolist(), dist.tolist(), strict=True), key=lambda p: (p[1], p[0]))

    return search


def _reference(search: Callable[[Bytes], Result], queries: Bytes, runs: int) -> tuple[float, str]:
    medians = []
    for _ in range(runs):
        times = []
        for q in queries:
            start = time.perf_counter()
            search(q)
            times.append(time.perf_counter() - start)
        medians.append(statistics.median(times) * 1e3)
    spread = (
        f"min {min(medians):.3g}, max {max(medians):.3g} over {runs} runs of {len(queries)} queries"
    )
    return statistics.median(medians), spread


# -- the store ------------------------------------------------------------------------------


def store_figures(setup: Setup) -> list[Figure]:
    n = setup.store_size
    started = time.perf_counter()
    if not data_mod.store_path(n, STORE_SEED).exists():
        _say(f"making a {_count(n)}-entry SQLite store once (minutes for 10M; then cached)")
    path = data_mod.random_store(n, STORE_SEED)
    _say(f"load_matcher from the {_count(n)}-entry store, {setup.store_runs} fresh processes")
    made = time.perf_counter() - started
    runs = [_load_in_fresh_process(path) for _ in range(setup.store_runs)]
    builds = [r["build_s"] for r in runs]
    rss = [r["rss_mib"] for r in runs]
    adds = [r["add_ms"] for r in runs]
    label = f"{_count(n)} PDQ entries, SQLite"
    over = f" over {len(runs)} fresh processes"
    cached = "store cached" if made < 5 else f"store made in {made:.0f} s (then cached)"
    big = n >= 10_000_000
    return [
        Figure(
            "matching",
            f"build from the store (load_matcher), {label}",
            statistics.median(builds),
            "s",
            f"<= {TARGET_BUILD_S:g} s" if big else None,
            statistics.median(builds) <= TARGET_BUILD_S if big else None,
            f"min {min(builds):.3g}, max {max(builds):.3g}{over}; {cached}",
        ),
        Figure(
            "memory",
            f"process RSS with the matcher loaded, {label}",
            statistics.median(rss),
            "MiB",
            f"< {TARGET_RSS_MIB:g} MiB" if big else None,
            statistics.median(rss) < TARGET_RSS_MIB if big else None,
            f"min {min(rss):.0f}, max {max(rss):.0f}{over}; before loading "
            f"{statistics.median(r['rss_before_mib'] for r in runs):.0f}, peak "
            f"{statistics.median(r['peak_mib'] for r in runs):.0f}; matcher's own count "
            f"{statistics.median(r['matcher_mib'] for r in runs):.0f}",
        ),
        Figure(
            "matching",
            f"add one entry to the loaded matcher (no rebuild), {label}",
            statistics.median(adds),
            "ms",
            f"<= {TARGET_ADD_MS:g} ms" if big else None,
            statistics.median(adds) <= TARGET_ADD_MS if big else None,
            f"min {min(adds):.3g}, max {max(adds):.3g}{over} (median of 20 adds each; "
            f"found at distance 0 right after)",
        ),
    ]


def _load_in_fresh_process(path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.matching_bench", "--load-store", str(path)],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def load_store(path: Path) -> dict[str, float]:
    """In a fresh process: time load_matcher, then RSS, then 20 single-entry adds."""
    from monitor.domain import Entry, EntryStatus, HashType, QueryHash, Signals, Variant
    from monitor.runtime import load_matcher
    from monitor.store import Store, create_engine

    pin_to_one_core()

    async def load() -> tuple[object, float]:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        try:
            start = time.perf_counter()
            matcher = await load_matcher(Store(engine))
            return matcher, time.perf_counter() - start
        finally:
            await engine.dispose()

    before = rss_mib()
    matcher, build_s = asyncio.run(load())
    gc.collect()
    loaded = rss_mib()
    from monitor.matching.matcher import Matcher

    assert isinstance(matcher, Matcher)
    stats = matcher.stats()
    rng = np.random.default_rng(99)
    adds = []
    for i in range(20):
        value = bytes(rng.integers(0, 256, 32, dtype=np.uint8)).hex()
        entry = Entry(
            id=10**12 + i,
            bank="bench",
            hash_type=HashType.PDQ,
            value=value,
            status=EntryStatus.ACTIVE,
        )
        start = time.perf_counter()
        matcher.add_entries([entry])
        adds.append(time.perf_counter() - start)
        query = QueryHash(HashType.PDQ, value, Variant.ORIGINAL, 90)
        found = matcher.match(
            Signals(sha256="1" * 64, md5="2" * 32, size_bytes=1, queries=(query,))
        )
        assert [(m.entry_id, m.distance) for m in found] == [(10**12 + i, 0)], found
    return {
        "entries": stats.entries,
        "build_s": build_s,
        "rss_before_mib": before,
        "rss_mib": loaded,
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "matcher_mib": stats.memory_bytes / 2**20,
        "add_ms": statistics.median(adds) * 1e3,
    }


def _count(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny inputs (the smoke test)")
    parser.add_argument("--sizes", help="list sizes, e.g. 1000000,10000000")
    parser.add_argument("--hashes", default="PDQ,pHash", help="PDQ, pHash or both")
    parser.add_argument("--kinds", default="random,clustered", help="random, clustered or both")
    parser.add_argument("--no-store", action="store_true", help="skip the store figures")
    parser.add_argument("--load-store", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load_store is not None:
        print(json.dumps(load_store(args.load_store)))
        return
    print(machine())
    print(versions())
    print(pin_to_one_core())
    sizes = tuple(int(s) for s in args.sizes.split(",")) if args.sizes else None
    print_table(
        figures(
            args.quick,
            sizes=sizes,
            hashes=tuple(args.hashes.split(",")),
            kinds=tuple(args.kinds.split(",")),
            store=not args.no_store,
        )
    )


if __name__ == "__main__":
    main()
