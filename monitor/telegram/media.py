"""What media a message carries, whether policy lets it be fetched, and fetching it in memory.

Telegram tells the size, MIME type and kind of a file before any byte is fetched, so the policy
(``[telegram.media]``: size caps, kinds, MIME types) is applied first and nothing over the cap is
ever downloaded. Media that is in scope but not fetched (too large, a kind or MIME type excluded)
is still *recorded* as seen, with the reason: staff must be able to tell "not there" from "there
but not hashed".

Kinds, from the document's attributes (Telethon's own rules):

* ``photo``: a photo (the largest size is downloaded);
* ``sticker``: a static (WebP), video (WebM) or animated (``.tgs``, gzipped Lottie) sticker;
* ``animation``: a GIF, which Telegram converts to a silent MP4 (``DocumentAttributeAnimated``);
* ``video``: a video, a round video message (``DocumentAttributeVideo(round_message=True)``) or
  a document with a ``video/*`` MIME type (a video sent as a file);
* ``image``: an image sent as a file.

Everything that needs the video path (kind ``video`` or ``animation``, a ``video/*`` MIME type, an
animated sticker) is capped by ``max_video_bytes``, the rest by ``max_bytes``. The document itself
is downloaded, never its thumbnail: a thumbnail is another picture (smaller, one frame) and would
give other hashes. Hashing tells a video from an image by its bytes, not by what Telegram says;
an animated sticker is fetched (64 KiB at most) for its exact hashes and recorded
``lottie_unsupported``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telethon import errors, types

from monitor.config import MediaPolicy
from monitor.domain import MediaKind
from monitor.errors import MediaError, MediaErrorReason

# MIME types of animated stickers and of video containers: the video path hashes them.
_LOTTIE = "application/x-tgsticker"
_VIDEO_PREFIX = "video/"


@dataclass(frozen=True, slots=True)
class MediaRef:
    """One media item of a message, as Telegram describes it before download."""

    media_id: int  # photo.id / document.id: survives forwards, a free cache key
    kind: MediaKind
    size: int | None  # bytes, when Telegram says
    mime: str | None
    file_name: str | None = None

    @property
    def needs_video(self) -> bool:
        """The video path hashes it: a video container (MP4, WebM ...; round videos, GIFs as
        MP4, video stickers) or an animated sticker (Lottie)."""
        mime = self.mime or ""
        return (
            self.kind in (MediaKind.VIDEO, MediaKind.ANIMATION)
            or mime.startswith(_VIDEO_PREFIX)
            or mime == _LOTTIE
        )


@dataclass(frozen=True, slots=True)
class Skip:
    """Why a media item is recorded without being fetched or hashed."""

    reason: MediaErrorReason
    detail: str


def media_ref(message: Any) -> MediaRef | None:
    """The media of ``message`` that is in scope (images, stickers, animations, videos), else
    None (text, polls, voice, music, other documents, web pages, ...)."""
    media = getattr(message, "media", None)
    if isinstance(media, types.MessageMediaPhoto):
        photo = media.photo
        if not isinstance(photo, types.Photo):  # PhotoEmpty: expired self-destructing photo
            return None
        return MediaRef(photo.id, MediaKind.PHOTO, _photo_size(photo), "image/jpeg")
    if not isinstance(media, types.MessageMediaDocument):
        return None
    document = media.document
    if not isinstance(document, types.Document):
        return None
    mime = (document.mime_type or "").lower() or None
    attrs = document.attributes or []
    name = next(
        (a.file_name for a in attrs if isinstance(a, types.DocumentAttributeFilename)), None
    )
    kind: MediaKind | None
    if any(isinstance(a, types.DocumentAttributeSticker) for a in attrs):
        kind = MediaKind.STICKER
    elif any(isinstance(a, types.DocumentAttributeAnimated) for a in attrs):
        kind = MediaKind.ANIMATION
    elif any(isinstance(a, types.DocumentAttributeVideo) for a in attrs) or (mime or "").startswith(
        _VIDEO_PREFIX
    ):
        kind = MediaKind.VIDEO
    elif (mime or "").startswith("image/"):
        kind = MediaKind.IMAGE
    else:
        kind = None
    if kind is None:
        return None
    return MediaRef(document.id, kind, document.size, mime, name)


def _photo_size(photo: Any) -> int | None:
    """Bytes of the largest size of a photo (the one downloaded)."""
    best: int | None = None
    for size in photo.sizes or []:
        if isinstance(size, types.PhotoSize):
            value = size.size
        elif isinstance(size, types.PhotoSizeProgressive):
            value = max(size.sizes) if size.sizes else None
        elif isinstance(size, types.PhotoCachedSize):
            value = len(size.bytes)
        else:
            continue
        if value is not None and (best is None or value > best):
            best = value
    return best


def size_cap(ref: MediaRef, policy: MediaPolicy) -> tuple[int, str]:
    """The largest size ``ref`` may have, and the setting that says so."""
    if ref.needs_video:
        return policy.max_video_bytes, "telegram.media.max_video_bytes"
    return policy.max_bytes, "telegram.media.max_bytes"


def check_policy(ref: MediaRef, policy: MediaPolicy) -> Skip | None:
    """None if ``ref`` may be downloaded; else why not. Checked before any byte is fetched."""
    if ref.kind.value not in policy.kinds:
        return Skip(
            MediaErrorReason.KIND_NOT_ALLOWED, f"{ref.kind.value} not in telegram.media.kinds"
        )
    if ref.kind is not MediaKind.PHOTO and ref.mime not in policy.mime_types:
        return Skip(
            MediaErrorReason.MIME_NOT_ALLOWED,
            f"{ref.mime or 'no MIME type'} not in telegram.media.mime_types",
        )
    cap, key = size_cap(ref, policy)
    if ref.size is not None and ref.size > cap:
        return Skip(MediaErrorReason.TOO_LARGE, f"{ref.size} bytes, limit {cap} bytes ({key})")
    return None


async def download(client: Any, message: Any, ref: MediaRef, policy: MediaPolicy) -> bytes:
    """The media bytes, in memory. An expired file reference is cured by fetching the message
    again (file references expire after a while); a message deleted in the meantime gives
    ``MediaError(UNAVAILABLE)``. The size is checked again on what arrives."""
    try:
        data = await client.download_media(message, file=bytes)
    except (errors.FileReferenceExpiredError, errors.FileReferenceInvalidError):
        fresh = await client.get_messages(message.peer_id, ids=message.id)
        fresh_ref = media_ref(fresh) if fresh is not None else None
        if fresh is None or fresh_ref is None or fresh_ref.media_id != ref.media_id:
            raise MediaError(
                MediaErrorReason.UNAVAILABLE, "the message or its media is gone"
            ) from None
        data = await client.download_media(fresh, file=bytes)
    if not isinstance(data, bytes | bytearray):
        raise MediaError(MediaErrorReason.UNAVAILABLE, "Telegram returned no file")
    cap, key = size_cap(ref, policy)
    if len(data) > cap:
        raise MediaError(
            MediaErrorReason.TOO_LARGE, f"{len(data)} bytes, limit {cap} bytes ({key})"
        )
    return bytes(data)
