"""Safe decoding of untrusted video and animation bytes into timed frames, within caps and a budget.

    open_video(source, kind, settings, deadline) -> VideoReader   header read
    reader.check_header()                                        caps checked against the header
    reader.frames(keyframes_only=..., key_spacing=...)           decoded frames, lazily converted

Two backends behind one reader:

* **FFmpeg (PyAV)** for MP4/MOV, WebM/Matroska and GIF. The demuxer is *forced* from the sniffed
  magic bytes (``mov``, ``matroska``, ``gif``), never auto-detected, so a playlist or a
  concatenation script can never be opened as such; nested opens (external references) are
  refused outright; input goes through a Python file object, so no FFmpeg protocol (``http:``,
  ``file:``, ``concat:``) is ever parsed from a name. Probing is limited (``probesize``,
  ``analyzeduration``). One decoding thread: the hashing pool already runs a file per core.
* **Pillow** for animated WebP: FFmpeg's ``webp`` decoder (FFmpeg 8.1 in PyAV 18) handles still
  WebP only and fails on animated files ("Invalid data found when processing input"), so every
  WebP goes through Pillow's libwebp animation decoder, frame by frame. Pillow gives each frame's
  start time; WebP has no keyframes (the first frame is marked as one).

Caps (:class:`monitor.config.VideoSettings`): the frame size (``max_pixels``) and the declared
duration (``max_duration``) are checked from the header before any frame is decoded, and again on
every decoded frame (a stream may change size; a header may lie about its duration); the number of
decoded frames (``max_frames``) while decoding; and the wall-clock budget (``time_budget``)
between every packet and every frame, so a hostile container ends in ``decode_timeout``, not a
hang. (One call into FFmpeg -- opening the header, decoding one packet -- cannot be interrupted;
the byte and pixel caps bound it.)

Errors, all :class:`VideoDecodeError` (a ``MediaError`` with a reason):
``corrupt_video`` (the container cannot be opened, or no frame at all could be decoded),
``no_video_stream``, ``too_many_pixels``, ``too_long``, ``too_many_frames``, ``decode_timeout``.
Every exception PyAV or Pillow raise on the content is mapped to one of these (a Python
``MemoryError`` excepted: it says something about this process, not about the file; FFmpeg's own
ENOMEM on an absurd allocation a crafted header asks for is content, ``corrupt_video``).

Damaged files: a packet the decoder rejects is skipped and decoding goes on (FFmpeg conceals what
it can); a demuxer error ends the stream. If frames were decoded the reader ends normally with
``truncated`` set -- also when the stream ends well before the duration its header declares (a
cut-off download) -- and the caller hashes what there is. After :data:`MAX_DECODE_ERRORS` rejected
packets decoding stops, with ``truncated`` set.
"""

from __future__ import annotations

import contextlib
import io
import math
import time
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

import av
import numpy as np
import numpy.typing as npt
from PIL import Image

from monitor.config import VideoSettings
from monitor.errors import MediaError, MediaErrorReason
from monitor.hashing.video_sniff import VideoKind

__all__ = [
    "FRAME_MAX_SIDE",
    "MAX_DECODE_ERRORS",
    "Deadline",
    "Frame",
    "VideoDecodeError",
    "VideoReader",
    "open_video",
]

# Frames are scaled down to at most this many pixels on their longer side before hashing (never
# up). Measured on synthetic frames against the PDQ of the full-resolution picture: 640 moves a
# frame's hash by 0-6 bits, 512 by 4-12 (PDQ's own box filters alias differently), and a 720p
# frame costs ~4 ms to convert and hash instead of ~13 ms (1080p: ~22 ms).
FRAME_MAX_SIDE = 640
MAX_DECODE_ERRORS = 16
_PROBE_BYTES = 2 * 1024 * 1024
_ANALYZE_MICROSECONDS = 2_000_000
_DETAIL_MAX = 160
_FFMPEG_FORMAT = {
    VideoKind.MP4: "mov",
    VideoKind.MOV: "mov",
    VideoKind.WEBM: "matroska",
    VideoKind.MATROSKA: "matroska",
    VideoKind.GIF: "gif",
}

Pixels = npt.NDArray[np.uint8]


def _out_of_memory(exc: BaseException) -> bool:
    """MemoryError says something about this process, not about the file, and propagates --
    except FFmpeg's ENOMEM (``av.error.MemoryError``, a MemoryError too): FFmpeg returns it when
    a crafted header asks for an absurd allocation, i.e. for damaged content."""
    return isinstance(exc, MemoryError) and not isinstance(exc, av.error.FFmpegError)


class VideoDecodeError(MediaError):
    """The video could not be decoded (or not within the caps); ``reason`` says why."""

    def __init__(self, reason: MediaErrorReason, detail: str = "") -> None:
        super().__init__(reason, detail[:_DETAIL_MAX])

    def __reduce__(self) -> tuple[type[VideoDecodeError], tuple[MediaErrorReason, str]]:
        return (type(self), (self.reason, self.detail))


class Deadline:
    """The wall-clock budget of one file."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._end = clock() + seconds

    def check(self, doing: str) -> None:
        if self._clock() > self._end:
            raise VideoDecodeError(
                MediaErrorReason.DECODE_TIMEOUT,
                f"over the {self.seconds:g} s budget while {doing}",
            )


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Frame:
    """One decoded frame: its time in seconds from the start, whether it is a keyframe, and its
    pixels on request. Valid only until the reader produces the next frame."""

    __slots__ = ("keyframe", "time")

    def __init__(self, time: float, keyframe: bool) -> None:
        self.time = time
        self.keyframe = keyframe

    def rgb(self, max_side: int = FRAME_MAX_SIDE) -> Pixels:
        """The frame as an ``H x W x 3`` uint8 array, scaled down to ``max_side`` if larger."""
        raise NotImplementedError


def _target_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    scale = min(1.0, max_side / max(width, height, 1))
    return max(1, round(width * scale)), max(1, round(height * scale))


class _AvFrame(Frame):
    __slots__ = ("_frame",)

    def __init__(self, frame: Any, time: float, keyframe: bool) -> None:
        super().__init__(time, keyframe)
        self._frame = frame

    def rgb(self, max_side: int = FRAME_MAX_SIDE) -> Pixels:
        width, height = _target_size(self._frame.width, self._frame.height, max_side)
        try:
            small = self._frame.reformat(
                width=width, height=height, format="rgb24", interpolation="AREA"
            )
            pixels: Pixels = np.ascontiguousarray(small.to_ndarray())
        except Exception as exc:  # an exotic pixel format swscale cannot convert
            if _out_of_memory(exc):
                raise
            raise VideoDecodeError(
                MediaErrorReason.CORRUPT_VIDEO, f"frame conversion: {_describe(exc)}"
            ) from None
        return pixels


class _PilFrame(Frame):
    __slots__ = ("_image",)

    def __init__(self, image: Image.Image, time: float, keyframe: bool) -> None:
        super().__init__(time, keyframe)
        self._image = image

    def rgb(self, max_side: int = FRAME_MAX_SIDE) -> Pixels:
        rgb = self._image.convert("RGB")  # alpha dropped, as for still images
        size = _target_size(rgb.width, rgb.height, max_side)
        if size != rgb.size:
            rgb = rgb.resize(size, Image.Resampling.BOX)
        return np.asarray(rgb)


class VideoReader:
    """An opened video: what its header says, then its frames. Close it (or use ``with``)."""

    kind: VideoKind
    codec: str | None
    width: int | None
    height: int | None
    duration: float | None  # seconds; from the header, else from the decoded frames
    fps: float | None
    rotation: int
    frames_decoded: int
    truncated: bool

    def __init__(self, kind: VideoKind, settings: VideoSettings, deadline: Deadline) -> None:
        self.kind = kind
        self.settings = settings
        self.deadline = deadline
        self.codec = None
        self.width = self.height = None
        self.duration = self.fps = None
        self.rotation = 0
        self.frames_decoded = 0
        self.truncated = False
        self.last_error: str | None = None
        self._errors = 0

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the decoder (idempotent)."""

    def frames(self, *, keyframes_only: bool = False, key_spacing: float = 0.0) -> Iterator[Frame]:
        """Decoded frames in presentation order. ``keyframes_only``: decode nothing but keyframes,
        and only those at least ``key_spacing`` seconds after the previous one decoded."""
        raise NotImplementedError

    # --- checks shared by the backends ---

    def check_header(self) -> None:
        """Refuse, before any frame is decoded, what the header says is over the caps."""
        if self.width and self.height:
            self._check_pixels(self.width, self.height)
        if self.duration is not None and self.duration > self.settings.max_duration:
            raise VideoDecodeError(
                MediaErrorReason.TOO_LONG,
                f"{self.duration:.1f} s, limit {self.settings.max_duration:g} s",
            )

    def _check_pixels(self, width: int, height: int) -> None:
        if width * height > self.settings.max_pixels:
            raise VideoDecodeError(
                MediaErrorReason.TOO_MANY_PIXELS,
                f"{width}x{height} = {width * height} pixels per frame, "
                f"limit {self.settings.max_pixels}",
            )

    def _check_frame(self, width: int, height: int, seconds: float) -> None:
        self.frames_decoded += 1
        if self.frames_decoded > self.settings.max_frames:
            raise VideoDecodeError(
                MediaErrorReason.TOO_MANY_FRAMES,
                f"more than {self.settings.max_frames} frames",
            )
        self._check_pixels(width, height)
        if seconds > self.settings.max_duration:
            raise VideoDecodeError(
                MediaErrorReason.TOO_LONG,
                f"a frame at {seconds:.1f} s, limit {self.settings.max_duration:g} s",
            )

    def _damaged(self, exc: BaseException, doing: str) -> None:
        """A decode error: skipped (and remembered) while frames come; fatal before the first."""
        self._errors += 1
        self.truncated = True
        self.last_error = f"{doing}: {_describe(exc)}"

    def _finish(self) -> None:
        if self.frames_decoded == 0:
            detail = self.last_error or "no frame could be decoded"
            raise VideoDecodeError(MediaErrorReason.CORRUPT_VIDEO, detail)


# --- FFmpeg (PyAV) ------------------------------------------------------------------------------


def _refuse_nested_open(url: str, flags: int, options: object) -> BinaryIO:
    raise PermissionError(f"nested open refused: {url[:80]!r}")


def _seconds(value: int | None, time_base: Fraction | None) -> float | None:
    if value is None or time_base is None:
        return None
    seconds = float(value * time_base)
    return seconds if math.isfinite(seconds) else None


class _AvReader(VideoReader):
    def __init__(
        self,
        file: BinaryIO,
        kind: VideoKind,
        settings: VideoSettings,
        deadline: Deadline,
    ) -> None:
        super().__init__(kind, settings, deadline)
        self._file = file
        self._container: Any = None
        self._previous = -1.0
        try:
            self._container = av.open(
                file,
                format=_FFMPEG_FORMAT[kind],
                options={
                    "probesize": str(_PROBE_BYTES),
                    "analyzeduration": str(_ANALYZE_MICROSECONDS),
                },
                metadata_errors="ignore",
                io_open=_refuse_nested_open,
            )
        except Exception as exc:  # every PyAV/FFmpeg error on content: see the module docstring
            if _out_of_memory(exc):
                raise
            raise VideoDecodeError(
                MediaErrorReason.CORRUPT_VIDEO, f"container: {_describe(exc)}"
            ) from None
        try:
            self._read_header(settings)
        except VideoDecodeError:
            self.close()
            raise
        except Exception as exc:  # a stream PyAV cannot describe (no decoder for it ...)
            self.close()
            if _out_of_memory(exc):
                raise
            raise VideoDecodeError(
                MediaErrorReason.CORRUPT_VIDEO, f"stream: {_describe(exc)}"
            ) from None

    def _read_header(self, settings: VideoSettings) -> None:
        self.deadline.check("reading the header")
        streams = [
            s
            for s in self._container.streams.video
            if not s.disposition & av.stream.Disposition.attached_pic  # cover art is no video
        ]
        if not streams:
            raise VideoDecodeError(
                MediaErrorReason.NO_VIDEO_STREAM,
                f"{len(self._container.streams)} stream(s), none of them video",
            )
        self._stream = stream = streams[0]
        context = stream.codec_context
        if context is None:
            raise VideoDecodeError(
                MediaErrorReason.CORRUPT_VIDEO, "video stream with an unknown codec"
            )
        self.codec = context.name
        self.width = context.width or None
        self.height = context.height or None
        self.fps = _rate(stream.average_rate) or _rate(stream.guessed_rate)
        self.duration = _seconds(stream.duration, stream.time_base)
        if self.duration is None and self._container.duration is not None:
            self.duration = self._container.duration / av.time_base
        if self.duration is not None and self.duration <= 0:
            self.duration = None
        self._start = _seconds(stream.start_time, stream.time_base)
        context.thread_count = 1
        # FFmpeg's own guard: refuses to allocate a larger picture, whatever the stream claims
        context.options = {"max_pixels": str(settings.max_pixels)}

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None
        self._file.close()

    def frames(self, *, keyframes_only: bool = False, key_spacing: float = 0.0) -> Iterator[Frame]:
        stream = self._stream
        # Keyframes only: nothing else is even sent to the decoder. Otherwise frames no other
        # frame refers to (most B-frames) are skipped: ~30 % faster for H.264, and sampling at
        # 1 per second takes the next decoded frame, at most a few frames later.
        stream.codec_context.skip_frame = "NONKEY" if keyframes_only else "NONREF"
        time_base = stream.time_base
        packets = self._container.demux(stream)
        next_key = -math.inf
        last_end: float | None = None
        while self._errors < MAX_DECODE_ERRORS:
            self.deadline.check("demuxing")
            try:
                packet = next(packets)
            except StopIteration:
                break
            except Exception as exc:  # a demuxer error ends the stream
                if _out_of_memory(exc):
                    raise
                self._damaged(exc, "demuxing")
                break
            if not packet.size:
                # PyAV's end-of-stream marker, or an empty packet (which would put the decoder
                # in draining mode mid-stream): the decoder is flushed once, below
                continue
            start = _seconds(packet.pts, time_base)
            if start is not None:
                end = start + (_seconds(packet.duration, time_base) or 0.0)
                last_end = end if last_end is None else max(last_end, end)
            if keyframes_only:
                if not packet.is_keyframe:
                    continue
                if start is not None:
                    if start < next_key:
                        continue
                    next_key = start + key_spacing
            yield from self._decode(packet)
        yield from self._decode(None)  # the frames the decoder still holds (reordering delay)
        self._finish()
        self._check_coverage(last_end)

    def _decode(self, packet: Any) -> Iterator[Frame]:
        try:
            decoded = self._stream.decode(packet)
        except Exception as exc:  # a rejected packet is skipped: see the module docstring
            if _out_of_memory(exc):
                raise
            self._damaged(exc, "decoding" if packet is not None else "flushing")
            return
        for frame in decoded:
            seconds = self._time(frame)
            self._check_frame(frame.width, frame.height, seconds)
            if self.frames_decoded == 1:
                self._first_frame(frame)
            yield _AvFrame(frame, seconds, bool(frame.key_frame))
            self.deadline.check("hashing")

    def _first_frame(self, frame: Any) -> None:
        self.width, self.height = frame.width, frame.height
        with contextlib.suppress(Exception):  # a malformed display matrix: no rotation
            self.rotation = round(frame.rotation) % 360

    def _time(self, frame: Any) -> float:
        """Seconds from the start of the stream (frames without a timestamp follow the last)."""
        seconds = _seconds(frame.pts, frame.time_base)
        if seconds is None:
            step = 1.0 / self.fps if self.fps else 0.0
            self._previous = max(self._previous + step, 0.0)
            return self._previous
        if self._start is None:
            self._start = seconds  # no declared start: the first frame is time 0
        self._previous = max(seconds - self._start, 0.0)
        return self._previous

    def _check_coverage(self, last_end: float | None) -> None:
        """A stream that stops well before its declared duration was cut off."""
        if last_end is None:
            return
        covered = last_end - (self._start or 0.0)
        if self.duration is None:  # nothing declared: the duration is what was there
            self.duration = covered if covered > 0 else None
            return
        if covered < self.duration - max(1.0, 0.02 * self.duration):
            self.truncated = True


def _rate(rate: Fraction | None) -> float | None:
    if not rate:
        return None
    value = float(rate)
    return value if math.isfinite(value) and value > 0 else None


# --- Pillow (animated WebP) -----------------------------------------------------------------------


class _PilReader(VideoReader):
    def __init__(
        self, data: bytes, kind: VideoKind, settings: VideoSettings, deadline: Deadline
    ) -> None:
        super().__init__(kind, settings, deadline)
        self._image: Image.Image | None = None
        try:
            self._image = Image.open(io.BytesIO(data), formats=["WEBP"])
            self.width, self.height = self._image.size
            self._count = int(getattr(self._image, "n_frames", 1))
        except MemoryError:
            raise
        except Exception as exc:  # every Pillow error on content, as in monitor.hashing.decode
            self.close()
            raise VideoDecodeError(
                MediaErrorReason.CORRUPT_VIDEO, f"header: {_describe(exc)}"
            ) from None
        self.codec = "webp"

    def check_header(self) -> None:
        super().check_header()
        if self._count > self.settings.max_frames:
            raise VideoDecodeError(
                MediaErrorReason.TOO_MANY_FRAMES,
                f"{self._count} frames, limit {self.settings.max_frames}",
            )

    def close(self) -> None:
        if self._image is not None:
            self._image.close()
            self._image = None

    def frames(self, *, keyframes_only: bool = False, key_spacing: float = 0.0) -> Iterator[Frame]:
        """Every frame: libwebp composites each frame onto the previous ones, so there is nothing
        to skip (the keyframe options are ignored)."""
        image = self._image
        assert image is not None, "reader closed"
        end = 0.0
        for index in range(self._count):
            self.deadline.check("decoding")
            try:
                image.seek(index)
                image.load()
            except MemoryError:
                raise
            except Exception as exc:  # a damaged frame ends the animation
                self._damaged(exc, f"frame {index}")
                break
            seconds = float(image.info.get("timestamp", 0)) / 1000.0
            end = seconds + float(image.info.get("duration", 0)) / 1000.0
            self._check_frame(image.width, image.height, seconds)
            yield _PilFrame(image, seconds, keyframe=index == 0)
            self.deadline.check("hashing")
        self._finish()
        if end > 0:
            self.duration = end
            self.fps = self.frames_decoded / end


# --- entry point ---------------------------------------------------------------------------------


def open_video(
    source: bytes | Path,
    kind: VideoKind,
    settings: VideoSettings,
    deadline: Deadline,
) -> VideoReader:
    """Open ``source`` (bytes, or a path to a regular file) as a ``kind`` container and read its
    header. Raises :class:`VideoDecodeError` for content problems and ``OSError`` for a path
    that cannot be read."""
    if kind is VideoKind.WEBP:
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
        return _PilReader(data, kind, settings, deadline)
    if kind not in _FFMPEG_FORMAT:
        raise VideoDecodeError(MediaErrorReason.UNSUPPORTED_FORMAT, f"no decoder for {kind}")
    file: BinaryIO = io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")  # noqa: SIM115 - closed by the reader
    try:
        return _AvReader(file, kind, settings, deadline)
    except BaseException:
        file.close()
        raise
