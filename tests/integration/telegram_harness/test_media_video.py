"""Video documents of the loopback server as Telethon sees them: round video messages, GIFs,
video and animated stickers carry Telegram's attributes; a thumbnail is served only when asked
for, and downloading the media is the document itself."""

from __future__ import annotations

import asyncio
import os

from telethon import TelegramClient, types

from tests.telegram_server import World

from .images import make_jpeg


async def test_video_kinds_carry_telegrams_attributes(client: TelegramClient, world: World) -> None:
    channel = world.create_channel("clips", "Clips")
    data = os.urandom(4000)
    ids = [
        world.post_document(channel, data, "video/mp4", "a.mp4", kind="video", duration=3.0),
        world.post_document(channel, data, "video/mp4", kind="round", duration=5.0),
        world.post_document(channel, data, "video/mp4", "a.gif.mp4", kind="gif"),
        world.post_document(channel, data, "video/webm", kind="video_sticker"),
        world.post_document(channel, data, "application/x-tgsticker", kind="animated_sticker"),
    ]
    async with asyncio.timeout(10):
        entity = await client.get_entity("clips")
        video, round_, gif, video_sticker, tgs = await client.get_messages(entity, ids=ids)
    assert video.video is not None
    assert video.video_note is None
    assert video.file.duration == 3.0
    assert round_.video_note is not None
    assert round_.media.round
    assert round_.file.duration == 5.0
    assert gif.gif is not None
    assert video_sticker.sticker is not None
    assert video_sticker.file.mime_type == "video/webm"
    assert tgs.sticker is not None
    assert tgs.file.mime_type == "application/x-tgsticker"


async def test_the_thumbnail_is_served_only_when_asked_for(
    client: TelegramClient, world: World
) -> None:
    channel = world.create_channel("thumbs", "Thumbs")
    data = os.urandom(3000)
    thumb = make_jpeg(5, (90, 60))
    msg_id = world.post_document(channel, data, "video/mp4", "a.mp4", kind="video", thumb=thumb)
    async with asyncio.timeout(10):
        entity = await client.get_entity("thumbs")
        message = await client.get_messages(entity, ids=msg_id)
        assert isinstance(message.document.thumbs[0], types.PhotoSize)
        assert await client.download_media(message, file=bytes) == data
        assert await client.download_media(message, file=bytes, thumb=0) == thumb
    media_id = message.document.id
    assert world.served == [("document", media_id, ""), ("document", media_id, "m")]
