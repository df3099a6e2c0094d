"""Resolving channels, invites, history, dialogs, deleted posts and lost access."""

from __future__ import annotations

import asyncio

import pytest
from telethon import TelegramClient, errors, types
from telethon.tl import functions

from tests.telegram_server import UserRecord, World


async def test_resolve_public_channel_by_username(client: TelegramClient, world: World) -> None:
    channel = world.create_channel("public_feed", "Public feed")
    async with asyncio.timeout(10):
        entity = await client.get_entity("public_feed")
        assert isinstance(entity, types.Channel)
        assert entity.id == channel.id
        assert entity.title == "Public feed"
        assert entity.broadcast
        assert await client.get_peer_id(entity) == channel.marked_id
        full = await client(functions.channels.GetFullChannelRequest(entity))
        assert full.full_chat.pts == channel.pts
        # Telethon turns USERNAME_NOT_OCCUPIED into a ValueError in get_entity.
        with pytest.raises(ValueError, match="no_such_channel"):
            await client.get_entity("no_such_channel")
        with pytest.raises(errors.UsernameNotOccupiedError):
            await client(functions.contacts.ResolveUsernameRequest("no_such_channel"))


async def test_private_channel_via_invite(
    client: TelegramClient, world: World, test_user: UserRecord
) -> None:
    channel = world.create_channel(None, "Hidden")
    invite = world.create_invite(channel)
    async with asyncio.timeout(10):
        with pytest.raises(errors.ChannelPrivateError):
            await client.get_messages(channel.input_peer, limit=1)

        checked = await client(functions.messages.CheckChatInviteRequest(invite))
        assert isinstance(checked, types.ChatInvite)
        assert checked.title == "Hidden"
        assert checked.broadcast
        assert not checked.request_needed

        joined = await client(functions.messages.ImportChatInviteRequest(invite))
        assert [c.id for c in joined.chats] == [channel.id]
        assert test_user.id in channel.members

        again = await client(functions.messages.CheckChatInviteRequest(invite))
        assert isinstance(again, types.ChatInviteAlready)
        entity = await client.get_entity(channel.marked_id)  # now in the session's entity cache
        assert entity.id == channel.id


async def test_invite_states(client: TelegramClient, world: World) -> None:
    channel = world.create_channel(None, "Gated")
    expired = world.create_invite(channel, "expired")
    gated = world.create_invite(channel, "request_needed")
    async with asyncio.timeout(10):
        with pytest.raises(errors.InviteHashExpiredError):
            await client(functions.messages.CheckChatInviteRequest(expired))
        checked = await client(functions.messages.CheckChatInviteRequest(gated))
        assert checked.request_needed
        with pytest.raises(errors.InviteRequestSentError):
            await client(functions.messages.ImportChatInviteRequest(gated))
        with pytest.raises(errors.InviteHashInvalidError):
            await client(functions.messages.CheckChatInviteRequest("nope"))


async def test_iter_messages_history_windows(client: TelegramClient, world: World) -> None:
    channel = world.create_channel("busy", "Busy")
    ids = [world.post_message(channel, f"post {i}") for i in range(1, 231)]
    assert ids == list(range(1, 231))
    async with asyncio.timeout(15):
        entity = await client.get_entity("busy")
        everything = [m.id async for m in client.iter_messages(entity, wait_time=0)]
        assert everything == list(range(230, 0, -1))  # three getHistory pages of <= 100

        newest = [m.id async for m in client.iter_messages(entity, limit=5)]
        assert newest == [230, 229, 228, 227, 226]

        # The reconciler's call: everything after a cursor, oldest first; min_id is exclusive.
        after = [
            m.id async for m in client.iter_messages(entity, min_id=100, reverse=True, wait_time=0)
        ]
        assert after == list(range(101, 231))

        window = [m.id async for m in client.iter_messages(entity, min_id=10, max_id=15)]
        assert window == [14, 13, 12, 11]

        some = [m.id async for m in client.iter_messages(entity, min_id=50, reverse=True, limit=3)]
        assert some == [51, 52, 53]

        older = [m.id async for m in client.iter_messages(entity, offset_id=20, limit=3)]
        assert older == [19, 18, 17]
        assert (await client.get_messages(entity, limit=0)).total == 230


async def test_get_messages_by_id_deleted_is_none(client: TelegramClient, world: World) -> None:
    channel = world.create_channel("takedowns", "Takedowns")
    first = world.post_message(channel, "keep")
    second = world.post_message(channel, "remove me")
    world.delete_messages(channel, [second])
    async with asyncio.timeout(10):
        entity = await client.get_entity("takedowns")
        found = await client.get_messages(entity, ids=[first, second, 999])
        assert found[0].id == first
        assert found[0].message == "keep"
        assert found[1] is None
        assert found[2] is None
        assert await client.get_messages(entity, ids=second) is None


async def test_channel_private_then_removed(client: TelegramClient, world: World) -> None:
    channel = world.create_channel("was_public", "Was public")
    world.post_message(channel, "hello")
    async with asyncio.timeout(10):
        entity = await client.get_entity("was_public")
        assert (await client.get_messages(entity, limit=1))[0].message == "hello"

        world.make_private(channel)
        with pytest.raises(errors.ChannelPrivateError):
            await client.get_messages(entity, limit=1)
        with pytest.raises(errors.ChannelPrivateError):
            await client.get_messages(entity, ids=[1])

        world.remove_channel(channel)
        with pytest.raises(errors.ChannelInvalidError):
            await client.get_messages(entity, limit=1)


async def test_join_public_channel_and_list_dialogs(client: TelegramClient, world: World) -> None:
    alpha = world.create_channel("alpha", "Alpha")
    beta = world.create_channel("beta", "Beta")
    world.post_message(alpha, "a1")
    world.post_message(beta, "b1")
    async with asyncio.timeout(10):
        assert await client.get_dialogs() == []
        for name in ("alpha", "beta"):
            await client(functions.channels.JoinChannelRequest(await client.get_entity(name)))
        dialogs = await client.get_dialogs()
        assert sorted(d.entity.id for d in dialogs) == sorted([alpha.id, beta.id])
        assert {d.message.message for d in dialogs} == {"a1", "b1"}
        assert all(d.dialog.pts == 2 for d in dialogs)
