"""What media a message carries, and the policy applied before any byte is fetched."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from telethon import types

from monitor.config import MediaPolicy
from monitor.domain import MediaKind
from monitor.errors import MediaErrorReason
from monitor.telegram.media import MediaRef, check_policy, media_ref
from monitor.telegram.sources import Chat, sighting_source

DATE = datetime(2024, 8, 26, 9, 30, tzinfo=UTC)


def _document(mime: str, size: int, *attributes: Any, doc_id: int = 77) -> Any:
    doc = types.Document(
        id=doc_id,
        access_hash=1,
        file_reference=b"r",
        date=DATE,
        mime_type=mime,
        size=size,
        dc_id=2,
        attributes=list(attributes),
    )
    return types.Message(
        id=5,
        peer_id=types.PeerChannel(1234567890),
        date=DATE,
        message="",
        media=types.MessageMediaDocument(document=doc),
    )


def _photo(size: int = 1000, photo_id: int = 99) -> Any:
    photo = types.Photo(
        id=photo_id,
        access_hash=1,
        file_reference=b"r",
        date=DATE,
        dc_id=2,
        sizes=[types.PhotoSize("m", 320, 240, 100), types.PhotoSize("y", 1280, 960, size)],
    )
    return types.Message(
        id=6,
        peer_id=types.PeerChannel(1234567890),
        date=DATE,
        message="",
        media=types.MessageMediaPhoto(photo=photo),
    )


def test_photo_uses_its_largest_size() -> None:
    ref = media_ref(_photo(54321))
    assert ref == MediaRef(99, MediaKind.PHOTO, 54321, "image/jpeg")


@pytest.mark.parametrize(
    ("mime", "attrs", "kind"),
    [
        ("image/png", [types.DocumentAttributeFilename("a.png")], MediaKind.IMAGE),
        (
            "image/webp",
            [types.DocumentAttributeSticker("", types.InputStickerSetEmpty())],
            MediaKind.STICKER,
        ),
        (
            "video/mp4",
            [types.DocumentAttributeAnimated(), types.DocumentAttributeVideo(1.0, 10, 10)],
            MediaKind.ANIMATION,
        ),
        ("video/mp4", [types.DocumentAttributeVideo(3.0, 640, 360)], MediaKind.VIDEO),
        ("video/webm", [], MediaKind.VIDEO),
    ],
)
def test_document_kinds(mime: str, attrs: list[Any], kind: MediaKind) -> None:
    ref = media_ref(_document(mime, 10, *attrs))
    assert ref is not None
    assert ref.kind is kind
    assert ref.mime == mime


def test_out_of_scope_messages_have_no_media() -> None:
    assert (
        media_ref(types.Message(id=1, peer_id=types.PeerChannel(1), date=DATE, message="hi"))
        is None
    )
    assert media_ref(_document("application/pdf", 10)) is None
    assert (
        media_ref(_document("audio/ogg", 10, types.DocumentAttributeAudio(3, voice=True))) is None
    )


def test_policy_checks_kind_mime_and_size_before_download() -> None:
    policy = MediaPolicy(max_bytes=1000)
    assert check_policy(MediaRef(1, MediaKind.PHOTO, 999, "image/jpeg"), policy) is None
    big = check_policy(MediaRef(1, MediaKind.PHOTO, 1001, "image/jpeg"), policy)
    assert big is not None
    assert big.reason is MediaErrorReason.TOO_LARGE
    assert "1001" in big.detail
    svg = check_policy(MediaRef(1, MediaKind.IMAGE, 10, "image/svg+xml"), policy)
    assert svg is not None
    assert svg.reason is MediaErrorReason.MIME_NOT_ALLOWED
    no_stickers = MediaPolicy(kinds=("photo",))
    sticker = check_policy(MediaRef(1, MediaKind.STICKER, 10, "image/webp"), no_stickers)
    assert sticker is not None
    assert sticker.reason is MediaErrorReason.KIND_NOT_ALLOWED


def test_videos_are_fetched_within_their_own_cap() -> None:
    video = MediaRef(1, MediaKind.VIDEO, 10, "video/mp4")
    assert check_policy(video, MediaPolicy()) is None
    lottie = MediaRef(1, MediaKind.STICKER, 10, "application/x-tgsticker")
    assert check_policy(lottie, MediaPolicy()) is None
    no_lottie = check_policy(lottie, MediaPolicy(mime_types=("image/webp",)))
    assert no_lottie is not None
    assert no_lottie.reason is MediaErrorReason.MIME_NOT_ALLOWED


def test_sighting_source_of_a_forwarded_album_item() -> None:
    message = _photo()
    message.grouped_id = 777
    message.fwd_from = types.MessageFwdHeader(
        date=DATE, from_id=types.PeerChannel(555), channel_post=42
    )
    chat = Chat(chat_id=-1001234567890, title="Feed", username="feed", entity=None, watched_id=1)
    ref = media_ref(message)
    assert ref is not None
    source = sighting_source(message, chat, ref)
    assert source.key == "tg:-1001234567890:6:99"
    assert source.link == "https://t.me/feed/6"
    assert source.grouped_id == 777
    assert source.forward_chat_id == -1000000000555
    assert source.forward_message_id == 42
    assert source.posted_at == DATE
    assert source.media_kind is MediaKind.PHOTO
