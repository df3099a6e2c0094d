"""Safe decoding of untrusted image bytes into one RGB picture shared by every perceptual hash.

Two steps, with an optional reduced decode between them:

1. :func:`open_image` parses the *header only*: Pillow sniffs the real format from the bytes (the
   file name or extension is never consulted), restricted to the formats the settings accept, and
   width x height is checked against ``max_pixels`` before a single pixel is decoded.
2. (:func:`decode_image` with ``min_side``) A JPEG is decoded at 1/2, 1/4 or 1/8 of its size in
   the DCT domain (Pillow's ``draft``: libjpeg scales while it decodes, so the full picture never
   exists) when the shorter side stays at least ``min_side``; ``Decoded.scale`` says by how much.
   Other formats have no such decoder and are decoded in full.
3. :func:`load_rgb` decodes the pixels (the first frame of animations) and flattens them to 8-bit
   RGB.

Every problem with the content is raised as :class:`DecodeError` (a ``MediaError`` with a reason
code and, once the header was parsed, the header). Callers turn it into a ``HashFailure``.

Decisions, with the reasons:

* **Which failure is which.** Bytes no accepted Pillow plugin identifies are
  ``unsupported_format`` (text, random bytes, PDF, MP4, ZIP, images in formats the settings do not
  list) *unless* they start with the signature of an accepted format: then the file is a damaged
  image, ``corrupt``. Errors that say the data ended early are ``truncated``; anything else Pillow,
  zlib or struct raise while decoding is ``corrupt``. ``ImageFile.LOAD_TRUNCATED_IMAGES`` is never
  touched: a truncated file fails, it is not padded with grey.
* **Pixel cap.** Our own check of the header's width x height against ``max_pixels`` is what
  protects; it does not depend on Pillow's global ``MAX_IMAGE_PIXELS``, which this module never
  changes. Pillow's own bomb check still runs inside ``Image.open``: its ``DecompressionBombError``
  (above 2 x ``MAX_IMAGE_PIXELS``) maps to ``too_many_pixels`` too, and so does its
  ``DecompressionBombWarning`` when warnings are configured as errors. (If ``max_pixels`` is set
  above twice Pillow's limit, Pillow's limit wins.)
* **EXIF orientation is NOT applied.** python-threatexchange's PDQ hasher (what hash-sharing lists
  are built with) hashes the stored pixels as decoded, without ``exif_transpose``; hashing the same
  way keeps us comparable with those lists. A list entry made from a rotated upload is still found
  through the dihedral query variants. (HEIF is the exception by nature: libheif applies the
  container's mandatory ``irot``/``imir`` transforms while decoding.)
* **Alpha is dropped, not composited.** RGBA/LA/PA pixels keep their stored colour channels
  and the alpha channel is discarded. That is exactly what the reference does (pdqhash reads
  channels 0-2 of an RGBA array; imagehash's ``convert("L")`` also ignores alpha), so a list entry
  made from the same file matches; and an image hidden by setting alpha to 0 still hashes as the
  image it carries, where compositing onto white would turn it into a blank, low-quality page.
* **Palette images are expanded to their colours.** (python-threatexchange without ``force_rgb``
  hashes a palette image's *indices*; colours are what a viewer shows and what a re-encode keeps.)
* **16-bit and other wide modes** (``I;16*``, ``I``, ``F``) are scaled to 8 bits with numpy, not
  with Pillow's ``convert("L")``, which clips every value above 255 to white.
* **Animated GIF / WebP, MPO, multi-page TIFF:** the first frame (the one Pillow opens on).
* **HEIF/HEIC** is decoded when ``pillow_heif`` is importable and ``"HEIF"`` is an accepted format;
  its opener is registered once, lazily, on first need (that adds a plugin to Pillow's registry and
  changes nothing else).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

from monitor.config import HashingSettings
from monitor.errors import MediaError, MediaErrorReason

__all__ = [
    "DecodeError",
    "Decoded",
    "ImageHeader",
    "decode_image",
    "load_rgb",
    "open_image",
    "reduce_decode",
    "sniff_format",
]

_DETAIL_MAX = 160


@dataclass(frozen=True, slots=True)
class ImageHeader:
    """What the header said, before any pixel was decoded."""

    format: str  # Pillow's format name: JPEG, PNG, WEBP, GIF, ...
    mime: str | None
    width: int
    height: int
    mode: str  # Pillow mode of the stored pixels (before flattening to RGB)


@dataclass(frozen=True, slots=True)
class Decoded:
    """The decoded picture: 8-bit RGB, fully loaded, never modified afterwards.

    ``scale`` > 1: a reduced decode, each pixel standing for a ``scale x scale`` block of the
    original (``image`` is ``ceil(width / scale) x ceil(height / scale)``; the header keeps the
    original size).
    """

    image: Image.Image
    header: ImageHeader
    scale: int = 1


class DecodeError(MediaError):
    """The bytes could not be decoded. ``header`` is set when the header itself was readable."""

    def __init__(
        self, reason: MediaErrorReason, detail: str = "", header: ImageHeader | None = None
    ) -> None:
        super().__init__(reason, detail[:_DETAIL_MAX])
        self.header = header

    def __reduce__(
        self,
    ) -> tuple[type[DecodeError], tuple[MediaErrorReason, str, ImageHeader | None]]:
        # the default exception pickling would call DecodeError(message) and fail
        return (type(self), (self.reason, self.detail, self.header))


# --- format sniffing (for messages and for "damaged image" versus "not an image") ---------------

_HEIF_BRANDS = frozenset(
    {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}
)
_AVIF_BRANDS = frozenset({b"avif", b"avis"})


def sniff_format(data: bytes) -> str | None:
    """Name the container from its first bytes, in Pillow's spelling where Pillow has one.

    Only used to tell a damaged image from a non-image and to word messages; decoding always goes
    through Pillow's own identification.
    """
    head = data[:32]
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "WEBP"
    if head.startswith(b"BM") and len(head) >= 14:
        return "BMP"
    if head.startswith((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")):
        return "TIFF"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIF_BRANDS:
            return "HEIF"
        if brand in _AVIF_BRANDS:
            return "AVIF"
        return "MP4"  # ISO base media: mp4, mov, 3gp, m4v ...
    if head.startswith(b"%PDF"):
        return "PDF"
    if head.startswith(b"\x1aE\xdf\xa3"):
        return "WEBM"
    if head.startswith(b"PK\x03\x04"):
        return "ZIP"
    if head.startswith(b"\x1f\x8b"):
        return "GZIP"
    if head.startswith((b"\x00\x00\x00\x0cjP  ", b"\xff\x4f\xff\x51")):
        return "JPEG2000"
    if head.startswith(b"8BPS"):
        return "PSD"
    if head.lstrip().startswith((b"<?xml", b"<svg", b"<SVG")):
        return "SVG/XML"
    return None


# Formats whose signature sniff_format recognises, and the Pillow formats that may open them.
_SIGNATURE_FORMATS: dict[str, frozenset[str]] = {
    "JPEG": frozenset({"JPEG", "MPO"}),
    "PNG": frozenset({"PNG"}),
    "GIF": frozenset({"GIF"}),
    "WEBP": frozenset({"WEBP"}),
    "BMP": frozenset({"BMP"}),
    "TIFF": frozenset({"TIFF"}),
    "HEIF": frozenset({"HEIF"}),
    "AVIF": frozenset({"AVIF"}),
}


# --- HEIF support: registered once, on first need ------------------------------------------------

_heif_state: list[bool] = []  # empty: not tried yet; [True]/[False]: registered / not available


def _heif_available() -> bool:
    if not _heif_state:
        try:
            import pillow_heif
        except ImportError:  # optional dependency (extra "heic")
            _heif_state.append(False)
        else:
            pillow_heif.register_heif_opener()
            _heif_state.append(True)
    return _heif_state[0]


def _accepted(settings: HashingSettings) -> tuple[str, ...]:
    formats = tuple(f.upper() for f in settings.formats)
    if "HEIF" in formats and not _heif_available():
        formats = tuple(f for f in formats if f != "HEIF")
    return formats


def _openers(accepted: tuple[str, ...]) -> tuple[str, ...]:
    """The accepted formats Pillow has an opener for, to pass to ``Image.open(formats=...)``.

    Pillow raises KeyError for a name it cannot open, and some accepted names have no opener of
    their own: MPO files come out of the JPEG opener (so MPO is accepted only with JPEG).
    """
    if any(f not in Image.OPEN for f in accepted):
        Image.init()  # load every bundled plugin once (idempotent)
    return tuple(f for f in accepted if f in Image.OPEN)


# --- step 1: header ----------------------------------------------------------------------------

_EXTRA_MIME = {"HEIF": "image/heif", "AVIF": "image/avif"}  # in case a plugin registers none

# A note on damaged files. Parsing untrusted bytes, Pillow's plugins raise OSError, SyntaxError,
# ValueError, EOFError, struct.error, zlib.error, but also IndexError, KeyError, TypeError,
# AssertionError ... on crafted input, and a Pillow warning (corrupt EXIF, bomb) raises when
# warnings are configured as errors. Every Exception out of a Pillow call therefore means "this
# file is damaged" -- except MemoryError, which says something about this process, not about the
# file, and propagates.


def _is_truncation(exc: BaseException) -> bool:
    if isinstance(exc, EOFError):
        return True
    text = str(exc).lower()
    return "truncated" in text or "premature end" in text or "unexpected end" in text


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _failure_from(exc: BaseException, header: ImageHeader | None, when: str) -> DecodeError:
    if isinstance(exc, Image.DecompressionBombError | Image.DecompressionBombWarning):
        return DecodeError(MediaErrorReason.TOO_MANY_PIXELS, _describe(exc), header)
    reason = MediaErrorReason.TRUNCATED if _is_truncation(exc) else MediaErrorReason.CORRUPT
    return DecodeError(reason, f"{when}: {_describe(exc)}", header)


def _unidentified(data: bytes, accepted: tuple[str, ...], settings: HashingSettings) -> DecodeError:
    sniffed = sniff_format(data)
    if sniffed is None:
        return DecodeError(
            MediaErrorReason.UNSUPPORTED_FORMAT, f"not an image format we decode ({data[:8]!r})"
        )
    candidates = _SIGNATURE_FORMATS.get(sniffed, frozenset())
    if candidates & set(accepted):
        return DecodeError(
            MediaErrorReason.CORRUPT, f"has a {sniffed} signature but its header cannot be read"
        )
    wanted = {f.upper() for f in settings.formats}
    if candidates & wanted:  # accepted by the settings, but no decoder here (HEIF without plugin)
        return DecodeError(
            MediaErrorReason.UNSUPPORTED_FORMAT, f"{sniffed}: no decoder installed (pillow-heif)"
        )
    return DecodeError(MediaErrorReason.UNSUPPORTED_FORMAT, f"{sniffed} is not an accepted format")


def open_image(data: bytes, settings: HashingSettings) -> tuple[Image.Image, ImageHeader]:
    """Identify the format and read the header; refuse what must not be decoded. No pixels yet."""
    accepted = _accepted(settings)
    try:
        im = Image.open(io.BytesIO(data), formats=_openers(accepted))
    except UnidentifiedImageError:
        raise _unidentified(data, accepted, settings) from None
    except MemoryError:
        raise
    except Exception as exc:  # see the note on damaged files above
        raise _failure_from(exc, None, "header") from None

    fmt = (im.format or "").upper()
    width, height = im.size
    # (No frame count: for GIF it means scanning the whole file, and only frame 0 is hashed.)
    header = ImageHeader(
        format=fmt,
        mime=Image.MIME.get(fmt) or _EXTRA_MIME.get(fmt),
        width=width,
        height=height,
        mode=im.mode,
    )
    if fmt not in accepted:  # e.g. a JPEG plugin handing back MPO when only JPEG is accepted
        im.close()
        raise DecodeError(
            MediaErrorReason.UNSUPPORTED_FORMAT, f"{fmt} is not an accepted format", header
        )
    if width <= 0 or height <= 0:
        im.close()
        raise DecodeError(MediaErrorReason.CORRUPT, f"image size {width}x{height}", header)
    if width * height > settings.max_pixels:
        im.close()
        raise DecodeError(
            MediaErrorReason.TOO_MANY_PIXELS,
            f"{width}x{height} = {width * height} pixels, limit {settings.max_pixels}",
            header,
        )
    return im, header


# --- step 2: pixels ----------------------------------------------------------------------------

_WIDE_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I", "F"})


def _wide_to_rgb(im: Image.Image) -> Image.Image:
    """16-bit / 32-bit integer / float greyscale to 8-bit RGB, scaling instead of clipping."""
    arr = np.asarray(im)
    if arr.dtype.kind == "f":
        arr = np.nan_to_num(arr.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        peak = float(arr.max()) if arr.size else 0.0
        if peak <= 1.0:
            # floating-point images conventionally hold 0..1
            grey = np.clip(arr * 255.0, 0, 255)
        else:
            grey = np.clip(arr, 0, 65535) / 257.0 if peak > 255 else np.clip(arr, 0, 255)
    elif im.mode.startswith("I;16") or (arr.size and int(arr.max()) > 255):
        grey = np.clip(arr.astype(np.float64), 0, 65535) / 257.0
    else:
        grey = np.clip(arr, 0, 255)
    grey8 = np.ascontiguousarray(np.rint(grey).astype(np.uint8))
    return Image.fromarray(grey8).convert("RGB")


# Formats whose decoder can scale in the DCT domain (MPO files are JPEGs, frame 0 first).
_DRAFT_FORMATS = frozenset({"JPEG", "MPO"})
_DRAFT_SCALES = (8, 4, 2)  # what libjpeg scales by (its other ratios are not offered by Pillow)


def reduce_decode(im: Image.Image, header: ImageHeader, min_side: int) -> int:
    """Ask for a DCT-domain reduced decode of a JPEG, before any pixel is decoded: the largest
    scale of 1/2, 1/4, 1/8 whose shorter side stays at least ``min_side``. Returns the scale
    (1: decode in full, e.g. any other format or a small JPEG)."""
    if header.format not in _DRAFT_FORMATS:
        return 1
    shorter = min(header.width, header.height)
    scale = next((s for s in _DRAFT_SCALES if shorter // s >= min_side), 1)
    if scale == 1:
        return 1
    try:
        # the image's own mode: only the size changes (a CMYK or grey JPEG stays what it is)
        granted = im.draft(im.mode, (header.width // scale, header.height // scale))
    except MemoryError:
        raise
    except Exception as exc:  # see the note on damaged files above
        raise _failure_from(exc, header, "pixels") from None
    if granted is None:  # a decoder that cannot scale this file: decode in full
        return 1
    scale = max(1, round(header.width / granted[1][2]))  # the box granted: the scaled extent
    expected = (-(-header.width // scale), -(-header.height // scale))
    if im.size != expected:  # pragma: no cover - Pillow scales by what it says
        raise DecodeError(
            MediaErrorReason.CORRUPT, f"reduced decode gave {im.size}, not {expected}", header
        )
    return scale


def load_rgb(im: Image.Image, header: ImageHeader) -> Image.Image:
    """Decode the pixels of the current (first) frame and flatten them to 8-bit RGB (at the
    reduced size if :func:`reduce_decode` asked for one)."""
    try:
        im.load()
    except MemoryError:
        raise
    except Exception as exc:  # see the note on damaged files above
        raise _failure_from(exc, header, "pixels") from None
    try:
        if im.mode == "RGB":
            return im
        if im.mode in _WIDE_MODES:
            return _wide_to_rgb(im)
        # P/PA expand through the palette; RGBA/LA/PA lose alpha (see the module docstring);
        # CMYK, YCbCr, 1, L convert directly.
        return im.convert("RGB")
    except MemoryError:
        raise
    except Exception as exc:
        raise DecodeError(
            MediaErrorReason.UNSUPPORTED_FORMAT,
            f"cannot convert colour mode {im.mode} to RGB: {_describe(exc)}",
            header,
        ) from None


def decode_image(data: bytes, settings: HashingSettings, *, min_side: int | None = None) -> Decoded:
    """Header check, then a decode to RGB: in full, or (``min_side`` given) a JPEG reduced in
    the DCT domain as far as its shorter side stays at least ``min_side``. Raises
    :class:`DecodeError` for bad content."""
    im, header = open_image(data, settings)
    try:
        scale = 1 if min_side is None else reduce_decode(im, header, min_side)
        rgb = load_rgb(im, header)
    except DecodeError:
        im.close()
        raise
    if rgb is not im:
        im.close()  # the RGB copy is all we keep
    return Decoded(image=rgb, header=header, scale=scale)
