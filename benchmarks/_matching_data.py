"""Inputs of the matching benchmark, made in code: hash lists, queries, a big SQLite store.

* random lists: uniformly random 256-bit (PDQ) or 64-bit (pHash) hashes;
* clustered lists: the PDQ / pHash of a few thousand generated photo-like images
  (:func:`monitor.synthetic.photo_like`, small), each copied many times with a few random bits
  flipped (PDQ: 2 to 20 bits, pHash: 1 to 6), so the index's buckets are uneven, as in a real list
  that holds many re-encodes of the same pictures;
* queries: near-duplicates planted at every distance 0..radius from list entries, uniformly random
  hashes, and (clustered lists) the hashes of generated images that are not in the list;
* a SQLite store of one bank with ``n`` PDQ entries, for timing
  :func:`monitor.runtime.load_matcher`.

Slow inputs (the generated images' hashes, the store) are cached under ``.bench-cache/`` at the
repository root, keyed by their parameters.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt

Bytes = npt.NDArray[np.uint8]

CACHE = Path(__file__).resolve().parent.parent / ".bench-cache"
BASE_SIZE = (96, 72)  # generated images for the clustered lists: small, quick to hash
BASE_SEED = 50_000  # seeds BASE_SEED.. are the listed images, then the unseen ones
CHUNK = 1 << 20
FLIPS = {256: (2, 20), 64: (1, 6)}  # bits flipped in a clustered copy: min, max


def cache_dir() -> Path:
    CACHE.mkdir(exist_ok=True)
    return CACHE


def generated_hashes(count: int, *, first_seed: int = BASE_SEED) -> tuple[Bytes, Bytes]:
    """PDQ (count x 32 bytes) and pHash (count x 8) of generated photo-like images, cached."""
    path = (
        cache_dir() / f"matching-generated-{BASE_SIZE[0]}x{BASE_SIZE[1]}-{first_seed}-{count}.npz"
    )
    if path.exists():
        with np.load(path) as saved:
            return saved["pdq"], saved["phash"]
    from monitor.hashing.pdq import pdq_hashes
    from monitor.hashing.phash import phash_hex
    from monitor.synthetic import photo_like

    pdq = np.empty((count, 32), dtype=np.uint8)
    phash = np.empty((count, 8), dtype=np.uint8)
    for i in range(count):
        image = photo_like(first_seed + i, BASE_SIZE)
        pdq[i] = np.frombuffer(bytes.fromhex(pdq_hashes(np.asarray(image), False).original), "u1")
        phash[i] = np.frombuffer(bytes.fromhex(phash_hex(image)), dtype=np.uint8)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, pdq=pdq, phash=phash)
    tmp.replace(path)
    return pdq, phash


def random_list(n: int, bits: int, seed: int) -> Bytes:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, bits // 8), dtype=np.uint8)


def flip_random_bits(rows: Bytes, low: int, high: int, rng: np.random.Generator) -> Bytes:
    """Each row with ``low..high`` random bits flipped (a position drawn twice flips once)."""
    n = len(rows)
    count = rng.integers(low, high + 1, size=n)
    positions = rng.integers(0, rows.shape[1] * 8, size=(n, high))
    use = np.arange(high) < count[:, None]
    row_index = np.broadcast_to(np.arange(n)[:, None], positions.shape)[use]
    column = positions[use]
    bits = np.unpackbits(rows, axis=1)
    flipped = bits.copy()
    flipped[row_index, column] = 1 - bits[row_index, column]
    packed: Bytes = np.packbits(flipped, axis=1)
    return packed


def clustered_list(n: int, bits: int, seed: int, bases: Bytes) -> Bytes:
    """``n`` near copies of ``bases`` (rows picked at random, so cluster sizes vary a little)."""
    rng = np.random.default_rng(seed)
    low, high = FLIPS[bits]
    out = np.empty((n, bits // 8), dtype=np.uint8)
    step = CHUNK // 4
    for start in range(0, n, step):
        m = min(step, n - start)
        which = rng.integers(0, len(bases), size=m)
        out[start : start + m] = flip_random_bits(bases[which], low, high, rng)
    return out


def planted_queries(
    data: Bytes, radius: int, per_distance: int, seed: int
) -> tuple[Bytes, npt.NDArray[np.int64]]:
    """Near-duplicates of random list entries at every distance 0..radius; the queries and the
    row each was made from."""
    rng = np.random.default_rng(seed)
    bits = data.shape[1] * 8
    rows = rng.integers(0, len(data), size=(radius + 1) * per_distance)
    queries = np.empty((len(rows), data.shape[1]), dtype=np.uint8)
    for i, row in enumerate(rows.tolist()):
        distance = i // per_distance
        unpacked = np.unpackbits(data[row])
        unpacked[rng.choice(bits, size=distance, replace=False)] ^= 1
        queries[i] = np.packbits(unpacked)
    return queries, rows


# -- the store --------------------------------------------------------------------------------


def store_path(n: int, seed: int) -> Path:
    return cache_dir() / f"matching-store-pdq-{n}-{seed}-v1.sqlite3"


def build_store(n: int, seed: int, data_of: Iterator[Bytes]) -> Path:
    """A SQLite store (current schema) with one bank of ``n`` active PDQ entries, cached.

    The schema comes from the monitor's own migrations; the rows go in by a direct bulk insert
    (``import_entries`` validates and diffs line by line, which is not what is measured here).
    Entries carry a case id per 2,500 rows, a label and, every 100th, a little metadata.
    """
    path = store_path(n, seed)
    if path.exists():
        return path
    tmp = path.with_suffix(".building")
    for stale in tmp.parent.glob(tmp.name + "*"):
        stale.unlink()
    asyncio.run(_create_schema(tmp))
    db = sqlite3.connect(tmp)
    try:
        db.execute("PRAGMA journal_mode = OFF")
        db.execute("PRAGMA synchronous = OFF")
        # the unique index on (bank, type, value) grows with every row, in random order: in a
        # large page cache that is memory work, not disk work
        db.execute("PRAGMA cache_size = -2000000")
        db.execute("PRAGMA temp_store = MEMORY")
        now = "2024-08-01 00:00:00.000000"
        db.execute(
            "INSERT INTO banks (name, source, description, enabled, pdq_threshold,"
            " pdq_near_exact_threshold, pdq_reoriented_threshold, phash_threshold, video_share,"
            " clip_seconds, created_at, updated_at)"
            " VALUES ('bench', 'benchmark', '', 1, 31, 10, 24, 8, 0.8, 3.0, ?, ?)",
            (now, now),
        )
        bank_id = db.execute("SELECT id FROM banks WHERE name = 'bench'").fetchone()[0]
        # the secondary indexes are made after the rows: far quicker than growing them
        indexes = db.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'entries'"
            " AND sql IS NOT NULL"
        ).fetchall()
        for name, _ in indexes:
            db.execute(f'DROP INDEX "{name}"')
        meta = json.dumps({"source_ref": "bench"})
        done = 0
        for chunk in data_of:
            values = [bytes(row).hex() for row in chunk]
            rows = [
                (
                    bank_id,
                    "pdq",
                    value,
                    "active",
                    f"C-{(done + i) // 2500:06d}",
                    "ncii",
                    meta if (done + i) % 100 == 0 else "{}",
                    now,
                    now,
                )
                for i, value in enumerate(values)
            ]
            db.executemany(
                "INSERT INTO entries (bank_id, hash_type, value, status, case_id, label,"
                " metadata, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            done += len(rows)
        for _, sql in indexes:
            db.execute(sql)
        db.commit()
    finally:
        db.close()
    if done != n:
        raise RuntimeError(f"store got {done} rows, expected {n}")
    tmp.replace(path)
    return path


async def _create_schema(path: Path) -> None:
    from monitor.store import create_engine, ensure_schema

    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        await ensure_schema(engine, auto_upgrade=True)
    finally:
        await engine.dispose()


def random_store(n: int, seed: int) -> Path:
    """``build_store`` with ``n`` uniformly random PDQs from ``seed`` (cached): the matching
    and the daemon benchmarks share it."""

    def chunks() -> Iterator[Bytes]:
        rng = np.random.default_rng(seed)
        step = 1 << 18
        for start in range(0, n, step):
            yield rng.integers(0, 256, size=(min(step, n - start), 32), dtype=np.uint8)

    return build_store(n, seed, chunks())
