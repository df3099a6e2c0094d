"""At a stop the daemon's background loops end by themselves; only a loop still busy after the
grace period is cancelled (a task cancelled in the middle of an SQLite write can leave the
write lock held, see ``monitor.daemon._stop_tasks``)."""

from __future__ import annotations

import asyncio

from monitor.daemon import _stop_tasks, _until


async def test_tasks_that_end_by_themselves_are_not_cancelled() -> None:
    stop = asyncio.Event()
    finished: list[str] = []

    async def loop() -> None:
        while not stop.is_set():
            await _until(asyncio.Event(), stop, 60)
        await asyncio.sleep(0.05)  # e.g. finishing a write
        finished.append("loop")

    async def stubborn() -> None:
        await asyncio.sleep(60)

    polite = asyncio.create_task(loop(), name="polite")
    rude = asyncio.create_task(stubborn(), name="rude")
    await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(_stop_tasks([polite, rude], grace=0.5), 5)
    assert finished == ["loop"]
    assert not polite.cancelled()
    assert rude.cancelled()
    await _stop_tasks([], grace=1)


async def test_until_wakes_on_the_event_on_stop_or_after_the_time() -> None:
    event, stop = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()
    started = loop.time()
    await _until(event, stop, 0.05)
    assert loop.time() - started >= 0.04
    event.set()
    await asyncio.wait_for(_until(event, stop, 60), 1)
    event.clear()
    stop.set()
    await asyncio.wait_for(_until(event, stop, 60), 1)
