"""Downloading photos and documents through upload.getFile."""

from __future__ import annotations

import asyncio
import os

import pytest
from telethon import TelegramClient, errors, types

from tests.telegram_server import World

from .images import make_jpeg, make_png


async def test_download_photo_as_bytes(client: TelegramClient, world: World) -> None:
    channel = world.create_channel("pics", "Pics")
    jpeg = make_jpeg(1, (640, 480))
    msg_id = world.post_photo(channel, jpeg, caption="look")
    async with asyncio.timeout(10):
        entity = await client.get_entity("pics")
        message = await client.get_messages(entity, ids=msg_id)
        assert isinstance(message.media, types.MessageMediaPhoto)
        assert message.text == "look"
        assert message.file.size == len(jpeg)
        assert message.file.mime_type == "image/jpeg"
        assert (message.file.width, message.file.height) == (640, 480)
        data = await client.download_media(message, file=bytes)
        assert data == jpeg
        assert world.request_count("upload.getFile") == 1


async def test_download_documents(client: TelegramClient, world: World) -> None:
    channel = world.create_channel("files", "Files")
    png = make_png(2)
    big = os.urandom(600 * 1024)  # several 128 KiB parts
    as_file = world.post_document(channel, png, "image/png", "scan.png")
    video = world.post_document(channel, big, "video/mp4", "clip.mp4", kind="video")
    sticker = world.post_document(channel, make_png(3), "image/webp", kind="sticker")
    async with asyncio.timeout(10):
        entity = await client.get_entity("files")
        doc, vid, stk = await client.get_messages(entity, ids=[as_file, video, sticker])

        assert doc.document is not None
        assert doc.photo is None
        assert doc.file.name == "scan.png"
        assert doc.file.mime_type == "image/png"
        assert doc.file.size == len(png)
        assert (doc.file.width, doc.file.height) == (200, 200)
        assert await client.download_media(doc, file=bytes) == png

        assert vid.video is not None
        assert vid.file.size == len(big)
        before = world.request_count("upload.getFile")
        assert await client.download_media(vid, file=bytes) == big
        assert world.request_count("upload.getFile") - before == 5

        assert stk.sticker is not None


async def test_forward_keeps_media_id(client: TelegramClient, world: World) -> None:
    source = world.create_channel("origin", "Origin")
    mirror = world.create_channel("mirror", "Mirror")
    original = world.post_photo(source, make_jpeg(4))
    copy = world.forward(source, original, mirror)
    async with asyncio.timeout(10):
        first = await client.get_messages(await client.get_entity("origin"), ids=original)
        second = await client.get_messages(await client.get_entity("mirror"), ids=copy)
        assert first.photo.id == second.photo.id
        assert second.fwd_from is not None
        assert second.fwd_from.channel_post == original
        assert second.fwd_from.from_id.channel_id == source.id


async def test_album_shares_grouped_id(client: TelegramClient, world: World) -> None:
    channel = world.create_channel("albums", "Albums")
    ids = world.post_album(channel, [make_jpeg(5), make_jpeg(6), make_jpeg(7)], caption="set")
    async with asyncio.timeout(10):
        messages = await client.get_messages(await client.get_entity("albums"), ids=ids)
        assert len({m.grouped_id for m in messages}) == 1
        assert messages[0].grouped_id is not None


async def test_file_reference_expired_then_refetch(client: TelegramClient, world: World) -> None:
    channel = world.create_channel("stale", "Stale")
    jpeg = make_jpeg(8)
    msg_id = world.post_photo(channel, jpeg)
    async with asyncio.timeout(10):
        entity = await client.get_entity("stale")
        message = await client.get_messages(entity, ids=msg_id)
        world.expire_file_reference(channel, msg_id)
        # Telethon 1.45 does not refresh the reference by itself when downloading.
        with pytest.raises(errors.FileReferenceExpiredError):
            await client.download_media(message, file=bytes)
        fresh = await client.get_messages(entity, ids=msg_id)
        assert await client.download_media(fresh, file=bytes) == jpeg


async def test_edit_media_gives_new_photo(client: TelegramClient, world: World) -> None:
    channel = world.create_channel("edits", "Edits")
    msg_id = world.post_photo(channel, make_jpeg(9))
    async with asyncio.timeout(10):
        entity = await client.get_entity("edits")
        before = await client.get_messages(entity, ids=msg_id)
        replacement = make_jpeg(10)
        world.edit_message_media(channel, msg_id, replacement)
        after = await client.get_messages(entity, ids=msg_id)
        assert after.photo.id != before.photo.id
        assert after.edit_date is not None
        assert await client.download_media(after, file=bytes) == replacement
