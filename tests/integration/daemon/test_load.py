"""Under load: live posts go before history, and a reconciler pass does not write again what was
handled live."""

from __future__ import annotations

import asyncio
import platform
import sys
from typing import Any

from monitor.daemon import WorkQueue, limit_malloc_arenas
from monitor.telegram.cursors import PassTracker
from monitor.telegram.processor import WorkItem
from monitor.telegram.sources import Chat
from tests.integration.daemon.harness import Env, eventually, photo


class _Message:
    def __init__(self, message_id: int) -> None:
        self.id = message_id


async def test_live_items_go_first_and_one_worker_keeps_history_moving() -> None:
    queue = WorkQueue(size=10)
    chat = Chat(-1001, "t", "t", None, 1)
    tracker = PassTracker(chat.chat_id, 0)
    for n in range(1, 4):
        await queue.put(WorkItem(_Message(n), chat, "reconcile", tracker))
    await queue.put(WorkItem(_Message(10), chat, "live"))
    await queue.put(WorkItem(_Message(4), chat, "backfill"))
    await queue.put(WorkItem(_Message(11), chat, "edit"))
    assert queue.qsize() == 6

    async def take(history_first: bool = False) -> tuple[str, int]:
        item = await queue.get(history_first=history_first)
        queue.task_done(item)
        return item.origin, item.message.id

    assert await take() == ("live", 10)
    assert await take(history_first=True) == ("reconcile", 1)
    assert await take() == ("edit", 11)
    assert [await take() for _ in range(3)] == [("reconcile", 2), ("reconcile", 3), ("backfill", 4)]
    assert queue.empty()
    await asyncio.wait_for(queue.join(), 1)


async def test_a_waiting_worker_gets_what_is_put_and_join_waits_for_the_work() -> None:
    queue = WorkQueue(size=1)
    chat = Chat(-1001, "t", "t", None, 1)
    waiting = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    await queue.put(WorkItem(_Message(1), chat, "live"))
    item = await asyncio.wait_for(waiting, 1)
    joined = asyncio.create_task(queue.join())
    await asyncio.sleep(0.01)
    assert not joined.done()  # taken, not done
    queue.task_done(item)
    await asyncio.wait_for(joined, 1)
    # Back-pressure: a full queue makes put wait for a worker.
    await queue.put(WorkItem(_Message(2), chat, "live"))
    blocked = asyncio.create_task(queue.put(WorkItem(_Message(3), chat, "live")))
    await asyncio.sleep(0.01)
    assert not blocked.done()
    queue.task_done(await queue.get())
    await asyncio.wait_for(blocked, 1)


async def _sightings(env: Env) -> list[Any]:
    async with env.store() as store:
        return await store.list_hits()


async def test_the_reconciler_skips_what_was_recorded_live(env: Env) -> None:
    await env.list_photos(1)
    channel = env.world.create_channel("feed", members=[env.user])
    env.world.post_message(channel, "first")
    await env.watch("@feed")
    async with env.running() as daemon:
        await eventually(lambda: daemon.counters["reconcile_passes"] >= 1)
        env.world.post_photo(channel, env.listed[1])
        env.world.post_photo(channel, photo(500))
        await eventually(lambda: daemon.counters["media_recorded"] >= 2)
        recorded = daemon.counters["media_recorded"]
        daemon._reconcile_now.set()
        await eventually(lambda: daemon.counters["reconcile_passes"] >= 2)
        await asyncio.wait_for(daemon.reconciler.idle(), 10)
        await daemon.reconciler.commit_cursors()
        assert daemon.counters["sightings_known"] == 2
        assert daemon.counters["media_recorded"] == recorded  # nothing matched or written again
        async with env.store() as store:
            cursor = await store.get_cursor(channel.marked_id)
    assert cursor == max(channel.messages)  # the cursor still moves past them
    assert len(await _sightings(env)) == 1
    assert env.world.request_count("upload.getFile") == 2


def test_malloc_arenas_are_capped_on_glibc() -> None:
    on_glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert limit_malloc_arenas() is on_glibc
