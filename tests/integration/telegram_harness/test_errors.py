"""Flood waits and revoked / forgotten authorisation, as Telethon surfaces them."""

from __future__ import annotations

import asyncio
import time

import pytest
from telethon import TelegramClient, errors
from telethon.tl import functions

from tests.telegram_server import UserRecord, World


async def test_short_flood_wait_is_slept_and_retried(client: TelegramClient, world: World) -> None:
    world.create_channel("slowpoke", "Slow")
    world.flood_wait("contacts.resolveUsername", 3)
    async with asyncio.timeout(15):
        started = time.monotonic()
        entity = await client.get_entity("slowpoke")
        assert time.monotonic() - started >= 3
        assert entity.username == "slowpoke"
        assert world.request_count("contacts.resolveUsername") == 2


async def test_long_flood_wait_raises(client: TelegramClient, world: World) -> None:
    channel = world.create_channel("limited", "Limited")
    world.post_message(channel, "x")
    entity = await client.get_entity("limited")
    world.flood_wait("messages.getHistory", 120)
    async with asyncio.timeout(10):
        with pytest.raises(errors.FloodWaitError) as caught:
            await client.get_messages(entity, limit=10)
        assert caught.value.seconds == 120
        assert world.request_count("messages.getHistory") == 1
        # Telethon remembers the wait and refuses the same request locally.
        with pytest.raises(errors.FloodWaitError):
            await client.get_messages(entity, limit=10)
        assert world.request_count("messages.getHistory") == 1


async def test_flood_wait_above_custom_threshold(
    make_client: object, test_user: UserRecord, world: World
) -> None:
    tg: TelegramClient = make_client(flood_sleep_threshold=0)  # type: ignore[operator]
    async with asyncio.timeout(10):
        await tg.start(phone=f"+{test_user.phone}", code_callback=lambda: test_user.code)
        world.create_channel("strict", "Strict")
        world.flood_wait("contacts.resolveUsername", 3)
        with pytest.raises(errors.FloodWaitError) as caught:
            await tg.get_entity("strict")
        assert caught.value.seconds == 3
        await tg.disconnect()


async def test_revoked_session_raises(
    client: TelegramClient, world: World, test_user: UserRecord
) -> None:
    async with asyncio.timeout(10):
        world.revoke_session(test_user)
        with pytest.raises(errors.SessionRevokedError):
            await client(functions.updates.GetStateRequest())
        # get_me() swallows UnauthorizedError and returns None.
        assert await client.get_me() is None


async def test_unregistered_auth_key_raises(
    client: TelegramClient, world: World, test_user: UserRecord
) -> None:
    async with asyncio.timeout(10):
        world.revoke_session(test_user, "AUTH_KEY_UNREGISTERED")
        with pytest.raises(errors.AuthKeyUnregisteredError):
            await client.get_entity("anything")
        assert isinstance(errors.AuthKeyUnregisteredError(None), errors.UnauthorizedError)


async def test_forgotten_auth_key_raises_auth_key_not_found(
    client: TelegramClient, world: World, test_user: UserRecord
) -> None:
    """The server forgets the key: transport error -404, Telethon disconnects and fails the
    pending request (and ``disconnected``) with ``AuthKeyNotFound`` (not an RPCError)."""
    async with asyncio.timeout(10):
        running = asyncio.create_task(client.run_until_disconnected())
        await world.wait_for_request("updates.getState", count=2)  # its "I want updates" call
        assert world.forget_auth_key(test_user) == 1
        with pytest.raises(errors.AuthKeyNotFound):
            await client(functions.updates.GetStateRequest())
        assert not client.is_connected()
        # A daemon parked in run_until_disconnected() sees the same exception.
        with pytest.raises(errors.AuthKeyNotFound):
            await running
