"""A daemon-like restart on the SQL-backed session: signed in without signing in again, channels
resolved from the stored entity cache, and the update state (pts) carried over, so that a post
made while the daemon was down is delivered after the restart."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from structlog.testing import capture_logs
from telethon import TelegramClient, events
from telethon.tl import functions

from monitor.config import Settings
from monitor.store import Store
from monitor.telegram import auth
from monitor.telegram.client import build_client, connect, disconnect, open_session
from monitor.telegram.session import StoreSession
from tests.integration.telegram.conftest import Cli
from tests.telegram_server import UserRecord, World


@pytest.fixture
def analyst(world: World) -> UserRecord:
    return world.create_user("+15550100", "24680", first_name="Analyst", username="analyst")


@pytest.fixture
async def signed_in(cli: Cli, analyst: UserRecord) -> UserRecord:
    result = await cli("login", "--phone", "+15550100", prompts=["24680"])
    assert result.code == 0, result.err
    return analyst


@asynccontextmanager
async def daemon_client(
    store: Store, settings: Settings
) -> AsyncIterator[tuple[TelegramClient, StoreSession]]:
    """What the daemon does: load the session, build the client (catch_up on), connect; at the
    end disconnect and flush."""
    session = await open_session(store, settings.telegram)
    client = build_client(settings.telegram, session, connection_retries=1, retry_delay=0)
    try:
        await connect(client)
        yield client, session
    finally:
        await disconnect(client, session)


async def test_restart_is_signed_in_and_resolves_channels_from_the_store(
    signed_in: UserRecord, world: World, store: Store, settings: Settings
) -> None:
    channel = world.create_channel("feed", "Feed")
    async with asyncio.timeout(20):
        async with daemon_client(store, settings) as (client, _):
            assert await client.is_user_authorized()
            entity = await client.get_entity("feed")
            assert entity.id == channel.id
        assert world.request_count("contacts.resolveUsername") == 1

        async with daemon_client(store, settings) as (client, _):
            assert await client.is_user_authorized()
            peer = await client.get_input_entity("feed")
            assert (peer.channel_id, peer.access_hash) == (channel.id, channel.access_hash)
            me = await client.get_me()
            assert me.id == signed_in.id
    assert world.request_count("auth.signIn") == 1
    assert world.request_count("auth.sendCode") == 1
    assert world.request_count("contacts.resolveUsername") == 1
    assert len(world.used_auth_keys()) == 1  # the key made at login, reused by every start


async def test_update_state_survives_a_restart(
    signed_in: UserRecord, world: World, store: Store, settings: Settings
) -> None:
    channel = world.create_channel("feed", "Feed", members=[signed_in])
    received: asyncio.Queue[int] = asyncio.Queue()

    async def on_new(event: events.NewMessage.Event) -> None:
        await received.put(event.message.id)

    async with asyncio.timeout(30):
        async with daemon_client(store, settings) as (client, _):
            client.add_event_handler(on_new, events.NewMessage())
            await client.get_entity("feed")
            first = world.post_message(channel, "one")
            assert await asyncio.wait_for(received.get(), 5) == first
            telethon_pts = client._message_box.map[channel.id].pts
        data = await store.load_session("default")
        assert data is not None
        assert data.update_states[channel.id][0] == telethon_pts == channel.pts

        # While the daemon is down:
        missed = world.post_message(channel, "two, posted while down")
        diffs = world.request_count("updates.getChannelDifference")

        async with daemon_client(store, settings) as (client, _):
            client.add_event_handler(on_new, events.NewMessage())
            assert await asyncio.wait_for(received.get(), 5) == missed
        assert world.request_count("updates.getChannelDifference") > diffs
        data = await store.load_session("default")
        assert data is not None
        assert data.update_states[channel.id][0] == channel.pts


async def test_the_auth_key_never_reaches_a_log_line(
    cli: Cli,
    analyst: UserRecord,
    world: World,
    store: Store,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Only pytest's capture: earlier CLI runs leave handlers on streams pytest has closed.
    monkeypatch.setattr(logging.getLogger(), "handlers", [caplog.handler])
    caplog.set_level(logging.DEBUG)
    world.create_channel("feed", "Feed", members=[analyst])
    with capture_logs() as structured:
        async with asyncio.timeout(30):
            session = await open_session(store, settings.telegram)
            session.auth_key = None
            client = build_client(settings.telegram, session, catch_up=False)

            async def code(_: str | None) -> str:
                return "24680"

            try:
                await auth.login(
                    client,
                    store,
                    settings.telegram,
                    phone="+15550100",
                    code_callback=code,
                    password_callback=code,
                    actor="test",
                )
                await client.get_entity("feed")
                await client(functions.updates.GetStateRequest())
                await auth.whoami(client, store, settings.telegram)
            finally:
                await disconnect(client, session)
    data = await store.load_session("default")
    assert data is not None
    assert data.auth_key
    key = data.auth_key
    text = caplog.text + "\n".join(str(e) for e in structured) + repr(session) + str(data.account)
    assert caplog.records  # telethon did log at debug level
    for needle in (key.hex()[:32], repr(key)[2:40], key[:16].decode("latin-1")):
        assert needle not in text
    audit = [repr(entry) for entry in await store.audit_entries(limit=1000)]
    assert any("session." in entry for entry in audit)
    assert all(key.hex()[:32] not in entry and repr(key)[2:40] not in entry for entry in audit)
