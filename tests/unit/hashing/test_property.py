"""Property: whatever the bytes, compute_signals returns Signals or raises MediaError(EMPTY or
TOO_LARGE); nothing else escapes, and the exact hashes are always there."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.config import HashingSettings
from monitor.domain import Signals
from monitor.errors import MediaError, MediaErrorReason
from monitor.hashing import compute_signals
from tests.imagegen import (
    animated_gif,
    encode,
    photo_like,
    png_16bit_grey,
    rgba_png,
    to_bmp,
    to_jpeg,
    to_png,
    to_tiff,
    to_webp,
)

# Small caps keep every example fast: a mutated header cannot make us decode a large image.
LIMITS = HashingSettings(max_bytes=64 * 1024, max_pixels=256 * 256)

_SMALL = photo_like(41, (48, 36))
SEEDS: list[bytes] = [
    to_jpeg(_SMALL),
    encode(_SMALL, "JPEG", quality=80, progressive=True),
    to_png(_SMALL),
    rgba_png(_SMALL),
    png_16bit_grey(_SMALL),
    animated_gif([_SMALL, photo_like(42, (48, 36))]),
    to_webp(_SMALL),
    to_bmp(_SMALL),
    to_tiff(_SMALL),
]


# JPEGs large enough to be decoded reduced in the DCT domain (shorter side >= 2 x 256).
REDUCED_LIMITS = HashingSettings(max_bytes=256 * 1024, max_pixels=640 * 640)
_LARGER = photo_like(43, (600, 520))
REDUCED_SEEDS: list[bytes] = [
    to_jpeg(_LARGER),
    encode(_LARGER, "JPEG", quality=80, progressive=True),
    encode(_LARGER.convert("L"), "JPEG", quality=80),
]


def _check(data: bytes, limits: HashingSettings = LIMITS) -> None:
    if not data or len(data) > limits.max_bytes:
        expected = MediaErrorReason.EMPTY if not data else MediaErrorReason.TOO_LARGE
        with pytest.raises(MediaError) as err:
            compute_signals(data, limits)
        assert err.value.reason is expected
        return
    s = compute_signals(data, limits)  # anything raised here fails the property
    assert isinstance(s, Signals)
    assert s.sha256 == hashlib.sha256(data).hexdigest()
    assert s.size_bytes == len(data)
    if s.failure is None:
        assert s.pdq is not None
        assert len(s.pdq) == 64
        assert s.phash is not None
        assert len(s.phash) == 16
    else:
        assert s.pdq is None
        assert s.queries == ()


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes] = SEEDS) -> bytes:
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "delete", "header"]))
        if not data:
            break
        pos = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "header":  # aim at the first bytes, where sizes and lengths live
            pos = draw(st.integers(0, min(63, len(data) - 1)))
            data[pos] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[pos:]
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        else:
            del data[pos : pos + draw(st.integers(1, 64))]
    return bytes(data)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_arbitrary_bytes(data: bytes) -> None:
    _check(data)


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow's "corrupt EXIF" and the like
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_images(data: bytes) -> None:
    _check(data)


def test_seeds_are_valid_images() -> None:
    """The mutation seeds decode when left alone (so the property test mutates real images)."""
    for data in SEEDS:
        assert compute_signals(data, LIMITS).failure is None
    for data in REDUCED_SEEDS:
        assert compute_signals(data, REDUCED_LIMITS).failure is None


@pytest.mark.filterwarnings("ignore::UserWarning")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(REDUCED_SEEDS))
def test_mutated_jpegs_on_the_reduced_decode(data: bytes) -> None:
    """The same property where the JPEG decoder scales in the DCT domain (Pillow's draft)."""
    _check(data, REDUCED_LIMITS)


@pytest.mark.filterwarnings("error")
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_images_with_warnings_as_errors(data: bytes) -> None:
    """Pillow warns about some damaged files (corrupt EXIF ...); configured to raise, those
    warnings become failures of the file, never exceptions out of compute_signals."""
    _check(data)
