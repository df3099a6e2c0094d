"""PDQ: the hex string matches the reference tools' format, and the dihedral variants are mapped
to the right orientation (established by transforming images, not by trusting names)."""

from __future__ import annotations

import numpy as np
import pdqhash
import pytest
from PIL import Image

from monitor.config import HashingSettings
from monitor.domain import Variant
from monitor.hashing import (
    DIHEDRAL_ORDER,
    ORIENTATION_TRANSPOSE,
    ORIENTATIONS,
    bits_to_hex,
    compute_signals,
    decode_image,
    hamming,
    pdq_hashes,
)
from tests.imagegen import photo_like, to_png
from tests.unit.hashing.helpers import query

# --- hex order ----------------------------------------------------------------------------------


def _reference_format(vector: np.ndarray) -> str:
    """Emulates the C++ reference: ``Hash256::format()`` prints words w[15]..w[0] as %04hx.

    pdqhash's ``hash_to_vector`` builds the vector as ``[bit(k) for k in 0..255][::-1]`` where
    ``bit(k) = (w[k >> 4] >> (k & 15)) & 1``; so the words are recovered from the vector by
    ``bit(k) = vector[255 - k]``.
    """
    words = [0] * 16
    for k in range(256):
        if vector[255 - k]:
            words[k >> 4] |= 1 << (k & 15)
    return "".join(f"{words[i]:04x}" for i in range(15, -1, -1))


def _threatexchange_hex(vector: np.ndarray) -> str:
    """python-threatexchange's pdq_hasher: join the bits, read as one big-endian binary number."""
    bits = "".join(str(int(b)) for b in vector)
    return f"{int(bits, 2):0{(len(bits) + 3) // 4}x}"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hex_matches_reference_format(seed: int) -> None:
    pixels = np.asarray(photo_like(seed))
    vector, _ = pdqhash.compute(pixels)
    ours = bits_to_hex(vector)
    assert ours == _reference_format(vector)
    assert ours == _threatexchange_hex(vector)
    assert len(ours) == 64
    assert ours == ours.lower()


def test_bit_positions() -> None:
    first = np.zeros(256, dtype=np.int64)
    first[0] = 1  # vector[0] is hash bit 255: the top bit of w[15], the first hex digit
    assert bits_to_hex(first) == "8" + "0" * 63
    last = np.zeros(256, dtype=np.int64)
    last[255] = 1  # hash bit 0: the bottom bit of w[0], the last hex digit
    assert bits_to_hex(last) == "0" * 63 + "1"
    with pytest.raises(ValueError, match="256"):
        bits_to_hex(np.zeros(255))


def test_signals_pdq_is_pdqhash_of_decoded_pixels(settings: HashingSettings) -> None:
    data = to_png(photo_like(8))
    decoded = decode_image(data, settings)
    vector, quality = pdqhash.compute(np.asarray(decoded.image))
    s = compute_signals(data, settings)
    assert s.pdq == bits_to_hex(vector)
    assert s.pdq_quality == quality


def test_dihedral_identity_equals_plain_hash() -> None:
    pixels = np.asarray(photo_like(9))
    assert pdq_hashes(pixels, dihedral=True).original == pdq_hashes(pixels, dihedral=False).original


# --- dihedral mapping ---------------------------------------------------------------------------

REORIENTED = [v for v in ORIENTATIONS if v is not Variant.ORIGINAL]


@pytest.mark.parametrize("size", [(640, 480), (512, 512), (300, 420)], ids=str)
@pytest.mark.parametrize("seed", [11, 12])
def test_dihedral_variant_is_hash_of_transformed_image(seed: int, size: tuple[int, int]) -> None:
    """Variant V's hash is (nearly) the plain hash of the image transposed by V, and far from
    every other variant: so the mapping cannot be off by a swap.

    "Nearly": PDQ's dihedral hashes are sign patterns of one DCT, and its box filter is not
    symmetric when a side gives it an even window, so they differ from hashing the transformed
    pixels by up to ~28 bits at 512 x 512 (0 at 800 x 800, <= 16 at 640 x 480). The reference C++
    behaves the same (pdqhash's own tests allow it).
    """
    img = photo_like(seed, size)
    variants = pdq_hashes(np.asarray(img), dihedral=True).hashes
    assert list(variants) == list(ORIENTATIONS)
    for variant in REORIENTED:
        method = ORIENTATION_TRANSPOSE[variant]
        assert method is not None
        plain = pdq_hashes(np.asarray(img.transpose(method)), dihedral=False).original
        distances = {v: hamming(plain, h) for v, h in variants.items()}
        nearest = min(distances, key=lambda v: distances[v])
        assert nearest is variant, (variant, distances)
        assert distances[variant] <= 32, (variant, distances)
        assert min(d for v, d in distances.items() if v is not variant) >= 64, distances


def test_dihedral_order_is_a_permutation() -> None:
    assert sorted(DIHEDRAL_ORDER) == sorted(ORIENTATIONS)
    assert DIHEDRAL_ORDER[0] is Variant.ORIGINAL
    assert ORIENTATION_TRANSPOSE[Variant.ORIGINAL] is None


@pytest.mark.parametrize(
    ("posted", "matched_through"),
    [
        (Image.Transpose.FLIP_LEFT_RIGHT, Variant.FLIP_H),
        (Image.Transpose.FLIP_TOP_BOTTOM, Variant.FLIP_V),
        (Image.Transpose.ROTATE_90, Variant.ROT270),  # undo a 90 degree turn with a 270 one
        (Image.Transpose.ROTATE_270, Variant.ROT90),
        (Image.Transpose.ROTATE_180, Variant.ROT180),
        (Image.Transpose.TRANSPOSE, Variant.TRANSPOSE),
        (Image.Transpose.TRANSVERSE, Variant.TRANSVERSE),
    ],
)
def test_reposted_transformed_image_matches_through_inverse_variant(
    posted: Image.Transpose, matched_through: Variant, settings: HashingSettings
) -> None:
    """A list holds the original; the repost is transformed. The repost's variant that undoes the
    transform lands within the re-oriented threshold of the list entry."""
    img = photo_like(13)
    listed = compute_signals(to_png(img), settings)
    repost = compute_signals(to_png(img.transpose(posted)), settings)
    assert listed.pdq is not None
    assert repost.pdq is not None
    assert hamming(repost.pdq, listed.pdq) > 31
    assert hamming(query(repost, matched_through).value, listed.pdq) <= 24


# --- the numpy port against the reference C++ (pdqhash) -----------------------------------------

PORT_SIZES = [
    (640, 480),
    (480, 640),
    (900, 700),
    (300, 200),
    (512, 511),
    (97, 1234),
    (2000, 30),
    (129, 257),
    (64, 64),
    (63, 65),
    (5, 7),
    (4, 100),
    (100, 4),
    (1, 1),
]


@pytest.mark.parametrize("size", PORT_SIZES, ids=str)
def test_port_equals_pdqhash_in_every_orientation(size: tuple[int, int]) -> None:
    """Bit for bit, all eight orientations and the quality, on many sizes (under 5 pixels on a
    side the reference hashes to zeros with quality 0)."""
    for seed in range(4):
        pixels = np.asarray(photo_like(seed, size))
        vectors, quality = pdqhash.compute_dihedral(pixels)
        ours = pdq_hashes(pixels, dihedral=True)
        reference = {v: bits_to_hex(vec) for v, vec in zip(DIHEDRAL_ORDER, vectors, strict=True)}
        assert ours.hashes == {v: reference[v] for v in ORIENTATIONS}, (seed, size)
        assert ours.quality == quality, (seed, size)
        vector, plain_quality = pdqhash.compute(pixels)
        plain = pdq_hashes(pixels, dihedral=False)
        assert plain.hashes == {Variant.ORIGINAL: bits_to_hex(vector)}
        assert plain.quality == plain_quality


def test_port_equals_pdqhash_on_noise_and_text() -> None:
    rng = np.random.default_rng(7)
    cases = [
        rng.integers(0, 256, size=(480, 640, 3), dtype=np.uint8),
        np.asarray(to_png_pixels_of_text()),
    ]
    for pixels in cases:
        vector, quality = pdqhash.compute(pixels)
        ours = pdq_hashes(pixels, dihedral=False)
        assert (ours.original, ours.quality) == (bits_to_hex(vector), quality)


def to_png_pixels_of_text() -> Image.Image:
    from tests.imagegen import text_only

    return text_only("The quick brown fox jumps\nover the lazy dog\nagain and again").convert("RGB")


def test_reduced_scale_uses_the_original_geometry() -> None:
    """One pixel per 2 x 2 block (their mean, as a DCT-domain decode gives it) hashes within a
    few bits of the full picture; hashing the small array as if it were the whole picture
    moves further."""
    for seed in range(3):
        full = np.asarray(photo_like(seed, (1280, 960)))
        blocks = full.reshape(480, 2, 640, 2, 3).mean(axis=(1, 3)).round().astype(np.uint8)
        reference = pdq_hashes(full, dihedral=False)
        reduced = pdq_hashes(blocks, dihedral=False, scale=2, extent=(1280, 960))
        assert hamming(reduced.original, reference.original) <= 4
        assert abs(reduced.quality - reference.quality) <= 2


def test_reduced_scale_with_a_partial_last_block() -> None:
    full = np.asarray(photo_like(5, (1283, 963)))
    padded = np.pad(full, ((0, 1), (0, 1), (0, 0)), mode="edge")  # 964 x 1284: whole 4 x 4 blocks
    blocks = padded.reshape(241, 4, 321, 4, 3).mean(axis=(1, 3)).round().astype(np.uint8)
    reduced = pdq_hashes(blocks, dihedral=True, scale=4, extent=(1283, 963))
    assert hamming(reduced.original, pdq_hashes(full, dihedral=False).original) <= 8
    assert list(reduced.hashes) == list(ORIENTATIONS)


def test_arguments_are_checked() -> None:
    pixels = np.zeros((10, 10, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="uint8"):
        pdq_hashes(np.zeros((10, 10, 3), dtype=np.float32), dihedral=False)
    with pytest.raises(ValueError, match="uint8"):
        pdq_hashes(np.zeros((10, 10), dtype=np.uint8), dihedral=False)
    with pytest.raises(ValueError, match="scale"):
        pdq_hashes(pixels, dihedral=False, scale=0)
    with pytest.raises(ValueError, match="cannot cover"):
        pdq_hashes(pixels, dihedral=False, scale=2, extent=(40, 20))
    assert pdq_hashes(pixels, dihedral=False, scale=2, extent=(19, 20)).quality == 0
