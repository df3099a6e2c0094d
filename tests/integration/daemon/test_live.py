"""The running daemon: live events, the reconciler filling gaps, outages, alerts, stopping."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from monitor.errors import SessionRevoked
from monitor.store import Store
from tests.integration.daemon.harness import Env, eventually, photo


async def _hits(env: Env) -> list[Any]:
    async with env.store() as store:
        return await store.list_hits()


async def _sightings(store: Store) -> int:
    from sqlalchemy import text

    async with store.engine.connect() as conn:
        return int((await conn.execute(text("SELECT count(*) FROM sightings"))).scalar_one())


async def test_a_posted_photo_is_a_hit_within_two_seconds(env: Env) -> None:
    await env.list_photos(1)
    channel = env.world.create_channel("feed", "Feed", members=[env.user])
    env.world.post_message(channel, "first")  # so the channel's pts is known to Telethon
    await env.watch("@feed")
    async with env.running() as daemon:
        await eventually(lambda: daemon.counters["reconcile_passes"] >= 1)
        posted = time.monotonic()
        env.world.post_photo(channel, env.listed[1])
        hits = await eventually(lambda: _hits(env), seconds=2.0)
        latency = time.monotonic() - posted
        assert daemon.counters["updates_new"] >= 1
    assert latency < 2.0
    assert hits[0].case_id == "case-1"


async def test_live_posts_in_unwatched_channels_are_ignored(env: Env) -> None:
    await env.list_photos(1)
    watched = env.world.create_channel("feed", members=[env.user])
    other = env.world.create_channel("other", members=[env.user])
    env.world.post_message(other, "hi")
    await env.watch("@feed")
    async with env.running() as daemon:
        await eventually(lambda: daemon.counters["reconcile_passes"] >= 1)
        env.world.post_photo(other, env.listed[1])
        await eventually(lambda: daemon.counters["updates_ignored"] >= 1)
        env.world.post_message(watched, "still alive")
        await asyncio.sleep(0.3)
    assert await _hits(env) == []
    assert env.world.request_count("upload.getFile") == 0


async def test_a_dropped_push_is_recovered_by_the_reconciler(env: Env) -> None:
    await env.list_photos(1)
    channel = env.world.create_channel("feed", members=[env.user])
    await env.watch("@feed")
    async with env.running() as daemon:
        await eventually(lambda: daemon.counters["reconcile_passes"] >= 1)
        env.world.drop_next_push(channel)  # the channel's first push: Telethon never notices
        env.world.post_photo(channel, env.listed[1])
        await asyncio.sleep(0.5)
        assert await _hits(env) == []  # live delivery really lost it
        daemon._reconcile_now.set()  # what the reconcile_interval timer does
        await eventually(lambda: _hits(env), seconds=5)
        assert daemon.counters["updates_new"] == 0


async def test_an_edit_that_swaps_the_photo_is_hashed_again(env: Env) -> None:
    await env.list_photos(2)
    channel = env.world.create_channel("feed", members=[env.user])
    msg = env.world.post_photo(channel, photo(800))
    await env.watch("@feed")
    async with env.running() as daemon:
        await eventually(lambda: daemon.counters["media_recorded"] >= 1)
        env.world.edit_message_media(channel, msg, env.listed[2])
        hits = await eventually(lambda: _hits(env), seconds=3)
        assert daemon.counters["updates_edited"] >= 1
    assert hits[0].source.message_id == msg
    assert hits[0].case_id == "case-2"
    async with env.store() as store:
        assert await _sightings(store) == 2  # the old photo and the new one


async def test_the_daemon_recovers_from_an_outage(env: Env) -> None:
    await env.list_photos(1, 2)
    channel = env.world.create_channel("feed", members=[env.user])
    env.world.post_message(channel, "first")
    await env.watch("@feed")
    async with env.running() as daemon:
        await eventually(lambda: daemon.counters["reconcile_passes"] >= 1)
        async with env.server.refusing(drop=True):
            env.world.post_photo(channel, env.listed[1], push=False)  # posted while we are cut off
            await asyncio.sleep(1.0)
        env.world.post_photo(channel, env.listed[2])
        hits = await eventually(lambda: _hits(env), seconds=15)
        daemon._reconcile_now.set()
        hits = await eventually(lambda: _at_least(env, 2), seconds=15)
    assert sorted(h.case_id for h in hits) == ["case-1", "case-2"]


async def _at_least(env: Env, n: int) -> list[Any] | None:
    hits = await _hits(env)
    return hits if len(hits) >= n else None


async def test_a_session_revoked_while_running_stops_with_exit_8(env: Env) -> None:
    channel = env.world.create_channel("feed", members=[env.user])
    env.world.post_message(channel, "first")
    await env.watch("@feed")

    async def revoke_while_running() -> None:
        async with env.running() as daemon:
            await eventually(lambda: daemon.counters["reconcile_passes"] >= 1)
            env.world.revoke_session(env.user)
            daemon._reconcile_now.set()
            await asyncio.wait_for(daemon.stop.wait(), 10)

    with pytest.raises(SessionRevoked):
        await revoke_while_running()
    async with env.store() as store:
        account = await store.get_account("default")
        assert account is not None
        assert account.state == "revoked"


@pytest.fixture
async def webhook() -> AsyncIterator[dict[str, Any]]:
    """A local HTTP endpoint recording JSON POSTs; fails the first request with 503."""
    received: list[dict[str, Any]] = []
    state: dict[str, Any] = {"received": received, "fail_first": True}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        headers = {
            k.strip().lower(): v.strip()
            for k, _, v in (line.partition(":") for line in head.decode().split("\r\n")[1:] if line)
        }
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        if state["fail_first"]:
            state["fail_first"] = False
            writer.write(b"HTTP/1.1 503 Busy\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        else:
            received.append({"headers": headers, "body": json.loads(body), "raw": body})
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    state["url"] = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook/s3cr3t-token"
    async with server:
        yield state


async def test_hits_are_alerted_to_the_staff_chat_and_the_webhook(
    env: Env, webhook: dict[str, Any]
) -> None:
    from monitor.alerts.signing import verify_signature

    env.configure(
        alerts={
            "chat": "me",
            "webhook_url": webhook["url"],
            "webhook_secret": "hmac-key-123",
            "retry_initial": 0.2,
            "retry_max": 0.5,
        },
        reports={"timezone": "Asia/Seoul"},
    )
    await env.list_photos(1)
    channel = env.world.create_channel("feed", "Feed", members=[env.user])
    env.world.post_message(channel, "first")
    await env.watch("@feed")
    async with env.running() as daemon:
        await eventually(lambda: daemon.counters["reconcile_passes"] >= 1)
        env.world.post_photo(channel, env.listed[1])
        await eventually(lambda: webhook["received"], seconds=10)
        await eventually(lambda: env.world.sent_messages, seconds=5)
    (sent,) = env.world.sent_messages
    assert sent.peer == "self"
    assert "case-1" in sent.text
    assert "https://t.me/feed/" in sent.text
    (request,) = webhook["received"]
    body = request["body"]
    assert body["type"] == "hit"
    assert body["case_id"] == "case-1"
    assert body["bank"] == "reported"
    assert body["link"].startswith("https://t.me/feed/")
    headers = request["headers"]
    assert verify_signature(
        "hmac-key-123",
        headers["x-monitor-timestamp"],
        request["raw"],
        headers["x-monitor-signature"],
    )
    assert not verify_signature(
        "other-key", headers["x-monitor-timestamp"], request["raw"], headers["x-monitor-signature"]
    )
    assert "s3cr3t-token" not in json.dumps(body)
    async with env.store() as store:
        counts = await store.alert_counts()
    assert counts.get("sent") == 2
    assert not counts.get("pending")


async def test_the_timer_reconciles_and_lists_imported_while_running_take_effect(
    env: Env,
) -> None:
    env.configure(telegram={"reconcile_interval": 0.5})
    channel = env.world.create_channel("feed", members=[env.user])
    env.world.post_message(channel, "first")
    await env.watch("@feed")
    async with env.running() as daemon:
        await eventually(lambda: daemon.counters["reconcile_passes"] >= 1)
        await env.list_photos(4)  # a list imported while the daemon runs
        env.world.drop_next_push(channel)
        env.world.post_photo(channel, env.listed[4])
        hits = await eventually(lambda: _hits(env), seconds=10)
        assert daemon.counters["reconcile_passes"] >= 2
    assert hits[0].case_id == "case-4"
