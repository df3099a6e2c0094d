"""A minimal HTTP/1.1 server on asyncio for a few fixed GET endpoints (metrics, health).

Deliberately small, since whatever can reach the port may send anything:

* one request per connection (``Connection: close``); GET and HEAD only (405 otherwise);
* the request head must arrive whole within ``read_timeout`` seconds (408 otherwise) and fit in
  ``max_header_bytes`` (431 otherwise), so a slow or endless client holds nothing for long;
  a request body is never read;
* at most ``max_connections`` connections at once; more are answered 503 and closed at once;
* a handler's exception is a 500 and a log line, never a crash of the server.

Handlers are plain functions returning a :class:`Response`; they run on the event loop, so they
must be quick (they read in-memory state).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from monitor.logs import get_logger

log = get_logger(__name__)

# After the response, what a client still sends is read and dropped for this long, this much.
LINGER_SECONDS = 1.0
LINGER_BYTES = 64 * 1024

JSON = "application/json"
TEXT = "text/plain; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes
    content_type: str = TEXT

    @classmethod
    def json(cls, status: int, payload: Any) -> Response:
        return cls(status, json.dumps(payload, sort_keys=True).encode() + b"\n", JSON)

    @classmethod
    def text(cls, status: int, text: str) -> Response:
        return cls(status, text.encode() + b"\n", TEXT)


Handler = Callable[[], Response]


class EndpointServer:
    """Serves ``routes`` (path -> handler) on ``host:port``; port 0 picks a free one
    (``port`` tells which, once started)."""

    def __init__(
        self,
        routes: Mapping[str, Handler],
        *,
        host: str,
        port: int,
        read_timeout: float = 5.0,
        write_timeout: float = 10.0,
        max_header_bytes: int = 8192,
        max_connections: int = 32,
    ) -> None:
        self._routes = dict(routes)
        self.host = host
        self._port = port
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._max_header_bytes = max_header_bytes
        self._max_connections = max_connections
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[Any]] = set()

    @property
    def port(self) -> int:
        """The port listened on (the one picked, if 0 was asked for)."""
        if self._server is None or not self._server.sockets:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Listen. Raises ``OSError`` if the address cannot be bound (in use, not this host's)."""
        family = socket.AF_INET6 if ipaddress.ip_address(self.host).version == 6 else socket.AF_INET
        self._server = await asyncio.start_server(
            self._serve,
            self.host,
            self._port,
            family=family,
            limit=self._max_header_bytes,
            reuse_address=True,
        )

    async def stop(self) -> None:
        """Stop listening and end the connections still open."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.wait_closed(), self._write_timeout)

    async def __aenter__(self) -> EndpointServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- one connection -------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        busy = len(self._connections) >= self._max_connections
        if task is not None:
            self._connections.add(task)
        try:
            if busy:
                await self._send(writer, "GET", Response.text(503, "too many connections"))
            else:
                method, response = await self._answer(reader)
                await self._send(writer, method, response)
            await self._linger(reader, writer)
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError):
            pass  # the client went away or stalled: nothing to tell it
        except Exception as exc:  # a bug here must not take the server down
            log.exception("endpoint_connection_failed", error=str(exc))
        finally:
            if task is not None:
                self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def _linger(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Half-close, then read (and drop) what the client still sends, briefly: closing with
        unread data (a request body, the rest of an oversized head) would reset the connection
        and could lose the response on its way."""
        if writer.can_write_eof():
            writer.write_eof()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + LINGER_SECONDS
        left = LINGER_BYTES
        while left > 0:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            chunk = await asyncio.wait_for(reader.read(min(left, 16384)), remaining)
            if not chunk:
                return
            left -= len(chunk)

    async def _answer(self, reader: asyncio.StreamReader) -> tuple[str, Response]:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self._read_timeout)
        except TimeoutError:
            return "GET", Response.text(408, "request head not received in time")
        except asyncio.LimitOverrunError:
            return "GET", Response.text(431, "request head too large")
        except asyncio.IncompleteReadError as exc:
            if len(exc.partial) >= self._max_header_bytes:
                return "GET", Response.text(431, "request head too large")
            raise
        request_line = head.split(b"\r\n", 1)[0]
        try:
            method, target, version = request_line.decode("ascii").split(" ")
        except (UnicodeDecodeError, ValueError):
            return "GET", Response.text(400, "malformed request line")
        if not version.startswith("HTTP/1.") or not target.startswith("/"):
            return "GET", Response.text(400, "malformed request line")
        if method not in ("GET", "HEAD"):
            return "GET", Response.text(405, "only GET and HEAD")
        handler = self._routes.get(target.split("?", 1)[0])
        if handler is None:
            return method, Response.text(404, "not found: " + ", ".join(sorted(self._routes)))
        try:
            return method, handler()
        except Exception as exc:
            log.exception("endpoint_failed", path=target.split("?", 1)[0], error=str(exc))
            return method, Response.text(500, "internal error")

    async def _send(self, writer: asyncio.StreamWriter, method: str, response: Response) -> None:
        reason = HTTPStatus(response.status).phrase
        headers = [
            f"HTTP/1.1 {response.status} {reason}",
            f"Content-Type: {response.content_type}",
            f"Content-Length: {len(response.body)}",
            "Cache-Control: no-store",
            "X-Content-Type-Options: nosniff",
            "Connection: close",
        ]
        if response.status == 405:
            headers.append("Allow: GET, HEAD")
        writer.write(("\r\n".join(headers) + "\r\n\r\n").encode("ascii"))
        if method != "HEAD":
            writer.write(response.body)
        await asyncio.wait_for(writer.drain(), self._write_timeout)
