"""``TelegramTestServer``: the loopback MTProto server and a client factory for tests."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
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
        self._connections: dict[ClientConnection, asyncio.Task[None] | None] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._clients: list[TelegramClient] = []

    @property
    def public_key_pem(self) -> str:
        return self.rsa_key.public_key_pem

    async def start(self) -> None:
        register_with_telethon(self.public_key_pem)
        await self.start_listening()
        self.world.host, self.world.port = self.host, self.port
        log.info("test Telegram server on %s:%d (dc %d)", self.host, self.port, self.dc_id)

    # region outages

    @property
    def listening(self) -> bool:
        return self._server is not None

    @property
    def connection_count(self) -> int:
        """How many client connections are open right now."""
        return len(self._connections)

    async def start_listening(self) -> None:
        """Listen (again) on ``self.port`` (an OS-chosen one the first time)."""
        if self._server is None:
            self._server = await asyncio.start_server(
                self._on_connect, host=self.host, port=self.port
            )
            self.port = self._server.sockets[0].getsockname()[1]

    async def stop_listening(self) -> None:
        """Close the listening socket: new connections are refused (ECONNREFUSED) until
        ``start_listening()``. Open connections are left alone (see ``drop_connections``)."""
        if self._server is not None:
            self._server.close()
            self._server = None

    async def drop_connections(self) -> int:
        """Abort every open client connection at once, as a crash or a network cut would, and
        wait until the server has let go of them. Telethon notices, and (``auto_reconnect``,
        the default) reconnects by itself, then calls ``get_me()`` (``users.getUsers``).
        Returns how many connections were dropped."""
        doomed = dict(self._connections)
        for connection in doomed:
            connection.abort()
        tasks = [t for t in doomed.values() if t is not None and t is not asyncio.current_task()]
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        return len(doomed)

    @contextlib.asynccontextmanager
    async def refusing(self, *, drop: bool = False) -> AsyncIterator[None]:
        """``async with server.refusing(drop=True): ...``: an outage. While the block runs the
        server refuses new connections (and with ``drop``, first drops the open ones); after
        it, it listens again on the same port and clients reconnect if they still retry (give
        them ``connection_retries`` / ``retry_delay`` that outlast the outage)."""
        await self.stop_listening()
        try:
            if drop:
                await self.drop_connections()
            yield
        finally:
            await self.start_listening()

    # endregion

    async def stop(self) -> None:
        for client in self._clients:
            if client.is_connected():
                try:
                    await asyncio.wait_for(client.disconnect(), 5)
                except Exception as e:  # a test may leave a client in any state
                    log.debug("client disconnect at shutdown: %r", e)
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for connection in list(self._connections):
            connection.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

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
        task = asyncio.current_task()
        self._connections[connection] = task
        if task is not None:
            self._tasks.add(task)
        try:
            await connection.run()
        finally:
            self._connections.pop(connection, None)
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
