"""Server-pushed updates, pts gaps, catch_up, and what Telethon does with them."""

from __future__ import annotations

import asyncio

from telethon import TelegramClient, events
from telethon.tl import functions

from tests.telegram_server import ChannelRecord, World

from .images import make_jpeg


async def _join_and_listen(
    client: TelegramClient, world: World, username: str
) -> tuple[ChannelRecord, asyncio.Queue[events.NewMessage.Event]]:
    channel = world.create_channel(username, username.title())
    entity = await client.get_entity(username)
    await client(functions.channels.JoinChannelRequest(entity))
    received: asyncio.Queue[events.NewMessage.Event] = asyncio.Queue()

    async def on_new(event: events.NewMessage.Event) -> None:
        await received.put(event)

    client.add_event_handler(on_new, events.NewMessage(chats=[entity]))
    return channel, received


async def _next_ids(queue: asyncio.Queue[events.NewMessage.Event], n: int) -> list[int]:
    return [(await asyncio.wait_for(queue.get(), 3)).message.id for _ in range(n)]


async def test_push_reaches_new_message_handler(client: TelegramClient, world: World) -> None:
    async with asyncio.timeout(10):
        channel, received = await _join_and_listen(client, world, "live")
        jpeg = make_jpeg(11)
        msg_id = world.post_photo(channel, jpeg, caption="fresh")
        event = await asyncio.wait_for(received.get(), 1.0)
        assert event.message.id == msg_id
        assert event.chat_id == channel.marked_id
        assert event.message.text == "fresh"
        assert await client.download_media(event.message, file=bytes) == jpeg


async def test_pts_gap_is_filled_by_channel_difference(
    client: TelegramClient, world: World
) -> None:
    """A dropped push leaves a pts gap; the next push reveals it and Telethon (after its 0.5 s
    possible-gap wait) calls updates.getChannelDifference, delivering the missed post."""
    async with asyncio.timeout(10):
        channel, received = await _join_and_listen(client, world, "gappy")
        first = world.post_message(channel, "one")
        assert await _next_ids(received, 1) == [first]

        world.drop_next_push(channel)
        missed = world.post_message(channel, "two (never pushed)")
        await asyncio.sleep(0.2)
        assert received.empty()
        assert world.request_count("updates.getChannelDifference") == 0

        third = world.post_message(channel, "three")
        assert sorted(await _next_ids(received, 2)) == [missed, third]
        assert world.request_count("updates.getChannelDifference") == 1


async def test_lost_last_push_is_recovered_by_catch_up(
    client: TelegramClient, world: World
) -> None:
    """With no later push, nothing reveals the gap; catch_up() -> updates.getDifference ->
    updateChannelTooLong -> updates.getChannelDifference delivers it."""
    async with asyncio.timeout(10):
        channel, received = await _join_and_listen(client, world, "quiet")
        first = world.post_message(channel, "one")
        assert await _next_ids(received, 1) == [first]

        world.drop_next_push(channel)
        missed = world.post_photo(channel, make_jpeg(12))
        await asyncio.sleep(0.3)
        assert received.empty()

        await client.catch_up()
        assert await _next_ids(received, 1) == [missed]
        assert world.request_count("updates.getDifference") >= 1
        assert world.request_count("updates.getChannelDifference") >= 1


async def test_first_push_lost_is_invisible_to_telethon(
    client: TelegramClient, world: World
) -> None:
    """If the very first update of a channel is lost, Telethon has no pts for it yet and takes
    the next push at face value: the lost post is never delivered (hence the reconciler)."""
    async with asyncio.timeout(10):
        channel, received = await _join_and_listen(client, world, "blind")
        world.drop_next_push(channel)
        lost = world.post_message(channel, "lost")
        seen = world.post_message(channel, "seen")
        assert await _next_ids(received, 1) == [seen]
        await asyncio.sleep(0.7)  # longer than Telethon's possible-gap wait
        assert received.empty()
        assert world.request_count("updates.getChannelDifference") == 0
        # The reconciler's query finds it.
        entity = await client.get_entity("blind")
        assert [
            m.id async for m in client.iter_messages(entity, min_id=0, reverse=True, wait_time=0)
        ] == [
            lost,
            seen,
        ]


async def test_too_long_gap_drops_the_backlog(client: TelegramClient, world: World) -> None:
    """More than 100 missed posts: getChannelDifference answers channelDifferenceTooLong and
    Telethon 1.45 silently skips to the new pts, delivering none of the backlog (not even the
    push that revealed the gap). It then asks once more (it does not end the difference on
    "too long") and gets channelDifferenceEmpty."""
    async with asyncio.timeout(10):
        channel, received = await _join_and_listen(client, world, "flooded")
        first = world.post_message(channel, "one")
        assert await _next_ids(received, 1) == [first]
        for i in range(120):
            world.post_message(channel, f"silent {i}", push=False)
        world.post_message(channel, "after the flood")
        await asyncio.sleep(1.0)
        assert received.empty()
        assert world.request_count("updates.getChannelDifference") == 2
        later = world.post_message(channel, "normal again")
        assert await _next_ids(received, 1) == [later]


async def test_deleted_and_edited_updates_reach_handlers(
    client: TelegramClient, world: World
) -> None:
    async with asyncio.timeout(10):
        channel, received = await _join_and_listen(client, world, "changes")
        entity = await client.get_entity("changes")
        deleted: asyncio.Queue[list[int]] = asyncio.Queue()
        edited: asyncio.Queue[int] = asyncio.Queue()

        async def on_deleted(event: events.MessageDeleted.Event) -> None:
            await deleted.put(list(event.deleted_ids))

        async def on_edited(event: events.MessageEdited.Event) -> None:
            await edited.put(event.message.id)

        client.add_event_handler(on_deleted, events.MessageDeleted(chats=[entity]))
        client.add_event_handler(on_edited, events.MessageEdited(chats=[entity]))
        msg_id = world.post_photo(channel, make_jpeg(13))
        assert await _next_ids(received, 1) == [msg_id]
        world.edit_message_media(channel, msg_id, make_jpeg(14))
        assert await asyncio.wait_for(edited.get(), 2) == msg_id
        world.delete_messages(channel, [msg_id])
        assert await asyncio.wait_for(deleted.get(), 2) == [msg_id]
