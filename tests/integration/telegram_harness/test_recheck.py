"""Takedown re-checks (``monitor.telegram.recheck``) with the real Telethon client against the
loopback server: deleted, still up, media replaced or removed, private, gone, unresolvable,
flood waits, transient failures, batching, a revoked session."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from structlog.testing import capture_logs
from telethon import TelegramClient

from monitor.domain import CheckOutcome, RecheckResult, RecheckTarget
from monitor.errors import SessionRevoked
from monitor.telegram.flood import FloodControl
from monitor.telegram.recheck import recheck_messages
from tests.integration.telegram_harness.images import make_jpeg
from tests.telegram_server import UserRecord, World
from tests.telegram_server.models import ChannelRecord

GET_MESSAGES = "channels.getMessages"
FIXED_NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class FloodLog:
    """Stands in for the store's ``flood_waits`` table."""

    def __init__(self) -> None:
        self.waits: list[tuple[str, str, int, int | None]] = []

    async def record_flood_wait(
        self, session: str, method: str, seconds: int, *, chat_id: int | None = None
    ) -> None:
        self.waits.append((session, method, seconds, chat_id))


def flood_control(max_wait: int) -> tuple[FloodControl, FloodLog]:
    store = FloodLog()
    control = FloodControl(
        store, "default", max_wait=max_wait, stop=asyncio.Event(), counters=Counter()
    )
    return control, store


def media_id(channel: ChannelRecord, message_id: int) -> int:
    media = channel.messages[message_id].media
    assert media is not None
    return media.id


def target(sighting_id: int, channel: ChannelRecord, message_id: int) -> RecheckTarget:
    """A target reporting the media the message carries now."""
    return RecheckTarget(sighting_id, channel.marked_id, message_id, media_id(channel, message_id))


def detail(result: RecheckResult) -> str:
    assert result.detail is not None
    return result.detail


def outcomes(results: list[RecheckResult]) -> dict[int, CheckOutcome]:
    return {r.sighting_id: r.outcome for r in results}


def post_photos(world: World, channel: ChannelRecord, count: int, seed: int = 1) -> list[int]:
    return [world.post_photo(channel, make_jpeg(seed + i), push=False) for i in range(count)]


async def signed_in(make_client: Callable[..., Any], user: UserRecord, **kwargs: Any) -> Any:
    tg = make_client(**kwargs)
    await tg.start(phone=f"+{user.phone}", code_callback=lambda: user.code)
    return tg


@pytest.fixture
async def strict_client(
    make_client: Callable[..., Any], test_user: UserRecord
) -> AsyncIterator[TelegramClient]:
    """Telethon sleeps through no flood wait itself: every one reaches ``FloodControl``."""
    tg = await asyncio.wait_for(signed_in(make_client, test_user, flood_sleep_threshold=0), 15)
    try:
        yield tg
    finally:
        await tg.disconnect()


async def test_outcomes_per_message_and_channel(
    client: TelegramClient, world: World, test_user: UserRecord
) -> None:
    feed = world.create_channel("feed", "Feed", members=[test_user])
    up, deleted, replaced, stripped, *_ = post_photos(world, feed, 5)
    album = world.post_album(feed, [make_jpeg(20), make_jpeg(21)])
    hidden = world.create_channel(None, "Hidden", members=[test_user])
    hidden_post = post_photos(world, hidden, 1, seed=30)[0]
    doomed = world.create_channel(None, "Doomed", members=[test_user])
    doomed_post = post_photos(world, doomed, 1, seed=40)[0]
    await client.get_dialogs()  # the session has seen every channel (access hashes cached)

    targets = [
        target(1, feed, up),
        target(2, feed, deleted),
        target(3, hidden, hidden_post),
        target(4, feed, replaced),
        target(5, doomed, doomed_post),
        target(6, feed, stripped),
        target(7, feed, album[1]),  # one item of an album: its own message and photo
        RecheckTarget(8, feed.marked_id, album[0], media_id(feed, album[1])),  # the other photo
        RecheckTarget(9, feed.marked_id, up),  # no media id reported: any media is up
        target(10, feed, up),  # the same message reported twice
    ]
    world.delete_messages(feed, [deleted])
    world.edit_message_media(feed, replaced, make_jpeg(99))
    world.remove_message_media(feed, stripped)
    world.make_private(hidden)  # kicks everyone
    world.remove_channel(doomed)
    before = world.request_count(GET_MESSAGES)

    async with asyncio.timeout(15):
        with capture_logs() as logs:
            results = await recheck_messages(client, targets, now=lambda: FIXED_NOW)

    assert [r.sighting_id for r in results] == list(range(1, 11))  # the input order
    assert outcomes(results) == {
        1: CheckOutcome.UP,
        2: CheckOutcome.DELETED,
        3: CheckOutcome.PRIVATE,
        4: CheckOutcome.MEDIA_REMOVED,
        5: CheckOutcome.GONE,
        6: CheckOutcome.MEDIA_REMOVED,
        7: CheckOutcome.UP,
        8: CheckOutcome.MEDIA_REMOVED,
        9: CheckOutcome.UP,
        10: CheckOutcome.UP,
    }
    by_id = {r.sighting_id: r for r in results}
    assert all(r.checked_at == FIXED_NOW for r in results)
    assert by_id[1].detail is None
    assert (
        by_id[4].detail
        == f"the message now has another photo (media id {media_id(feed, replaced)})"
    )
    assert by_id[6].detail == "the message now has no media"
    assert "CHANNEL_PRIVATE" in detail(by_id[3])
    assert "CHANNEL_INVALID" in detail(by_id[5])
    # One request per chat (three chats), not one per message.
    assert world.request_count(GET_MESSAGES) - before == 3
    lines = [e for e in logs if e["event"] == "recheck_chat"]
    assert [(e["chat_id"], e["targets"]) for e in lines] == [
        (feed.marked_id, 8),
        (hidden.marked_id, 1),
        (doomed.marked_id, 1),
    ]
    assert {k: lines[0].get(k) for k in ("up", "media_removed", "deleted")} == {
        "up": 4,
        "media_removed": 3,
        "deleted": 1,
    }
    assert lines[1]["private"] == 1
    assert lines[2]["gone"] == 1


async def test_unresolvable_chat_is_error_not_gone(
    client: TelegramClient, world: World, test_user: UserRecord
) -> None:
    """Without a cached access hash Telegram's CHANNEL_INVALID proves nothing."""
    stranger = world.create_channel(None, "Never seen")  # we are not a member
    stranger_post = post_photos(world, stranger, 1)[0]
    removed = world.create_channel(None, "Removed before we saw it", members=[test_user])
    removed_post = post_photos(world, removed, 1, seed=5)[0]
    world.remove_channel(removed)
    cold = world.create_channel(None, "Member, not cached yet", members=[test_user])
    cold_post = post_photos(world, cold, 1, seed=9)[0]

    async with asyncio.timeout(15):
        results = await recheck_messages(
            client,
            [
                target(1, stranger, stranger_post),
                target(2, removed, removed_post),
                target(3, cold, cold_post),
            ],
        )

    assert outcomes(results) == {1: CheckOutcome.ERROR, 2: CheckOutcome.ERROR, 3: CheckOutcome.UP}
    assert "no access hash" in detail(results[0])
    assert results[1].detail == results[0].detail
    # The account's dialogs fill a cold cache, once per call.
    assert world.request_count("messages.getDialogs") == 1
    assert world.request_count(GET_MESSAGES) == 1  # only the resolvable chat was asked


async def test_batches_of_at_most_100_ids(
    client: TelegramClient, world: World, test_user: UserRecord
) -> None:
    feed = world.create_channel("bulk", "Bulk", members=[test_user])
    jpeg = make_jpeg(1)  # each post still gets a photo (and photo id) of its own
    ids = [world.post_photo(feed, jpeg, push=False) for _ in range(250)]
    await client.get_dialogs()
    targets = [target(i, feed, m) for i, m in enumerate(ids)]
    targets.reverse()  # any order in, the same order out
    world.delete_messages(feed, ids[::50])

    async with asyncio.timeout(30):
        results = await recheck_messages(client, targets)

    assert world.request_count(GET_MESSAGES) == 3
    assert [r.sighting_id for r in results] == [t.sighting_id for t in targets]
    gone = {i for i, m in enumerate(ids) if m in ids[::50]}
    assert {r.sighting_id for r in results if r.outcome is CheckOutcome.DELETED} == gone
    assert sum(r.outcome is CheckOutcome.UP for r in results) == 245

    async with asyncio.timeout(30):
        smaller = await recheck_messages(client, targets[:30], batch=10)
    assert [r.outcome for r in smaller] == [r.outcome for r in results[:30]]
    assert world.request_count(GET_MESSAGES) == 6


async def test_short_flood_wait_is_waited_out(
    strict_client: TelegramClient, world: World, test_user: UserRecord
) -> None:
    feed = world.create_channel("slow", "Slow", members=[test_user])
    post = post_photos(world, feed, 1)[0]
    await strict_client.get_dialogs()
    flood, log = flood_control(max_wait=5)
    world.flood_wait(GET_MESSAGES, 1)

    async with asyncio.timeout(15):
        started = time.monotonic()
        results = await recheck_messages(strict_client, [target(1, feed, post)], flood=flood)

    assert time.monotonic() - started >= 1
    assert outcomes(results) == {1: CheckOutcome.UP}
    assert world.request_count(GET_MESSAGES) == 2
    assert log.waits == [("default", "GetMessagesRequest", 1, feed.marked_id)]


async def test_short_flood_wait_slept_by_telethon(
    client: TelegramClient, world: World, test_user: UserRecord
) -> None:
    """Under ``flood_sleep_threshold`` Telethon sleeps and retries inside the call."""
    feed = world.create_channel("slow2", "Slow", members=[test_user])
    post = post_photos(world, feed, 1)[0]
    await client.get_dialogs()
    world.flood_wait(GET_MESSAGES, 1)
    async with asyncio.timeout(15):
        results = await recheck_messages(client, [target(1, feed, post)])
    assert outcomes(results) == {1: CheckOutcome.UP}


async def test_too_long_flood_wait_is_error_for_that_chat(
    strict_client: TelegramClient, world: World, test_user: UserRecord
) -> None:
    first = world.create_channel("first", "First", members=[test_user])
    flooded = world.create_channel("flooded", "Flooded", members=[test_user])
    later = world.create_channel("later", "Later", members=[test_user])
    posts = {c.id: post_photos(world, c, 1)[0] for c in (first, flooded, later)}
    await strict_client.get_dialogs()
    flood, log = flood_control(max_wait=5)
    world.flood_wait(GET_MESSAGES, 120, after=1)  # the first chat's request passes

    targets = [target(i, c, posts[c.id]) for i, c in enumerate((first, flooded, later), 1)]
    async with asyncio.timeout(15):
        with capture_logs() as logs:
            results = await recheck_messages(strict_client, targets, flood=flood)

    assert outcomes(results) == {1: CheckOutcome.UP, 2: CheckOutcome.ERROR, 3: CheckOutcome.ERROR}
    lines = [e for e in logs if e["event"] == "recheck_chat"]
    assert [(e["log_level"], e["chat_id"]) for e in lines] == [
        ("info", first.marked_id),
        ("warning", flooded.marked_id),
        ("warning", later.marked_id),
    ]
    assert lines[1]["detail"] == detail(results[1])
    assert "FLOOD_WAIT_120" in detail(results[1])
    # Telethon would refuse the same request locally until the wait is over: not asked.
    assert detail(results[2]).startswith("not checked: ")
    assert world.request_count(GET_MESSAGES) == 2
    assert log.waits == [("default", "GetMessagesRequest", 120, flooded.marked_id)]


async def test_flood_wait_without_flood_control_is_error(
    strict_client: TelegramClient, world: World, test_user: UserRecord
) -> None:
    feed = world.create_channel("nofc", "No flood control", members=[test_user])
    post = post_photos(world, feed, 1)[0]
    await strict_client.get_dialogs()
    world.flood_wait(GET_MESSAGES, 2)
    async with asyncio.timeout(15):
        results = await recheck_messages(strict_client, [target(1, feed, post)])
    assert outcomes(results) == {1: CheckOutcome.ERROR}
    assert "FLOOD_WAIT_2" in detail(results[0])


async def test_transient_failure_is_error_then_next_call_succeeds(
    client: TelegramClient, world: World, test_user: UserRecord
) -> None:
    feed = world.create_channel("flaky", "Flaky", members=[test_user])
    post = post_photos(world, feed, 1)[0]
    await client.get_dialogs()
    world.fail_next(GET_MESSAGES, 400, "SOMETHING_ODD")

    async with asyncio.timeout(15):
        failed = await recheck_messages(client, [target(1, feed, post)])
        again = await recheck_messages(client, [target(1, feed, post)])

    assert outcomes(failed) == {1: CheckOutcome.ERROR}
    assert failed[0].detail == "400 SOMETHING_ODD"
    assert outcomes(again) == {1: CheckOutcome.UP}


async def test_server_errors_past_telethons_retries_are_error(
    make_client: Callable[..., Any], world: World, test_user: UserRecord
) -> None:
    """Telethon retries 500s (``request_retries`` + 1 attempts, sleeping 2 s after each), then
    raises a bare ``ValueError("Request was unsuccessful N time(s)")``, not the server's error."""
    feed = world.create_channel("down", "Down", members=[test_user])
    post = post_photos(world, feed, 1)[0]
    tg = await asyncio.wait_for(signed_in(make_client, test_user, request_retries=0), 15)
    try:
        await tg.get_dialogs()
        world.fail_next(GET_MESSAGES, 500, "INTERNAL")
        async with asyncio.timeout(20):
            results = await recheck_messages(tg, [target(1, feed, post)])
            again = await recheck_messages(tg, [target(1, feed, post)])
    finally:
        await tg.disconnect()

    assert outcomes(results) == {1: CheckOutcome.ERROR}
    assert "unsuccessful" in detail(results[0])
    assert outcomes(again) == {1: CheckOutcome.UP}
    assert world.request_count(GET_MESSAGES) == 2


async def test_disconnected_client_is_error(
    client: TelegramClient, world: World, test_user: UserRecord
) -> None:
    feed = world.create_channel("cut", "Cut", members=[test_user])
    post = post_photos(world, feed, 1)[0]
    await client.get_dialogs()
    await client.disconnect()
    async with asyncio.timeout(15):
        results = await recheck_messages(client, [target(1, feed, post)])
    assert outcomes(results) == {1: CheckOutcome.ERROR}
    assert detail(results[0]).startswith("ConnectionError")


async def test_revoked_session_raises(
    client: TelegramClient, world: World, test_user: UserRecord
) -> None:
    feed = world.create_channel("revoked", "Revoked", members=[test_user])
    post = post_photos(world, feed, 1)[0]
    await client.get_dialogs()
    world.revoke_session(test_user)
    async with asyncio.timeout(15):
        with pytest.raises(SessionRevoked, match="revoked"):
            await recheck_messages(client, [target(1, feed, post)])


async def test_no_targets_asks_nothing(client: TelegramClient, world: World) -> None:
    assert await recheck_messages(client, []) == []
    assert world.request_count(GET_MESSAGES) == 0
    with pytest.raises(ValueError, match="batch"):
        await recheck_messages(client, [], batch=0)
