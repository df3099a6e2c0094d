"""Synthetic videos made in code with PyAV, from generated frames: nothing real, ever.

Every frame comes from :func:`monitor.synthetic.photo_like` (gradients, shapes and noise). Used by
`monitor demo` (a listed video and its re-posted copies) and by the tests. Deterministic for its
arguments (the encoders are single-threaded).

    Scene(seed, seconds, pan)       one synthetic picture held for some seconds, optionally panning
    scene_frames(scenes, ...)       the RGB frames (numpy arrays) of a list of scenes
    encode_video(frames, ...)       frames to container bytes: mp4/mov (H.264), webm (VP9), ...
    scene_video(scenes, ...)        both at once
    transcode(data, ...)            decode and re-encode: another bitrate/size/codec, or a trim
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
from PIL import Image

from monitor.synthetic import photo_like

Frame = npt.NDArray[np.uint8]

# container -> (PyAV format name, default codec)
CONTAINERS: dict[str, tuple[str, str]] = {
    "mp4": ("mp4", "libx264"),
    "mov": ("mov", "libx264"),
    "mkv": ("matroska", "libx264"),
    "webm": ("webm", "libvpx-vp9"),
}


@dataclass(frozen=True, slots=True)
class Scene:
    """``photo_like(seed)`` held for ``seconds``; ``pan`` pixels per second of slow sideways pan
    (0: a still picture). A panning scene is cut from a picture wider than the frame."""

    seed: int
    seconds: float
    pan: float = 0.0


def _picture(seed: int, size: tuple[int, int], pan_px: int) -> Frame:
    w, h = size
    return np.asarray(photo_like(seed, (w + pan_px, h)))


def scene_frames(
    scenes: Sequence[Scene], size: tuple[int, int] = (320, 240), fps: int = 10
) -> Iterator[Frame]:
    """Every frame of ``scenes`` played one after another at ``fps``."""
    w, _ = size
    for scene in scenes:
        count = round(scene.seconds * fps)
        travel = int(np.ceil(scene.pan * scene.seconds))
        picture = _picture(scene.seed, size, travel)
        for i in range(count):
            x = int(scene.pan * i / fps)
            yield np.ascontiguousarray(picture[:, x : x + w])


def _rgb_array(frame: Frame | Image.Image) -> Frame:
    if isinstance(frame, Image.Image):
        return np.asarray(frame.convert("RGB"))
    return frame


def encode_video(
    frames: Iterable[Frame | Image.Image],
    *,
    fps: int = 10,
    container: str = "mp4",
    codec: str | None = None,
    bitrate: int | None = None,
    crf: int | None = None,
    gop: int | None = None,
    preset: str = "ultrafast",
    faststart: bool = True,
) -> bytes:
    """Encode RGB frames (all the same size, even width and height) into a container's bytes.

    ``bitrate`` in bits per second, else ``crf`` (x264 and VP9), else the codec's default.
    ``gop``: frames between keyframes (None: the codec's default, 250 for x264, which also cuts
    at scene changes). ``preset``: x264's speed preset (``ultrafast`` has no B-frames,
    ``veryfast`` and slower have them). ``faststart`` moves the MP4/MOV index (``moov``) before
    the data, as streaming services do.
    """
    fmt, default_codec = CONTAINERS[container]
    if faststart and fmt in ("mp4", "mov"):
        # moving the index needs a real file (the muxer reopens it), not a BytesIO
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"video.{container}"
            _encode(
                path,
                frames,
                fmt,
                default_codec,
                {"movflags": "+faststart"},
                fps=fps,
                codec=codec,
                bitrate=bitrate,
                crf=crf,
                gop=gop,
                preset=preset,
            )
            return path.read_bytes()
    buf = io.BytesIO()
    _encode(
        buf,
        frames,
        fmt,
        default_codec,
        {},
        fps=fps,
        codec=codec,
        bitrate=bitrate,
        crf=crf,
        gop=gop,
        preset=preset,
    )
    return buf.getvalue()


def _encode(
    target: Path | io.BytesIO,
    frames: Iterable[Frame | Image.Image],
    fmt: str,
    default_codec: str,
    options: dict[str, str],
    *,
    fps: int,
    codec: str | None,
    bitrate: int | None,
    crf: int | None,
    gop: int | None,
    preset: str,
) -> None:
    with av.open(target, mode="w", format=fmt, options=options) as out:
        stream = out.add_stream(codec or default_codec, rate=fps)
        assert isinstance(stream, av.video.stream.VideoStream)
        stream.pix_fmt = "yuv420p"
        codec_options: dict[str, object] = {}
        name = stream.codec_context.name
        if name == "libx264":
            codec_options.update({"preset": preset, "threads": "1"})
            if bitrate is None:
                codec_options["crf"] = str(23 if crf is None else crf)
        elif name == "libvpx-vp9":
            codec_options.update({"deadline": "realtime", "cpu-used": "8", "threads": "1"})
            if bitrate is None:
                codec_options.update({"crf": str(32 if crf is None else crf), "b": "0"})
        if bitrate is not None:
            stream.bit_rate = bitrate
        if gop is not None:
            stream.codec_context.gop_size = gop
        stream.options = codec_options
        for i, frame in enumerate(frames):
            pixels = _rgb_array(frame)
            if i == 0:
                stream.height, stream.width = pixels.shape[:2]
            video_frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            video_frame.pts = i
            video_frame.time_base = Fraction(1, fps)
            out.mux(stream.encode(video_frame))
        out.mux(stream.encode(None))


def scene_video(
    scenes: Sequence[Scene],
    *,
    size: tuple[int, int] = (320, 240),
    fps: int = 10,
    **encode_options: object,
) -> bytes:
    """``scenes`` encoded at ``size`` and ``fps`` (see :func:`encode_video` for the options)."""
    return encode_video(scene_frames(scenes, size, fps), fps=fps, **encode_options)  # type: ignore[arg-type]


def transcode(
    data: bytes,
    *,
    start: float = 0.0,
    size: tuple[int, int] | None = None,
    fps: int | None = None,
    **encode_options: object,
) -> bytes:
    """Decode ``data`` and encode it again, as a re-post would: frames before ``start`` seconds
    are dropped (a trim), frames are scaled to ``size``, and the rest of the options go to
    :func:`encode_video` (container, codec, bitrate, crf ...)."""
    with av.open(io.BytesIO(data), mode="r") as src:
        assert isinstance(src, av.container.InputContainer)
        stream = src.streams.video[0]
        rate = fps or round(float(stream.average_rate or 10))
        frames: list[Frame] = []
        for frame in src.decode(stream):
            if frame.time is not None and frame.time < start - 1e-6:
                continue
            if size is not None:
                frame = frame.reformat(width=size[0], height=size[1], interpolation="AREA")
            frames.append(np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8))
    return encode_video(frames, fps=rate, **encode_options)  # type: ignore[arg-type]
