"""Report, not a test: BinaryIndex vs a numpy brute-force scan (and faiss, if importable).

    .venv/bin/python benchmarks/index_bench.py [--n 1000000] [--radius 31] [--queries 200]

Prints the median milliseconds per query on random PDQ-sized (256-bit) hashes, build time and
memory. Queries are stored hashes with ``radius - 8`` bits flipped, so each has a true match.
Every BinaryIndex answer is checked against the brute-force one for the first queries.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from monitor.matching.index import BinaryIndex


def median_ms(
    run: Callable[[npt.NDArray[np.uint8]], object], queries: list[npt.NDArray[np.uint8]]
) -> float:
    times = []
    for query in queries:
        start = time.perf_counter()
        run(query)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--bits", type=int, default=256)
    parser.add_argument("--radius", type=int, default=31)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    nbytes = args.bits // 8
    data = rng.integers(0, 256, size=(args.n, nbytes), dtype=np.uint8)
    queries = []
    for row in rng.integers(0, args.n, size=args.queries):
        bits = np.unpackbits(data[row])
        bits[rng.choice(args.bits, size=max(0, args.radius - 8), replace=False)] ^= 1
        queries.append(np.packbits(bits))
    raw_mb = data.nbytes / 2**20
    print(f"{args.n:,} random {args.bits}-bit hashes ({raw_mb:.0f} MiB raw), radius {args.radius}")

    index = BinaryIndex(args.bits)
    start = time.perf_counter()
    index.add(np.arange(args.n), data)
    index.compact()
    build = time.perf_counter() - start
    memory = index.memory_bytes() / 2**20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"BinaryIndex build {build:.1f} s, memory {memory:.0f} MiB "
        f"({memory / raw_mb:.2f}x raw incl. ids), peak RSS {peak:.0f} MiB"
    )

    words = data.view(">u8").astype(np.uint64)

    def brute(query: npt.NDArray[np.uint8]) -> list[tuple[int, int]]:
        q = query.view(">u8").astype(np.uint64)
        found: list[tuple[int, int]] = []
        for block in range(0, len(words), 65536):
            dist = np.bitwise_count(words[block : block + 65536] ^ q).sum(axis=1)
            hits = np.flatnonzero(dist <= args.radius)
            found.extend(zip((hits + block).tolist(), dist[hits].tolist(), strict=True))
        return sorted(found, key=lambda pair: (pair[1], pair[0]))

    for query in queries[:5]:
        assert index.search(query, args.radius) == brute(query), "index disagrees with brute force"

    mih = median_ms(lambda q: index.search(q, args.radius), queries)
    print(f"BinaryIndex (multi-index, auto)  {mih:8.3f} ms/query")
    scan = median_ms(lambda q: index.search(q, args.radius, strategy="scan"), queries[:10])
    print(f"BinaryIndex forced linear scan   {scan:8.3f} ms/query")
    numpy_brute = median_ms(brute, queries[:10])
    print(f"numpy brute force (XOR+popcount) {numpy_brute:8.3f} ms/query")

    try:
        import faiss
    except ImportError:
        print("faiss not importable: skipped")
        return
    faiss.omp_set_num_threads(1)
    flat = faiss.IndexBinaryFlat(args.bits)
    start = time.perf_counter()
    flat.add(data)
    print(f"faiss IndexBinaryFlat build {time.perf_counter() - start:.1f} s (1 thread)")

    def faiss_search(query: npt.NDArray[np.uint8]) -> object:
        # faiss's range_search radius is strict (< r): ask for r + 1 to get <= r
        return flat.range_search(query.reshape(1, -1), args.radius + 1)

    faiss_ms = median_ms(faiss_search, queries[:30])
    print(f"faiss IndexBinaryFlat range      {faiss_ms:8.3f} ms/query")


if __name__ == "__main__":
    main()
