"""Video and animation hashing: bytes of one video in, :class:`monitor.domain.VideoSignals` out.

    compute_video_signals(data, settings) -> VideoSignals    exact hashes, timed frame PDQs
    video_file_signals(path, settings) -> VideoSignals       same, for a file (size checked first)
    sniff_kind(data) / is_video(data)                        which path a media item takes

Pure and synchronous, like :func:`monitor.hashing.compute_signals`, so it can run in the process
pool; and with the same contract. The only exceptions are ``MediaError(EMPTY)`` and
``MediaError(TOO_LARGE)`` (against ``settings.video.max_bytes``), and from
:func:`video_file_signals` the ``OSError`` of a file that cannot be read and
``MediaError(UNSUPPORTED_KIND)`` for a path that is not a regular file. Every problem with the
content is returned as ``VideoSignals.failure`` with a reason (``errors.MediaErrorReason``), the
MD5 and SHA-256 of the bytes filled in all the same (lists carry video MD5s). ``failure`` set
means ``frames`` is empty.

What is read:

* MP4/MOV (H.264, HEVC, AV1 ...), WebM/Matroska (VP8, VP9, AV1 ...) and GIF through FFmpeg
  (PyAV); animated WebP through Pillow, because FFmpeg cannot decode animated WebP. See
  :mod:`monitor.hashing.video_decode` for the caps, the budget and the error mapping.
* ``.tgs`` animated stickers (gzipped Lottie JSON) are recognised and *not* rendered: exact hashes,
  the sticker's size, frame rate and duration from its header, and ``lottie_unsupported``.
* Anything else is ``unsupported_format`` (images go to :func:`compute_signals`).

Which frames (see :mod:`monitor.hashing.video_frames`): one per ``1 / sample_rate`` seconds plus
every keyframe (up to ``max_keyframes``), each scaled to at most 640 pixels and PDQ-hashed with
its presentation time; frames below ``min_pdq_quality`` dropped; near-identical consecutive
frames collapsed into runs. Videos longer than ``full_decode_seconds`` are hashed from their
keyframes only, spread evenly over the video (``keyframes_only`` set); animations (GIF, WebP)
are always decoded in full. A video whose frames all fall below the quality minimum (a black
clip) fails with ``low_quality``.

``truncated``: the file ended early or had damaged packets (or its frames stop well before its
declared duration); the frames that could be decoded are hashed and returned, no failure.

Not done here: the display rotation of phone videos is recorded (``rotation``), not applied --
as EXIF orientation is not applied to images; matching reorients if it wants to.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import replace
from pathlib import Path

from monitor.config import HashingSettings, VideoSettings
from monitor.domain import HashFailure, VideoSignals
from monitor.errors import MediaError, MediaErrorReason
from monitor.hashing.video_decode import Deadline, VideoDecodeError, VideoReader, open_video
from monitor.hashing.video_frames import FrameHasher
from monitor.hashing.video_sniff import VideoKind, is_video, lottie_info, sniff_kind

__all__ = [
    "VideoKind",
    "compute_video_signals",
    "is_video",
    "sniff_kind",
    "video_file_signals",
]

_ANIMATIONS = frozenset({VideoKind.GIF, VideoKind.WEBP})
_HEAD_BYTES = 64 * 1024  # enough to sniff any kind, .tgs included
_CHUNK = 1024 * 1024


def _check_size(size: int, settings: VideoSettings) -> None:
    if size == 0:
        raise MediaError(MediaErrorReason.EMPTY, "0 bytes")
    if size > settings.max_bytes:
        raise MediaError(
            MediaErrorReason.TOO_LARGE, f"{size} bytes, limit {settings.max_bytes} bytes"
        )


def compute_video_signals(data: bytes, settings: HashingSettings) -> VideoSignals:
    """Hash one video or animation held in memory. See the module docstring."""
    _check_size(len(data), settings.video)
    sha256 = hashlib.sha256(data).hexdigest()
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    return _analyse(
        data, data, VideoSignals(sha256=sha256, md5=md5, size_bytes=len(data)), settings
    )


def video_file_signals(path: str | os.PathLike[str], settings: HashingSettings) -> VideoSignals:
    """Hash a video file on disk without holding it in memory: its size is checked with ``stat``
    before a byte is read, the exact hashes are computed in chunks, and FFmpeg reads the file
    itself. (Animated WebP and .tgs files, which Pillow or the Lottie check need whole, are read.)
    """
    file = Path(path)
    st = file.stat()
    if not stat.S_ISREG(st.st_mode):
        raise MediaError(MediaErrorReason.UNSUPPORTED_KIND, f"not a regular file: {file}")
    _check_size(st.st_size, settings.video)
    sha256 = hashlib.sha256()
    md5 = hashlib.md5(usedforsecurity=False)
    size = 0
    head = b""
    with open(file, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            if not head:
                head = chunk[:_HEAD_BYTES]
            size += len(chunk)
            _check_size(size, settings.video)  # the file grew since stat
            sha256.update(chunk)
            md5.update(chunk)
    _check_size(size, settings.video)
    base = VideoSignals(sha256=sha256.hexdigest(), md5=md5.hexdigest(), size_bytes=size)
    kind = sniff_kind(head)
    source: bytes | Path = file
    if kind in (VideoKind.WEBP, VideoKind.TGS):
        source = file.read_bytes()
    return _analyse(source, head, base, settings)


def _analyse(
    source: bytes | Path, head: bytes, base: VideoSignals, settings: HashingSettings
) -> VideoSignals:
    kind = sniff_kind(head)
    if kind is None:
        return _failed(
            base,
            MediaErrorReason.UNSUPPORTED_FORMAT,
            f"not a video or animation format we decode ({head[:8]!r})",
        )
    base = replace(base, container=kind.value, mime=kind.mime)
    if kind is VideoKind.TGS:
        return _sticker(source, base)

    video = settings.video
    reader: VideoReader | None = None
    hasher: FrameHasher | None = None
    failure: HashFailure | None = None
    keyframes_only = False
    try:
        reader = open_video(source, kind, video, Deadline(video.time_budget))
        reader.check_header()
        keyframes_only = kind not in _ANIMATIONS and (
            video.full_decode_seconds == 0
            or (reader.duration is not None and reader.duration > video.full_decode_seconds)
        )
        spacing = max(1.0 / video.sample_rate, (reader.duration or 0.0) / video.max_keyframes)
        hasher = FrameHasher(settings, keyframes_only=keyframes_only)
        for frame in reader.frames(keyframes_only=keyframes_only, key_spacing=spacing):
            hasher.offer(frame)
    except VideoDecodeError as exc:
        failure = HashFailure(reason=exc.reason.value, detail=exc.detail)
    finally:
        if reader is not None:
            reader.close()

    if reader is not None:
        base = replace(
            base,
            codec=reader.codec,
            duration=reader.duration,
            width=reader.width,
            height=reader.height,
            fps=reader.fps,
            rotation=reader.rotation,
            frames_decoded=reader.frames_decoded,
            keyframes_only=keyframes_only,
        )
    if failure is not None:
        return replace(base, failure=failure)
    assert reader is not None  # no failure: both were made
    assert hasher is not None
    frames = hasher.result()
    result = replace(
        base,
        frames=frames,
        frames_hashed=hasher.hashed,
        low_quality=hasher.low_quality,
        truncated=reader.truncated,
    )
    if not frames:
        return _failed(
            result,
            MediaErrorReason.LOW_QUALITY,
            f"no frame of {hasher.hashed} hashed reached PDQ quality "
            f"{settings.min_pdq_quality} (best {hasher.best_quality})",
        )
    return result


def _sticker(source: bytes | Path, base: VideoSignals) -> VideoSignals:
    data = source if isinstance(source, bytes) else source.read_bytes()
    info = lottie_info(data)
    if info is None:
        return _failed(base, MediaErrorReason.CORRUPT_VIDEO, "gzip, but not a Lottie animation")
    base = replace(
        base,
        codec="lottie",
        width=info.width,
        height=info.height,
        fps=info.fps,
        duration=info.duration,
    )
    return _failed(
        base,
        MediaErrorReason.LOTTIE_UNSUPPORTED,
        "animated sticker (vector Lottie): frames are not rendered",
    )


def _failed(base: VideoSignals, reason: MediaErrorReason, detail: str) -> VideoSignals:
    return replace(base, frames=(), failure=HashFailure(reason=reason.value, detail=detail))
