"""Outages: dropped connections and a server that refuses connections for a while."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from telethon import TelegramClient, events
from telethon.tl import functions

from tests.telegram_server import ChannelRecord, TelegramTestServer, UserRecord, World


async def _follow(
    tg: TelegramClient, world: World, username: str
) -> tuple[ChannelRecord, asyncio.Queue[int]]:
    channel = world.create_channel(username, username.title())
    entity = await tg.get_entity(username)
    await tg(functions.channels.JoinChannelRequest(entity))
    received: asyncio.Queue[int] = asyncio.Queue()

    async def on_new(event: events.NewMessage.Event) -> None:
        await received.put(event.message.id)

    tg.add_event_handler(on_new, events.NewMessage(chats=[entity]))
    return channel, received


async def _reconnected(world: World, get_users_before: int) -> None:
    """Telethon's reconnect ends with a ``get_me()`` (users.getUsers)."""
    await world.wait_for_request("users.getUsers", get_users_before + 1, seconds=5)


async def _signed_in(
    make_client: Callable[..., TelegramClient], user: UserRecord, **kwargs: object
) -> TelegramClient:
    tg = make_client(**kwargs)
    await tg.start(phone=f"+{user.phone}", code_callback=lambda: user.code)
    return tg


async def test_client_reconnects_after_drop(
    telegram_server: TelegramTestServer, client: TelegramClient, world: World
) -> None:
    async with asyncio.timeout(10):
        channel, received = await _follow(client, world, "steady")
        first = world.post_message(channel, "before")
        assert await asyncio.wait_for(received.get(), 3) == first

        get_users = world.request_count("users.getUsers")
        assert await telegram_server.drop_connections() == 1
        await _reconnected(world, get_users)
        assert telegram_server.connection_count == 1
        assert client.is_connected()

        later = world.post_message(channel, "after")
        assert await asyncio.wait_for(received.get(), 3) == later
        assert (await client.get_messages(channel.input_peer, limit=1))[0].id == later


async def test_outage_then_reconnect_recovers_missed_post(
    telegram_server: TelegramTestServer,
    make_client: Callable[..., TelegramClient],
    test_user: UserRecord,
    world: World,
) -> None:
    """The server goes down (connections dropped, new ones refused); a post made meanwhile
    reaches no one. Once it listens again the client reconnects; the next post reveals the
    pts gap and getChannelDifference delivers the missed one too."""
    tg = await _signed_in(make_client, test_user, connection_retries=50, retry_delay=0.05)
    async with asyncio.timeout(10):
        channel, received = await _follow(tg, world, "bumpy")
        first = world.post_message(channel, "one")
        assert await asyncio.wait_for(received.get(), 3) == first

        get_users = world.request_count("users.getUsers")
        async with telegram_server.refusing(drop=True):
            assert not telegram_server.listening
            missed = world.post_message(channel, "during the outage")
            await asyncio.sleep(0.5)  # the client keeps retrying and is refused
            assert telegram_server.connection_count == 0
            # A request made during the outage waits for the reconnection.
            pending = asyncio.create_task(tg.get_messages(channel.input_peer, limit=1))
            await asyncio.sleep(0.1)
            assert not pending.done()
        await _reconnected(world, get_users)
        assert (await pending)[0].id == missed

        assert received.empty()
        third = world.post_message(channel, "three")
        got = [await asyncio.wait_for(received.get(), 3) for _ in range(2)]
        assert sorted(got) == [missed, third]
    await tg.disconnect()


async def test_client_gives_up_when_retries_run_out(
    telegram_server: TelegramTestServer,
    make_client: Callable[..., TelegramClient],
    test_user: UserRecord,
) -> None:
    """With too few connection_retries for the outage, Telethon stops reconnecting and
    ``client.disconnected`` (and so run_until_disconnected) fails with ConnectionError."""
    tg = await _signed_in(make_client, test_user, connection_retries=1, retry_delay=0)
    async with asyncio.timeout(10), telegram_server.refusing(drop=True):
        with pytest.raises(ConnectionError):
            await tg.disconnected
        assert not tg.is_connected()


async def test_lost_answer_to_send_is_not_a_second_message(
    client: TelegramClient, world: World, test_user: UserRecord
) -> None:
    """The server posts the alert but the connection dies before the answer: Telethon
    reconnects and re-sends the same request (same random_id), which must not post twice."""
    channel = world.create_channel("alerts", "Alerts", admins=[test_user])
    async with asyncio.timeout(10):
        entity = await client.get_entity("alerts")
        world.lose_next_answer("messages.sendMessage")
        sent = await client.send_message(entity, "hit 42")
        assert sent.id == 1
        assert world.request_count("messages.sendMessage") == 2
        assert list(channel.messages) == [1]
        assert [m.text for m in world.sent_messages] == ["hit 42"]
        assert (await client.send_message(entity, "next")).id == 2
