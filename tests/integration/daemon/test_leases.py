"""Two daemons, two accounts, one PostgreSQL store: every channel is processed by one daemon at
a time, and a killed daemon's channels move to the survivor with nothing lost.

Both ``monitor run`` processes are real child processes on the loopback Telegram server, with
leases of 3 s. Who processed what is read from three places: each daemon's own log
(``message_processed``, ``lease_*``), the server (which account downloaded which photo), and
the store (the leases and the sightings).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from telethon.tl import functions

from monitor.cli import main
from monitor.store import ChannelLease
from tests.integration.daemon.harness import CODE, Env, eventually, make_env, photo
from tests.telegram_server import TelegramTestServer, UserRecord
from tests.telegram_server import handlers as server_handlers
from tests.telegram_server.handlers import RequestContext

pytestmark = pytest.mark.postgres

LEASE = 3.0
CHANNELS = 4
PHONE_B = "+15550277"


class Daemon:
    """A ``monitor run`` child process and the JSON log lines it wrote so far."""

    def __init__(self, name: str, env: Env, proc: asyncio.subprocess.Process) -> None:
        self.name = name
        self.env = env
        self.proc = proc
        self.events: list[dict[str, Any]] = []
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stderr is not None
        async for line in self.proc.stderr:
            with contextlib.suppress(ValueError):
                self.events.append(json.loads(line))

    def named(self, event: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("event") == event]

    def processed(self) -> set[tuple[int, int]]:
        return {(e["chat_id"], e["message_id"]) for e in self.named("message_processed")}

    def log_tail(self) -> str:
        return "\n".join(json.dumps(e) for e in self.events[-40:])


def config(url: str, session: str) -> dict[str, dict[str, Any]]:
    return {
        "database": {"url": url},
        "logging": {"level": "debug", "format": "json"},
        "telegram": {
            "session": session,
            "lease_seconds": LEASE,
            "reconcile_interval": 2.0,
            "hash_workers": 1,
            "drain_timeout": 5.0,
        },
    }


async def second_account(server: TelegramTestServer, tmp: Path, url: str) -> Env:
    """Another monitoring account (its own phone and session) on the same server and store."""
    user = server.world.create_user(PHONE_B, CODE, first_name="Monitor B")
    env = Env(server, server.world, user, tmp, tmp / "config.toml")
    env.configure(**config(url, "beta"))
    await env.login(PHONE_B)
    return env


@contextlib.contextmanager
def downloads_by_account(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[int, int]]]:
    """(user id, photo id) of every ``upload.getFile`` the server answers."""
    server_handlers._load()
    request_type = functions.upload.GetFileRequest
    original, needs_auth = server_handlers._HANDLERS[request_type]
    seen: list[tuple[int, int]] = []

    def recording(ctx: RequestContext, request: Any) -> Any:
        user = ctx.user
        seen.append((user.id if user is not None else 0, request.location.id))
        return original(ctx, request)

    monkeypatch.setitem(server_handlers._HANDLERS, request_type, (recording, needs_auth))
    yield seen


async def leases(env: Env) -> list[ChannelLease]:
    async with env.store() as store:
        return [lease for lease in await store.list_leases() if lease.held]


async def sightings(env: Env) -> set[tuple[int, int]]:
    async with env.store() as store, store.engine.connect() as conn:
        rows = await conn.execute(text("SELECT chat_id, message_id FROM sightings"))
        return {(int(r.chat_id), int(r.message_id)) for r in rows}


async def channels_table(env: Env, capsys: pytest.CaptureFixture[str]) -> str:
    """``monitor channels list`` as printed."""

    def call() -> None:
        with contextlib.suppress(SystemExit):
            main(["--config", str(env.config_path), "channels", "list"])

    await asyncio.to_thread(call)
    out, _ = capsys.readouterr()
    return out


def session_of(owner: str | None) -> str:
    return (owner or "").split("@", 1)[0]


@pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
async def test_two_daemons_share_the_channels_and_take_over_from_a_killed_one(
    telegram_server: TelegramTestServer,
    store_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    env_a = await make_env(telegram_server, tmp_path / "a", **config(store_url, "alpha"))
    env_b = await second_account(telegram_server, tmp_path / "b", store_url)
    world = telegram_server.world
    accounts: dict[str, UserRecord] = {"alpha": env_a.user, "beta": env_b.user}
    channels = [
        world.create_channel(f"lease{i}", members=[env_a.user, env_b.user]) for i in range(CHANNELS)
    ]
    by_chat = {c.marked_id: c for c in channels}
    await env_a.watch(*(f"@lease{i}" for i in range(CHANNELS)))
    await env_a.list_photos(1)

    daemons: dict[str, Daemon] = {}
    seed = iter(range(100, 1000))
    posted: list[tuple[int, int]] = []

    def post_everywhere(count: int) -> None:
        for channel in channels:
            for _ in range(count):
                posted.append((channel.marked_id, world.post_photo(channel, photo(next(seed)))))

    with downloads_by_account(monkeypatch) as downloads:
        try:
            for name, env in (("alpha", env_a), ("beta", env_b)):
                daemons[name] = Daemon(name, env, await env.spawn("run"))

            # Both running: the channels end up shared two and two.
            async def balanced() -> dict[int, ChannelLease] | None:
                for daemon in daemons.values():
                    if daemon.proc.returncode is not None:
                        raise AssertionError(f"{daemon.name} exited:\n{daemon.log_tail()}")
                held = await leases(env_a)
                count = defaultdict(int)
                for lease in held:
                    count[session_of(lease.owner)] += 1
                if len(held) == CHANNELS and sorted(count.values()) == [2, 2]:
                    return {lease.chat_id: lease for lease in held}
                return None

            before = await eventually(balanced, seconds=40)
            holder = {chat: session_of(lease.owner) for chat, lease in before.items()}
            table = await channels_table(env_a, capsys)
            assert "daemon" in table
            assert "alpha@" in table
            assert "beta@" in table

            # Phase 1: every message is processed, each by its channel's holder only.
            post_everywhere(3)
            world.post_photo(channels[0], env_a.listed[1])  # a listed photo: one hit
            posted.append((channels[0].marked_id, channels[0].next_message_id - 1))

            async def all_recorded() -> bool:
                return set(posted) <= await sightings(env_a)

            await eventually(all_recorded, seconds=30)
            await eventually(
                lambda: set(posted) <= daemons["alpha"].processed() | daemons["beta"].processed(),
                seconds=10,
            )
            assert holder == {
                lease.chat_id: session_of(lease.owner) for lease in await leases(env_a)
            }, "ownership moved while both daemons were running"
            for message in posted:
                by = {n for n, d in daemons.items() if message in d.processed()}
                assert by == {holder[message[0]]}, f"message {message} processed by {by}"
            for chat in by_chat:
                # The other daemon never took a push or a history page of the chat further.
                other = "beta" if holder[chat] == "alpha" else "alpha"
                assert not any(c == chat for c, _ in daemons[other].processed())

            # Phase 2: kill alpha outright; its channels move to beta, nothing is lost.
            victim, survivor = daemons["alpha"], daemons["beta"]
            os.killpg(victim.proc.pid, signal.SIGKILL)
            await victim.proc.wait()
            moved = {chat for chat, name in holder.items() if name == "alpha"}
            first_phase = len(posted)
            post_everywhere(2)

            async def taken_over() -> bool:
                held = await leases(env_a)
                return len(held) == CHANNELS and all(
                    session_of(lease.owner) == "beta" for lease in held
                )

            await eventually(taken_over, seconds=6 * LEASE)
            await eventually(all_recorded, seconds=30)
            after = {lease.chat_id: lease for lease in await leases(env_a)}
            for chat in moved:
                assert after[chat].epoch > before[chat].epoch  # a new holder: a new epoch
            for chat in set(by_chat) - moved:
                assert after[chat].epoch == before[chat].epoch  # beta's own: just renewed
            taken = {e["chat_id"] for e in survivor.named("lease_acquired")} - {
                chat for chat in by_chat if holder[chat] == "beta"
            }
            assert taken == moved
            late = posted[first_phase:]
            await eventually(lambda: set(late) <= survivor.processed(), seconds=10)
            assert not set(late) & victim.processed()

            # Every photo downloaded once, by the account of the daemon that processed it.
            photo_ids = {by_chat[chat].messages[msg].media.id: (chat, msg) for chat, msg in posted}
            fetched = [(user, photo) for user, photo in downloads if photo in photo_ids]
            assert sorted(p for _, p in fetched) == sorted(set(p for _, p in fetched))
            for user, photo_id in fetched:
                chat, _ = photo_ids[photo_id]
                allowed = {"beta"} if chat not in moved else {"alpha", "beta"}
                name = next(n for n, u in accounts.items() if u.id == user)
                assert name in allowed, f"{name} downloaded a photo of {chat}"
            async with env_a.store() as store:
                assert len(await store.list_hits()) == 1

            # A clean stop releases every lease at once.
            os.killpg(survivor.proc.pid, signal.SIGTERM)
            await asyncio.wait_for(survivor.proc.wait(), 30)
            await survivor.reader
            assert survivor.proc.returncode == 0, survivor.log_tail()
            released = {
                e["chat_id"] for e in survivor.named("lease_released") if e["reason"] == "stop"
            }
            assert released == set(by_chat)
            assert await leases(env_a) == []
        finally:
            for daemon in daemons.values():
                if daemon.proc.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(daemon.proc.pid, signal.SIGKILL)
                    await daemon.proc.wait()
                daemon.reader.cancel()
