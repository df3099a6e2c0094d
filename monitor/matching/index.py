"""Exact Hamming-radius search over binary hashes, and exact lookup of cryptographic hashes.

:class:`BinaryIndex` is a multi-index hash (Norouzi, Punjani and Fleet, "Fast exact search in
Hamming space with multi-index hashing"). Each 64-bit word of a hash holds three 21-bit *slots*;
a 256-bit PDQ hash has 12 slots, a 64-bit pHash 3 (one bit per word is left out of the keys, which
costs a little selectivity and nothing in exactness). Slot ``c``'s key is the top ``w`` bits of the
slot, where ``w = clamp(floor(log2 n) - 1, 1, 21)`` follows the size ``n`` of the indexed segment,
so a bucket holds about two entries whatever the size. Per slot the index keeps a bucket table
(``offsets``, ``2**w + 1`` uint32) and a permutation of positions grouped by key (uint32 per entry):
a counting sort, built in O(n) per slot.

Generalised pigeonhole: if ``d(q, x) <= r`` and slot ``c`` is probed at key distance ``t_c``, then
``sum(t_c + 1) >= r + 1`` guarantees at least one slot where the keys differ in ``<= t_c`` bits
(otherwise the keys alone would differ in more than ``r`` bits; bits outside the keys only add to
the distance). All slots cost the same, so the cheapest split is the even one. Every key within
``t_c`` of the query's key is looked up, and the candidates are verified by an exact popcount.
When the estimated probing cost exceeds a linear scan (large radii, small segments) the segment is
scanned instead, so the result is exact for every radius from 0 to ``bits``.

Adding appends to a small unsorted *delta* that every query scans; it is merged into the main
segment (one O(n) rebuild) when it outgrows ``delta_limit``. Removing sets a tombstone: the entry
stops matching at once and is dropped at the next merge. Hashes are kept as big-endian uint64 words
(``n x bits/64``), positions in the main segment sorted by id, so ``remove`` and ``get`` are binary
searches.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from typing import Literal, TypeAlias

import numpy as np
import numpy.typing as npt

__all__ = ["BinaryIndex", "ExactIndex", "HashInput", "QueryInput"]

U64 = npt.NDArray[np.uint64]
U32 = npt.NDArray[np.uint32]
I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

HashInput: TypeAlias = Sequence[str] | npt.NDArray[np.uint8]
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


def _popcount_words(x: U64) -> npt.NDArray[np.uint16]:
    """Row-wise popcount of a C-contiguous (n, w) uint64 array, as uint16."""
    n, words = x.shape
    if hasattr(np, "bitwise_count"):
        counts = np.bitwise_count(x)  # uint8 per word, each at most 64
    else:  # numpy 1.x: table lookup per byte, summed back to one count per word
        per_byte = _BYTE_POPCOUNT[x.view(np.uint8)].reshape(n, words, 8)
        counts = per_byte.sum(axis=2, dtype=np.uint8)
    if words == 1:
        return counts.reshape(n).astype(np.uint16)
    if words == 4:
        # add the four byte counts with one multiply: the top byte gets their sum, which only
        # wraps (to 0) for the complement of the query, distance 256
        packed = counts.view(np.uint32).reshape(n)
        total = ((packed * np.uint32(0x01010101)) >> np.uint32(24)).astype(np.uint16)
        wrapped = np.flatnonzero(total == 0)
        if len(wrapped):
            total[wrapped] = counts[wrapped].sum(axis=1, dtype=np.uint16)
        return total
    total = counts[:, 0].astype(np.uint16)
    for column in range(1, words):
        total += counts[:, column]
    return total


_BYTE_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


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


def _to_rows(hashes: HashInput, words: int) -> U64:
    if isinstance(hashes, np.ndarray):
        if hashes.dtype != np.uint8:
            raise TypeError("hash arrays must be uint8")
        if hashes.ndim != 2 or hashes.shape[1] != words * 8:
            raise ValueError(f"hash array must have shape (n, {words * 8})")
        return _bytes_rows(hashes, words)
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
        for c in range(slots):
            keys = self.keys(codes[:, c // _SLOTS_PER_WORD], c)
            counts = np.bincount(keys, minlength=size)
            self.offsets[c, 0] = 0
            np.cumsum(counts, out=self.offsets[c, 1:])
            self.perm[c] = np.argsort(keys).astype(np.uint32)

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

    def keys(self, word: U64, slot: int) -> U32:
        mask = np.uint64((1 << self.key_bits) - 1)
        return ((word >> np.uint64(self.shifts[slot])) & mask).astype(np.uint32)

    def nbytes(self) -> int:
        return int(self.offsets.nbytes + self.perm.nbytes)


class BinaryIndex:
    """Exact search of ``bits``-bit hashes (a multiple of 64) within a Hamming radius."""

    def __init__(self, bits: int, *, delta_limit: int = _DEFAULT_DELTA_LIMIT) -> None:
        if bits <= 0 or bits % 64:
            raise ValueError("bits must be a positive multiple of 64")
        self.bits = bits
        self._words = bits // 64
        self._delta_limit = max(1, delta_limit)
        # main segment, positions sorted by id
        self._ids: I64 = np.empty(0, dtype=np.int64)
        self._codes: U64 = np.empty((0, self._words), dtype=np.uint64)
        self._alive: Bools = np.empty(0, dtype=np.bool_)
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
        arrays = (self._ids, self._codes, self._alive, self._d_ids, self._d_codes, self._d_alive)
        total = sum(int(a.nbytes) for a in arrays)
        return total + (self._tables.nbytes() if self._tables is not None else 0)

    # -- changes ----------------------------------------------------------------------------

    def add(self, ids: Sequence[int] | npt.NDArray[np.integer], hashes: HashInput) -> None:
        """Add hashes under ``ids``. An id that is already live is refused (remove it first)."""
        id_array = np.asarray(ids, dtype=np.int64).reshape(-1)
        rows = _to_rows(hashes, self._words)
        if len(id_array) != len(rows):
            raise ValueError(f"{len(id_array)} ids for {len(rows)} hashes")
        if not len(id_array):
            return
        if len(np.unique(id_array)) != len(id_array):
            raise ValueError("duplicate ids in one add")
        present = self._live_mask(id_array)
        if present.any():
            raise ValueError(f"id {int(id_array[present][0])} is already in the index")
        if self._d_n + len(id_array) > max(self._delta_limit, self._main_live // 8):
            self._merge(id_array, rows)  # straight into the main segment: no delta copy
        else:
            self._append_delta(id_array, rows)

    def remove(self, ids: Iterable[int] | npt.NDArray[np.integer]) -> int:
        """Stop matching ``ids`` at once; returns how many live entries were removed."""
        id_array = np.unique(np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids))
        id_array = id_array.astype(np.int64)
        removed = 0
        if len(self._ids) and len(id_array):
            pos = np.searchsorted(self._ids, id_array)
            pos = pos[pos < len(self._ids)]
            pos = pos[np.isin(self._ids[pos], id_array)]
            pos = pos[self._alive[pos]]
            self._alive[pos] = False
            self._main_live -= len(pos)
            removed += len(pos)
        if self._d_n and len(id_array):
            hit = np.isin(self._d_ids[: self._d_n], id_array) & self._d_alive[: self._d_n]
            self._d_alive[: self._d_n][hit] = False
            count = int(hit.sum())
            self._d_live -= count
            removed += count
        if len(self._ids) - self._main_live > max(self._delta_limit, self._main_live):
            self.compact()  # more tombstones than live entries: worth a rebuild
        return removed

    def compact(self) -> None:
        """Merge the delta into the main segment and drop removed entries (one O(n) rebuild)."""
        self._merge(np.empty(0, dtype=np.int64), np.empty((0, self._words), dtype=np.uint64))

    def _merge(self, extra_ids: I64, extra_rows: U64) -> None:
        n = self._d_n
        main_ids = self._ids if self._main_live == len(self._ids) else self._ids[self._alive]
        ids = np.concatenate([main_ids, self._d_ids[:n][self._d_alive[:n]], extra_ids])
        main_codes = self._codes if self._main_live == len(self._ids) else self._codes[self._alive]
        # let go of the old arrays before the copies below (peak memory of a 10M build)
        self._ids = np.empty(0, dtype=np.int64)
        self._codes = np.empty((0, self._words), dtype=np.uint64)
        self._tables = None
        codes = np.concatenate([main_codes, self._d_codes[:n][self._d_alive[:n]], extra_rows])
        del main_codes
        order = np.argsort(ids, kind="stable")
        self._ids = ids[order]
        self._codes = np.ascontiguousarray(codes[order])
        self._alive = np.ones(len(self._ids), dtype=np.bool_)
        self._main_live = len(self._ids)
        self._tables = _Tables(self._codes) if len(self._ids) else None
        self._d_ids = np.empty(0, dtype=np.int64)
        self._d_codes = np.empty((0, self._words), dtype=np.uint64)
        self._d_alive = np.empty(0, dtype=np.bool_)
        self._d_n = self._d_live = 0

    def get(self, entry_id: int) -> str | None:
        """The hex hash stored under a live id, or None."""
        if len(self._ids):
            pos = int(np.searchsorted(self._ids, entry_id))
            if pos < len(self._ids) and self._ids[pos] == entry_id and self._alive[pos]:
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
            pos = np.minimum(np.searchsorted(self._ids, ids), len(self._ids) - 1)
            present |= (self._ids[pos] == ids) & self._alive[pos]
        if self._d_n:
            live = self._d_ids[: self._d_n][self._d_alive[: self._d_n]]
            present |= np.isin(ids, live)
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
        found_dist: list[npt.NDArray[np.uint16]] = []
        if self._main_live:
            plan = self._plan(radius, strategy)
            if plan is None:
                pos, dist = _scan(self._codes, self._alive, q, radius)
            else:
                pos, dist = self._probe(q, radius, plan)
            found_ids.append(self._ids[pos])
            found_dist.append(dist)
        if self._d_live:
            pos, dist = _scan(self._d_codes[: self._d_n], self._d_alive[: self._d_n], q, radius)
            found_ids.append(self._d_ids[pos])
            found_dist.append(dist)
        if not found_ids:
            return []
        ids = np.concatenate(found_ids)
        dist = np.concatenate(found_dist)
        order = np.lexsort((ids, dist))
        return list(zip(ids[order].tolist(), dist[order].tolist(), strict=True))

    def search_many(
        self, queries: Sequence[QueryInput] | npt.NDArray[np.uint8], radius: int
    ) -> list[list[tuple[int, int]]]:
        """``search`` for each query, in order."""
        return [self.search(q, radius) for q in queries]

    def _plan(self, radius: int, strategy: Strategy) -> list[int] | None:
        """Per-slot probe radii (-1: slot not probed), or None for a linear scan."""
        tables = self._tables
        if tables is None or strategy == "scan":
            return None
        slots = tables.offsets.shape[0]
        width = tables.key_bits
        need = radius + 1  # sum over slots of (t + 1)
        base, extra = divmod(need, slots)
        plan = [base + (1 if c < extra else 0) - 1 for c in range(slots)]
        if max(plan) >= width:
            return None  # a slot would have to enumerate every key: scanning is no worse
        if strategy == "mih":
            return plan
        probes = sum(_ball_size(width, t) for t in plan if t >= 0)
        candidates = probes * len(self._ids) / (1 << width)
        probe_cost = probes * _COST_PROBE + candidates * _COST_CANDIDATE
        scan_cost = len(self._ids) * (_COST_SCAN_ENTRY + _COST_SCAN_WORD * self._words)
        return plan if probe_cost < scan_cost else None

    def _probe(
        self, q: U64, radius: int, plan: list[int]
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.uint16]]:
        tables = self._tables
        assert tables is not None
        masks, slots, table_base, perm_base = tables.probe_layout(tuple(plan))
        qkeys = tables.query_keys(q)
        keys = (masks ^ qkeys[slots]).astype(np.intp) + table_base
        offsets = tables.offsets.reshape(-1)
        lo = offsets[keys].astype(np.intp)
        counts = offsets[keys + 1].astype(np.intp) - lo
        ends = np.cumsum(counts)
        total = int(ends[-1]) if len(ends) else 0
        if not total:
            return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.uint16)
        # ragged expansion: for each probe, positions lo .. lo + count - 1 of its slot's perm
        shift = np.repeat(perm_base + lo - (ends - counts), counts)
        flat = np.arange(total, dtype=np.intp) + shift
        candidates = np.take(tables.perm.reshape(-1), flat).astype(np.intp)
        pos, dist = _verify(self._codes, self._alive, candidates, q, radius)
        if len(pos) > 1:  # a near hash is found through several slots
            pos, first = np.unique(pos, return_index=True)
            dist = dist[first]
        return pos, dist


def _distances(rows: U64, q: U64) -> npt.NDArray[np.uint16]:
    # XOR against a tiled query: broadcasting a short inner axis is several times slower
    tiled = np.tile(q, len(rows))
    return _popcount_words((rows.reshape(-1) ^ tiled).reshape(rows.shape))


def _verify(
    codes: U64, alive: Bools, candidates: npt.NDArray[np.intp], q: U64, radius: int
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.uint16]]:
    dist = _distances(np.take(codes, candidates, axis=0), q)
    keep = dist <= radius
    keep &= alive[candidates]
    return candidates[keep], dist[keep]


def _scan(
    codes: U64, alive: Bools, q: U64, radius: int
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.uint16]]:
    positions: list[npt.NDArray[np.intp]] = []
    distances: list[npt.NDArray[np.uint16]] = []
    for start in range(0, len(codes), _SCAN_BLOCK):
        dist = _distances(codes[start : start + _SCAN_BLOCK], q)
        keep = np.flatnonzero((dist <= radius) & alive[start : start + _SCAN_BLOCK])
        positions.append(keep + start)
        distances.append(dist[keep])
    if not positions:
        return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.uint16)
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
        all_keys = np.concatenate([self._keys[self._alive], np.array(keys, dtype=self._keys.dtype)])
        all_ids = np.concatenate([self._ids[self._alive], ids])
        order = np.lexsort((all_ids, all_keys))
        self._keys = all_keys[order]
        self._ids = all_ids[order]
        self._alive = np.ones(len(self._ids), dtype=np.bool_)
        self._by_id = np.argsort(self._ids, kind="stable").astype(np.uint32)
        self._main_live = len(self._ids)
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
