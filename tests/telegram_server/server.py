"""``TelegramTestServer``: the loopback MTProto server and a client factory for tests."""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType
from typing import Any

from telethon import TelegramClient
from telethon.sessions import MemorySession
from telethon.sessions.abstract import Session

from .connection import ClientConnection
from .rsa_key import ServerRsaKey, process_key, register_with_telethon
from .world import World

log = logging.getLogger(__name__)

TEST_API_ID = 123456
TEST_API_HASH = "0123456789abcdef0123456789abcdef"


class TelegramTestServer:
    """An MTProto server on 127.0.0.1 (OS-chosen port) backed by an in-memory ``World``.

    ``async with TelegramTestServer() as server: client = server.make_client()``
    """

    def __init__(
        self,
        world: World | None = None,
        *,
        dc_id: int = 2,
        rsa_key: ServerRsaKey | None = None,
    ) -> None:
        self.world = world or World(dc_id=dc_id)
        self.dc_id = self.world.dc_id
        self.host = "127.0.0.1"
        self.port = 0
        self.rsa_key = rsa_key or process_key()
        self._server: asyncio.Server | None = None
        self._connections: set[ClientConnection] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._clients: list[TelegramClient] = []

    @property
    def public_key_pem(self) -> str:
        return self.rsa_key.public_key_pem

    async def start(self) -> None:
        register_with_telethon(self.public_key_pem)
        self._server = await asyncio.start_server(self._on_connect, host=self.host, port=0)
        self.port = self._server.sockets[0].getsockname()[1]
        self.world.host, self.world.port = self.host, self.port
        log.info("test Telegram server on %s:%d (dc %d)", self.host, self.port, self.dc_id)

    async def stop(self) -> None:
        for client in self._clients:
            if client.is_connected():
                try:
                    await asyncio.wait_for(client.disconnect(), 5)
                except Exception as e:  # a test may leave a client in any state
                    log.debug("client disconnect at shutdown: %r", e)
        if self._server is not None:
            self._server.close()
        for connection in list(self._connections):
            connection.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> TelegramTestServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = ClientConnection(self, reader, writer)
        self._connections.add(connection)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await connection.run()
        finally:
            self._connections.discard(connection)
            if task is not None:
                self._tasks.discard(task)

    def point_session(self, session: Session) -> Session:
        """Aim a Telethon session at this server (``session.set_dc(dc, host, port)``)."""
        session.set_dc(self.dc_id, self.host, self.port)
        return session

    def make_client(self, session: Session | None = None, **kwargs: Any) -> TelegramClient:
        """A real ``TelegramClient`` pointed at this server (fresh ``MemorySession`` by default).

        Extra keyword arguments go to ``TelegramClient`` (e.g. ``flood_sleep_threshold``,
        ``catch_up``, ``sequential_updates``). Clients made here are disconnected at ``stop()``.
        """
        register_with_telethon(self.public_key_pem)
        session = self.point_session(session or MemorySession())
        kwargs.setdefault("connection_retries", 1)
        kwargs.setdefault("retry_delay", 0)
        kwargs.setdefault("timeout", 5)
        kwargs.setdefault("request_retries", 2)
        client = TelegramClient(session, TEST_API_ID, TEST_API_HASH, **kwargs)
        self._clients.append(client)
        return client
