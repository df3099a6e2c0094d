"""Find uniform borders (letterbox/pillarbox bars, flat screenshot margins) to trim before hashing.

A uniform border shifts and shrinks the picture inside the frame, which moves every global
perceptual hash far away; hashing the picture with the bars cut off restores the match
(python-threatexchange does the same for black bars: its "unletterboxing" drops edge rows/columns
whose greyscale stays below a threshold). This version accepts bars of *any* colour and checks
colour, not only brightness.

The rule, side by side (top, bottom, left, right):

* The outermost line's median colour is the bar colour. Moving inward, a line belongs to the bar
  while at least :data:`MIN_UNIFORM_FRACTION` of its pixels are within :data:`TOLERANCE` (per
  channel, 0-255) of that colour. The tolerance absorbs JPEG noise and video black levels; the
  fraction lets a few stray pixels (ringing at the bar's edge, dust) through, but not a status bar's
  icons or an ordinary photo's edge.
* Top/bottom are measured across the columns between the left/right bars and vice versa, repeated
  until nothing changes, so a frame on all four sides is found. (Bars of *different* colours on
  both axes at once are not untangled: each blocks the other's lines from being uniform.)
* A side counts only if its bar is at least :data:`MIN_BORDER_FRACTION` of that dimension and at
  least :data:`MIN_BORDER_PX` pixels: thinner frames barely move PDQ and are as likely to be part of
  the picture.
* What remains must be at least :data:`MIN_CONTENT_PX` pixels and :data:`MIN_CONTENT_FRACTION` of
  the original on both axes, else nothing is trimmed (a flat image is all "border"; a sliver in the
  middle of a flat page is not worth a query).
* On a reduced decode (``scale`` > 1, one array pixel per ``scale x scale`` block of the original)
  the pixel limits keep meaning original pixels; the border is then found to within a block.

Not handled: blurred-background or gradient fills, bars carrying text or icons, borders that are not
axis-aligned. A uniform background that reaches an edge (studio shot on white, clear sky) may be
trimmed too; that only adds queries, the untrimmed hashes are always searched as well.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "MIN_BORDER_FRACTION",
    "MIN_BORDER_PX",
    "MIN_CONTENT_FRACTION",
    "MIN_CONTENT_PX",
    "MIN_UNIFORM_FRACTION",
    "TOLERANCE",
    "Border",
    "find_border",
]

TOLERANCE = 24
MIN_UNIFORM_FRACTION = 0.98
MIN_BORDER_FRACTION = 0.02
MIN_BORDER_PX = 4
MIN_CONTENT_FRACTION = 0.10
MIN_CONTENT_PX = 32
_MAX_PASSES = 3
_FIRST_CHUNK = 4
_MAX_CHUNK = 256


@dataclass(frozen=True, slots=True)
class Border:
    """Thickness in pixels of the bar to cut from each side (0: keep that side)."""

    left: int
    top: int
    right: int
    bottom: int

    def box(self, width: int, height: int) -> tuple[int, int, int, int]:
        """The part to keep, as a PIL crop box ``(left, upper, right, lower)``."""
        return (self.left, self.top, width - self.right, height - self.bottom)


def _median_colour(line: npt.NDArray[np.uint8]) -> npt.NDArray[np.int16]:
    """Per-channel median of an ``m x 3`` line, rounded: ``np.median(line, axis=0).round()``
    without its overhead (this runs four times per image)."""
    count = line.shape[0]
    middle = np.partition(line, ((count - 1) // 2, count // 2), axis=0)
    low = middle[(count - 1) // 2].astype(np.float64)
    high = middle[count // 2].astype(np.float64)
    median: npt.NDArray[np.int16] = np.round((low + high) / 2).astype(np.int16)
    return median


def _uniform_run(lines: npt.NDArray[np.uint8], limit: int) -> int:
    """How many leading lines of ``lines`` (shape ``n x m x 3``, first line outermost) are bar.

    Reads the lines in growing chunks, so an ordinary image costs a few lines, not a full pass.
    """
    limit = min(limit, lines.shape[0])
    if limit <= 0 or lines.shape[1] == 0:
        return 0
    ref = _median_colour(lines[0])
    done = 0
    chunk = _FIRST_CHUNK
    while done < limit:
        block = lines[done : min(done + chunk, limit)].astype(np.int16)
        close = np.abs(block - ref).max(axis=2) <= TOLERANCE
        uniform = close.mean(axis=1) >= MIN_UNIFORM_FRACTION
        if not uniform.all():
            return done + int(np.argmin(uniform))
        done += block.shape[0]
        chunk = min(chunk * 2, _MAX_CHUNK)
    return done


def _sides(pixels: npt.NDArray[np.uint8]) -> tuple[int, int, int, int]:
    height, width = pixels.shape[:2]
    left = top = right = bottom = 0
    for _ in range(_MAX_PASSES):
        rows = pixels[:, left : width - right]
        new_top = _uniform_run(rows, height)
        new_bottom = _uniform_run(rows[::-1], height - new_top)
        cols = pixels[new_top : height - new_bottom].transpose(1, 0, 2)
        new_left = _uniform_run(cols, width)
        new_right = _uniform_run(cols[::-1], width - new_left)
        found = (new_left, new_top, new_right, new_bottom)
        if found == (left, top, right, bottom):
            break
        left, top, right, bottom = found
        if top + bottom >= height or left + right >= width:
            break  # uniform all the way across: a flat image, not a bordered one
    return left, top, right, bottom


def find_border(pixels: npt.NDArray[np.uint8], scale: int = 1) -> Border | None:
    """The uniform border of an ``H x W x 3`` uint8 image worth trimming, or None (in array
    pixels; ``scale``: how many original pixels one array pixel stands for)."""
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ValueError(f"expected an H x W x 3 array, got shape {pixels.shape}")
    if scale < 1:
        raise ValueError(f"scale must be at least 1, got {scale}")
    min_border = math.ceil(MIN_BORDER_PX / scale)
    min_content = math.ceil(MIN_CONTENT_PX / scale)
    height, width = pixels.shape[:2]
    if height < min_content or width < min_content:
        return None
    left, top, right, bottom = _sides(pixels)

    def significant(thickness: int, dimension: int) -> int:
        needed = max(min_border, math.ceil(MIN_BORDER_FRACTION * dimension))
        return thickness if thickness >= needed else 0

    border = Border(
        left=significant(left, width),
        top=significant(top, height),
        right=significant(right, width),
        bottom=significant(bottom, height),
    )
    if not (border.left or border.top or border.right or border.bottom):
        return None
    content_w = width - border.left - border.right
    content_h = height - border.top - border.bottom
    if content_w < max(min_content, MIN_CONTENT_FRACTION * width):
        return None
    if content_h < max(min_content, MIN_CONTENT_FRACTION * height):
        return None
    return border
