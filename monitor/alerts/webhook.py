"""Alerts as signed JSON POSTs to a webhook.

Request headers::

    Content-Type         application/json
    User-Agent           telegram-hash-monitor/<version>
    X-Monitor-Event      "hit" or "system"
    X-Monitor-Delivery   "hit-<hit id>": the same on every retry, so receivers can deduplicate;
                         "system-<event>-<random>" for daemon-level alerts
    X-Monitor-Timestamp  unix seconds when the request was made
    X-Monitor-Signature  "sha256=<hex>", only with a secret (how to verify: monitor.alerts.signing)

The body is ``alert_payload`` / ``system_payload`` (monitor.alerts.message) as UTF-8 JSON.
Any 2xx answer is success. 408, 429 and 5xx answers, timeouts and connection errors are
retryable (a ``Retry-After`` header is passed on as ``AlertFailed.retry_after``); every other
answer is not. The URL may carry a token: errors and logs say "webhook" and the status only.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from monitor.alerts._http import USER_AGENT, new_client, retry_after, transport_failure, url_parts
from monitor.alerts.errors import AlertFailed
from monitor.alerts.message import alert_payload, system_payload
from monitor.alerts.signing import sign
from monitor.domain import Hit
from monitor.logs import register_secret

RETRYABLE_STATUS = frozenset({408, 429})


class WebhookSender:
    def __init__(
        self,
        url: str,
        secret: str,
        timeout: float,
        timezone: str,
        client: httpx.AsyncClient | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        register_secret(url)
        register_secret(secret)
        self._url = url
        self._secret = secret
        self._timeout = timeout
        self._timezone = timezone
        self._owns_client = client is None
        self._client = client if client is not None else new_client(timeout)
        self._clock = clock

    async def send_hit(self, hit: Hit) -> None:
        await self._post("hit", f"hit-{hit.id}", alert_payload(hit, timezone=self._timezone))

    async def send_system(self, event: str, detail: str) -> None:
        delivery = f"system-{event}-{uuid.uuid4().hex[:12]}"
        await self._post("system", delivery, system_payload(event, detail))

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def _post(self, event: str, delivery: str, payload: dict[str, Any]) -> None:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        timestamp = int(self._clock())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Monitor-Event": event,
            "X-Monitor-Delivery": delivery,
            "X-Monitor-Timestamp": str(timestamp),
        }
        if self._secret:
            headers["X-Monitor-Signature"] = sign(self._secret, timestamp, body)
        try:
            response = await self._client.post(
                self._url, content=body, headers=headers, timeout=self._timeout
            )
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise transport_failure("webhook", exc, self._timeout, self._secrets) from None
        status = response.status_code
        if 200 <= status < 300:
            return
        if status in RETRYABLE_STATUS or status >= 500:
            wait = retry_after(response.headers.get("Retry-After"))
            raise AlertFailed(f"webhook answered {status}", True, retry_after=wait, status=status)
        raise AlertFailed(f"webhook answered {status}", False, status=status)

    @property
    def _secrets(self) -> tuple[str, ...]:
        return (self._url, self._secret, *url_parts(self._url))
