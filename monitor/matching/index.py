"""Exact Hamming-radius search over binary hashes, and exact lookup of cryptographic hashes.

:class:`BinaryIndex` is a multi-index hash (Norouzi, Punjani and Fleet, "Fast exact search in
Hamming space with multi-index hashing"). Each 64-bit word of a hash holds three 21-bit *slots*;
a 256-bit PDQ hash has 12 slots, a 64-bit pHash 3 (one bit per word is left out of the keys, which
costs a little selectivity and nothing in exactness). Slot ``c``'s key is the top ``w`` bits of the
slot, where ``w = clamp(floor(log2 n) - 1, 1, 21)`` follows the size ``n`` of the indexed segment,
so a bucket holds a few entries whatever the size. Per slot the index keeps a bucket table
(``offsets``, ``2**w + 1`` uint32) and the positions grouped by key (``perm``, uint32 per entry),
built by sorting ``key << 32 | position`` (seconds for ten million entries).

Generalised pigeonhole: if ``d(q, x) <= r`` and slot ``c`` is probed at key distance ``t_c``, then
``sum(t_c + 1) >= r + 1`` guarantees at least one slot where the keys differ in ``<= t_c`` bits
(otherwise the keys alone would differ in more than ``r`` bits; bits outside the keys only add to
the distance). The split is as even as it can be (radius 31 over 12 slots: 8 slots at 2, 4 at 1),
and *which* slots get the wider radius is chosen per query: every slot is looked up out to the
narrower radius first, and the wider ring goes to the slots whose buckets there hold the fewest
entries. On a list of many near copies of the same pictures the buckets are very uneven, and this
skips the crowded ones; any choice is exact. Every key within ``t_c`` of the query's key is looked
up; the candidates are sorted (a near copy is found through several slots, and is verified once)
and verified by an exact popcount, half the words first. When the estimated cost exceeds a linear
scan (large radii, small segments, a list of one hash many times over) the segment is scanned
instead, so the result is exact for every radius from 0 to ``bits``.

Memory for ten million PDQ hashes: 32 bytes of hash, 48 of ``perm``, 10 of ``offsets`` and 4 of
id per entry (ids are kept as 32-bit offsets from the smallest when they fit), about 2.9 times
the raw hashes. The search is bound by memory latency (one cache miss per bucket and per
candidate), which is why the work is counted in candidates rather than instructions.

Adding appends to a small unsorted *delta* that every query scans (no rebuild); it is merged into
the main segment (one O(n) rebuild) when it outgrows ``delta_limit``, or at once for a batch that
large. Removing sets a tombstone: the entry stops matching at once and is dropped at the next
merge. Hashes are kept as big-endian uint64 words (``n x bits/64``), positions in the main
segment sorted by id, so ``remove`` and ``get`` are binary searches.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from typing import Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

__all__ = ["BinaryIndex", "ExactIndex", "HashInput", "QueryInput", "hash_words", "unique_ids"]

U64 = npt.NDArray[np.uint64]
U32 = npt.NDArray[np.uint32]
U16 = npt.NDArray[np.uint16]
U8 = npt.NDArray[np.uint8]
I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

HashInput: TypeAlias = Sequence[str] | npt.NDArray[np.uint8] | npt.NDArray[np.uint64]
QueryInput: TypeAlias = str | bytes | npt.NDArray[np.uint8]
Strategy: TypeAlias = Literal["auto", "mih", "scan"]

_SLOT_BITS = 21  # three slots per 64-bit word
_SLOTS_PER_WORD = 3
_SCAN_BLOCK = 65536  # rows per block in a linear scan: bounds the temporary memory
_DEFAULT_DELTA_LIMIT = 32768

# Relative costs (nanoseconds, measured with numpy on one core) for choosing probe vs scan.
_COST_PROBE = 12.0  # one bucket lookup
_COST_CANDIDATE = 25.0  # gather a position and its hash, XOR, popcount
_COST_SCAN_WORD = 4.0  # per entry and 64-bit word in a blocked linear scan
_COST_SCAN_ENTRY = 6.0


_BYTE_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)
_HAS_BITWISE_COUNT = hasattr(np, "bitwise_count")


def _hex_rows(hashes: Sequence[str], words: int) -> U64:
    """Hex strings to an (n, words) big-endian uint64 array; refuses wrong lengths and non-hex."""
    hex_len = words * 16
    for position, value in enumerate(hashes):
        if not isinstance(value, str) or len(value) != hex_len:
            raise ValueError(f"hash {position}: expected {hex_len} hex characters")
    try:
        raw = bytes.fromhex("".join(hashes))
    except ValueError as exc:
        raise ValueError(f"hashes are not hexadecimal: {exc}") from None
    if len(raw) != len(hashes) * words * 8:  # fromhex skips whitespace
        raise ValueError("hashes contain whitespace")
    return _bytes_rows(np.frombuffer(raw, dtype=np.uint8), words)


def _bytes_rows(data: npt.NDArray[np.uint8], words: int) -> U64:
    flat = np.ascontiguousarray(data, dtype=np.uint8).reshape(-1)
    if flat.size % (words * 8):
        raise ValueError(f"hash bytes must be a multiple of {words * 8}")
    return flat.view(">u8").astype(np.uint64).reshape(-1, words)


def hash_words(hashes: npt.NDArray[np.uint8]) -> U64:
    """Hash bytes (``n x bytes``, big-endian as in hex) as ``n x bytes/8`` uint64 words, the
    form :class:`BinaryIndex` keeps (and accepts in :meth:`BinaryIndex.add`)."""
    return _bytes_rows(hashes, hashes.shape[1] // 8)


def _to_rows(hashes: HashInput, words: int) -> U64:
    if isinstance(hashes, np.ndarray):
        if hashes.dtype == np.uint64:
            if hashes.ndim != 2 or hashes.shape[1] != words:
                raise ValueError(f"hash word array must have shape (n, {words})")
            return np.ascontiguousarray(hashes, dtype=np.uint64)
        if hashes.dtype != np.uint8:
            raise TypeError("hash arrays must be uint8 (bytes) or uint64 (see hash_words)")
        if hashes.ndim != 2 or hashes.shape[1] != words * 8:
            raise ValueError(f"hash array must have shape (n, {words * 8})")
        return _bytes_rows(np.asarray(hashes, dtype=np.uint8), words)
    return _hex_rows(list(hashes), words)


def _query_row(query: QueryInput, words: int) -> U64:
    if isinstance(query, str):
        row: U64 = _hex_rows([query.strip().lower()], words)[0]
        return row
    if isinstance(query, bytes):
        if len(query) != words * 8:
            raise ValueError(f"query must be {words * 8} bytes")
        row = _bytes_rows(np.frombuffer(query, dtype=np.uint8), words)[0]
        return row
    if query.dtype != np.uint8 or query.size != words * 8:
        raise ValueError(f"query array must be {words * 8} uint8 values")
    row = _bytes_rows(query, words)[0]
    return row


def _rows_hex(rows: U64) -> list[str]:
    raw = rows.astype(">u8").tobytes()
    step = rows.shape[1] * 8
    return [raw[i : i + step].hex() for i in range(0, len(raw), step)]


def unique_ids(values: I64) -> I64:
    """The distinct values, ascending (``np.unique`` by sorting: numpy 2's hash-based unique
    takes seconds on millions of ids)."""
    values = values.reshape(-1)
    if len(values) > 1 and not bool(np.all(values[1:] > values[:-1])):
        values = np.sort(values)
        keep = np.empty(len(values), dtype=np.bool_)
        keep[0] = True
        np.not_equal(values[1:], values[:-1], out=keep[1:])
        values = values[keep]
    return values


def _member(values: I64, sorted_set: I64) -> Bools:
    """Whether each of ``values`` is in ``sorted_set`` (ascending, unique)."""
    if not len(sorted_set):
        return np.zeros(len(values), dtype=np.bool_)
    pos = np.minimum(np.searchsorted(sorted_set, values), len(sorted_set) - 1)
    found: Bools = sorted_set[pos] == values
    return found


_MASKS: dict[tuple[int, int], U32] = {}


def _flip_masks(width: int, radius: int) -> U32:
    """Every ``width``-bit mask with at most ``radius`` bits set, ordered by popcount."""
    key = (width, radius)
    cached = _MASKS.get(key)
    if cached is None:
        values = [0]
        for k in range(1, radius + 1):
            for bits in itertools.combinations(range(width), k):
                values.append(sum(1 << b for b in bits))
        cached = np.array(values, dtype=np.uint32)
        _MASKS[key] = cached
    return cached


def _ball_size(width: int, radius: int) -> int:
    return sum(math.comb(width, k) for k in range(min(radius, width) + 1))


class _Tables:
    """The multi-index tables of one main segment."""

    __slots__ = ("_layouts", "key_bits", "offsets", "perm", "shifts")

    def __init__(self, codes: U64) -> None:
        n, words = codes.shape
        self.key_bits = max(1, min(_SLOT_BITS, int(math.log2(n)) - 1)) if n > 1 else 1
        slots = words * _SLOTS_PER_WORD
        size = 1 << self.key_bits
        # slot c of word c // 3 starts at bit (c % 3) * 21 from the most significant end
        self.shifts = [64 - (c % 3) * _SLOT_BITS - self.key_bits for c in range(slots)]
        self.offsets = np.empty((slots, size + 1), dtype=np.uint32)
        self.perm = np.empty((slots, n), dtype=np.uint32)
        self._layouts: dict[tuple[int, ...], tuple[U32, I64, I64, I64]] = {}
        positions = np.arange(n, dtype=np.uint64)
        for c in range(slots):
            keys = self.keys(codes[:, c // _SLOTS_PER_WORD], c)
            self.offsets[c, 0] = 0
            np.cumsum(np.bincount(keys, minlength=size), out=self.offsets[c, 1:])
            # positions grouped by key: sort (key << 32 | position), several times quicker
            # than an argsort of the keys, then keep the low 32 bits
            packed = keys.astype(np.uint64)
            del keys
            packed <<= np.uint64(32)
            packed |= positions
            packed.sort()
            np.copyto(self.perm[c], packed, casting="unsafe")
            del packed

    def query_keys(self, q: U64) -> U32:
        """The query's key in every slot."""
        words = q[np.arange(len(self.shifts)) // _SLOTS_PER_WORD]
        mask = np.uint64((1 << self.key_bits) - 1)
        return ((words >> np.array(self.shifts, dtype=np.uint64)) & mask).astype(np.uint32)

    def probe_layout(self, plan: tuple[int, ...]) -> tuple[U32, I64, I64, I64]:
        """For a plan: every flip mask, its slot, and the slot's base in offsets and perm."""
        cached = self._layouts.get(plan)
        if cached is None:
            masks: list[U32] = []
            slots: list[I64] = []
            for c, t in enumerate(plan):
                if t >= 0:
                    flips = _flip_masks(self.key_bits, t)
                    masks.append(flips)
                    slots.append(np.full(len(flips), c, dtype=np.int64))
            slot = np.concatenate(slots)
            table_base = slot * self.offsets.shape[1]
            perm_base = slot * self.perm.shape[1]
            cached = (np.concatenate(masks), slot, table_base, perm_base)
            if len(self._layouts) > 64:
                self._layouts.clear()
            self._layouts[plan] = cached
        return cached

    def ring(self, radius: int) -> U32:
        """The flip masks with exactly ``radius`` bits set."""
        masks = _flip_masks(self.key_bits, radius)
        ring: U32 = masks[_ball_size(self.key_bits, radius - 1) :] if radius else masks
        return ring

    def keys(self, word: U64, slot: int) -> U32:
        mask = np.uint64((1 << self.key_bits) - 1)
        return ((word >> np.uint64(self.shifts[slot])) & mask).astype(np.uint32)

    def nbytes(self) -> int:
        return int(self.offsets.nbytes + self.perm.nbytes)


class _Ids:
    """Sorted, unique int64 ids; kept as uint32 offsets from the smallest when they fit.

    A list's ids come from one database sequence, so 4 bytes per entry instead of 8.
    """

    __slots__ = ("base", "values")

    def __init__(self, ids: I64) -> None:
        self.base = 0
        self.values: npt.NDArray[np.int64] | U32 = ids
        if len(ids) and int(ids[-1]) - int(ids[0]) < 1 << 32:
            self.base = int(ids[0])
            self.values = (ids - np.int64(self.base)).astype(np.uint32)

    def __len__(self) -> int:
        return len(self.values)

    @property
    def nbytes(self) -> int:
        return int(self.values.nbytes)

    def take(self, pos: npt.NDArray[np.intp]) -> I64:
        found: I64 = self.values[pos].astype(np.int64)
        if self.base:
            found += np.int64(self.base)
        return found

    def all(self) -> I64:
        return self.take(np.arange(len(self.values)))

    def find(self, ids: I64) -> tuple[npt.NDArray[np.intp], Bools]:
        """Positions of ``ids`` (clipped to the array) and whether each is there."""
        n = len(self.values)
        if not n or not len(ids):
            return np.zeros(len(ids), dtype=np.intp), np.zeros(len(ids), dtype=np.bool_)
        if self.values.dtype == np.int64:
            pos = np.minimum(np.searchsorted(self.values, ids), n - 1)
            return pos, self.values[pos] == ids
        rel = ids - np.int64(self.base)  # wraps for extreme ids: then out of range, as it should
        fits = (ids >= self.base) & (rel >= 0) & (rel < 1 << 32)
        key = np.where(fits, rel, 0).astype(np.uint32)
        pos = np.minimum(np.searchsorted(self.values, key), n - 1)
        return pos, fits & (self.values[pos] == key)


class BinaryIndex:
    """Exact search of ``bits``-bit hashes (a multiple of 64) within a Hamming radius."""

    def __init__(self, bits: int, *, delta_limit: int = _DEFAULT_DELTA_LIMIT) -> None:
        if bits <= 0 or bits % 64:
            raise ValueError("bits must be a positive multiple of 64")
        self.bits = bits
        self._words = bits // 64
        self._delta_limit = max(1, delta_limit)
        # main segment, positions sorted by id; _alive is None while nothing was removed
        self._ids = _Ids(np.empty(0, dtype=np.int64))
        self._codes: U64 = np.empty((0, self._words), dtype=np.uint64)
        self._alive: Bools | None = None
        self._tables: _Tables | None = None
        self._main_live = 0
        # delta segment, in insertion order
        self._d_ids: I64 = np.empty(0, dtype=np.int64)
        self._d_codes: U64 = np.empty((0, self._words), dtype=np.uint64)
        self._d_alive: Bools = np.empty(0, dtype=np.bool_)
        self._d_n = 0
        self._d_live = 0

    # -- size -------------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._main_live + self._d_live

    def memory_bytes(self) -> int:
        """Bytes held by the index's arrays (hashes, ids, tables, delta)."""
        arrays = [self._codes, self._d_ids, self._d_codes, self._d_alive]
        if self._alive is not None:
            arrays.append(self._alive)
        total = sum(int(a.nbytes) for a in arrays) + self._ids.nbytes
        return total + (self._tables.nbytes() if self._tables is not None else 0)

    # -- changes ----------------------------------------------------------------------------

    def add(self, ids: Sequence[int] | npt.NDArray[np.integer], hashes: HashInput) -> None:
        """Add hashes under ``ids``. An id that is already live is refused (remove it first).

        A few entries go to the delta (no rebuild); a batch that would overflow it is merged
        into the main segment at once (one O(n) rebuild).
        """
        id_array = np.asarray(ids, dtype=np.int64).reshape(-1)
        rows = _to_rows(hashes, self._words)
        if len(id_array) != len(rows):
            raise ValueError(f"{len(id_array)} ids for {len(rows)} hashes")
        if not len(id_array):
            return
        if len(unique_ids(id_array)) != len(id_array):
            raise ValueError("duplicate ids in one add")
        present = self._live_mask(id_array)
        if present.any():
            raise ValueError(f"id {int(id_array[present][0])} is already in the index")
        if self._d_n + len(id_array) > self._delta_limit:
            self._merge(id_array, rows)  # straight into the main segment: no delta copy
        else:
            self._append_delta(id_array, rows)

    def remove(self, ids: Iterable[int] | npt.NDArray[np.integer]) -> int:
        """Stop matching ``ids`` at once; returns how many live entries were removed."""
        id_array = unique_ids(
            np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, dtype=np.int64)
        )
        removed = 0
        if len(self._ids) and len(id_array):
            pos, found = self._ids.find(id_array)
            pos = pos[found]
            if self._alive is None:
                self._alive = np.ones(len(self._ids), dtype=np.bool_)
            pos = pos[self._alive[pos]]
            self._alive[pos] = False
            self._main_live -= len(pos)
            removed += len(pos)
        if self._d_n and len(id_array):
            hit = _member(self._d_ids[: self._d_n], id_array) & self._d_alive[: self._d_n]
            self._d_alive[: self._d_n][hit] = False
            count = int(hit.sum())
            self._d_live -= count
            removed += count
        if len(self._ids) - self._main_live > max(self._delta_limit, self._main_live):
            self.compact()  # more tombstones than live entries: worth a rebuild
        return removed

    def compact(self) -> None:
        """Merge the delta into the main segment and drop removed entries (one O(n) rebuild)."""
        if self._d_n or self._main_live != len(self._ids) or (len(self._ids) and not self._tables):
            self._merge(np.empty(0, dtype=np.int64), np.empty((0, self._words), dtype=np.uint64))

    def _merge(self, extra_ids: I64, extra_rows: U64) -> None:
        n = self._d_n
        alive = self._alive
        main_ids = self._ids.all() if alive is None else self._ids.all()[alive]
        main_codes = self._codes if alive is None else self._codes[alive]
        # let go of the old arrays before the copies below (peak memory of a 10M build)
        self._ids = _Ids(np.empty(0, dtype=np.int64))
        self._codes = np.empty((0, self._words), dtype=np.uint64)
        self._tables = None
        self._alive = None
        parts = [main_ids, self._d_ids[:n][self._d_alive[:n]], extra_ids]
        ids = np.concatenate(parts) if sum(len(p) > 0 for p in parts) > 1 else max(parts, key=len)
        code_parts = [main_codes, self._d_codes[:n][self._d_alive[:n]], extra_rows]
        del main_ids, parts
        if sum(len(p) > 0 for p in code_parts) > 1:
            codes = np.concatenate(code_parts)
        else:
            codes = max(code_parts, key=len)
        del main_codes, code_parts
        self._d_ids = np.empty(0, dtype=np.int64)
        self._d_codes = np.empty((0, self._words), dtype=np.uint64)
        self._d_alive = np.empty(0, dtype=np.bool_)
        self._d_n = self._d_live = 0
        if len(ids) > 1 and not bool(np.all(ids[1:] > ids[:-1])):
            order = np.argsort(ids, kind="stable")
            ids = ids[order]
            codes = codes[order]
            del order
        self._ids = _Ids(ids)
        del ids
        self._codes = np.ascontiguousarray(codes)
        del codes
        self._main_live = len(self._ids)
        self._tables = _Tables(self._codes) if len(self._ids) else None

    def get(self, entry_id: int) -> str | None:
        """The hex hash stored under a live id, or None."""
        if len(self._ids):
            pos_array, found = self._ids.find(np.array([entry_id], dtype=np.int64))
            pos = int(pos_array[0])
            if found[0] and (self._alive is None or self._alive[pos]):
                return _rows_hex(self._codes[pos : pos + 1])[0]
        if self._d_n:
            hit = np.flatnonzero(
                (self._d_ids[: self._d_n] == entry_id) & self._d_alive[: self._d_n]
            )
            if len(hit):
                return _rows_hex(self._d_codes[hit[:1]])[0]
        return None

    def _live_mask(self, ids: I64) -> Bools:
        present = np.zeros(len(ids), dtype=np.bool_)
        if len(self._ids):
            pos, found = self._ids.find(ids)
            present |= found if self._alive is None else found & self._alive[pos]
        if self._d_n:
            live = self._d_ids[: self._d_n][self._d_alive[: self._d_n]]
            present |= _member(ids, unique_ids(live))
        return present

    def _append_delta(self, ids: I64, rows: U64) -> None:
        need = self._d_n + len(ids)
        if need > len(self._d_ids):
            capacity = max(need, 2 * len(self._d_ids), 64)
            self._d_ids = np.resize(self._d_ids, capacity)
            grown = np.empty((capacity, self._words), dtype=np.uint64)
            grown[: self._d_n] = self._d_codes[: self._d_n]
            self._d_codes = grown
            self._d_alive = np.resize(self._d_alive, capacity)
        self._d_ids[self._d_n : need] = ids
        self._d_codes[self._d_n : need] = rows
        self._d_alive[self._d_n : need] = True
        self._d_n = need
        self._d_live += len(ids)

    # -- search -----------------------------------------------------------------------------

    def search(
        self, query: QueryInput, radius: int, *, strategy: Strategy = "auto"
    ) -> list[tuple[int, int]]:
        """Every live ``(id, distance)`` with ``distance <= radius``, by distance then id.

        ``strategy`` is for tests and benchmarks: ``"mih"`` forces probing the main segment
        (where the split allows it), ``"scan"`` forces a linear scan; both are exact.
        """
        if not 0 <= radius <= self.bits:
            raise ValueError(f"radius must be within 0..{self.bits}")
        q = _query_row(query, self._words)
        found_ids: list[I64] = []
        found_dist: list[U16] = []
        if self._main_live:
            plan = self._plan(radius, strategy)
            if plan is None:
                pos, dist = _scan(self._codes, self._alive, q, radius)
            else:
                pos, dist = self._probe(q, radius, plan, strategy)
            if len(pos):
                found_ids.append(self._ids.take(pos))
                found_dist.append(dist)
        if self._d_live:
            pos, dist = _scan(self._d_codes[: self._d_n], self._d_alive[: self._d_n], q, radius)
            if len(pos):
                found_ids.append(self._d_ids[pos])
                found_dist.append(dist)
        if not found_ids:
            return []
        if len(found_ids) == 1:
            ids, dist = found_ids[0], found_dist[0]
        else:
            ids, dist = np.concatenate(found_ids), np.concatenate(found_dist)
        if len(ids) > 1:
            order = np.lexsort((ids, dist))
            ids, dist = ids[order], dist[order]
        return list(zip(ids.tolist(), dist.tolist(), strict=True))

    def search_many(
        self, queries: Sequence[QueryInput] | npt.NDArray[np.uint8], radius: int
    ) -> list[list[tuple[int, int]]]:
        """``search`` for each query, in order."""
        return [self.search(q, radius) for q in queries]

    def _plan(self, radius: int, strategy: Strategy) -> tuple[int, ...] | None:
        """Per-slot probe radii (-1: slot not probed), or None for a linear scan."""
        tables = self._tables
        if tables is None or strategy == "scan":
            return None
        slots = tables.offsets.shape[0]
        width = tables.key_bits
        need = radius + 1  # sum over slots of (t + 1)
        base, extra = divmod(need, slots)
        plan = tuple(base + (1 if c < extra else 0) - 1 for c in range(slots))
        if max(plan) >= width:
            return None  # a slot would have to enumerate every key: scanning is no worse
        if strategy == "mih":
            return plan
        probes = sum(_ball_size(width, t) for t in plan if t >= 0)
        candidates = probes * len(self._ids) / (1 << width)
        probe_cost = probes * _COST_PROBE + candidates * _COST_CANDIDATE
        return plan if probe_cost < self._scan_cost() else None

    def _probe(
        self, q: U64, radius: int, plan: tuple[int, ...], strategy: Strategy
    ) -> tuple[npt.NDArray[np.intp], U16]:
        tables = self._tables
        assert tables is not None
        slots = len(plan)
        top = max(plan)
        outer = sum(1 for t in plan if t == top)  # slots probed out to `top`
        qkeys = tables.query_keys(q)
        offsets = tables.offsets.reshape(-1)
        if outer == slots or top == 0:
            lo, counts, perm_base = _lookup(tables, offsets, qkeys, plan)
        else:
            # Which slots get the widest ring is chosen per query: first every slot out to
            # top - 1, then the outer ring of the `outer` slots whose inner buckets hold the
            # fewest entries (a cluster of near copies fills a key and its neighbours). Exact
            # whichever slots are picked: the sum of (t + 1) is the same.
            inner = (top - 1,) * slots
            lo, counts, perm_base = _lookup(tables, offsets, qkeys, inner)
            per_slot = len(lo) // slots
            load = counts.reshape(slots, per_slot).sum(axis=1)
            chosen = np.argsort(load, kind="stable")[:outer]
            ring = tables.ring(top)
            keys = (ring[None, :] ^ qkeys[chosen][:, None]).astype(np.intp)
            keys += (chosen * tables.offsets.shape[1])[:, None]
            keys = keys.reshape(-1)
            ring_lo = offsets[keys].astype(np.intp)
            keys += 1
            ring_counts = offsets[keys].astype(np.intp)
            ring_counts -= ring_lo
            ring_base = np.repeat(chosen.astype(np.intp) * tables.perm.shape[1], len(ring))
            lo = np.concatenate([lo, ring_lo])
            counts = np.concatenate([counts, ring_counts])
            perm_base = np.concatenate([perm_base, ring_base])
        ends = np.cumsum(counts)
        total = int(ends[-1]) if len(ends) else 0
        if not total:
            return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.uint16)
        if strategy == "auto" and total * _COST_CANDIDATE > self._scan_cost():
            return _scan(self._codes, self._alive, q, radius)  # degenerate list: huge buckets
        # ragged expansion: for each probe, positions lo .. lo + count - 1 of its slot's perm
        lo += perm_base
        lo -= ends
        lo += counts
        flat = np.repeat(lo, counts)
        flat += np.arange(total, dtype=np.intp)
        candidates = np.take(tables.perm.reshape(-1), flat)
        # a near hash is found through several slots (a cluster of near copies through most of
        # them): sorted, each is verified once, and the hashes are read in address order
        candidates.sort()
        if total > 1:
            first = np.empty(total, dtype=np.bool_)
            first[0] = True
            np.not_equal(candidates[1:], candidates[:-1], out=first[1:])
            if not first.all():
                candidates = candidates[first]
        return _verify(self._codes, self._alive, candidates, q, radius)

    def _scan_cost(self) -> float:
        return len(self._ids) * (_COST_SCAN_ENTRY + _COST_SCAN_WORD * self._words)


def _lookup(
    tables: _Tables, offsets: U32, qkeys: U32, plan: tuple[int, ...]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Every probe of ``plan``: its bucket's start in its slot's perm, its size, and the slot's
    base in the flattened perm."""
    masks, slot_of, table_base, perm_base = tables.probe_layout(plan)
    keys = (masks ^ qkeys[slot_of]).astype(np.intp)
    keys += table_base
    lo = offsets[keys].astype(np.intp)
    keys += 1
    counts = offsets[keys].astype(np.intp)
    counts -= lo
    return lo, counts, perm_base


def _popcount(x: U64) -> U8:
    if _HAS_BITWISE_COUNT:
        counts: U8 = np.bitwise_count(x)
        return counts
    # numpy 1.x: a table lookup per byte, summed back to one count per word
    per_byte = _BYTE_POPCOUNT[np.ascontiguousarray(x).view(np.uint8)].reshape(len(x), 8)
    summed: U8 = per_byte.sum(axis=1, dtype=np.uint8)
    return summed


def _distances(rows: U64, q: U64, first: int = 0, last: int | None = None) -> U16:
    """Hamming distance of each row to ``q`` over words ``first..last``, one column at a time
    (a strided column XOR a scalar is several times quicker than a row-wise reduction)."""
    end = rows.shape[1] if last is None else last
    total = _popcount(rows[:, first] ^ q[first]).astype(np.uint16)
    for w in range(first + 1, end):
        total += _popcount(rows[:, w] ^ q[w])
    return total


def _verify(
    codes: U64, alive: Bools | None, candidates: U32 | npt.NDArray[np.intp], q: U64, radius: int
) -> tuple[npt.NDArray[np.intp], U16]:
    rows = np.take(codes, candidates, axis=0)
    words = rows.shape[1]
    if words >= 4 and len(rows) > 64:
        # half the words first: a random candidate is rejected there (128 random bits are
        # about 64 apart), so the other half is computed for the few left
        half = words // 2
        dist = _distances(rows, q, 0, half)
        keep = np.flatnonzero(dist <= radius)
        rows, candidates, dist = rows[keep], candidates[keep], dist[keep]
        dist += _distances(rows, q, half)
    else:
        dist = _distances(rows, q)
    hit = dist <= radius
    if alive is not None:
        hit &= alive[candidates]
    return candidates[hit].astype(np.intp), dist[hit]


def _scan(codes: U64, alive: Bools | None, q: U64, radius: int) -> tuple[npt.NDArray[np.intp], U16]:
    positions: list[npt.NDArray[np.intp]] = []
    distances: list[U16] = []
    for start in range(0, len(codes), _SCAN_BLOCK):
        dist = _distances(codes[start : start + _SCAN_BLOCK], q)
        hit = dist <= radius
        if alive is not None:
            hit &= alive[start : start + _SCAN_BLOCK]
        keep = np.flatnonzero(hit)
        if len(keep):
            positions.append(keep + start)
            distances.append(dist[keep])
    if not positions:
        return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.uint16)
    if len(positions) == 1:
        return positions[0], distances[0]
    return np.concatenate(positions), np.concatenate(distances)


class ExactIndex:
    """Exact lookup of fixed-length hashes (MD5, SHA-256): hex -> ids, with add and remove.

    Keys are kept as fixed-width byte strings in a sorted numpy array (no Python object per
    entry); recent additions sit in a small dict until it is merged.
    """

    def __init__(self, nbytes: int, *, delta_limit: int = _DEFAULT_DELTA_LIMIT) -> None:
        if nbytes <= 0:
            raise ValueError("nbytes must be positive")
        self.nbytes = nbytes
        self._delta_limit = max(1, delta_limit)
        self._keys = np.empty(0, dtype=f"S{nbytes}")  # sorted
        self._ids: I64 = np.empty(0, dtype=np.int64)
        self._alive: Bools = np.empty(0, dtype=np.bool_)
        self._by_id: U32 = np.empty(0, dtype=np.uint32)  # argsort of _ids
        self._main_live = 0
        self._delta: dict[bytes, list[int]] = {}
        self._delta_key: dict[int, bytes] = {}

    def __len__(self) -> int:
        return self._main_live + len(self._delta_key)

    def memory_bytes(self) -> int:
        arrays = (self._keys, self._ids, self._alive, self._by_id)
        return sum(int(a.nbytes) for a in arrays) + 200 * len(self._delta_key)

    def _key(self, value: str) -> bytes:
        raw = bytes.fromhex(value)
        if len(raw) != self.nbytes or len(value) != 2 * self.nbytes:
            raise ValueError(f"expected {2 * self.nbytes} hex characters")
        return raw

    def add(self, ids: Sequence[int], hashes: Sequence[str]) -> None:
        if len(ids) != len(hashes):
            raise ValueError(f"{len(ids)} ids for {len(hashes)} hashes")
        keys = [self._key(h) for h in hashes]
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate ids in one add")
        for entry_id in ids:
            if self._is_live(int(entry_id)):
                raise ValueError(f"id {entry_id} is already in the index")
        for entry_id, key in zip(ids, keys, strict=True):
            self._delta.setdefault(key, []).append(int(entry_id))
            self._delta_key[int(entry_id)] = key
        if len(self._delta_key) > max(self._delta_limit, self._main_live // 8):
            self.compact()

    def add_bytes(self, ids: I64, values: npt.NDArray[np.uint8]) -> None:
        """Add many entries at once, straight into the sorted arrays (one sort, no object per
        entry): ``values`` is ``n x nbytes``. Ids must be new and distinct."""
        if values.ndim != 2 or values.shape[1] != self.nbytes or len(values) != len(ids):
            raise ValueError(f"expected {len(ids)} values of {self.nbytes} bytes")
        if not len(ids):
            return
        id_array = np.asarray(ids, dtype=np.int64)
        if len(unique_ids(id_array)) != len(id_array):
            raise ValueError("duplicate ids in one add")
        if len(self._main_positions(id_array)) or any(int(i) in self._delta_key for i in ids):
            raise ValueError("an id is already in the index")
        keys = np.ascontiguousarray(values).view(self._keys.dtype).reshape(-1)
        self._merge_main(keys, id_array)

    def _merge_main(self, keys: npt.NDArray[Any], ids: I64) -> None:
        """The live main entries and ``keys``/``ids`` as the new main segment, sorted by key
        then id (one O(n log n) rebuild), with nothing removed."""
        all_keys = np.concatenate([self._keys[self._alive], keys])
        all_ids = np.concatenate([self._ids[self._alive], ids])
        order = np.lexsort((all_ids, all_keys))
        self._keys = all_keys[order]
        self._ids = all_ids[order]
        self._alive = np.ones(len(self._ids), dtype=np.bool_)
        self._by_id = np.argsort(self._ids, kind="stable").astype(np.uint32)
        self._main_live = len(self._ids)

    def _main_positions(self, ids: I64) -> npt.NDArray[np.intp]:
        if not len(self._ids) or not len(ids):
            return np.empty(0, dtype=np.intp)
        rank = np.searchsorted(self._ids, ids, sorter=self._by_id)
        rank = np.minimum(rank, len(self._ids) - 1)
        pos = self._by_id[rank].astype(np.intp)
        pos = pos[self._ids[pos] == ids]
        live: npt.NDArray[np.intp] = pos[self._alive[pos]]
        return live

    def _is_live(self, entry_id: int) -> bool:
        if entry_id in self._delta_key:
            return True
        return len(self._main_positions(np.array([entry_id], dtype=np.int64))) > 0

    def remove(self, ids: Iterable[int]) -> int:
        id_list = sorted({int(i) for i in ids})
        removed = 0
        for entry_id in id_list:
            key = self._delta_key.pop(entry_id, None)
            if key is not None:
                bucket = self._delta[key]
                bucket.remove(entry_id)
                if not bucket:
                    del self._delta[key]
                removed += 1
        pos = self._main_positions(np.array(id_list, dtype=np.int64))
        self._alive[pos] = False
        self._main_live -= len(pos)
        removed += len(pos)
        if len(self._ids) - self._main_live > max(self._delta_limit, self._main_live):
            self.compact()
        return removed

    def compact(self) -> None:
        keys = list(self._delta_key.values())
        ids = np.fromiter(self._delta_key.keys(), dtype=np.int64, count=len(keys))
        self._merge_main(np.array(keys, dtype=self._keys.dtype), ids)
        self._delta = {}
        self._delta_key = {}

    def lookup(self, value: str) -> list[int]:
        """Live ids stored under ``value`` (hex, any case), ascending."""
        try:
            key = self._key(value.strip().lower())
        except ValueError:
            return []
        found = list(self._delta.get(key, ()))
        if len(self._keys):
            probe = np.array([key], dtype=self._keys.dtype)
            lo = int(np.searchsorted(self._keys, probe[0], side="left"))
            hi = int(np.searchsorted(self._keys, probe[0], side="right"))
            if hi > lo:
                ids = self._ids[lo:hi][self._alive[lo:hi]]
                found.extend(int(i) for i in ids)
        return sorted(found)
