"""Connection, auth-key exchange and sign-in with the real TelegramClient."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from telethon import TelegramClient, errors
from telethon.sessions import StringSession
from telethon.tl import functions

from tests.telegram_server import TelegramTestServer, UserRecord, World


async def test_connect_creates_auth_key(
    telegram_server: TelegramTestServer, make_client: Callable[..., TelegramClient]
) -> None:
    async with asyncio.timeout(10):
        tg = make_client()
        await tg.connect()
        assert tg.is_connected()
        assert tg.session.auth_key is not None
        assert tg.session.auth_key.key_id in telegram_server.world.auth_keys
        assert not await tg.is_user_authorized()
        # The first encrypted call is help.getConfig wrapped in invokeWithLayer/initConnection.
        assert telegram_server.world.request_count("help.getConfig") == 1
        await tg.disconnect()


async def test_sign_in_with_phone_and_code(
    make_client: Callable[..., TelegramClient], test_user: UserRecord
) -> None:
    async with asyncio.timeout(10):
        tg = make_client()
        await tg.start(phone=f"+{test_user.phone}", code_callback=lambda: test_user.code)
        me = await tg.get_me()
        assert me.id == test_user.id
        assert me.is_self
        assert me.first_name == "Analyst"
        assert await tg.is_user_authorized()
        await tg.disconnect()


async def test_wrong_code_is_rejected(
    make_client: Callable[..., TelegramClient], test_user: UserRecord
) -> None:
    async with asyncio.timeout(10):
        tg = make_client()
        await tg.connect()
        await tg.send_code_request(f"+{test_user.phone}")
        with pytest.raises(errors.PhoneCodeInvalidError):
            await tg.sign_in(f"+{test_user.phone}", "00000")
        await tg.disconnect()


async def test_bot_sign_in_by_token(
    world: World, make_client: Callable[..., TelegramClient]
) -> None:
    bot = world.create_bot(username="takedown_bot")
    async with asyncio.timeout(10):
        tg = make_client()
        await tg.start(bot_token=bot.bot_token)
        me = await tg.get_me()
        assert me.id == bot.id
        assert me.bot
        assert await tg.is_bot()
        await tg.disconnect()


async def test_session_persists_auth_key(
    make_client: Callable[..., Any], test_user: UserRecord, world: World
) -> None:
    """A StringSession saved after login logs straight back in (no new key, no code)."""
    async with asyncio.timeout(10):
        first = make_client(StringSession())
        await first.start(phone=f"+{test_user.phone}", code_callback=lambda: test_user.code)
        saved = first.session.save()
        await first.disconnect()

        again = make_client(StringSession(saved))
        await again.connect()
        assert await again.is_user_authorized()
        assert (await again.get_me()).id == test_user.id
        assert len(world.used_auth_keys()) == 1
        assert world.request_count("auth.sendCode") == 1
        await again.disconnect()


async def test_log_out(client: TelegramClient, world: World) -> None:
    async with asyncio.timeout(10):
        assert await client.log_out()
        assert world.request_count("auth.logOut") == 1
        assert all(record.user_id is None for record in world.auth_keys.values())


async def test_unimplemented_method_is_a_clear_rpc_error(
    client: TelegramClient, world: World
) -> None:
    async with asyncio.timeout(10):
        with pytest.raises(errors.RPCError, match="METHOD_NOT_IMPLEMENTED_BY_TEST_SERVER"):
            await client(functions.account.GetAuthorizationsRequest())
        assert world.unimplemented == ["account.getAuthorizations"]


async def test_full_user_and_nearest_dc(
    client: TelegramClient, test_user: UserRecord, telegram_server: TelegramTestServer
) -> None:
    async with asyncio.timeout(10):
        full = await client(functions.users.GetFullUserRequest("me"))
        assert full.full_user.id == test_user.id
        nearest = await client(functions.help.GetNearestDcRequest())
        assert nearest.this_dc == telegram_server.dc_id
