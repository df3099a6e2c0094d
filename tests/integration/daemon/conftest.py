"""The real daemon, the real Telethon client, the loopback MTProto server and an SQLite store.

``env`` gives a test everything: the server's ``world``, a signed-in monitoring account, a config
file pointing at the server, a bank listing the PDQ of some generated photos, and helpers to run
the daemon once (``run_once``), to run it in the background (``running``), and to read the store.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from monitor.config import Settings, load_settings
from monitor.daemon import Daemon, RunSummary
from monitor.domain import HashType, ListEntry
from monitor.hashing import compute_signals
from monitor.pipeline import PoolHasher
from monitor.runtime import ensure_bank, load_matcher, open_store
from monitor.store import Store
from monitor.synthetic import photo_like, to_jpeg
from monitor.telegram.client import build_client, open_session
from tests.integration.telegram_harness.conftest import telegram_server, world  # noqa: F401
from tests.telegram_server import TelegramTestServer, UserRecord, World

PHONE = "+15550199"
CODE = "13579"
BANK = "reported"


def photo(seed: int, size: tuple[int, int] = (640, 480), quality: int = 88) -> bytes:
    """A photo-like JPEG made in code (never real imagery)."""
    return to_jpeg(photo_like(seed, size), quality)


@dataclass
class Env:
    server: TelegramTestServer
    world: World
    user: UserRecord
    tmp: Path
    config_path: Path
    listed: dict[int, bytes] = field(default_factory=dict)  # seed -> the listed JPEG

    @property
    def settings(self) -> Settings:
        return load_settings(self.config_path, env={})

    def configure(self, **sections: dict[str, Any]) -> None:
        """Rewrite the config with these sections merged over the defaults of ``env``."""
        self.config_path.write_text(_toml(self._sections(sections)), encoding="utf-8")

    def _sections(self, extra: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        pem = self.tmp / "server.pem"
        pem.write_text(self.server.public_key_pem, encoding="ascii")
        base: dict[str, dict[str, Any]] = {
            "": {"data_dir": str(self.tmp / "data")},
            "database": {"url": f"sqlite+aiosqlite:///{self.tmp / 'monitor.sqlite3'}"},
            "logging": {"level": "warning", "format": "json"},
            "telegram": {
                "api_id": 4242,
                "api_hash": "f00dfeedf00dfeedf00dfeedf00dfeed",
                "join_interval": 0.0,
                "history_page_wait": 0.0,
                "reconcile_interval": 300.0,
                "concurrency": 4,
                "drain_timeout": 10.0,
            },
            "telegram.server": {
                "host": self.server.host,
                "port": self.server.port,
                "dc_id": self.server.dc_id,
                "public_key": str(pem),
            },
        }
        for name, values in extra.items():
            base.setdefault(name, {}).update(values)
        return base

    @contextlib.asynccontextmanager
    async def store(self) -> AsyncIterator[Store]:
        async with open_store(self.settings) as store:
            yield store

    async def list_photos(self, *seeds: int) -> None:
        """Put the PDQ of each photo in the bank (case id ``case-<seed>``)."""
        settings = self.settings
        entries = []
        for seed in seeds:
            data = photo(seed)
            self.listed[seed] = data
            signals = compute_signals(data, settings.hashing)
            assert signals.pdq is not None
            entries.append(ListEntry(HashType.PDQ, signals.pdq, case_id=f"case-{seed}"))
        async with self.store() as store:
            await ensure_bank(store, settings, BANK, actor="test")
            await store.import_entries(BANK, entries, source="test", actor="test")

    async def watch(self, *refs: str) -> None:
        from monitor.telegram.refs import parse_ref

        async with self.store() as store:
            for ref in refs:
                await store.add_watched_channel(parse_ref(ref), origin="cli", actor="test")

    async def login(self) -> None:
        settings = self.settings
        async with self.store() as store:
            session = await open_session(store, settings.telegram)
            client = build_client(settings.telegram, session)
            await client.start(phone=PHONE, code_callback=lambda: CODE)
            me = await client.get_me()
            await store.set_session_account(
                settings.telegram.session,
                user_id=me.id,
                is_bot=False,
                username=me.username,
                display_name=me.first_name,
            )
            await client.disconnect()
            await session.flush()

    @contextlib.asynccontextmanager
    async def daemon(self, *, live: bool = True) -> AsyncIterator[Daemon]:
        settings = self.settings
        async with self.store() as store:
            session = await open_session(store, settings.telegram, persist_updates=live)
            client = build_client(settings.telegram, session, receive_updates=live, catch_up=live)
            matcher = await load_matcher(store)
            with PoolHasher(settings.hashing, workers=0) as hasher:
                yield Daemon(settings, store, client, hasher, matcher, session_flush=session.flush)

    async def run_once(self) -> RunSummary:
        async with self.daemon(live=False) as daemon:
            return await asyncio.wait_for(daemon.run(once=True), 60)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Daemon]:
        """The daemon running in the background; stopped (and its error raised) on exit."""
        async with self.daemon() as daemon:
            task = asyncio.create_task(daemon.run())
            ready = asyncio.create_task(daemon.ready.wait())
            await asyncio.wait({task, ready}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
            if task.done():
                ready.cancel()
                task.result()  # raises what stopped it
            assert daemon.ready.is_set(), "daemon did not start"
            try:
                yield daemon
            finally:
                daemon.request_stop()
                await asyncio.wait_for(task, 30)


async def eventually(check: Callable[[], Any], seconds: float = 5.0) -> Any:
    """Poll an async or sync check until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {seconds} s")
        await asyncio.sleep(0.05)


def _toml(sections: dict[str, dict[str, Any]]) -> str:
    lines: list[str] = []
    for name, values in sorted(sections.items(), key=lambda kv: kv[0]):
        if name:
            lines.append(f"[{name}]")
        for key, value in values.items():
            lines.append(f"{key} = {_value(value)}")
        lines.append("")
    return "\n".join(lines)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


@pytest.fixture
async def env(
    telegram_server: TelegramTestServer,  # noqa: F811
    world: World,  # noqa: F811
    tmp_path: Path,
) -> Env:
    user = world.create_user(PHONE, CODE, first_name="Monitor")
    e = Env(telegram_server, world, user, tmp_path, tmp_path / "config.toml")
    e.configure()
    await e.login()
    return e
