"""Bot accounts: sign in by token, post to a channel the bot administers, write to users."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from telethon import TelegramClient, errors, events

from tests.telegram_server import UserRecord, World


@pytest.fixture
async def bot_client(
    world: World, make_client: Callable[..., TelegramClient]
) -> AsyncIterator[tuple[UserRecord, TelegramClient]]:
    bot = world.create_bot(username="alert_bot")
    tg = make_client()
    await asyncio.wait_for(tg.start(bot_token=bot.bot_token), 10)
    try:
        yield bot, tg
    finally:
        await tg.disconnect()


async def test_bot_posts_to_channel_it_administers(
    world: World,
    client: TelegramClient,
    test_user: UserRecord,
    bot_client: tuple[UserRecord, TelegramClient],
) -> None:
    bot, tg = bot_client
    public = world.create_channel("bot_alerts", "Bot alerts", members=[test_user])
    hidden = world.create_channel(None, "Staff room", members=[test_user])
    world.add_member(public, bot, admin=True)
    world.add_member(hidden, bot, admin=True)
    async with asyncio.timeout(10):
        assert (await tg.get_me()).bot
        inbox: asyncio.Queue[events.NewMessage.Event] = asyncio.Queue()
        client.add_event_handler(inbox.put, events.NewMessage(chats=[public.marked_id]))

        sent = await tg.send_message("bot_alerts", "hit 1")
        assert (sent.id, sent.chat_id) == (1, public.marked_id)
        event = await asyncio.wait_for(inbox.get(), 3)
        assert event.message.text == "hit 1"

        # A bare -100 id the bot has never seen: Telethon asks channels.getChannels with
        # access_hash 0, which bots may do for channels they are in.
        sent = await tg.send_message(hidden.marked_id, "hit 2")
        assert (sent.id, sent.chat_id) == (1, hidden.marked_id)
        assert [(m.sender_id, m.peer, m.text) for m in world.sent_messages] == [
            (bot.id, public.id, "hit 1"),
            (bot.id, hidden.id, "hit 2"),
        ]


async def test_bot_without_admin_rights_cannot_post(
    world: World, bot_client: tuple[UserRecord, TelegramClient]
) -> None:
    bot, tg = bot_client
    channel = world.create_channel("readonly", "Read only", members=[bot])
    stranger = world.create_channel(None, "Stranger")
    async with asyncio.timeout(10):
        with pytest.raises(errors.ChatWriteForbiddenError):
            await tg.send_message("readonly", "x")
        with pytest.raises(ValueError, match="Could not find the input entity"):
            await tg.send_message(stranger.marked_id, "x")
        assert channel.messages == {}


async def test_bot_writes_to_user_by_id(
    world: World,
    client: TelegramClient,
    test_user: UserRecord,
    bot_client: tuple[UserRecord, TelegramClient],
) -> None:
    bot, tg = bot_client
    async with asyncio.timeout(10):
        inbox: asyncio.Queue[events.NewMessage.Event] = asyncio.Queue()
        client.add_event_handler(inbox.put, events.NewMessage(incoming=True))
        # A bare user id: Telethon asks users.getUsers with access_hash 0 (bots may).
        sent = await tg.send_message(test_user.id, "new hit needs review")
        assert (sent.id, sent.chat_id) == (1, test_user.id)
        event = await asyncio.wait_for(inbox.get(), 3)
        assert event.message.text == "new hit needs review"
        assert event.sender_id == bot.id
        assert (await event.get_sender()).bot
        record = world.sent_messages[-1]
        assert (record.sender_id, record.peer_kind, record.peer) == (bot.id, "user", test_user.id)

        other_bot = world.create_bot(username="other_bot")
        with pytest.raises(errors.UserIsBotError):
            await tg.send_message("other_bot", "bots cannot talk to bots")
        assert other_bot.messages == {}
