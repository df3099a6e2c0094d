"""Crash safety: ``monitor run`` killed with SIGKILL at random moments while posts stream in.

The real daemon runs as the command line starts it (a child process, its own process group, its
hashing workers included) against the loopback Telegram server and a fresh store, on SQLite and
on PostgreSQL. A task of the test keeps posting to several watched channels (listed and unlisted
photos, the same content posted again, forwards of the same media, media recorded as skipped,
posts out of scope, posts in a channel not watched) also while the daemon is down. File parts
arrive 20 ms late (as over a network), so a burst posted while the daemon is down takes the
restarted daemon seconds to work through. The daemon is killed 4 to 6 times, at least twice
"mid-pass" (just after a cursor commit while posts are still unrecorded: the moment a cursor
ahead of committed work shows), else while starting or a while after it started; restarted each
time, and finally stopped with SIGTERM once it has caught up. Then the store must show every
media item processed exactly once in effect:

* every posted message with media in a watched channel has exactly one sighting, nothing else
  has one;
* every post of a listed photo has exactly one hit, on its entry; nothing else has a hit;
* every hit has exactly one alert delivery, sent by the end; a hit is posted to the webhook more
  than once only if a kill came between sending and recording it (at most one per kill);
* after every kill, each channel's cursor is not ahead of committed work: every message with
  media at or below it has its sighting.

The random choices come from one seed, printed (shown with a failure) and taken from
``MONITOR_CRASH_SEED`` when set, so a failing schedule can be replayed (the timing of the kills
against the work in flight can differ between runs).
"""

from __future__ import annotations

import asyncio
import io
import os
import random
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import text

from monitor.store import Store
from tests.integration.daemon.harness import (
    Child,
    Env,
    WebhookReceiver,
    eventually,
    make_env,
    photo,
    webhook_receiver,
)
from tests.telegram_server import TelegramTestServer, World
from tests.telegram_server.models import ChannelRecord

pytestmark = pytest.mark.slow

SEED_ENV = "MONITOR_CRASH_SEED"
LISTED = (1, 2, 3, 4)  # photo seeds whose PDQ is listed (case id "case-<seed>")
UNLISTED = tuple(range(100, 112))  # photo seeds posted but not listed
LARGE = tuple(range(200, 204))  # seeds of large noise photos: slow to fetch and hash
MAX_BYTES = 4_000_000  # telegram.media.max_bytes: the "oversize" image document is larger
MAX_POSTS = 220  # posts streamed at most (bounds the test's work)
STARTUP = 45.0  # seconds a (re)started daemon may take to log daemon_started
DOWNLOAD_LATENCY = 0.02  # seconds each file part takes to arrive
CATCH_UP = 60.0  # seconds the last daemon may take to process everything posted


@dataclass(frozen=True, slots=True)
class Post:
    """A message posted to a channel, and what the store must show for it."""

    chat_id: int  # Bot-API form
    message_id: int
    what: str
    sighting: bool  # media in scope: one sighting expected (if the channel is watched)
    case_id: str | None = None  # the listed photo it carries: one hit on that entry expected
    skip_reason: str | None = None  # recorded as seen but not hashed, for this reason


class Poster:
    """Posts a random mix of messages to the channels, every 50-400 ms, until stopped."""

    def __init__(
        self,
        world: World,
        watched: list[ChannelRecord],
        unwatched: ChannelRecord,
        listed: dict[int, bytes],
        rng: random.Random,
    ) -> None:
        self.world = world
        self.watched = watched
        self.unwatched = unwatched
        self.listed = listed
        self.rng = rng
        self.posts: list[Post] = []
        self.unlisted = {seed: photo(seed, (320, 240)) for seed in UNLISTED}
        self.large = {seed: _noise_jpeg(seed) for seed in LARGE}
        self.oversize = rng.randbytes(MAX_BYTES + 50_000)
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        while not self._stop.is_set() and len(self.posts) < MAX_POSTS:
            self.post_one()
            await asyncio.sleep(self.rng.uniform(0.05, 0.4))

    def burst(self, count: int) -> None:
        """Post ``count`` messages at once, half of them large photos: a backlog that takes
        the daemon a few seconds to work through."""
        for _ in range(count):
            self.post_one("large" if self.rng.random() < 0.5 else None)

    def post_one(self, kind: str | None = None) -> Post:
        rng, world = self.rng, self.world
        kind = (
            kind
            or rng.choices(
                [
                    "listed",
                    "unlisted",
                    "large",
                    "forward",
                    "text",
                    "oversize",
                    "svg",
                    "pdf",
                    "unwatched",
                ],
                weights=[3, 4, 1, 2, 2, 1, 1, 0.5, 1],
            )[0]
        )
        channel = rng.choice(self.watched)
        chat_id = channel.marked_id
        if kind == "forward" and not any(p.sighting for p in self.posts):
            kind = "unlisted"
        if kind == "listed":
            seed = rng.choice(LISTED)
            msg = world.post_photo(channel, self.listed[seed])
            post = Post(chat_id, msg, f"listed {seed}", True, case_id=f"case-{seed}")
        elif kind == "unlisted":
            seed = rng.choice(UNLISTED)
            msg = world.post_photo(channel, self.unlisted[seed])
            post = Post(chat_id, msg, f"unlisted {seed}", True)
        elif kind == "large":
            seed = rng.choice(LARGE)
            msg = world.post_photo(channel, self.large[seed])
            post = Post(chat_id, msg, f"large {seed}", True)
        elif kind == "forward":
            # The same Telegram media (same media id) again, from a watched channel or not.
            source = rng.choice([p for p in self.posts if p.sighting])
            src_channel = self._channel(source.chat_id)
            msg = world.forward(src_channel, source.message_id, channel)
            post = Post(
                chat_id,
                msg,
                f"forward of {source.what}",
                True,
                case_id=source.case_id,
                skip_reason=source.skip_reason,
            )
        elif kind == "text":
            post = Post(chat_id, world.post_message(channel, "just text"), "text", False)
        elif kind == "oversize":
            msg = world.post_document(channel, self.oversize, "image/png", size=(4000, 3000))
            post = Post(chat_id, msg, "oversize image", True, skip_reason="too_large")
        elif kind == "svg":
            msg = world.post_document(channel, b"<svg/>", "image/svg+xml", size=(10, 10))
            post = Post(chat_id, msg, "svg image", True, skip_reason="mime_not_allowed")
        elif kind == "pdf":
            msg = world.post_document(channel, b"%PDF-1.4", "application/pdf", "a.pdf")
            post = Post(chat_id, msg, "pdf (out of scope)", False)
        else:
            seed = rng.choice(LISTED)
            msg = world.post_photo(self.unwatched, self.listed[seed])
            post = Post(
                self.unwatched.marked_id, msg, f"unwatched listed {seed}", True, f"case-{seed}"
            )
        self.posts.append(post)
        return post

    def _channel(self, chat_id: int) -> ChannelRecord:
        return next(c for c in [*self.watched, self.unwatched] if c.marked_id == chat_id)

    def expected(self) -> dict[tuple[int, int], Post]:
        """The posts that must have a sighting: media in scope, in a watched channel."""
        watched = {c.marked_id for c in self.watched}
        return {
            (p.chat_id, p.message_id): p for p in self.posts if p.sighting and p.chat_id in watched
        }


def _noise_jpeg(seed: int, size: tuple[int, int] = (1600, 1200)) -> bytes:
    """A large JPEG of random pixels (about 1.7 MB): many parts to fetch, slow to decode."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=90)
    return out.getvalue()


@pytest.fixture
def slow_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every ``upload.getFile`` answered ``DOWNLOAD_LATENCY`` late, as over a real network:
    a backlog then takes the daemon seconds, so kills land while a pass has work in flight."""
    from telethon.tl.functions.upload import GetFileRequest

    from tests.telegram_server import handlers

    entry = handlers.lookup(GetFileRequest(location=None, offset=0, limit=0))
    assert entry is not None
    serve, needs_auth = entry

    async def late(ctx: handlers.RequestContext, request: GetFileRequest) -> Any:
        await asyncio.sleep(DOWNLOAD_LATENCY)
        return serve(ctx, request)

    monkeypatch.setitem(handlers._HANDLERS, GetFileRequest, (late, needs_auth))


@pytest.fixture
async def webhook() -> AsyncIterator[WebhookReceiver]:
    async with webhook_receiver() as receiver:
        yield receiver


@pytest.fixture
async def crash_env(
    telegram_server: TelegramTestServer,
    slow_downloads: None,
    empty_store_url: str,
    webhook: WebhookReceiver,
    tmp_path: Path,
) -> Env:
    """A signed-in account and a config on a fresh database of the backend (SQLite or a new
    PostgreSQL database, its schema made by the store's own upgrade at first open): reconciler
    passes every second, alerts to ``webhook``."""
    return await make_env(
        telegram_server,
        tmp_path,
        database={"url": empty_store_url},
        logging={"level": "info", "format": "json"},
        telegram={
            "reconcile_interval": 1.0,
            "join_interval": 0.0,
            "history_page_wait": 0.0,
            "hash_workers": 1,
            "drain_timeout": 10.0,
        },
        **{"telegram.media": {"max_bytes": MAX_BYTES}},
        # A short send timeout keeps short the claim a killed dispatcher leaves on the
        # deliveries it had taken (they are sent again once it ends).
        alerts={
            "webhook_url": webhook.url,
            "retry_initial": 0.2,
            "retry_max": 0.5,
            "timeout": 0.5,
        },
    )


async def test_sigkill_at_random_moments_loses_and_duplicates_nothing(
    crash_env: Env, webhook: WebhookReceiver, backend: str
) -> None:
    env = crash_env
    seed = int(os.environ.get(SEED_ENV) or random.SystemRandom().randrange(2**32))
    print(f"crash test seed: {SEED_ENV}={seed} (backend {backend})")
    rng = random.Random(seed)
    kills_rng = random.Random(rng.randrange(2**32))
    await env.list_photos(*LISTED)
    watched = [
        env.world.create_channel(name, members=[env.user]) for name in ("crash_a", "crash_b")
    ]
    watched.append(env.world.create_channel(None, "Private crash", members=[env.user]))
    elsewhere = env.world.create_channel("crash_elsewhere", members=[env.user])
    for channel in watched:
        env.world.post_message(channel, "hello")
    invite = env.world.create_invite(watched[2])
    await env.watch("@crash_a", "@crash_b", f"https://t.me/+{invite}")

    async with env.store() as store:
        poster = Poster(env.world, watched, elsewhere, env.listed, rng)
        streaming = asyncio.create_task(poster.run())
        kills = 0
        try:
            # At least two kills right after a cursor commit in a pass with work in flight:
            # the moment a cursor ahead of committed work would be caught.
            moments = ["mid-pass", "mid-pass"]
            moments += kills_rng.choices(
                ["starting", "mid-pass", "running"], k=kills_rng.randint(2, 4)
            )
            kills_rng.shuffle(moments)
            for moment in moments:
                # Down (or not started yet): posts go on. Before a kill mid-pass, a burst leaves
                # the restarted daemon a backlog to work through.
                await asyncio.sleep(kills_rng.uniform(0.3, 1.5))
                if moment == "mid-pass":
                    poster.burst(kills_rng.randint(10, 16))
                how = await _run_and_kill(env, store, poster, moment, kills_rng)
                kills += 1
                where = f"seed {seed}, kill {kills} ({how})"
                print(f"{where}: {await _progress(store, poster)}")
                await _assert_cursors_not_ahead(store, poster, where)
            poster.stop()
            await streaming
            posts = len(poster.posts)
            await _run_to_the_end(env, store, poster, seed)
        finally:
            poster.stop()
            await streaming
        where = f"seed {seed}, {kills} kills, {posts} posts"
        await _assert_cursors_not_ahead(store, poster, where)
        await _assert_each_exactly_once(store, poster, webhook, kills, where)


async def _run_and_kill(
    env: Env, store: Store, poster: Poster, moment: str, rng: random.Random
) -> str:
    """Start ``monitor run`` and SIGKILL it at a random ``moment``: while ``starting`` (from
    start-up to the first pass), ``mid-pass`` (right after a cursor commit while the pass still
    has messages to record) or ``running`` (a while after it started). How it was killed."""
    how = moment
    daemon = await Child.spawn(env, "run")
    try:
        if moment == "starting":
            await asyncio.sleep(rng.uniform(0.5, 3.0))
        else:
            started = await daemon.wait_event("daemon_started", STARTUP)
            assert started, f"the daemon did not start:\n{daemon.tail()}"
            if moment == "running":
                await asyncio.sleep(rng.uniform(0.2, 2.5))
            else:
                how = await _after_a_cursor_commit(store, poster)
    finally:
        code = await daemon.kill()
    assert code != 0 or daemon.has_event("daemon_stopped"), daemon.tail()
    assert "Traceback" not in "\n".join(daemon.lines), daemon.tail()
    return how


async def _after_a_cursor_commit(store: Store, poster: Poster, seconds: float = 15.0) -> str:
    """Until a channel's cursor moves; then how many posts were still unrecorded."""
    before = await _cursors(store, poster)
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        if await _cursors(store, poster) != before:
            seen = {(s["chat_id"], s["message_id"]) for s in await _sightings(store)}
            return f"mid-pass, {len(set(poster.expected()) - seen)} posts unrecorded"
        await asyncio.sleep(0.02)
    return "mid-pass, no cursor moved"


async def _cursors(store: Store, poster: Poster) -> list[int]:
    return [await store.get_cursor(c.marked_id) for c in poster.watched]


async def _run_to_the_end(env: Env, store: Store, poster: Poster, seed: int) -> None:
    """The last start: wait until every post is processed, cursors at the top and alerts sent,
    then stop it as a service manager does."""
    expected = set(poster.expected())
    tops = {c.marked_id: max(c.messages) for c in poster.watched}
    daemon = await Child.spawn(env, "run")

    async def caught_up() -> bool:
        seen = {(s["chat_id"], s["message_id"]) for s in await _sightings(store)}
        cursors = {chat_id: await store.get_cursor(chat_id) for chat_id in tops}
        alerts = await store.alert_counts()
        return expected <= seen and cursors == tops and not alerts.get("pending")

    try:
        await eventually(caught_up, seconds=CATCH_UP)
    except AssertionError:
        await daemon.kill()
        progress = await _progress(store, poster)
        alerts = await store.alert_counts()
        raise AssertionError(
            f"seed {seed}: the daemon did not catch up in {CATCH_UP:.0f} s: {progress}, "
            f"alerts {alerts}\n{daemon.tail()}"
        ) from None
    code = await daemon.stop()
    assert code == 0, f"seed {seed}: exit {code}\n{daemon.tail()}"
    assert "Traceback" not in "\n".join(daemon.lines), daemon.tail()
    assert daemon.events()[-1]["event"] == "daemon_stopped"


async def _rows(store: Store, sql: str) -> list[dict[str, Any]]:
    async with store.engine.connect() as conn:
        return [dict(row._mapping) for row in await conn.execute(text(sql))]


async def _sightings(store: Store) -> list[dict[str, Any]]:
    return await _rows(
        store, "SELECT id, chat_id, message_id, media_id, skip_reason FROM sightings"
    )


async def _progress(store: Store, poster: Poster) -> str:
    seen = {(s["chat_id"], s["message_id"]) for s in await _sightings(store)}
    expected = poster.expected()
    cursors = [f"{await store.get_cursor(c.marked_id)}/{max(c.messages)}" for c in poster.watched]
    return (
        f"{len(poster.posts)} posts, {len(seen & set(expected))}/{len(expected)} recorded, "
        f"cursors {' '.join(cursors)}"
    )


async def _assert_cursors_not_ahead(store: Store, poster: Poster, where: str) -> None:
    """No message with media at or below a channel's cursor lacks its sighting."""
    seen = {(s["chat_id"], s["message_id"]) for s in await _sightings(store)}
    expected = poster.expected()
    for channel in poster.watched:
        cursor = await store.get_cursor(channel.marked_id)
        assert cursor <= max(channel.messages), f"{where}: cursor beyond the channel's last post"
        missing = sorted(
            message_id
            for (chat_id, message_id) in expected
            if chat_id == channel.marked_id
            and message_id <= cursor
            and (chat_id, message_id) not in seen
        )
        assert not missing, (
            f"{where}: cursor of {channel.username or channel.title} is {cursor}, "
            f"but messages {missing} below it have no sighting"
        )


async def _assert_each_exactly_once(
    store: Store, poster: Poster, webhook: WebhookReceiver, kills: int, where: str
) -> None:
    expected = poster.expected()
    sightings = await _sightings(store)
    per_message = Counter((s["chat_id"], s["message_id"]) for s in sightings)
    duplicated = {k: n for k, n in per_message.items() if n > 1}
    assert not duplicated, f"{where}: messages with more than one sighting: {duplicated}"
    lost = sorted(set(expected) - set(per_message))
    assert not lost, f"{where}: posts never recorded: {[expected[k] for k in lost]}"
    unexpected = sorted(set(per_message) - set(expected))
    assert not unexpected, f"{where}: sightings of no expected post: {unexpected}"
    for s in sightings:
        post = expected[(s["chat_id"], s["message_id"])]
        assert s["skip_reason"] == post.skip_reason, f"{where}: {post} recorded as {s}"
        assert (s["media_id"] is None) == (post.skip_reason is not None), f"{where}: {post}, {s}"

    hits = await _rows(
        store,
        "SELECT h.id, h.sighting_id, e.case_id FROM hits h JOIN entries e ON e.id = h.entry_id",
    )
    cases: dict[int, list[str]] = {}
    for hit in hits:
        cases.setdefault(hit["sighting_id"], []).append(hit["case_id"])
    for s in sightings:
        post = expected[(s["chat_id"], s["message_id"])]
        want = [post.case_id] if post.case_id else []
        assert cases.get(s["id"], []) == want, f"{where}: hits of {post}: {cases.get(s['id'])}"
    assert len(hits) == sum(1 for p in expected.values() if p.case_id), where

    deliveries = await _rows(store, "SELECT hit_id, target, status FROM alert_deliveries")
    per_hit = Counter((d["hit_id"], d["target"]) for d in deliveries)
    assert sorted(per_hit) == sorted((h["id"], "webhook") for h in hits), where
    assert set(per_hit.values()) <= {1}, f"{where}: duplicate alert deliveries {per_hit}"
    assert {d["status"] for d in deliveries} <= {"sent"}, f"{where}: {deliveries}"
    received = Counter(body["hit_id"] for body in webhook.bodies)
    assert set(received) == {h["id"] for h in hits}, f"{where}: webhook got {received}"
    # At-least-once: a kill between the POST and recording it as sent repeats that one POST
    # (deliveries to one target go one at a time).
    repeats = sum(n - 1 for n in received.values())
    assert repeats <= kills, f"{where}: {repeats} repeated webhook posts: {received}"
