"""Liveness and readiness: what ``/healthz`` and ``/readyz`` answer, and ``monitor health``.

* Live: the daemon's event loop runs (it is what answers the request).
* Ready: the hash lists are loaded, Telegram is connected, and the daemon is receiving (live
  event handlers installed, not stopping). A dropped connection makes the daemon not ready until
  it is connected again.

Answers are JSON naming each check; they carry no secret and nothing about the account.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from monitor.config import ObservabilitySettings

# The checks of /readyz, in the order they are reported.
INDEX_LOADED = "index_loaded"
TELEGRAM_CONNECTED = "telegram_connected"
RECEIVING = "receiving"


@dataclass(frozen=True, slots=True)
class Readiness:
    checks: Mapping[str, bool]

    @property
    def ready(self) -> bool:
        return all(self.checks.values())

    @property
    def failing(self) -> list[str]:
        return [name for name, ok in self.checks.items() if not ok]

    def as_json(self) -> dict[str, Any]:
        return {
            "status": "ready" if self.ready else "not ready",
            "checks": dict(self.checks),
            "failing": self.failing,
        }


def telegram_connected(client: Any) -> bool:
    """Whether the Telethon client is connected right now. ``is_connected`` stays true while
    Telethon reconnects by itself, so the sender's transport is asked as well (Telethon 1.x
    has no public call for it; without it, ``is_connected`` alone decides)."""
    try:
        if not client.is_connected():
            return False
        probe = getattr(getattr(client, "_sender", None), "_transport_connected", None)
        return bool(probe()) if callable(probe) else True
    except Exception:  # a client in an odd state is not connected
        return False


@dataclass(frozen=True, slots=True)
class ProbeResult:
    ready: bool
    status: int | None  # HTTP status; None when nothing answered
    body: dict[str, Any]
    detail: str  # one line for people


def probe_address(settings: ObservabilitySettings) -> tuple[str, int]:
    """Where to reach the endpoints from this machine: a wildcard bind is reached on loopback."""
    host = settings.bind
    address = ipaddress.ip_address(host)
    if address.is_unspecified:
        host = "::1" if address.version == 6 else "127.0.0.1"
    return host, settings.port


def probe_ready(host: str, port: int, *, timeout: float = 5.0) -> ProbeResult:
    """GET /readyz of a running daemon (``monitor health``, container health checks)."""
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", "/readyz", headers={"Accept": "application/json"})
        response = connection.getresponse()
        raw = response.read(64 * 1024)
        status = response.status
    except (OSError, http.client.HTTPException) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return ProbeResult(False, None, {}, f"no daemon answers at {where}: {reason or repr(exc)}")
    finally:
        connection.close()
    try:
        body = json.loads(raw)
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    if status == 200:
        return ProbeResult(True, status, body, f"ready ({where})")
    failing = body.get("failing")
    if isinstance(failing, list) and failing:
        return ProbeResult(
            False, status, body, f"not ready ({where}): {', '.join(map(str, failing))}"
        )
    return ProbeResult(False, status, body, f"not ready ({where}): HTTP {status}")
