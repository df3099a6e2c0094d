"""The daemon's HTTP endpoints ([observability]): its state read for /metrics and /readyz.

::

    GET /metrics   Prometheus text format 0.0.4 (see monitor.metrics for the families)
    GET /healthz   200 while the event loop runs (liveness)
    GET /readyz    200 when ready, else 503; JSON naming each check (see monitor.health)

Served on ``observability.bind`` (loopback by default: there is no authentication) while
``monitor run`` runs, from before it connects to Telegram until it has drained and stopped.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from monitor.config import ObservabilitySettings
from monitor.errors import ConfigError
from monitor.health import (
    INDEX_LOADED,
    RECEIVING,
    TELEGRAM_CONNECTED,
    Readiness,
    telegram_connected,
)
from monitor.http_endpoints import EndpointServer, Response
from monitor.logs import get_logger
from monitor.matching import Matcher, MatcherStats
from monitor.metrics import CONTENT_TYPE, Snapshot, build_registry, render

if TYPE_CHECKING:
    from monitor.daemon import Daemon

log = get_logger(__name__)

METRICS, HEALTHZ, READYZ = "/metrics", "/healthz", "/readyz"


class DaemonView:
    """Reads a running daemon's state, for a scrape or a readiness check. Read only."""

    def __init__(self, daemon: Daemon) -> None:
        self._daemon = daemon
        self._stats: tuple[tuple[Matcher, object], MatcherStats] | None = None

    def readiness(self) -> Readiness:
        daemon = self._daemon
        return Readiness(
            {
                # Loaded, checked against the store's lists, and no rebuild under way (matching
                # waits while the lists are reloaded).
                INDEX_LOADED: daemon.matcher.fingerprint is not None and not daemon.matcher.paused,
                TELEGRAM_CONNECTED: telegram_connected(daemon.client),
                RECEIVING: daemon.ready.is_set() and not daemon.stop.is_set(),
            }
        )

    def snapshot(self) -> Snapshot:
        daemon = self._daemon
        chats = {chat.chat_id: chat for chat in daemon.allow.chats}
        lags = [
            (lag, chats[lag.chat_id].username or "")
            for lag in daemon.reconciler.lag.lags()
            if lag.chat_id in chats
        ]
        return Snapshot(
            counters=dict(daemon.counters),
            readiness=self.readiness(),
            queue_depths=daemon.queue.depths(),
            queue_capacity=daemon.settings.telegram.queue_size,
            channels_watched=len(chats),
            lags=lags,
            index=self._index_stats(),
        )

    def _index_stats(self) -> MatcherStats | None:
        """The matcher's statistics, worked out again only when the lists changed. While a
        change is being applied (in a worker thread, in place) the last ones are kept."""
        live = self._daemon.matcher
        key = (live.current, live.fingerprint)
        if live.paused:
            return self._stats[1] if self._stats is not None else None
        if self._stats is None or self._stats[0] != key:
            self._stats = (key, live.current.stats())
        return self._stats[1]


def endpoint_server(view: DaemonView, settings: ObservabilitySettings) -> EndpointServer:
    registry = build_registry(view.snapshot)

    def metrics() -> Response:
        return Response(200, render(registry), CONTENT_TYPE)

    def healthz() -> Response:
        return Response.json(200, {"status": "alive"})

    def readyz() -> Response:
        readiness = view.readiness()
        return Response.json(200 if readiness.ready else 503, readiness.as_json())

    routes = {METRICS: metrics, HEALTHZ: healthz, READYZ: readyz}
    return EndpointServer(routes, host=settings.bind, port=settings.port)


@contextlib.asynccontextmanager
async def serve_endpoints(daemon: Daemon) -> AsyncIterator[EndpointServer | None]:
    """The daemon's endpoints while in the block (None if ``observability.enabled`` is false).
    Raises ``ConfigError`` naming the key when the address cannot be bound."""
    settings = daemon.settings.observability
    if not settings.enabled:
        yield None
        return
    server = endpoint_server(DaemonView(daemon), settings)
    try:
        await server.start()
    except OSError as exc:
        raise bind_error(exc, settings) from None
    if not ipaddress.ip_address(settings.bind).is_loopback:
        log.warning(
            "endpoints_exposed",
            bind=settings.bind,
            hint="/metrics and /readyz have no authentication: firewall the port or bind to "
            "127.0.0.1 (observability.bind)",
        )
    log.info("endpoints_serving", url=server.url, paths=[METRICS, HEALTHZ, READYZ])
    try:
        yield server
    finally:
        await server.stop()


def bind_error(exc: OSError, settings: ObservabilitySettings) -> ConfigError:
    """A bind failure as the config error that says which key to change."""
    where = f"{settings.bind}:{settings.port}"
    if exc.errno == errno.EADDRINUSE:
        return ConfigError(
            "observability.port",
            f"{where} is already in use (another monitor daemon?): choose another port, "
            "or set observability.enabled = false",
        )
    if exc.errno in (errno.EACCES, errno.EPERM):
        return ConfigError(
            "observability.port", f"not allowed to listen on {where}: use a port above 1023"
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return ConfigError(
            "observability.bind", f"{settings.bind} is not an address of this machine"
        )
    return ConfigError("observability.bind", f"cannot listen on {where}: {exc.strerror or exc}")
