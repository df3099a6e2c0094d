"""Fixtures for testing the real Telethon client against the loopback MTProto server.

- ``telegram_server``: a started ``TelegramTestServer`` (fresh ``World``) for one test.
- ``world``: that server's ``World`` (scenario API).
- ``make_client``: ``make_client(session=None, **kwargs) -> TelegramClient`` (not connected).
- ``test_user``: an account (``phone``, ``code``) in the world.
- ``client``: a connected ``TelegramClient`` signed in as ``test_user``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from telethon import TelegramClient

from tests.telegram_server import TelegramTestServer, UserRecord, World

SETUP_TIMEOUT = 15


@pytest.fixture
async def telegram_server() -> AsyncIterator[TelegramTestServer]:
    server = TelegramTestServer()
    await asyncio.wait_for(server.start(), SETUP_TIMEOUT)
    try:
        yield server
    finally:
        await asyncio.wait_for(server.stop(), SETUP_TIMEOUT)
    assert not server.world.handler_errors, "test server handlers crashed"


@pytest.fixture
def world(telegram_server: TelegramTestServer) -> World:
    return telegram_server.world


@pytest.fixture
def make_client(telegram_server: TelegramTestServer) -> Callable[..., TelegramClient]:
    return telegram_server.make_client


@pytest.fixture
def test_user(world: World) -> UserRecord:
    return world.create_user("+15550100", "24680", first_name="Analyst")


@pytest.fixture
async def client(
    make_client: Callable[..., Any], test_user: UserRecord
) -> AsyncIterator[TelegramClient]:
    tg: TelegramClient = make_client()
    await asyncio.wait_for(
        tg.start(phone=f"+{test_user.phone}", code_callback=lambda: test_user.code),
        SETUP_TIMEOUT,
    )
    try:
        yield tg
    finally:
        await asyncio.wait_for(tg.disconnect(), SETUP_TIMEOUT)  # type: ignore[arg-type]
