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
import json
import os
import signal
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
            # Any free port: daemons of tests running side by side must not collide.
            "observability": {"port": 0},
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

    async def login(self, phone: str = PHONE) -> None:
        """Sign the account of ``phone`` in to the configured session."""
        settings = self.settings
        async with self.store() as store:
            session = await open_session(store, settings.telegram)
            client = build_client(settings.telegram, session)
            await client.start(phone=phone, code_callback=lambda: CODE)
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


class Child:
    """A ``monitor`` child process (``Env.spawn``) whose JSON log lines (stderr) are read as they
    come, so a chatty daemon never blocks on a full pipe and a test can wait for an event."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._seen = asyncio.Event()  # set at every new line
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def spawn(cls, env: Env, *args: str) -> Child:
        return cls(await env.spawn(*args, stdout=asyncio.subprocess.DEVNULL))

    async def _read(self) -> None:
        stream = self.proc.stderr
        assert stream is not None
        while line := await stream.readline():
            self.lines.append(line.decode(errors="replace").rstrip("\n"))
            self._seen.set()
        self._seen.set()

    def events(self) -> list[dict[str, Any]]:
        """The structured log lines so far."""
        out = []
        for line in self.lines:
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    out.append(json.loads(line))
        return out

    def has_event(self, name: str) -> bool:
        return any(e.get("event") == name for e in self.events())

    async def wait_event(self, name: str, seconds: float) -> bool:
        """Until the process logs ``name`` (True), exits or ``seconds`` pass (False)."""
        deadline = asyncio.get_running_loop().time() + seconds
        while not self.has_event(name):
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0 or self._reader.done():
                return self.has_event(name)
            self._seen.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._seen.wait(), left)
        return True

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.lines[-lines:])

    async def kill(self) -> int:
        """SIGKILL to the whole process group (the daemon and its hashing workers), as a
        crash or the OOM killer ends it; returns the exit status once it is reaped."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        return await self.wait(30)

    async def stop(self, seconds: float = 30) -> int:
        """SIGTERM to the process group, as a service manager stops it; the exit status."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            return await self.wait(seconds)
        except TimeoutError:
            await self.kill()
            raise AssertionError(
                f"still running {seconds} s after SIGTERM; its log ends:\n{self.tail()}"
            ) from None
        except BaseException:
            await self.kill()
            raise

    async def wait(self, seconds: float) -> int:
        """The exit status, once the process has ended and its log is read to the end."""
        code = await asyncio.wait_for(self.proc.wait(), seconds)
        try:
            await asyncio.wait_for(self._reader, 5)
        except TimeoutError:
            raise AssertionError(
                "the process ended but its stderr stays open: a child of it outlived it"
            ) from None
        return code


@dataclass
class WebhookReceiver:
    """A local HTTP endpoint answering 200 to every JSON POST and keeping the bodies."""

    url: str = ""
    bodies: list[dict[str, Any]] = field(default_factory=list)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.decode("latin-1").split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            body = await reader.readexactly(length)
            self.bodies.append(json.loads(body))
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the sender was killed mid-request
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def webhook_receiver() -> AsyncIterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    server = await asyncio.start_server(receiver._handle, "127.0.0.1", 0)
    receiver.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook"
    async with server:
        yield receiver
