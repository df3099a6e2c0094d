"""Sending messages (the daemon's staff alerts) with the real TelegramClient: to a channel the
account administers, to Saved Messages, to another user; refusals, injected errors, retries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from telethon import TelegramClient, errors, events, types
from telethon.tl import functions

from tests.telegram_server import UserRecord, World


async def _signed_in(
    make_client: Callable[..., TelegramClient], user: UserRecord
) -> TelegramClient:
    tg = make_client()
    await tg.start(phone=f"+{user.phone}", code_callback=lambda: user.code)
    return tg


@pytest.fixture
async def other_user(
    world: World, make_client: Callable[..., TelegramClient]
) -> AsyncIterator[tuple[UserRecord, TelegramClient]]:
    """A second account ("staff", @staff_member), signed in on its own client."""
    user = world.create_user("+15550199", "13579", first_name="Staff", username="staff_member")
    tg = await asyncio.wait_for(_signed_in(make_client, user), 10)
    try:
        yield user, tg
    finally:
        await tg.disconnect()


def _listen(tg: TelegramClient, **filters: object) -> asyncio.Queue[events.NewMessage.Event]:
    received: asyncio.Queue[events.NewMessage.Event] = asyncio.Queue()

    async def on_new(event: events.NewMessage.Event) -> None:
        await received.put(event)

    tg.add_event_handler(on_new, events.NewMessage(**filters))
    return received


async def test_send_to_administered_channel(
    client: TelegramClient,
    world: World,
    test_user: UserRecord,
    other_user: tuple[UserRecord, TelegramClient],
) -> None:
    staff, staff_client = other_user
    channel = world.create_channel("alerts", "Alerts", admins=[test_user], members=[staff])
    async with asyncio.timeout(10):
        staff_inbox = _listen(staff_client, chats=[channel.marked_id])
        world.post_message(channel, "earlier post")
        assert (await asyncio.wait_for(staff_inbox.get(), 3)).message.id == 1
        pts_before = channel.pts
        entity = await client.get_entity("alerts")
        sent = await client.send_message(entity, "**hit** in @feed")
        assert isinstance(sent, types.Message)
        assert sent.id == 2
        assert sent.out
        assert sent.text == "**hit** in @feed"  # Telethon re-renders the markdown
        assert sent.chat_id == channel.marked_id

        assert channel.pts == pts_before + 1
        assert channel.messages[2].text == "hit in @feed"
        assert channel.messages[2].sender_id == test_user.id
        record = world.sent_messages[-1]
        assert (record.sender_id, record.peer_kind, record.peer) == (
            test_user.id,
            "channel",
            channel.id,
        )
        assert (record.text, record.message_id) == ("hit in @feed", 2)
        assert isinstance(record.entities[0], types.MessageEntityBold)

        # Other members get it pushed like any post (not marked as theirs).
        event = await asyncio.wait_for(staff_inbox.get(), 3)
        assert event.message.id == 2
        assert event.message.text == "**hit** in @feed"
        assert not event.message.out
        # The sender sees it as its own in the history.
        [latest] = await client.get_messages(entity, limit=1)
        assert latest.id == 2
        assert latest.out
        # Its own push was not sent back to it: no gap, no difference needed.
        assert world.request_count("updates.getChannelDifference") == 0


async def test_send_to_saved_messages(
    client: TelegramClient, world: World, test_user: UserRecord
) -> None:
    async with asyncio.timeout(10):
        diffs = world.request_count("updates.getDifference")
        first = await client.send_message("me", "hi")
        second = await client.send_message("me", "again")
        assert (first.id, second.id) == (1, 2)
        assert first.out
        assert first.chat_id == test_user.id
        assert [(m.peer_kind, m.peer, m.text) for m in world.sent_messages] == [
            ("self", "self", "hi"),
            ("self", "self", "again"),
        ]
        assert test_user.pts == 3  # the account pts moved with each message
        history = await client.get_messages("me", limit=10)
        assert [m.text for m in history] == ["again", "hi"]
        found = await client.get_messages("me", ids=[2, 7])  # messages.getMessages
        assert [m.text if m else None for m in found] == ["again", None]
        [dialog] = await client.get_dialogs()
        assert dialog.entity.id == test_user.id
        assert dialog.message.id == 2
        # The account pts stayed in step: Telethon never had to fetch a difference for it.
        await asyncio.sleep(0.6)  # longer than Telethon's possible-gap wait
        assert world.request_count("updates.getDifference") == diffs
        # The difference from an older pts replays the box.
        diff = await client(functions.updates.GetDifferenceRequest(pts=1, date=first.date, qts=0))
        assert [m.message for m in diff.new_messages] == ["hi", "again"]
        assert diff.state.pts == 3


async def test_send_to_user_by_username(
    client: TelegramClient,
    world: World,
    test_user: UserRecord,
    other_user: tuple[UserRecord, TelegramClient],
) -> None:
    staff, staff_client = other_user
    async with asyncio.timeout(10):
        inbox = _listen(staff_client, incoming=True)
        sent = await client.send_message("staff_member", "please review hit 17")
        assert sent.id == 1
        assert sent.chat_id == staff.id
        record = world.sent_messages[-1]
        assert (record.peer_kind, record.peer, record.message_id) == ("user", staff.id, 1)

        event = await asyncio.wait_for(inbox.get(), 3)
        assert event.message.text == "please review hit 17"
        assert event.sender_id == test_user.id
        assert event.is_private
        # Each side has its own copy, id and account pts.
        assert staff.messages[1].sender_id == test_user.id
        assert test_user.pts == 2
        assert staff.pts == 2
        reply = await event.reply("on it")
        assert reply.id == 2
        [answer] = await client.get_messages(staff.id, limit=1)
        assert answer.text == "on it"
        assert not answer.out


async def test_cannot_post_without_admin_rights(
    client: TelegramClient, world: World, test_user: UserRecord
) -> None:
    public = world.create_channel("news", "News")
    member_only = world.create_channel("members", "Members", members=[test_user])
    hidden = world.create_channel(None, "Hidden")
    async with asyncio.timeout(10):
        with pytest.raises(errors.ChatWriteForbiddenError):
            await client.send_message(await client.get_entity("news"), "x")
        with pytest.raises(errors.ChatWriteForbiddenError):
            await client.send_message(await client.get_entity("members"), "x")
        with pytest.raises(errors.ChannelPrivateError):
            await client.send_message(hidden.input_peer, "x")
        with pytest.raises(errors.MessageTooLongError):
            await client.send_message("me", "x" * 4097)
        assert world.sent_messages == []
        assert public.messages == member_only.messages == {}


async def test_injected_errors_and_flood_waits(
    client: TelegramClient, world: World, test_user: UserRecord
) -> None:
    channel = world.create_channel("ops", "Ops", admins=[test_user])
    async with asyncio.timeout(10):
        entity = await client.get_entity("ops")
        world.fail_next("messages.sendMessage", 403, "CHAT_WRITE_FORBIDDEN")
        with pytest.raises(errors.ChatWriteForbiddenError):
            await client.send_message(entity, "refused")
        assert world.sent_messages == []

        world.flood_wait("messages.sendMessage", 1)
        sent = await client.send_message(entity, "after a short wait")  # slept, retried
        assert sent.id == 1
        assert world.request_count("messages.sendMessage") == 3
        assert [m.text for m in world.sent_messages] == ["after a short wait"]

        world.flood_wait("messages.sendMessage", 300)
        with pytest.raises(errors.FloodWaitError) as caught:
            await client.send_message(entity, "too soon")
        assert caught.value.seconds == 300
        assert list(channel.messages) == [1]


async def test_repeated_random_id_sends_once(
    client: TelegramClient, world: World, test_user: UserRecord
) -> None:
    """A request re-sent with the same random_id (as after a reconnect) is not a second
    message: Telegram (and this server) answers with the first one."""
    channel = world.create_channel("dedup", "Dedup", admins=[test_user])
    async with asyncio.timeout(10):
        entity = await client.get_input_entity("dedup")
        request = functions.messages.SendMessageRequest(entity, "once", random_id=4242)
        first = await client(request)
        again = await client(request)
        assert first.updates[0].id == again.updates[0].id == 1
        assert list(channel.messages) == [1]
        assert len(world.sent_messages) == 1
        self_request = functions.messages.SendMessageRequest(
            types.InputPeerSelf(), "me once", random_id=99
        )
        assert (await client(self_request)).id == (await client(self_request)).id == 1
        assert test_user.pts == 2


async def test_other_account_writes_to_the_daemon(
    client: TelegramClient, world: World, test_user: UserRecord
) -> None:
    """``world.send_message`` lets a test make another account write (no permission checks)."""
    boss = world.create_user("+15550188", first_name="Boss", username="boss")
    async with asyncio.timeout(10):
        inbox = _listen(client, incoming=True)
        await client.catch_up()
        world.send_message(boss, test_user, "/status")
        event = await asyncio.wait_for(inbox.get(), 3)
        assert event.message.text == "/status"
        assert event.sender_id == boss.id
        sender = await event.get_sender()
        assert sender.username == "boss"
