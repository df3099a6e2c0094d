"""/metrics and /readyz of the real daemon against the loopback Telegram server."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from monitor.daemon import Daemon
from tests.integration.daemon.harness import Env, eventually


def _url(daemon: Daemon, path: str) -> str:
    assert daemon.endpoints is not None
    assert daemon.endpoints.port > 0  # port 0 in the harness's config: the one picked
    return daemon.endpoints.url + path


async def _scrape(daemon: Daemon) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(_url(daemon, "/metrics"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


async def _readyz(daemon: Daemon) -> tuple[int, dict[str, Any]]:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(_url(daemon, "/readyz"))
    return response.status_code, response.json()


async def test_metrics_count_messages_and_hits_by_tier_while_ready(env: Env) -> None:
    await env.list_photos(1)
    channel = env.world.create_channel("feed", "Feed", members=[env.user])
    env.world.post_message(channel, "first")
    await env.watch("@feed")
    async with env.running() as daemon:
        await eventually(lambda: daemon.counters["reconcile_passes"] >= 1)
        assert await _readyz(daemon) == (
            200,
            {
                "status": "ready",
                "checks": {"index_loaded": True, "telegram_connected": True, "receiving": True},
                "failing": [],
            },
        )
        env.world.post_photo(channel, env.listed[1])
        await eventually(lambda: daemon.counters["hits"] >= 1, seconds=10)
        async with env.store() as store:
            (hit,) = await store.list_hits()
        samples = await _scrape(daemon)
        assert samples[("monitor_messages_total", (("origin", "live"),))] >= 1
        assert samples[("monitor_hits_total", (("tier", hit.tier.value),))] == 1
        assert samples[("monitor_media_hashed_total", (("kind", "photo"),))] >= 1
        assert samples[("monitor_updates_total", (("kind", "new"),))] >= 1
        assert samples[("monitor_index_entries", (("hash_type", "pdq"),))] == 1
        assert samples[("monitor_channels_watched", ())] == 1
        assert samples[("monitor_ready", ())] == 1
        assert samples[("monitor_queue_depth", (("queue", "live"),))] >= 0
        lag = (
            "monitor_reconciler_lag_messages",
            (("channel_id", str(channel_id(daemon))), ("username", "feed")),
        )
        assert lag in samples
        # The reconciler passes over the photo (handled live already): the cursor catches up.
        daemon._reconcile_now.set()

        async def caught_up() -> bool:
            return (await _scrape(daemon))[lag] == 0

        await eventually(caught_up, seconds=15)
        async with httpx.AsyncClient(timeout=10) as http:
            assert (await http.get(_url(daemon, "/healthz"))).status_code == 200
            assert (await http.get(_url(daemon, "/nothing"))).status_code == 404
            assert (await http.post(_url(daemon, "/metrics"))).status_code == 405
        url = _url(daemon, "/healthz")
    async with httpx.AsyncClient(timeout=5) as http:  # stopped: nothing listens any more
        with pytest.raises(httpx.ConnectError):
            await http.get(url)


def channel_id(daemon: Daemon) -> int:
    (chat,) = daemon.allow.chats
    return chat.chat_id


async def test_not_ready_while_telegram_is_unreachable(env: Env) -> None:
    channel = env.world.create_channel("feed", members=[env.user])
    env.world.post_message(channel, "first")
    await env.watch("@feed")
    async with env.running() as daemon:
        await eventually(lambda: daemon.counters["reconcile_passes"] >= 1)
        assert (await _readyz(daemon))[0] == 200

        async def not_connected() -> bool:
            status, body = await _readyz(daemon)
            return status == 503 and body["failing"] == ["telegram_connected"]

        async with env.server.refusing(drop=True):
            await eventually(not_connected, seconds=30)
            samples = await _scrape(daemon)  # still served while Telegram is away
            assert samples[("monitor_ready", ())] == 0

        async def ready() -> bool:
            return (await _readyz(daemon))[0] == 200

        await eventually(ready, seconds=60)
