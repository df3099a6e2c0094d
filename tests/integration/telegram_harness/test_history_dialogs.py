"""History paging (the reconciler's ``iter_messages(min_id=N, reverse=True)``), messages by
id, and dialogs with their top messages and pages."""

from __future__ import annotations

import asyncio
import math

import pytest
from telethon import TelegramClient

from tests.telegram_server import UserRecord, World

POSTS = 250


@pytest.fixture
def long_channel(world: World) -> None:
    channel = world.create_channel("archive", "Archive")
    assert [world.post_message(channel, f"p{i}", push=False) for i in range(1, POSTS + 1)] == list(
        range(1, POSTS + 1)
    )


@pytest.mark.usefixtures("long_channel")
async def test_reverse_iteration_after_cursor(client: TelegramClient, world: World) -> None:
    """Exactly the ids above the cursor, ascending, across 100-message pages."""
    async with asyncio.timeout(15):
        entity = await client.get_entity("archive")
        for cursor in (0, 1, 37, 99, 100, 101, 150, 200, 249, 250, 400):
            before = world.request_count("messages.getHistory")
            got = [
                m.id
                async for m in client.iter_messages(
                    entity, min_id=cursor, reverse=True, wait_time=0
                )
            ]
            assert got == list(range(cursor + 1, POSTS + 1)), cursor
            # Full pages of 100, then the one that comes back empty (Telethon's stop signal
            # when going in reverse).
            pages = world.request_count("messages.getHistory") - before
            assert pages == math.ceil(max(0, POSTS - cursor) / 100) + 1, cursor


@pytest.mark.usefixtures("long_channel")
async def test_iteration_with_deleted_posts(client: TelegramClient, world: World) -> None:
    channel = world.channels[next(iter(world.channels))]
    gone = set(range(95, 160)) | {250}
    world.delete_messages(channel, sorted(gone))
    alive = [i for i in range(1, POSTS + 1) if i not in gone]
    async with asyncio.timeout(15):
        entity = await client.get_entity("archive")
        ascending = [
            m.id async for m in client.iter_messages(entity, min_id=90, reverse=True, wait_time=0)
        ]
        assert ascending == [i for i in alive if i > 90]
        descending = [m.id async for m in client.iter_messages(entity, min_id=10, wait_time=0)]
        assert descending == [i for i in reversed(alive) if i > 10]
        capped = [
            m.id
            async for m in client.iter_messages(
                entity, min_id=90, reverse=True, limit=120, wait_time=0
            )
        ]
        assert capped == [i for i in alive if i > 90][:120]
        # channels.getMessages: deleted and never-posted ids are MessageEmpty -> None.
        found = await client.get_messages(entity, ids=[250, 94, 100, 160, 999])
        assert [m.id if m else None for m in found] == [None, 94, None, 160, None]
        assert (await client.get_messages(entity, limit=0)).total == len(alive)


async def test_dialogs_list_member_channels_with_top_message(
    client: TelegramClient, world: World, test_user: UserRecord
) -> None:
    quiet = world.create_channel("quiet", "Quiet", members=[test_user])  # no posts at all
    trimmed = world.create_channel("trimmed", "Trimmed", members=[test_user])
    busy = world.create_channel(None, "Busy", members=[test_user])
    world.create_channel("elsewhere", "Not a member")
    gone = world.create_channel("gone", "Removed", members=[test_user])
    for i in range(3):
        world.post_message(trimmed, f"t{i}")
    world.delete_messages(trimmed, [3])
    for i in range(5):
        world.post_message(busy, f"b{i}")
    world.remove_channel(gone)
    async with asyncio.timeout(10):
        dialogs = await client.get_dialogs()
        by_id = {d.entity.id: d for d in dialogs}
        assert set(by_id) == {quiet.id, trimmed.id, busy.id}
        assert by_id[trimmed.id].message.id == 2
        assert by_id[trimmed.id].message.text == "t1"
        assert by_id[busy.id].dialog.top_message == 5
        assert by_id[quiet.id].message is None
        assert by_id[busy.id].dialog.pts == busy.pts
        assert by_id[busy.id].entity.title == "Busy"

        await client.send_message("me", "note to self")
        dialogs = await client.get_dialogs()
        saved = next(d for d in dialogs if d.is_user)  # Saved Messages is a dialog too
        assert saved.entity.id == test_user.id
        assert saved.message.text == "note to self"
        assert len(dialogs) == 4
        assert await client.get_dialogs(archived=True) == []


async def test_dialogs_are_paged(
    client: TelegramClient, world: World, test_user: UserRecord
) -> None:
    """More than one getDialogs page (100): Telethon pages with offset_peer; every dialog
    comes exactly once."""
    channels = [world.create_channel(None, f"c{i}", members=[test_user]) for i in range(130)]
    for channel in channels:
        world.post_message(channel, channel.title, push=False)
    async with asyncio.timeout(10):
        dialogs = await client.get_dialogs()
        assert sorted(d.entity.id for d in dialogs) == sorted(c.id for c in channels)
        assert world.request_count("messages.getDialogs") == 2
        first_five = await client.get_dialogs(limit=5)
        assert len(first_five) == 5
        assert first_five.total == 130
