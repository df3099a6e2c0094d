import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.matching.index import BinaryIndex, ExactIndex, hash_words, unique_ids

Bytes = npt.NDArray[np.uint8]


def random_hashes(rng: np.random.Generator, n: int, bits: int) -> Bytes:
    return rng.integers(0, 256, size=(n, bits // 8), dtype=np.uint8)


def flip(row: Bytes, count: int, rng: np.random.Generator) -> Bytes:
    bits = np.unpackbits(row)
    bits[rng.choice(len(bits), size=count, replace=False)] ^= 1
    return np.packbits(bits)


def brute(ids: list[int], data: Bytes, query: Bytes, radius: int) -> list[tuple[int, int]]:
    if not len(data):
        return []
    dist = (np.unpackbits(data, axis=1) != np.unpackbits(query)).sum(axis=1)
    found = [(ids[i], int(dist[i])) for i in np.flatnonzero(dist <= radius)]
    return sorted(found, key=lambda pair: (pair[1], pair[0]))


def hexes(data: Bytes) -> list[str]:
    return [bytes(row).hex() for row in data]


STRATEGIES = ["auto", "mih", "scan"]


@pytest.mark.parametrize("bits", [64, 256])
@pytest.mark.parametrize("size", [0, 1, 2, 1000])
def test_small_sizes_match_brute_force(bits: int, size: int) -> None:
    rng = np.random.default_rng(size + bits)
    data = random_hashes(rng, size, bits)
    index = BinaryIndex(bits)
    index.add(list(range(10, 10 + size)), hexes(data))
    index.compact()
    assert len(index) == size
    queries = [flip(row, k, rng) for row in data[:5] for k in (0, 3, bits // 8)]
    queries.append(random_hashes(rng, 1, bits)[0])
    ids = list(range(10, 10 + size))
    for query in queries:
        for radius in (0, 4, bits // 8, bits // 2, bits):
            expected = brute(ids, data, query, radius)
            for strategy in STRATEGIES:
                assert index.search(query, radius, strategy=strategy) == expected


def test_single_entry_index_finds_it() -> None:
    """ThreatExchange #1318: an index of exactly one hash returned nothing."""
    value = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
    for compacted in (False, True):
        index = BinaryIndex(256)
        index.add([7], [value])
        if compacted:
            index.compact()
        assert index.search(value, 0) == [(7, 0)]
        assert index.search(value.upper(), 31) == [(7, 0)]


@pytest.mark.parametrize(("bits", "radius"), [(256, 31), (64, 8)])
def test_planted_neighbours_at_every_distance(bits: int, radius: int) -> None:
    rng = np.random.default_rng(bits)
    base = random_hashes(rng, 50_000, bits)
    query = random_hashes(rng, 1, bits)[0]
    planted = np.stack([flip(query, d, rng) for d in range(radius + 2)])
    data = np.concatenate([base, planted])
    ids = list(range(len(data)))
    index = BinaryIndex(bits)
    index.add(ids, data)
    expected = brute(ids, data, query, radius)
    planted_ids = {50_000 + d: d for d in range(radius + 2)}
    found = dict(index.search(query, radius, strategy="mih"))
    for entry_id, distance in planted_ids.items():
        if distance <= radius:
            assert found[entry_id] == distance
        else:
            assert entry_id not in found  # radius + 1 is excluded: <= is inclusive, no more
    for strategy in STRATEGIES:
        assert index.search(query, radius, strategy=strategy) == expected
    assert index.search(query, radius + 1)[-1][1] == radius + 1


@pytest.mark.parametrize("bits", [64, 256])
def test_large_random_index_matches_brute_force(bits: int) -> None:
    rng = np.random.default_rng(99)
    n = 300_000
    data = random_hashes(rng, n, bits)
    ids = rng.permutation(n * 3)[:n].tolist()  # sparse, unordered ids
    index = BinaryIndex(bits)
    index.add(ids, data)
    assert index._tables is not None
    radii = (0, 8, 31, 64) if bits == 256 else (0, 4, 8, 12)
    for row in rng.integers(0, n, size=4):
        for radius in radii:
            query = flip(data[row], min(radius, 20), rng)
            expected = brute(ids, data, query, radius)
            assert index.search(query, radius) == expected
            assert index.search(query, radius, strategy="mih") == expected
    assert index.memory_bytes() >= data.nbytes


def test_large_radius_falls_back_to_scan() -> None:
    rng = np.random.default_rng(3)
    data = random_hashes(rng, 5000, 256)
    index = BinaryIndex(256)
    index.add(range(5000), data)
    index.compact()
    assert index._plan(200, "auto") is None
    assert index._plan(31, "mih") is not None
    expected = brute(list(range(5000)), data, data[0], 120)
    assert index.search(data[0], 120) == expected
    assert len(index.search(data[0], 256)) == 5000


def test_complement_is_at_distance_256() -> None:
    index = BinaryIndex(256)
    value = "0f" * 32
    index.add([1, 2], [value, "f0" * 32])
    index.compact()
    assert index.search(value, 255) == [(1, 0)]
    assert index.search(value, 256) == [(1, 0), (2, 256)]


def test_add_after_build_and_remove() -> None:
    rng = np.random.default_rng(5)
    data = random_hashes(rng, 3000, 256)
    index = BinaryIndex(256, delta_limit=100)
    index.add(range(2000), data[:2000])
    index.compact()
    index.add(range(2000, 2050), data[2000:2050])  # stays in the delta
    assert index._d_n == 50
    assert index.search(data[2010], 0) == [(2010, 0)]
    index.add(range(2050, 3000), data[2050:])  # large batch: merged
    assert index._d_n == 0
    assert len(index) == 3000
    for i in (0, 1999, 2010, 2999):
        assert index.search(data[i], 0) == [(i, 0)]
    assert index.remove([5, 2010, 2999, 123456]) == 3
    assert len(index) == 2997
    for i in (5, 2010, 2999):
        assert index.search(data[i], 31, strategy="mih") == []
        assert index.search(data[i], 31, strategy="scan") == []
        assert index.get(i) is None
    assert index.remove([5]) == 0
    index.add([5], data[5:6])  # re-adding a removed id
    assert index.search(data[5], 0) == [(5, 0)]
    assert index.get(5) == bytes(data[5]).hex()
    index.compact()
    assert index.search(data[5], 0) == [(5, 0)]
    assert index.search(data[2010], 0) == []
    assert len(index) == 2998


def test_remove_in_delta() -> None:
    index = BinaryIndex(64)
    index.add([1, 2], ["0123456789abcdef", "0123456789abcdee"])
    assert index.remove([1]) == 1
    assert index.search("0123456789abcdef", 2) == [(2, 1)]
    assert len(index) == 1


def test_duplicate_hashes_under_distinct_ids_are_all_returned() -> None:
    value = "ab" * 8
    index = BinaryIndex(64)
    index.add([3, 1, 2], [value, value, value])
    assert index.search(value, 0) == [(1, 0), (2, 0), (3, 0)]
    index.compact()
    for strategy in STRATEGIES:
        assert index.search(value, 0, strategy=strategy) == [(1, 0), (2, 0), (3, 0)]


def test_add_refuses_bad_input() -> None:
    index = BinaryIndex(64)
    index.add([1], ["ab" * 8])
    with pytest.raises(ValueError, match="already in the index"):
        index.add([1], ["cd" * 8])
    with pytest.raises(ValueError, match="duplicate ids"):
        index.add([2, 2], ["cd" * 8, "ce" * 8])
    with pytest.raises(ValueError, match="16 hex characters"):
        index.add([3], ["ab" * 7])
    with pytest.raises(ValueError, match="hexadecimal"):
        index.add([3], ["zz" * 8])
    with pytest.raises(ValueError, match="ids for"):
        index.add([3, 4], ["ab" * 8])
    with pytest.raises(ValueError, match="radius"):
        index.search("ab" * 8, 65)
    with pytest.raises(ValueError, match="multiple of 64"):
        BinaryIndex(100)
    assert len(index) == 1


def test_search_many_and_byte_queries() -> None:
    rng = np.random.default_rng(8)
    data = random_hashes(rng, 100, 256)
    index = BinaryIndex(256)
    index.add(range(100), data)
    results = index.search_many([data[3], bytes(data[4]), bytes(data[5]).hex()], 0)
    assert results == [[(3, 0)], [(4, 0)], [(5, 0)]]


@settings(max_examples=60, deadline=None)
@given(
    bits=st.sampled_from([64, 256]),
    seed=st.integers(0, 2**32 - 1),
    size=st.integers(0, 400),
    radius=st.integers(0, 256),
    removed=st.integers(0, 50),
    compact=st.booleans(),
)
def test_property_matches_brute_force(
    bits: int, seed: int, size: int, radius: int, removed: int, compact: bool
) -> None:
    radius = min(radius, bits)
    rng = np.random.default_rng(seed)
    data = random_hashes(rng, size, bits)
    if size > 4:  # clustered data: many near neighbours
        data[size // 2 :] = np.stack(
            [flip(data[0], int(k), rng) for k in rng.integers(0, bits // 4, size - size // 2)]
        )
    ids = list(range(size))
    index = BinaryIndex(bits, delta_limit=64)
    index.add(ids, data)
    gone = set(rng.choice(size, size=min(removed, size), replace=False).tolist()) if size else set()
    index.remove(gone)
    if compact:
        index.compact()
    keep = [i for i in ids if i not in gone]
    query = flip(data[0], min(radius, bits // 8), rng) if size else random_hashes(rng, 1, bits)[0]
    expected = brute(keep, data[keep], query, radius)
    for strategy in STRATEGIES:
        assert index.search(query, radius, strategy=strategy) == expected


def test_exact_index() -> None:
    a, b = "00" * 31 + "01", "ab" * 32
    index = ExactIndex(32, delta_limit=2)
    index.add([1, 2], [a, b])
    index.add([3], [b])  # merged into the sorted arrays
    assert index.lookup(b.upper()) == [2, 3]
    assert index.lookup(a) == [1]
    assert index.lookup("cd" * 32) == []
    assert index.lookup("nonsense") == []
    assert index.remove([2, 99]) == 1
    assert index.lookup(b) == [3]
    assert len(index) == 2
    with pytest.raises(ValueError, match="already in the index"):
        index.add([1], [b])
    index.add([2], [a])
    assert index.lookup(a) == [1, 2]
    index.compact()
    assert index.lookup(a) == [1, 2]
    assert index.remove([1, 2, 3]) == 3
    assert len(index) == 0
    assert index.lookup(a) == []


def clustered_hashes(rng: np.random.Generator, n: int, bits: int, centres: int) -> Bytes:
    """Near copies of a few centres (uneven buckets), a few bits flipped in each."""
    base = random_hashes(rng, centres, bits)
    rows = base[rng.integers(0, centres, size=n)]
    unpacked = np.unpackbits(rows, axis=1)
    flips = rng.integers(0, bits, size=(n, bits // 16))
    for column in range(flips.shape[1]):
        unpacked[np.arange(n), flips[:, column]] ^= 1
    return np.packbits(unpacked, axis=1)


@pytest.mark.parametrize(("bits", "radius"), [(256, 31), (256, 24), (256, 10), (64, 8), (64, 5)])
def test_clustered_list_matches_brute_force(bits: int, radius: int) -> None:
    """Clusters of near copies make buckets uneven: the per-query choice of probe radii
    (the widest ring goes to the slots with the lightest buckets) must stay exact."""
    rng = np.random.default_rng(bits + radius)
    data = clustered_hashes(rng, 60_000, bits, centres=40)
    ids = list(range(len(data)))
    index = BinaryIndex(bits)
    index.add(ids, data)
    assert index._plan(radius, "auto") is not None  # probed, not scanned
    queries = [flip(data[row], d, rng) for row in rng.integers(0, len(data), 6) for d in (0, 9)]
    queries += [flip(data[0], radius, rng), random_hashes(rng, 1, bits)[0]]
    for query in queries:
        expected = brute(ids, data, query, radius)
        assert index.search(query, radius) == expected
        assert index.search(query, radius, strategy="mih") == expected


def test_huge_buckets_fall_back_to_a_scan() -> None:
    """A list of one hash many times over: probing would read every entry anyway."""
    value = random_hashes(np.random.default_rng(1), 1, 256)
    data = np.repeat(value, 5000, axis=0)
    index = BinaryIndex(256)
    index.add(range(5000), data)
    found = index.search(value[0], 31)
    assert found == [(i, 0) for i in range(5000)]
    assert index.search(value[0], 31, strategy="mih") == found


@pytest.mark.parametrize(
    "ids",
    [
        [3, 10**15, 2**62, -5, 7],  # too far apart for 32-bit offsets
        [10**12 + i for i in range(5)],  # large, but close together
    ],
)
def test_sparse_large_and_negative_ids(ids: list[int]) -> None:
    rng = np.random.default_rng(2)
    data = random_hashes(rng, len(ids), 64)
    index = BinaryIndex(64)
    index.add(ids, data)
    index.compact()
    for entry_id, row in zip(ids, data, strict=True):
        assert index.search(row, 0) == [(entry_id, 0)]
        assert index.get(entry_id) == bytes(row).hex()
    assert index.get(10**15 + 1) is None
    assert index.get(-(2**63)) is None
    assert index.remove([ids[0], 123]) == 1
    assert index.search(data[0], 0) == []
    with pytest.raises(ValueError, match="already in the index"):
        index.add([ids[1]], data[1:2])


def test_hash_words_are_accepted_as_they_are() -> None:
    rng = np.random.default_rng(4)
    data = random_hashes(rng, 500, 256)
    by_bytes, by_words = BinaryIndex(256), BinaryIndex(256)
    by_bytes.add(range(500), data)
    by_words.add(range(500), hash_words(data))
    for row in data[:20]:
        assert by_words.search(row, 31) == by_bytes.search(row, 31)
    with pytest.raises(ValueError, match="word array"):
        by_words.add([900], hash_words(random_hashes(rng, 1, 64)))


def test_adding_one_entry_does_not_rebuild() -> None:
    rng = np.random.default_rng(6)
    data = random_hashes(rng, 20_001, 256)
    index = BinaryIndex(256)
    index.add(range(20_000), data[:20_000])
    tables = index._tables
    index.add([20_000], data[20_000:])
    assert index._tables is tables  # the main segment is untouched
    assert index.search(data[20_000], 0) == [(20_000, 0)]
    index.remove([20_000])
    assert index._tables is tables
    assert index.search(data[20_000], 31) == []


def test_unique_ids() -> None:
    assert unique_ids(np.array([5, 1, 5, 3, 1], dtype=np.int64)).tolist() == [1, 3, 5]
    assert unique_ids(np.array([1, 2, 3], dtype=np.int64)).tolist() == [1, 2, 3]
    assert unique_ids(np.array([], dtype=np.int64)).tolist() == []


def test_exact_index_bulk_add() -> None:
    rng = np.random.default_rng(7)
    raw = rng.integers(0, 256, size=(1000, 16), dtype=np.uint8)
    raw[5] = raw[6]  # the same hash under two ids
    raw[7, 15] = 0  # a trailing zero byte
    index = ExactIndex(16)
    index.add([5000], ["ab" * 16])
    index.add_bytes(np.arange(1000, dtype=np.int64), raw)
    assert len(index) == 1001
    assert index.lookup(bytes(raw[5]).hex()) == [5, 6]
    assert index.lookup(bytes(raw[7]).hex()) == [7]
    assert index.lookup("ab" * 16) == [5000]
    with pytest.raises(ValueError, match="already in the index"):
        index.add_bytes(np.array([3], dtype=np.int64), raw[:1])
    assert index.remove([5]) == 1
    assert index.lookup(bytes(raw[5]).hex()) == [6]
