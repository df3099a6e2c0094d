"""Videos on Telegram: round video messages, GIFs (MP4 with DocumentAttributeAnimated), video
documents and video stickers are classified, fetched within [telegram.media] max_video_bytes and
hashed through the video path; animated stickers (.tgs) are fetched for their exact hashes and
recorded lottie_unsupported; nothing over a cap is downloaded, and never a thumbnail instead.

Videos are made in code (tests/videogen.py); Telethon's own TL types describe them.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from telethon import types

from monitor.config import HashingSettings, MediaPolicy, MiB, load_settings
from monitor.domain import Match, MediaKind, RecordResult, SightingSource, Signals
from monitor.errors import ConfigError, MediaError, MediaErrorReason
from monitor.pipeline import Pipeline, PoolHasher
from monitor.telegram.media import MediaRef, check_policy, download, media_ref, size_cap
from monitor.telegram.processor import MessageProcessor, WorkItem
from monitor.telegram.sources import Chat
from tests.videogen import Scene, lottie_tgs, scene_video

DATE = datetime(2024, 8, 26, 9, 30, tzinfo=UTC)
CHAT = Chat(chat_id=-1001234567890, title="Feed", username="feed", entity=None, watched_id=1)
STICKER = types.DocumentAttributeSticker(alt="", stickerset=types.InputStickerSetEmpty())


@functools.cache
def mp4() -> bytes:
    return scene_video([Scene(41, 1.5), Scene(42, 1.5, pan=20)])


@functools.cache
def webm() -> bytes:
    return scene_video([Scene(43, 1.0)], size=(256, 256), container="webm")


def _message(
    mime: str,
    size: int,
    *attributes: Any,
    doc_id: int = 77,
    msg_id: int = 5,
    thumb: bool = False,
    **media_flags: Any,
) -> Any:
    doc = types.Document(
        id=doc_id,
        access_hash=1,
        file_reference=b"r",
        date=DATE,
        mime_type=mime,
        size=size,
        dc_id=2,
        attributes=list(attributes),
        thumbs=[types.PhotoSize("m", 90, 90, 1000)] if thumb else None,
    )
    return types.Message(
        id=msg_id,
        peer_id=types.PeerChannel(1234567890),
        date=DATE,
        message="",
        media=types.MessageMediaDocument(document=doc, **media_flags),
    )


def _round(size: int = 1000, **kw: Any) -> Any:
    attr = types.DocumentAttributeVideo(3.0, 240, 240, round_message=True)
    return _message("video/mp4", size, attr, round=True, **kw)


def _gif(size: int = 1000, **kw: Any) -> Any:
    attrs = (
        types.DocumentAttributeAnimated(),
        types.DocumentAttributeVideo(3.0, 320, 240, nosound=True),
        types.DocumentAttributeFilename("funny.gif.mp4"),
    )
    return _message("video/mp4", size, *attrs, **kw)


def _video(size: int = 1000, **kw: Any) -> Any:
    attr = types.DocumentAttributeVideo(3.0, 320, 240, supports_streaming=True)
    return _message("video/mp4", size, attr, video=True, thumb=True, **kw)


def _video_file(size: int = 1000, **kw: Any) -> Any:
    """A video sent as a file: no video attribute, a video MIME type and a name."""
    return _message("video/quicktime", size, types.DocumentAttributeFilename("a.mov"), **kw)


def _video_sticker(size: int = 1000, **kw: Any) -> Any:
    attrs = (types.DocumentAttributeVideo(3.0, 512, 512, nosound=True), STICKER)
    return _message("video/webm", size, *attrs, **kw)


def _animated_sticker(size: int = 1000, **kw: Any) -> Any:
    attrs = (types.DocumentAttributeImageSize(512, 512), STICKER)
    return _message("application/x-tgsticker", size, *attrs, **kw)


# --- classification and policy ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "kind", "mime"),
    [
        (_round, MediaKind.VIDEO, "video/mp4"),
        (_gif, MediaKind.ANIMATION, "video/mp4"),
        (_video, MediaKind.VIDEO, "video/mp4"),
        (_video_file, MediaKind.VIDEO, "video/quicktime"),
        (_video_sticker, MediaKind.STICKER, "video/webm"),
        (_animated_sticker, MediaKind.STICKER, "application/x-tgsticker"),
    ],
)
def test_video_kinds_are_classified_and_fetched(make: Any, kind: MediaKind, mime: str) -> None:
    ref = media_ref(make(4321))
    assert ref is not None
    assert (ref.kind, ref.mime, ref.size) == (kind, mime, 4321)
    assert ref.needs_video
    assert check_policy(ref, MediaPolicy()) is None


def test_images_and_static_stickers_do_not_need_the_video_path() -> None:
    png = media_ref(_message("image/png", 10, types.DocumentAttributeFilename("a.png")))
    webp = media_ref(_message("image/webp", 10, types.DocumentAttributeImageSize(5, 5), STICKER))
    assert png is not None
    assert not png.needs_video
    assert webp is not None
    assert not webp.needs_video
    assert size_cap(png, MediaPolicy())[0] == MediaPolicy().max_bytes


@pytest.mark.parametrize("make", [_round, _gif, _video, _video_file, _video_sticker])
def test_a_video_over_its_cap_is_skipped_before_download(make: Any) -> None:
    policy = MediaPolicy(max_bytes=1000, max_video_bytes=5000)
    within = media_ref(make(5000))
    assert within is not None
    assert check_policy(within, policy) is None  # over max_bytes, but a video
    over = media_ref(make(5001))
    assert over is not None
    skip = check_policy(over, policy)
    assert skip is not None
    assert skip.reason is MediaErrorReason.TOO_LARGE
    assert "5001 bytes, limit 5000 bytes (telegram.media.max_video_bytes)" in skip.detail


def test_an_image_keeps_the_image_cap() -> None:
    policy = MediaPolicy(max_bytes=1000, max_video_bytes=5000)
    ref = MediaRef(1, MediaKind.IMAGE, 1001, "image/png")
    skip = check_policy(ref, policy)
    assert skip is not None
    assert skip.reason is MediaErrorReason.TOO_LARGE
    assert "telegram.media.max_bytes" in skip.detail


def test_video_kinds_and_types_can_still_be_excluded() -> None:
    ref = media_ref(_round())
    assert ref is not None
    no_video = check_policy(ref, MediaPolicy(kinds=("photo", "image")))
    assert no_video is not None
    assert no_video.reason is MediaErrorReason.KIND_NOT_ALLOWED
    no_mp4 = check_policy(ref, MediaPolicy(mime_types=("image/jpeg",)))
    assert no_mp4 is not None
    assert no_mp4.reason is MediaErrorReason.MIME_NOT_ALLOWED


def test_max_video_bytes_is_validated(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[telegram.media]\nmax_video_bytes = 0\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(path, env={})
    assert "telegram.media.max_video_bytes" in str(err.value)
    path.write_text(
        "[hashing.video]\nmax_bytes = 1000\n[telegram.media]\nmax_video_bytes = 1001\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as err:
        load_settings(path, env={})
    assert "telegram.media.max_video_bytes" in str(err.value)
    assert "hashing.video.max_bytes" in str(err.value)
    path.write_text("[telegram.media]\nmax_video_bytes = 1048576\n", encoding="utf-8")
    assert load_settings(path, env={}).telegram.media.max_video_bytes == 1 * MiB
    assert load_settings(None, env={}).telegram.media.max_video_bytes == 50 * MiB


# --- download and processing with fakes -------------------------------------------------------


class FakeClient:
    """Serves one file per document id; records every download and its arguments."""

    def __init__(self, files: dict[int, bytes]) -> None:
        self.files = files
        self.downloads: list[tuple[int, dict[str, Any]]] = []

    async def download_media(self, message: Any, **kwargs: Any) -> bytes:
        doc_id = message.media.document.id
        self.downloads.append((doc_id, kwargs))
        return self.files[doc_id]


class FakeStore:
    def __init__(self) -> None:
        self.skipped: list[tuple[SightingSource, str]] = []

    async def signals_for_telegram_media(self, telegram_media_id: int) -> Signals | None:
        return None

    async def record_skipped(
        self,
        source: SightingSource,
        *,
        reason: str,
        detail: str | None,
        file_size: int | None,
        mime_type: str | None,
    ) -> bool:
        self.skipped.append((source, reason))
        return True


class FakeRecorder:
    def __init__(self) -> None:
        self.recorded: list[tuple[SightingSource, Signals]] = []

    async def record_sighting(
        self, source: SightingSource, signals: Signals, matches: Sequence[Match]
    ) -> RecordResult:
        self.recorded.append((source, signals))
        return RecordResult(len(self.recorded), 1, True, (), ())


class NoMatches:
    def match(self, signals: Signals) -> list[Match]:
        return []


async def test_download_is_the_document_never_its_thumbnail() -> None:
    message = _video(len(mp4()))
    ref = media_ref(message)
    assert ref is not None
    client = FakeClient({77: mp4()})
    assert await download(client, message, ref, MediaPolicy()) == mp4()
    [(_, kwargs)] = client.downloads
    assert kwargs == {"file": bytes}  # no thumb=...: Telethon then fetches the document


async def test_what_arrives_over_the_video_cap_is_refused() -> None:
    message = _video(10)  # Telegram said 10 bytes
    ref = media_ref(message)
    assert ref is not None
    policy = MediaPolicy(max_bytes=10, max_video_bytes=len(mp4()) - 1)
    with pytest.raises(MediaError) as err:
        await download(FakeClient({77: mp4()}), message, ref, policy)
    assert err.value.reason is MediaErrorReason.TOO_LARGE
    assert "telegram.media.max_video_bytes" in err.value.detail


def _processor(
    client: FakeClient, policy: MediaPolicy | None = None
) -> tuple[MessageProcessor, FakeStore, FakeRecorder, Counter[str]]:
    store, recorder, counters = FakeStore(), FakeRecorder(), Counter[str]()
    hasher = PoolHasher(HashingSettings(), workers=0)
    pipeline = Pipeline(NoMatches(), recorder)
    processor = MessageProcessor(client, store, hasher, pipeline, policy or MediaPolicy(), counters)
    return processor, store, recorder, counters


async def test_round_video_gif_video_and_video_sticker_are_hashed_as_videos() -> None:
    messages = [
        _round(len(mp4()), doc_id=1, msg_id=11),
        _gif(len(mp4()), doc_id=2, msg_id=12),
        _video(len(mp4()), doc_id=3, msg_id=13),
        _video_sticker(len(webm()), doc_id=4, msg_id=14),
    ]
    client = FakeClient({1: mp4(), 2: mp4(), 3: mp4(), 4: webm()})
    processor, store, recorder, counters = _processor(client)
    for message in messages:
        await processor.process(WorkItem(message, CHAT, "reconcile"))
    assert store.skipped == []
    assert [d for d, _ in client.downloads] == [1, 2, 3, 4]
    kinds = [source.media_kind for source, _ in recorder.recorded]
    assert kinds == [MediaKind.VIDEO, MediaKind.ANIMATION, MediaKind.VIDEO, MediaKind.STICKER]
    for _, signals in recorder.recorded:
        assert signals.video is not None
        assert signals.failure is None
        assert signals.frames
    assert recorder.recorded[3][1].video.container == "webm"  # type: ignore[union-attr]
    assert counters["videos_hashed"] == 4


async def test_an_animated_sticker_is_recorded_with_exact_hashes_only() -> None:
    tgs = lottie_tgs()
    client = FakeClient({9: tgs})
    processor, _store, recorder, counters = _processor(client)
    await processor.process(WorkItem(_animated_sticker(len(tgs), doc_id=9), CHAT, "live"))
    [(source, signals)] = recorder.recorded
    assert source.media_kind is MediaKind.STICKER
    assert signals.failure is not None
    assert signals.failure.reason == MediaErrorReason.LOTTIE_UNSUPPORTED.value
    assert signals.sha256
    assert signals.md5
    assert counters["unhashable_lottie_unsupported"] == 1


async def test_a_video_over_the_cap_is_recorded_skipped_and_never_downloaded() -> None:
    client = FakeClient({1: mp4()})
    policy = MediaPolicy(max_video_bytes=len(mp4()) - 1)
    processor, store, recorder, _ = _processor(client, policy)
    await processor.process(WorkItem(_round(len(mp4()), doc_id=1), CHAT, "live"))
    assert client.downloads == []
    assert recorder.recorded == []
    [(source, reason)] = store.skipped
    assert reason == MediaErrorReason.TOO_LARGE.value
    assert source.media_kind is MediaKind.VIDEO


async def test_a_corrupt_video_is_recorded_with_its_reason() -> None:
    data = b"\x00\x00\x00\x18ftypmp42" + bytes(5000)
    client = FakeClient({1: data})
    processor, _store, recorder, _ = _processor(client)
    await processor.process(WorkItem(_video(len(data), doc_id=1), CHAT, "live"))
    [(_, signals)] = recorder.recorded
    assert signals.video is not None
    assert signals.failure is not None
    assert signals.failure.reason == MediaErrorReason.CORRUPT_VIDEO.value
