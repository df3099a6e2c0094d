"""Border trimming: bars of any colour on any side are found; ordinary images are left alone."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from monitor.config import HashingSettings
from monitor.hashing import Border, compute_signals, find_border
from monitor.hashing.trim import MIN_BORDER_PX
from tests.imagegen import flat, letterbox, photo_like, text_only, to_jpeg, to_png

BLACK = (0, 0, 0)
WHITE = (255, 255, 255)


def _pixels(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("RGB"))


def _decoded_pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return _pixels(im)


@pytest.mark.parametrize("seed", range(20))
def test_photo_like_is_not_bordered(seed: int) -> None:
    img = photo_like(seed)
    assert find_border(_pixels(img)) is None
    assert find_border(_decoded_pixels(to_jpeg(img, 60))) is None


@pytest.mark.parametrize("colour", [BLACK, WHITE, (30, 90, 200)], ids=["black", "white", "blue"])
@pytest.mark.parametrize(
    "bars",
    [(0, 60, 0, 60), (90, 0, 90, 0), (0, 70, 0, 0), (0, 0, 50, 0), (25, 25, 25, 25)],
    ids=["letterbox", "pillarbox", "top-only", "right-only", "frame"],
)
def test_exact_bars_are_found_exactly(
    bars: tuple[int, int, int, int], colour: tuple[int, ...]
) -> None:
    img = photo_like(3)
    framed = letterbox(img, bars, colour)  # type: ignore[arg-type]
    border = find_border(_pixels(framed))
    assert border == Border(*bars)
    assert border is not None
    assert framed.crop(border.box(framed.width, framed.height)).size == img.size


@pytest.mark.parametrize("colour", [BLACK, WHITE], ids=["black", "white"])
@pytest.mark.parametrize("bars", [(0, 60, 0, 60), (90, 0, 90, 0)], ids=["letterbox", "pillarbox"])
def test_bars_survive_jpeg(bars: tuple[int, int, int, int], colour: tuple[int, ...]) -> None:
    """JPEG blurs the bar's inner edge; the found border may differ by a few pixels there."""
    framed = letterbox(photo_like(4), bars, colour)  # type: ignore[arg-type]
    border = find_border(_decoded_pixels(to_jpeg(framed, 50)))
    assert border is not None
    for found, true in zip(
        (border.left, border.top, border.right, border.bottom), bars, strict=True
    ):
        assert abs(found - true) <= 3


def test_thin_bars_are_ignored() -> None:
    img = photo_like(5)  # 640 x 480: 2 % is 13 px across and 10 px down
    assert find_border(_pixels(letterbox(img, (0, 8, 0, 8)))) is None
    assert find_border(_pixels(letterbox(img, (0, MIN_BORDER_PX - 1, 0, 0)))) is None
    assert find_border(_pixels(letterbox(img, (0, 12, 0, 0)))) == Border(0, 12, 0, 0)


def test_flat_images_are_not_bordered() -> None:
    for colour in (BLACK, WHITE, (120, 10, 60)):
        assert find_border(_pixels(flat(colour))) is None


def test_tiny_content_is_not_trimmed() -> None:
    """A small picture in a huge flat frame: what is left is too small to be worth a query."""
    small = photo_like(6, (24, 24))
    assert find_border(_pixels(letterbox(small, 300, WHITE))) is None


def test_small_images_are_not_examined() -> None:
    assert find_border(np.zeros((20, 20, 3), dtype=np.uint8)) is None


def test_noise_within_tolerance_still_counts_as_bar() -> None:
    rng = np.random.default_rng(0)
    framed = _pixels(letterbox(photo_like(7), (0, 60, 0, 60))).astype(np.int16)
    framed[:60] += rng.integers(0, 15, size=framed[:60].shape, dtype=np.int16)
    noisy = np.clip(framed, 0, 255).astype(np.uint8)
    assert find_border(noisy) == Border(0, 60, 0, 60)


def test_stray_pixels_in_bar_are_tolerated_but_icons_are_not() -> None:
    framed = _pixels(letterbox(photo_like(8), (0, 60, 0, 60), BLACK)).copy()
    framed[10, 100:105] = 255  # five bright pixels in one bar row: under 2 % of 640
    assert find_border(framed) == Border(0, 60, 0, 60)
    framed[10, 100:200] = 255  # a 100-px "icon": the top bar stops there (10 rows, not enough)
    assert find_border(framed) == Border(0, 0, 0, 60)


def test_input_shape_checked() -> None:
    with pytest.raises(ValueError, match="H x W x 3"):
        find_border(np.zeros((50, 50), dtype=np.uint8))
    with pytest.raises(ValueError, match="scale"):
        find_border(np.zeros((50, 50, 3), dtype=np.uint8), scale=0)


def test_pixel_limits_mean_original_pixels_on_a_reduced_decode() -> None:
    """At scale 2 a 3-pixel bar is 6 original pixels: over MIN_BORDER_PX (4), so it counts where
    the same 3 pixels at full size do not (the 2 % rule is a share and needs no scaling)."""
    img = photo_like(5, (120, 90))  # small enough that 2 % is under MIN_BORDER_PX
    framed = _pixels(letterbox(img, (0, 3, 0, 0)))
    assert find_border(framed) is None
    assert find_border(framed, scale=2) == Border(0, 3, 0, 0)
    # MIN_CONTENT_PX (32) in original pixels: 20 array pixels are 40 at scale 2
    tiny = _pixels(letterbox(photo_like(6, (20, 20)), (0, 40, 0, 40), WHITE))
    assert find_border(tiny) is None
    assert find_border(tiny, scale=2) == Border(0, 40, 0, 40)


# --- through compute_signals --------------------------------------------------------------------


@pytest.mark.parametrize("colour", [BLACK, WHITE], ids=["black", "white"])
@pytest.mark.parametrize("bars", [(0, 80, 0, 80), (100, 0, 100, 0)], ids=["letterbox", "pillarbox"])
def test_signals_have_trimmed_variants_for_bordered_images(
    bars: tuple[int, int, int, int], colour: tuple[int, ...], settings: HashingSettings
) -> None:
    framed = letterbox(photo_like(9), bars, colour)  # type: ignore[arg-type]
    s = compute_signals(to_jpeg(framed), settings)
    assert s.trimmed
    assert sum(q.variant.trimmed for q in s.queries) == 9  # 8 PDQ + 1 pHash


@pytest.mark.parametrize("seed", range(6))
def test_signals_have_no_trimmed_variants_for_plain_images(
    seed: int, settings: HashingSettings
) -> None:
    s = compute_signals(to_jpeg(photo_like(seed)), settings)
    assert not s.trimmed
    assert not any(q.variant.trimmed for q in s.queries)


def test_text_page_margins_are_trimmed(settings: HashingSettings) -> None:
    """White margins around a text block are a uniform border too (documented behaviour)."""
    page = text_only("The quick brown fox jumps\nover the lazy dog\nagain and again")
    s = compute_signals(to_png(page), settings)
    assert s.trimmed
