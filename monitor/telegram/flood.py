"""Flood waits: Telegram asks the client to slow down. Visible, counted, bounded.

Telethon sleeps through waits up to ``flood_sleep_threshold`` by itself and raises
``FloodWaitError`` above it. Those are logged with the request and channel, counted, stored
(``flood_waits`` table, for coverage statistics) and waited out here, unless longer than
``max_flood_wait``: then the daemon stops with exit code 7 rather than idle for hours unnoticed.
Whoever waits keeps its resume point (the reconciler its last message id, a worker its item).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from typing import Any, Protocol

from monitor.errors import StoreError, TelegramError
from monitor.logs import get_logger

log = get_logger(__name__)


class FloodWaitTooLong(TelegramError):
    def __init__(self, seconds: int, method: str) -> None:
        self.seconds = seconds
        self.method = method
        super().__init__(
            f"Telegram asks to wait {seconds} s before {method}, longer than "
            "telegram.max_flood_wait; stopping (cursors are kept, the next start resumes)"
        )

    def __reduce__(self) -> tuple[type[FloodWaitTooLong], tuple[int, str]]:
        return (type(self), (self.seconds, self.method))


class FloodLog(Protocol):
    async def record_flood_wait(
        self, session: str, method: str, seconds: int, *, chat_id: int | None = None
    ) -> None: ...


def request_name(exc: BaseException) -> str:
    """The TL name of the request an RPC error answered, e.g. ``GetHistoryRequest``."""
    request = getattr(exc, "request", None)
    return type(request).__name__ if request is not None else "request"


class FloodControl:
    def __init__(
        self,
        store: FloodLog,
        session: str,
        *,
        max_wait: int,
        stop: asyncio.Event,
        counters: Counter[str],
    ) -> None:
        self._store = store
        self._session = session
        self._max_wait = max_wait
        self._stop = stop
        self._counters = counters

    async def wait(self, exc: Any, *, chat_id: int | None = None, sleep: bool = True) -> None:
        """Record and wait out a ``FloodWaitError`` (returns early if the daemon stops).
        With ``sleep=False`` only record it: the caller retries later by itself."""
        seconds = int(getattr(exc, "seconds", 0) or 0)
        method = request_name(exc)
        self._counters["flood_waits"] += 1
        self._counters["flood_wait_seconds"] += seconds
        log.warning("flood_wait", seconds=seconds, method=method, chat_id=chat_id)
        try:
            await self._store.record_flood_wait(self._session, method, seconds, chat_id=chat_id)
        except StoreError as err:
            log.error("flood_wait_not_recorded", error=str(err))
        if not sleep:
            return
        if seconds > self._max_wait:
            raise FloodWaitTooLong(seconds, method)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=seconds + 1)
