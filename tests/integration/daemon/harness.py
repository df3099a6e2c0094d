"""The real daemon against the loopback MTProto server, set up in code: shared by the daemon
tests (``conftest.py`` wraps it in the ``env`` fixture) and the end-to-end benchmark
(``benchmarks/daemon_bench.py``). No pytest in here.

An :class:`Env` is a signed-in monitoring account on a running ``TelegramTestServer``, a config
file pointing at that server and an SQLite store, and helpers to list photos, watch channels,
and run the daemon: in this process (``daemon``, ``run_once``, ``running``) or as the command
line starts it, ``monitor run`` in a child process (``spawn``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.config import Settings, load_settings
from monitor.daemon import Daemon, RunSummary
from monitor.domain import HashType, ListEntry
from monitor.hashing import compute_signals
from monitor.pipeline import PoolHasher
from monitor.runtime import ensure_bank, load_matcher, open_store
from monitor.store import Store
from monitor.synthetic import photo_like, to_jpeg
from monitor.telegram.client import build_client, open_session
from tests.telegram_server import TelegramTestServer, UserRecord, World

PHONE = "+15550199"
CODE = "13579"
BANK = "reported"
ROOT = Path(__file__).resolve().parents[3]


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

    @property
    def database_path(self) -> Path:
        return self.tmp / "monitor.sqlite3"

    def configure(self, **sections: dict[str, Any]) -> None:
        """Rewrite the config with these sections merged over the defaults of ``env``. The file
        holds secrets, so it is private to the user (the monitor refuses it otherwise)."""
        fd = os.open(self.config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(toml(self._sections(sections)))
        self.config_path.chmod(0o600)

    def _sections(self, extra: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        pem = self.tmp / "server.pem"
        pem.write_text(self.server.public_key_pem, encoding="ascii")
        base: dict[str, dict[str, Any]] = {
            "": {"data_dir": str(self.tmp / "data")},
            "database": {"url": f"sqlite+aiosqlite:///{self.database_path}"},
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
        await self.import_entries(entries)

    async def import_entries(self, entries: list[ListEntry]) -> None:
        """Import entries into the bank (created with the configured thresholds if new)."""
        settings = self.settings
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

    async def spawn(self, *args: str, stdout: int | None = None) -> asyncio.subprocess.Process:
        """``monitor --config CONFIG ARGS...`` in a child process (its own process group, as a
        service manager starts it), stderr piped (the JSON log lines)."""
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "monitor",
            "--config",
            str(self.config_path),
            *args,
            stdout=asyncio.subprocess.PIPE if stdout is None else stdout,
            stderr=asyncio.subprocess.PIPE,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            start_new_session=True,
        )


async def make_env(server: TelegramTestServer, tmp: Path, **sections: dict[str, Any]) -> Env:
    """A signed-in monitoring account (``PHONE``) on ``server`` and a config in ``tmp``."""
    user = server.world.create_user(PHONE, CODE, first_name="Monitor")
    env = Env(server, server.world, user, tmp, tmp / "config.toml")
    env.configure(**sections)
    await env.login()
    return env


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


def toml(sections: dict[str, dict[str, Any]]) -> str:
    """A TOML document of ``{section: {key: value}}`` (``""``: top-level keys)."""
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
