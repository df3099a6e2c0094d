"""Robustness at the default thresholds (domain.Thresholds): PDQ match <= 31, near-exact <= 10,
re-oriented <= 24, pHash <= 8. Originals are listed as PNG; reposts are transformed and re-encoded.

Measured with these generators (seeds 0-5, 640 x 480), PDQ distance to the original:
JPEG q50-70: 0-4; resize 50 %: 2-8, 150 %: 0-6; flip via flip_h: 2-8; letterbox/pillarbox (black,
white) via trimmed: 0-6; crop 1 % on all four sides: 12-24. Known limits, not asserted: over seeds
0-11 a 1 % crop on all sides reached 30, 2 % off one side 18-38, 2 % off all four sides 28-52 --
PDQ (like every global hash) stops matching crops of a few percent.
"""

from __future__ import annotations

import functools
import itertools
from statistics import mean

import pytest
from PIL import Image

from monitor.config import HashingSettings
from monitor.domain import HashType, Signals, Thresholds, Variant
from monitor.hashing import compute_signals, hamming
from tests.imagegen import letterbox, photo_like, resize_by, text_only, to_jpeg, to_png
from tests.unit.hashing.helpers import min_pdq_distance, query

T = Thresholds()
SEEDS = range(6)


@functools.cache
def _listed_signals(seed: int) -> Signals:
    return compute_signals(to_png(photo_like(seed)), HashingSettings())


def _listed(seed: int, settings: HashingSettings) -> tuple[Image.Image, Signals]:
    """The original (as a fresh image) and the signals of its listed PNG."""
    assert settings == HashingSettings()  # the cache assumes the defaults
    return photo_like(seed), _listed_signals(seed)


def _pdq(s: Signals) -> str:
    assert s.pdq is not None
    return s.pdq


def _phash(s: Signals) -> str:
    assert s.phash is not None
    return s.phash


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("quality", [50, 60, 70])
def test_jpeg_recompression(seed: int, quality: int, settings: HashingSettings) -> None:
    img, listed = _listed(seed, settings)
    repost = compute_signals(to_jpeg(img, quality), settings)
    assert hamming(_pdq(repost), _pdq(listed)) <= T.pdq_near_exact
    assert hamming(_phash(repost), _phash(listed)) <= T.phash


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("factor", [0.5, 1.5])
def test_resize(seed: int, factor: float, settings: HashingSettings) -> None:
    img, listed = _listed(seed, settings)
    repost = compute_signals(to_jpeg(resize_by(img, factor), 85), settings)
    assert hamming(_pdq(repost), _pdq(listed)) <= T.pdq
    assert hamming(_phash(repost), _phash(listed)) <= T.phash


@pytest.mark.parametrize("seed", SEEDS)
def test_horizontal_flip_matches_through_flip_variant(seed: int, settings: HashingSettings) -> None:
    img, listed = _listed(seed, settings)
    repost = compute_signals(to_jpeg(img.transpose(Image.Transpose.FLIP_LEFT_RIGHT), 85), settings)
    assert hamming(_pdq(repost), _pdq(listed)) > T.pdq  # the plain hash misses it ...
    assert hamming(query(repost, Variant.FLIP_H).value, _pdq(listed)) <= T.pdq_reoriented  # ...


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(
    ("bars", "colour"),
    [((0, 80, 0, 80), 0), ((0, 80, 0, 80), 255), ((100, 0, 100, 0), 0), ((100, 0, 100, 0), 255)],
    ids=["letterbox-black", "letterbox-white", "pillarbox-black", "pillarbox-white"],
)
def test_letterbox_matches_through_trimmed_variant(
    seed: int, bars: tuple[int, int, int, int], colour: int, settings: HashingSettings
) -> None:
    img, listed = _listed(seed, settings)
    repost = compute_signals(to_jpeg(letterbox(img, bars, colour), 70), settings)
    assert hamming(_pdq(repost), _pdq(listed)) > T.pdq  # bars break the plain hash ...
    assert hamming(query(repost, Variant.TRIMMED).value, _pdq(listed)) <= T.pdq  # ... trimming not
    trimmed_phash = query(repost, Variant.TRIMMED, HashType.PHASH).value
    assert hamming(trimmed_phash, _phash(listed)) <= T.phash


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(
    "cut",
    [(0.01, 0.01, 0.01, 0.01), (0.01, 0.01, 0.0, 0.0), (0.0, 0.0, 0.0, 0.01)],
    ids=["1%-all-sides", "1%-left-top", "1%-bottom"],
)
def test_small_crop(
    seed: int, cut: tuple[float, float, float, float], settings: HashingSettings
) -> None:
    img, listed = _listed(seed, settings)
    w, h = img.size
    left, top, right, bottom = cut
    box = (round(w * left), round(h * top), w - round(w * right), h - round(h * bottom))
    repost = compute_signals(to_jpeg(img.crop(box), 85), settings)
    assert hamming(_pdq(repost), _pdq(listed)) <= T.pdq
    assert hamming(_phash(repost), _phash(listed)) <= T.phash


def test_different_images_are_far_apart(settings: HashingSettings) -> None:
    signals = [compute_signals(to_jpeg(photo_like(seed)), settings) for seed in range(100, 110)]
    plain = []
    for a, b in itertools.permutations(signals, 2):
        # every query of one (all 8 orientations) against the other's listed hash
        assert min_pdq_distance(a, _pdq(b)) > T.pdq
        plain.append(hamming(_pdq(a), _pdq(b)))
    assert 100 <= mean(plain) <= 156  # about half of 256 bits: unrelated


TEXTS = [
    "Hello world",
    "Invoice 2291 overdue",
    "Meeting at noon, room 4",
    "PASSWORD RESET CODE 118273",
    "Lorem ipsum dolor sit amet\nconsectetur adipiscing",
    "The quick brown fox jumps\nover the lazy dog\nagain and again",
]


def test_different_text_images_do_not_match(no_gate: HashingSettings) -> None:
    """Text on white is correlated content; with the quality gate open (so that there are queries
    at all) no query of one text image reaches another's listed hash."""
    signals = [compute_signals(to_png(text_only(t)), no_gate) for t in TEXTS]
    for a, b in itertools.permutations(signals, 2):
        assert min_pdq_distance(a, _pdq(b)) > T.pdq
        for q in a.queries:
            if q.hash_type == HashType.PHASH:
                assert hamming(q.value, _phash(b)) > T.phash
