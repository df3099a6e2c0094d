"""The media-id cache keeps images packed; what comes out is exactly what went in."""

from __future__ import annotations

from dataclasses import replace

from monitor.config import HashingSettings
from monitor.domain import (
    FrameHash,
    HashFailure,
    HashType,
    QueryHash,
    Signals,
    Variant,
    VideoSignals,
)
from monitor.hashing import compute_signals
from monitor.synthetic import letterbox, photo_like, to_jpeg
from monitor.telegram.processor import SignalsCache

SHA = "ab" * 32
MD5 = "cd" * 16


def test_photos_come_back_identical() -> None:
    settings = HashingSettings()
    photos = [
        compute_signals(to_jpeg(photo_like(seed, (320, 240)), 85), settings) for seed in (1, 2)
    ]
    boxed = compute_signals(
        to_jpeg(letterbox(photo_like(3, (320, 240)), (0, 40, 0, 40)), 85), settings
    )
    assert boxed.trimmed  # trimmed variants too
    cache = SignalsCache(10)
    for n, signals in enumerate([*photos, boxed]):
        cache.put(n, signals)
    assert [cache.get(n) for n in range(3)] == [*photos, boxed]


def test_odd_signals_come_back_identical() -> None:
    failed = Signals(SHA, MD5, 10, failure=HashFailure("corrupt_image", "truncated"))
    no_phash = Signals(
        SHA,
        MD5,
        10,
        mime="image/png",
        width=1,
        height=2,
        pdq="0f" * 32,
        pdq_quality=40,
        queries=(QueryHash(HashType.PDQ, "0f" * 32, Variant.ORIGINAL, 40),),
    )
    upper = replace(no_phash, pdq="0F" * 32)  # not what hashing makes: kept as it is
    video = VideoSignals(SHA, MD5, 10, frames=(FrameHash(0.0, 0.0, "0f" * 32, 90),)).as_signals()
    cache = SignalsCache(10)
    for n, signals in enumerate((failed, no_phash, upper, video)):
        cache.put(n, signals)
    assert cache.get(0) == failed
    assert cache.get(1) == no_phash
    assert cache.get(2) == upper
    assert cache.get(3) is video


def test_the_least_recently_used_go_first() -> None:
    cache = SignalsCache(2)
    a, b, c = (Signals(f"{n:064x}", MD5, n) for n in range(3))
    cache.put(1, a)
    cache.put(2, b)
    assert cache.get(1) == a  # 1 is now the most recent
    cache.put(3, c)
    assert len(cache) == 2
    assert cache.get(2) is None
    assert (cache.get(1), cache.get(3)) == (a, c)
    off = SignalsCache(0)
    off.put(1, a)
    assert off.get(1) is None
