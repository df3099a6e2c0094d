"""JPEG DCT-domain reduced decoding: which scale, what it keeps (sizes, failures, bombs), and how
little it moves the hashes against a full decode, including the matches the core tests assert at
640 x 480, here on photos large enough to be reduced."""

from __future__ import annotations

import io
from collections.abc import Callable

import imagehash
import numpy as np
import pdqhash
import pytest
from PIL import Image

from monitor.config import HashingSettings
from monitor.domain import HashType, Signals, Thresholds, Variant
from monitor.errors import MediaErrorReason
from monitor.hashing import bits_to_hex, compute_signals, decode_image, hamming
from monitor.hashing.signals import REDUCED_MIN_SIDE
from tests.imagegen import cmyk_jpeg, encode, letterbox, photo_like, resize_by, to_jpeg, to_png
from tests.unit.hashing.helpers import query

T = Thresholds()
BIG = (1280, 960)


def _full_decode_hashes(data: bytes) -> tuple[str, str]:
    """PDQ (pdqhash) and pHash (imagehash) of a full decode: the path before reduced decoding."""
    with Image.open(io.BytesIO(data)) as im:
        rgb = im.convert("RGB")
    vector, _ = pdqhash.compute(np.asarray(rgb))
    return bits_to_hex(vector), str(imagehash.phash(rgb))


def _ok(s: Signals) -> Signals:
    assert s.failure is None, s.failure
    assert s.pdq is not None
    assert s.phash is not None
    return s


def _solid_jpeg(size: tuple[int, int]) -> bytes:
    return encode(Image.new("RGB", size, (90, 120, 150)), "JPEG", quality=80)


# --- which scale ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "scale"),
    [
        ((1280, 960), 2),
        ((2560, 1920), 4),
        ((4032, 3024), 8),
        ((960, 1280), 2),
        ((1280, 720), 2),
        ((1279, 511), 1),  # 511 // 2 < 256: a full decode
        ((640, 480), 1),
        ((512, 512), 2),
        ((4096, 300), 1),
        ((3000, 2047), 4),
    ],
    ids=str,
)
def test_scale_keeps_the_shorter_side(
    size: tuple[int, int], scale: int, settings: HashingSettings
) -> None:
    decoded = decode_image(_solid_jpeg(size), settings, min_side=REDUCED_MIN_SIDE)
    assert decoded.scale == scale
    width, height = size
    assert decoded.image.size == (-(-width // scale), -(-height // scale))
    assert min(decoded.image.size) >= min(REDUCED_MIN_SIDE, *size)
    assert (decoded.header.width, decoded.header.height) == size
    assert decoded.image.mode == "RGB"


def test_without_min_side_the_decode_is_full(settings: HashingSettings) -> None:
    decoded = decode_image(_solid_jpeg(BIG), settings)
    assert (decoded.scale, decoded.image.size) == (1, BIG)


@pytest.mark.parametrize(
    "encoder",
    [to_png, lambda im: encode(im, "WEBP", quality=90), lambda im: encode(im, "BMP")],
    ids=["png", "webp", "bmp"],
)
def test_other_formats_decode_in_full(
    encoder: Callable[[Image.Image], bytes], settings: HashingSettings
) -> None:
    decoded = decode_image(encoder(photo_like(1, BIG)), settings, min_side=REDUCED_MIN_SIDE)
    assert (decoded.scale, decoded.image.size) == (1, BIG)


def test_a_full_decode_hashes_exactly_as_before(settings: HashingSettings) -> None:
    """Not reduced (a PNG, a small JPEG): PDQ is pdqhash's and pHash imagehash's, bit for bit."""
    for data in (to_png(photo_like(1, BIG)), to_jpeg(photo_like(1))):
        s = _ok(compute_signals(data, settings))
        assert (s.pdq, s.phash) == _full_decode_hashes(data)


def test_signals_keep_the_original_size(settings: HashingSettings) -> None:
    s = _ok(compute_signals(to_jpeg(photo_like(2, BIG)), settings))
    assert (s.width, s.height, s.mime) == (1280, 960, "image/jpeg")


# --- failures and caps are unchanged ------------------------------------------------------------


def test_truncated_large_jpeg_is_truncated(settings: HashingSettings) -> None:
    data = to_jpeg(photo_like(3, BIG))
    s = compute_signals(data[: len(data) // 2], settings)
    assert s.failure is not None
    assert s.failure.reason == MediaErrorReason.TRUNCATED.value
    assert (s.width, s.height) == BIG
    assert s.pdq is None


def test_corrupt_large_jpeg_is_corrupt_or_truncated(settings: HashingSettings) -> None:
    data = bytearray(to_jpeg(photo_like(3, BIG)))
    start = len(data) // 3
    data[start : start + 2000] = bytes(2000)  # a run of zeros inside the entropy-coded data
    s = compute_signals(bytes(data), settings)
    # libjpeg may recover from damaged scan data (with a warning) or give up; never a crash
    if s.failure is not None:
        assert s.failure.reason in {
            MediaErrorReason.CORRUPT.value,
            MediaErrorReason.TRUNCATED.value,
        }


def test_pixel_cap_applies_to_the_original_size() -> None:
    """A JPEG over max_pixels is refused even though its reduced decode would be small."""
    data = _solid_jpeg((2560, 1920))
    tight = HashingSettings(max_pixels=2560 * 1920 - 1)
    s = compute_signals(data, tight)
    assert s.failure is not None
    assert s.failure.reason == MediaErrorReason.TOO_MANY_PIXELS.value
    assert compute_signals(data, HashingSettings(max_pixels=2560 * 1920)).failure is None


# --- drift against a full decode ----------------------------------------------------------------


@pytest.mark.parametrize("size", [(1280, 960), (1366, 1024), (1283, 721)], ids=str)
def test_drift_against_a_full_decode_is_small(size: tuple[int, int]) -> None:
    """Decoded at 1/2, 1/4 and 1/2 with partial blocks. The benchmark measures more images
    (about: PDQ median 0 bits, at most 2; pHash at most 2); the bounds here leave room."""
    settings = HashingSettings()
    for seed in range(2):
        data = to_jpeg(photo_like(seed, size), 87)
        ours = _ok(compute_signals(data, settings))
        full_pdq, full_phash = _full_decode_hashes(data)
        assert ours.pdq is not None
        assert ours.phash is not None
        assert hamming(ours.pdq, full_pdq) <= 6, seed
        assert hamming(ours.phash, full_phash) <= 4, seed


@pytest.mark.parametrize(
    "encoder",
    [
        lambda im: encode(im, "JPEG", quality=85, progressive=True),
        lambda im: encode(im.convert("L"), "JPEG", quality=85),
        cmyk_jpeg,
        lambda im: encode(im, "JPEG", quality=95, subsampling=0),
    ],
    ids=["progressive", "grey", "cmyk", "4:4:4"],
)
def test_jpeg_variants_are_reduced_and_close(
    encoder: Callable[[Image.Image], bytes], settings: HashingSettings
) -> None:
    data = encoder(photo_like(4, BIG))
    assert decode_image(data, settings, min_side=REDUCED_MIN_SIDE).scale == 2
    ours = _ok(compute_signals(data, settings))
    full_pdq, full_phash = _full_decode_hashes(data)
    assert ours.pdq is not None
    assert ours.phash is not None
    assert hamming(ours.pdq, full_pdq) <= 6
    assert hamming(ours.phash, full_phash) <= 4


# --- the core matches, on photos that are decoded reduced ---------------------------------------


def _listed(seed: int) -> Signals:
    """The original as a lossless PNG: decoded in full, so it is the reference."""
    return _ok(compute_signals(to_png(photo_like(seed, BIG)), HashingSettings()))


@pytest.mark.parametrize("seed", range(3))
def test_recompressed_repost_is_near_exact(seed: int, settings: HashingSettings) -> None:
    listed = _listed(seed)
    for quality in (50, 70):
        repost = _ok(compute_signals(to_jpeg(photo_like(seed, BIG), quality), settings))
        assert hamming(repost.pdq or "", listed.pdq or "") <= T.pdq_near_exact
        assert hamming(repost.phash or "", listed.phash or "") <= T.phash


@pytest.mark.parametrize("seed", range(3))
def test_resized_and_mirrored_reposts_match(seed: int, settings: HashingSettings) -> None:
    listed = _listed(seed)
    img = photo_like(seed, BIG)
    smaller = _ok(compute_signals(to_jpeg(resize_by(img, 0.5), 85), settings))  # not reduced
    assert hamming(smaller.pdq or "", listed.pdq or "") <= T.pdq
    mirrored = _ok(
        compute_signals(to_jpeg(img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)), settings)
    )
    assert hamming(query(mirrored, Variant.FLIP_H).value, listed.pdq or "") <= T.pdq_reoriented


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize(
    ("bars", "colour"),
    [((0, 161, 0, 159), 0), ((201, 0, 199, 0), 255), ((37, 37, 37, 37), 0)],
    ids=["letterbox-black", "pillarbox-white", "frame-odd"],
)
def test_bordered_repost_matches_through_trimmed(
    seed: int, bars: tuple[int, int, int, int], colour: int, settings: HashingSettings
) -> None:
    """Bars whose edges fall inside a decoded block are still trimmed well enough to match."""
    listed = _listed(seed)
    framed = letterbox(photo_like(seed, BIG), bars, colour)
    data = to_jpeg(framed, 70)
    assert decode_image(data, settings, min_side=REDUCED_MIN_SIDE).scale > 1
    repost = _ok(compute_signals(data, settings))
    assert repost.trimmed
    assert hamming(query(repost, Variant.TRIMMED).value, listed.pdq or "") <= T.pdq
    trimmed_phash = query(repost, Variant.TRIMMED, HashType.PHASH).value
    assert hamming(trimmed_phash, listed.phash or "") <= T.phash


def test_different_large_photos_are_far_apart(settings: HashingSettings) -> None:
    signals = [_ok(compute_signals(to_jpeg(photo_like(s, BIG)), settings)) for s in range(3)]
    for a in signals:
        for b in signals:
            if a is not b:
                distances = [
                    hamming(q.value, b.pdq or "") for q in a.queries if q.hash_type == HashType.PDQ
                ]
                assert min(distances) > T.pdq
