"""Safe decoding: formats, colour modes, and every kind of bad input (as failures, not raised)."""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from collections.abc import Callable, Iterator

import numpy as np
import pytest
from PIL import Image, ImageFile

from monitor.config import HashingSettings
from monitor.domain import Signals
from monitor.errors import MediaErrorReason
from monitor.hashing import compute_signals, decode_image, hamming, sniff_format
from tests.imagegen import (
    animated_gif,
    animated_webp,
    cmyk_jpeg,
    encode,
    palette_png,
    photo_like,
    png_16bit_grey,
    png_bomb,
    png_claiming_size,
    rgba_png,
    to_bmp,
    to_gif,
    to_jpeg,
    to_png,
    to_tiff,
    to_webp,
)


@pytest.fixture(autouse=True)
def _no_warnings() -> Iterator[None]:
    """Decoding must not emit warnings (they would be noise in a daemon's log)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def _reference_pdq(img: Image.Image) -> str:
    s = compute_signals(to_png(img.convert("RGB")), HashingSettings())
    assert s.pdq is not None
    return s.pdq


def _ok(s: Signals) -> Signals:
    assert s.failure is None, s.failure
    assert s.pdq is not None
    assert s.phash is not None
    return s


def _failed(s: Signals, reason: MediaErrorReason) -> Signals:
    assert s.failure is not None, "expected a failure"
    assert s.failure.reason == reason.value, s.failure
    assert s.pdq is None
    assert s.phash is None
    assert s.pdq_quality is None
    assert s.queries == ()
    assert not s.trimmed
    assert len(s.failure.detail) <= 160
    return s


# --- formats and modes that must decode ---------------------------------------------------------

IMG = photo_like(21)

ENCODERS: dict[str, tuple[Callable[[Image.Image], bytes], str, int]] = {
    # name: (encoder, mime, max PDQ distance to the lossless original)
    "jpeg": (to_jpeg, "image/jpeg", 10),
    "png": (to_png, "image/png", 0),
    "gif": (to_gif, "image/gif", 31),  # 256-colour quantisation and dithering
    "webp": (to_webp, "image/webp", 10),
    "webp-lossless": (lambda im: encode(im, "WEBP", lossless=True), "image/webp", 0),
    "bmp": (to_bmp, "image/bmp", 0),
    "tiff": (to_tiff, "image/tiff", 0),
    "tiff-lzw": (lambda im: encode(im, "TIFF", compression="tiff_lzw"), "image/tiff", 0),
    "rgba-png": (rgba_png, "image/png", 0),
    "palette-png": (palette_png, "image/png", 31),
    "cmyk-jpeg": (cmyk_jpeg, "image/jpeg", 10),
}


@pytest.mark.parametrize("name", list(ENCODERS))
def test_formats_decode_to_the_same_picture(name: str, settings: HashingSettings) -> None:
    encoder, mime, max_distance = ENCODERS[name]
    s = _ok(compute_signals(encoder(IMG), settings))
    assert (s.mime, s.width, s.height) == (mime, IMG.width, IMG.height)
    assert s.pdq is not None
    assert hamming(s.pdq, _reference_pdq(IMG)) <= max_distance


def test_16bit_grey_png_is_scaled_not_clipped(settings: HashingSettings) -> None:
    data = png_16bit_grey(IMG)
    with Image.open(io.BytesIO(data)) as im:
        assert im.mode.startswith("I")  # really a wide mode
    s = _ok(compute_signals(data, settings))
    grey = IMG.convert("L")
    assert s.pdq is not None
    assert hamming(s.pdq, _reference_pdq(grey)) <= 4
    assert s.pdq_quality is not None
    assert s.pdq_quality >= 50
    decoded = decode_image(data, settings).image
    assert (
        np.abs(np.asarray(decoded.convert("L"), dtype=int) - np.asarray(grey, dtype=int)).max() <= 1
    )


@pytest.mark.parametrize(
    "make",
    [
        lambda g: Image.fromarray(np.asarray(g, dtype=np.int32) * 257),  # mode I, 16-bit range
        lambda g: Image.fromarray(np.asarray(g, dtype=np.float32) / 255.0),  # mode F, 0..1
        lambda g: g.convert("LA"),
        lambda g: g.convert("1"),
    ],
    ids=["I", "F", "LA", "1"],
)
def test_other_modes_via_tiff(
    make: Callable[[Image.Image], Image.Image], settings: HashingSettings
) -> None:
    grey = IMG.convert("L")
    img = make(grey)
    s = _ok(compute_signals(encode(img, "TIFF"), settings))
    assert s.pdq is not None
    limit = 40 if img.mode == "1" else 4  # "1" is dithered to black and white
    assert hamming(s.pdq, _reference_pdq(grey)) <= limit


def test_alpha_is_dropped_not_composited(settings: HashingSettings) -> None:
    """Fully transparent pixels still hash by their stored colour (see decode.py's docstring)."""
    invisible = rgba_png(IMG, alpha=0)
    s = _ok(compute_signals(invisible, settings))
    assert s.pdq == _reference_pdq(IMG)
    assert s.queries  # not a blank page


def test_animated_gif_and_webp_hash_the_first_frame(settings: HashingSettings) -> None:
    first, second = photo_like(22), photo_like(23)
    for data, single in (
        (animated_gif([first, second]), to_gif(first)),
        (animated_webp([first, second]), encode(first, "WEBP", lossless=True)),
    ):
        anim = _ok(compute_signals(data, settings))
        alone = _ok(compute_signals(single, settings))
        assert anim.pdq is not None
        assert alone.pdq is not None
        assert hamming(anim.pdq, alone.pdq) <= 10
        assert hamming(anim.pdq, _reference_pdq(second)) > 31


def test_heif_when_available(settings: HashingSettings) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    buf = io.BytesIO()
    try:
        IMG.save(buf, format="HEIF", quality=90)
    except (OSError, RuntimeError, KeyError, ValueError) as exc:  # pragma: no cover - no encoder
        pytest.skip(f"no HEIF encoder: {exc}")
    s = _ok(compute_signals(buf.getvalue(), settings))
    assert s.mime == "image/heif"
    assert s.pdq is not None
    assert hamming(s.pdq, _reference_pdq(IMG)) <= 10


def test_exif_orientation_is_not_applied(settings: HashingSettings) -> None:
    """Same pixels, one file says "rotate 90": both hash the stored pixels (decode.py explains)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    tagged = encode(IMG, "JPEG", quality=90, exif=exif.tobytes())
    plain = encode(IMG, "JPEG", quality=90)
    assert tagged != plain
    assert compute_signals(tagged, settings).pdq == compute_signals(plain, settings).pdq


def test_format_is_sniffed_not_trusted(tmp_path: object, settings: HashingSettings) -> None:
    assert sniff_format(to_jpeg(IMG)) == "JPEG"
    assert sniff_format(to_png(IMG)) == "PNG"
    assert sniff_format(b"%PDF-1.7") == "PDF"
    assert sniff_format(b"hello") is None


def test_format_not_in_settings_is_unsupported() -> None:
    only_jpeg = HashingSettings(formats=("JPEG",))
    s = _failed(compute_signals(to_png(IMG), only_jpeg), MediaErrorReason.UNSUPPORTED_FORMAT)
    assert "PNG" in s.failure.detail  # type: ignore[union-attr]
    _ok(compute_signals(to_jpeg(IMG), only_jpeg))


def test_avif_is_unsupported_by_default(settings: HashingSettings) -> None:
    buf = io.BytesIO()
    try:
        IMG.save(buf, format="AVIF", quality=80)
    except (OSError, KeyError, ValueError) as exc:  # pragma: no cover - Pillow without AVIF
        pytest.skip(f"no AVIF encoder: {exc}")
    _failed(compute_signals(buf.getvalue(), settings), MediaErrorReason.UNSUPPORTED_FORMAT)


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (np.random.default_rng(5).bytes(4096), "not an image"),
        (b"Just some text.\nNot an image at all.\n" * 20, "not an image"),
        (b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" + bytes(200), "PDF"),
        (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(500), "MP4"),
        (b"PK\x03\x04" + bytes(100), "ZIP"),
        (b"<?xml version='1.0'?><svg xmlns='http://www.w3.org/2000/svg'/>", "SVG"),
    ],
    ids=["random", "text", "pdf", "mp4", "zip", "svg"],
)
def test_non_images_are_unsupported(data: bytes, needle: str, settings: HashingSettings) -> None:
    s = _failed(compute_signals(data, settings), MediaErrorReason.UNSUPPORTED_FORMAT)
    assert needle in s.failure.detail  # type: ignore[union-attr]
    assert s.mime is None
    assert s.width is None


@pytest.mark.parametrize("encoder", [to_jpeg, to_png], ids=["jpeg", "png"])
def test_truncated_in_half(
    encoder: Callable[[Image.Image], bytes], settings: HashingSettings
) -> None:
    data = encoder(IMG)
    s = _failed(compute_signals(data[: len(data) // 2], settings), MediaErrorReason.TRUNCATED)
    assert (s.width, s.height) == IMG.size  # the header was read
    assert s.mime is not None


def test_truncated_jpeg_header(settings: HashingSettings) -> None:
    _failed(compute_signals(to_jpeg(IMG)[:300], settings), MediaErrorReason.TRUNCATED)


def test_truncation_is_never_papered_over(settings: HashingSettings) -> None:
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    data = to_jpeg(IMG)
    compute_signals(data[: len(data) // 2], settings)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR" + b"garbage-bytes" + b"\x00\x00\x00\x00",
        to_png(IMG)[:40],
        b"\xff\xd8\xff" + b"\x00" * 5,
        b"GIF89a\x00",
    ],
    ids=["png-bad-ihdr-crc", "png-40-bytes", "jpeg-soi-only", "gif-6-bytes"],
)
def test_damaged_header_with_image_signature_is_corrupt(
    data: bytes, settings: HashingSettings
) -> None:
    _failed(compute_signals(data, settings), MediaErrorReason.CORRUPT)


def test_corrupt_pixel_data(settings: HashingSettings) -> None:
    """A PNG whose IDAT is not a zlib stream."""
    good = to_png(photo_like(24, (64, 48)))
    idat = good.index(b"IDAT")
    length = struct.unpack(">I", good[idat - 4 : idat])[0]
    body = b"\x55" * length
    crc = struct.pack(">I", zlib.crc32(b"IDAT" + body) & 0xFFFFFFFF)
    bad = good[: idat + 4] + body + crc + good[idat + 8 + length :]
    s = _failed(compute_signals(bad, settings), MediaErrorReason.CORRUPT)
    assert "pixels" in s.failure.detail  # type: ignore[union-attr]


def test_decompression_bomb_refused_by_pillow_limit(settings: HashingSettings) -> None:
    data = png_bomb(20_000, 20_000)  # 400 megapixels in ~50 KB
    assert len(data) < 200_000
    _failed(compute_signals(data, settings), MediaErrorReason.TOO_MANY_PIXELS)


def test_decompression_bomb_refused_by_our_limit(settings: HashingSettings) -> None:
    data = png_bomb(8_000, 8_000)  # 64 megapixels: under Pillow's limits, over max_pixels
    s = _failed(compute_signals(data, settings), MediaErrorReason.TOO_MANY_PIXELS)
    assert (s.width, s.height, s.mime) == (8_000, 8_000, "image/png")
    assert "64000000" in s.failure.detail  # type: ignore[union-attr]


@pytest.mark.parametrize("size", [(20_000, 20_000), (9_000, 6_000)], ids=["huge", "over-cap"])
def test_image_that_only_claims_a_huge_size(
    size: tuple[int, int], settings: HashingSettings
) -> None:
    _failed(compute_signals(png_claiming_size(*size), settings), MediaErrorReason.TOO_MANY_PIXELS)


def test_small_image_with_missing_pixel_data_is_truncated(settings: HashingSettings) -> None:
    _failed(compute_signals(png_claiming_size(300, 300), settings), MediaErrorReason.TRUNCATED)


def test_pixel_cap_is_checked_before_any_pixel_is_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_decoding(self: ImageFile.ImageFile) -> None:
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    tight = HashingSettings(max_pixels=640 * 480 - 1)
    for data in (to_jpeg(IMG), to_png(IMG), to_webp(IMG), to_gif(IMG)):
        _failed(compute_signals(data, tight), MediaErrorReason.TOO_MANY_PIXELS)


def test_pixel_cap_is_inclusive() -> None:
    exact = HashingSettings(max_pixels=640 * 480)
    _ok(compute_signals(to_jpeg(IMG), exact))


def test_pillow_global_state_untouched(settings: HashingSettings) -> None:
    before = (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES)
    compute_signals(png_bomb(8_000, 8_000), settings)
    compute_signals(to_jpeg(IMG), settings)
    assert before == (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES)


def test_works_without_pillow_bomb_limit(
    monkeypatch: pytest.MonkeyPatch, settings: HashingSettings
) -> None:
    """Our cap does not rely on Pillow's global limit: with it switched off we still refuse."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    _failed(
        compute_signals(png_claiming_size(20_000, 20_000), settings),
        MediaErrorReason.TOO_MANY_PIXELS,
    )
