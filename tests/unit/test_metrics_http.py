"""The endpoints' HTTP server, readiness through it, bind errors, and `monitor health`."""

from __future__ import annotations

import asyncio
import json
import socket
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import structlog

from monitor.cli import main
from monitor.config import ObservabilitySettings, Settings
from monitor.daemon import LiveMatcher, WorkQueue
from monitor.errors import ConfigError
from monitor.health import probe_ready
from monitor.http_endpoints import EndpointServer, Response
from monitor.matching import Matcher
from monitor.metrics import CONTENT_TYPE
from monitor.observability import serve_endpoints
from monitor.telegram.lag import LagTracker


async def _request(
    port: int, data: bytes, *, host: str = "127.0.0.1"
) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes; the status, headers (lower-case names) and body of the answer."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(data)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), 30)
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("ascii").split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    return int(status_line.split(" ")[1]), headers, body


async def _get(port: int, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    return await _request(port, f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())


@pytest.fixture
async def server() -> AsyncIterator[EndpointServer]:
    def boom() -> Response:
        raise RuntimeError("handler bug")

    routes = {"/hello": lambda: Response.text(200, "hi"), "/boom": boom}
    async with EndpointServer(
        routes, host="127.0.0.1", port=0, read_timeout=0.3, max_connections=2
    ) as srv:
        yield srv


async def test_get_head_and_query_strings(server: EndpointServer) -> None:
    assert server.port > 0
    status, headers, body = await _get(server.port, "/hello?x=1")
    assert (status, body) == (200, b"hi\n")
    assert headers["content-length"] == "3"
    assert headers["connection"] == "close"
    status, headers, body = await _get(server.port, "/hello", "HEAD")
    assert (status, headers["content-length"], body) == (200, "3", b"")


async def test_unknown_paths_methods_and_garbage_are_refused(server: EndpointServer) -> None:
    status, _, body = await _get(server.port, "/secret")
    assert status == 404
    assert b"/hello" in body
    post = b"POST /hello HTTP/1.1\r\nContent-Length: 5\r\n\r\nx=123"
    status, headers, _ = await _request(server.port, post)
    assert (status, headers["allow"]) == (405, "GET, HEAD")
    for garbage in (
        b"\x00\xff\r\n\r\n",
        b"GET\r\n\r\n",
        b"GET hello HTTP/1.1\r\n\r\n",
        b"GET /hello SPDY/3\r\n\r\n",
    ):
        status, _, _ = await _request(server.port, garbage)
        assert status == 400, garbage


async def test_oversized_and_slow_requests_are_cut_off(server: EndpointServer) -> None:
    huge = b"GET /hello HTTP/1.1\r\nX-Pad: " + b"a" * 20_000 + b"\r\n\r\n"
    status, _, _ = await _request(server.port, huge)
    assert status == 431
    # A head that never ends (slowloris): answered 408 once read_timeout is over.
    status, _, _ = await _request(server.port, b"GET /hello HTTP/1.1\r\nX-A: 1\r\n")
    assert status == 408
    status, _, _ = await _get(server.port, "/hello")
    assert status == 200


async def test_a_failing_handler_is_a_500_and_the_server_goes_on(server: EndpointServer) -> None:
    status, _, body = await _get(server.port, "/boom")
    assert status == 500
    assert b"handler bug" not in body
    assert (await _get(server.port, "/hello"))[0] == 200


async def test_connections_beyond_the_limit_are_turned_away() -> None:
    routes = {"/hello": lambda: Response.text(200, "hi")}
    async with EndpointServer(routes, host="127.0.0.1", port=0, max_connections=1) as srv:
        _, idle = await asyncio.open_connection("127.0.0.1", srv.port)
        idle.write(b"GET /hello HTTP/1.1\r\n")  # holds the one slot, head unfinished
        await idle.drain()
        await asyncio.sleep(0.2)
        status, _, _ = await _get(srv.port, "/hello")
        assert status == 503
        idle.close()
        await idle.wait_closed()


async def test_stop_closes_open_connections() -> None:
    srv = EndpointServer({}, host="127.0.0.1", port=0, read_timeout=60)
    await srv.start()
    port = srv.port
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\n")
    await writer.drain()
    await asyncio.sleep(0.1)
    await asyncio.wait_for(srv.stop(), 10)
    assert await asyncio.wait_for(reader.read(), 10) == b""
    writer.close()
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)


# --- the daemon's endpoints ---------------------------------------------------------------------


class FakeClient:
    def __init__(self) -> None:
        self.connected = True

    def is_connected(self) -> bool:
        return self.connected


def _daemon(**observability: Any) -> Any:
    """What the endpoints read of a daemon, with the real matcher, queue and lag tracker."""
    settings = Settings(observability=ObservabilitySettings(**{"port": 0, **observability}))
    return SimpleNamespace(
        settings=settings,
        counters=Counter({"messages": 1, "messages_live": 1}),
        client=FakeClient(),
        matcher=LiveMatcher(Matcher(), ("lists",)),
        ready=asyncio.Event(),
        stop=asyncio.Event(),
        allow=SimpleNamespace(chats=[]),
        reconciler=SimpleNamespace(lag=LagTracker()),
        queue=WorkQueue(8),
    )


async def _readyz(port: int) -> tuple[int, dict[str, Any]]:
    status, headers, body = await _get(port, "/readyz")
    assert headers["content-type"] == "application/json"
    return status, json.loads(body)


async def test_readiness_follows_the_daemon() -> None:
    daemon = _daemon()
    async with serve_endpoints(daemon) as srv:
        assert srv is not None
        assert (await _get(srv.port, "/healthz"))[0] == 200
        status, body = await _readyz(srv.port)
        assert (status, body["failing"]) == (503, ["receiving"])
        daemon.ready.set()
        status, body = await _readyz(srv.port)
        assert (status, body["status"]) == (200, "ready")
        daemon.client.connected = False  # a dropped connection
        status, body = await _readyz(srv.port)
        assert (status, body["failing"]) == (503, ["telegram_connected"])
        daemon.client.connected = True
        daemon.matcher.pause()  # hash lists being reloaded
        status, body = await _readyz(srv.port)
        assert (status, body["failing"]) == (503, ["index_loaded"])
        daemon.matcher.resume()
        assert (await _readyz(srv.port))[0] == 200
        daemon.stop.set()  # draining
        status, body = await _readyz(srv.port)
        assert (status, body["failing"]) == (503, ["receiving"])
        status, headers, metrics = await _get(srv.port, "/metrics")
        assert (status, headers["content-type"]) == (200, CONTENT_TYPE)
        assert b'monitor_messages_total{origin="live"} 1.0' in metrics
        assert b"monitor_ready 0.0" in metrics


async def test_disabled_endpoints_serve_nothing() -> None:
    async with serve_endpoints(_daemon(enabled=False)) as srv:
        assert srv is None


async def test_a_port_in_use_is_a_config_error_naming_the_key() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError) as info:
            async with serve_endpoints(_daemon(port=port)):
                pass
    assert info.value.key == "observability.port"
    assert f"127.0.0.1:{port} is already in use" in str(info.value)


async def test_an_address_not_of_this_machine_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        async with serve_endpoints(_daemon(bind="192.0.2.1")):  # TEST-NET-1
            pass
    assert info.value.key == "observability.bind"


async def test_listening_beyond_loopback_is_warned_about() -> None:
    with structlog.testing.capture_logs() as logs:
        async with serve_endpoints(_daemon(bind="0.0.0.0")) as srv:  # noqa: S104
            assert srv is not None
            assert (await _get(srv.port, "/healthz"))[0] == 200
    assert [e for e in logs if e["event"] == "endpoints_exposed"]
    with structlog.testing.capture_logs() as logs:
        async with serve_endpoints(_daemon()):
            pass
    assert not [e for e in logs if e["event"] == "endpoints_exposed"]


# --- monitor health -----------------------------------------------------------------------------


async def test_probe_ready_reports_ready_not_ready_and_absent() -> None:
    daemon = _daemon()
    async with serve_endpoints(daemon) as srv:
        assert srv is not None
        result = await asyncio.to_thread(probe_ready, "127.0.0.1", srv.port)
        assert (result.ready, result.status) == (False, 503)
        assert "receiving" in result.detail
        daemon.ready.set()
        result = await asyncio.to_thread(probe_ready, "127.0.0.1", srv.port)
        assert (result.ready, result.status, result.body["status"]) == (True, 200, "ready")
        port = srv.port
    result = await asyncio.to_thread(probe_ready, "127.0.0.1", port, timeout=2)
    assert (result.ready, result.status) == (False, None)
    assert "no daemon answers" in result.detail


def _health(config: Path, *args: str) -> int:
    with pytest.raises(SystemExit) as info:
        main(["--config", str(config), "health", *args])
    code = info.value.code
    return code if isinstance(code, int) else 0


async def test_monitor_health_exits_0_when_ready_1_when_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    daemon = _daemon()
    async with serve_endpoints(daemon) as srv:
        assert srv is not None
        config = tmp_path / "monitor.toml"
        config.write_text(f"[observability]\nport = {srv.port}\n", encoding="utf-8")
        assert await asyncio.to_thread(_health, config) == 1
        assert "not ready" in capsys.readouterr().out
        daemon.ready.set()
        assert await asyncio.to_thread(_health, config, "--json") == 0
        answer = json.loads(capsys.readouterr().out)
        assert answer["ready"] is True
        assert answer["checks"]["telegram_connected"] is True
    assert await asyncio.to_thread(_health, config, "--quiet") == 1
    assert capsys.readouterr().out == ""


def test_monitor_health_needs_the_endpoints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "monitor.toml"
    config.write_text("[observability]\nenabled = false\n", encoding="utf-8")
    assert _health(config) == 3
    assert "observability.enabled" in capsys.readouterr().err
