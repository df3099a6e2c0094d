"""History reconciliation: the source of truth for "no message missed".

Push updates are a fast path that Telegram and Telethon may drop (a lost first push, a
``ChannelDifferenceTooLong``, an outage, a restart). At start and every ``reconcile_interval``
the reconciler fetches every message after each channel's cursor with history requests
(``iter_messages(min_id=cursor, reverse=True)``; ``min_id`` is exclusive), hands them to the
workers in order, and moves the cursor as they finish (see :mod:`monitor.telegram.cursors`).
Messages already handled live are met again and found already recorded (idempotent writes).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from telethon import errors, types

from monitor.config import TelegramSettings
from monitor.domain import ChannelState, WatchedChannel
from monitor.errors import StoreError
from monitor.logs import get_logger
from monitor.telegram.channels import AllowList, access_outcome
from monitor.telegram.cursors import PassTracker
from monitor.telegram.errors import fatal_auth_reason
from monitor.telegram.flood import FloodControl
from monitor.telegram.lag import LagTracker
from monitor.telegram.media import media_ref
from monitor.telegram.processor import WorkItem
from monitor.telegram.sources import Chat

log = get_logger(__name__)

Enqueue = Callable[[WorkItem], Awaitable[None]]


class CursorStore(Protocol):
    async def get_cursor(self, chat_id: int) -> int: ...

    async def advance_cursor(
        self, chat_id: int, message_id: int, *, last_message_at: datetime | None = None
    ) -> int: ...

    async def mark_reconciled(self, chat_id: int, *, at: datetime | None = None) -> None: ...

    async def set_channel_state(
        self,
        watched_id: int,
        state: ChannelState,
        *,
        detail: str | None = None,
        telegram_id: int | None = None,
        username: str | None = None,
        title: str | None = None,
        joined: bool = False,
    ) -> WatchedChannel: ...


class Reconciler:
    def __init__(
        self,
        client: Any,
        store: CursorStore,
        allow: AllowList,
        enqueue: Enqueue,
        settings: TelegramSettings,
        flood: FloodControl,
        stop: asyncio.Event,
        counters: Counter[str],
        *,
        holds: Callable[[int], bool] | None = None,
    ) -> None:
        self._client = client
        self._store = store
        self._allow = allow
        self._enqueue = enqueue
        self._settings = settings
        self._flood = flood
        self._stop = stop
        self._counters = counters
        # Whether this daemon holds the chat's lease now (see monitor.telegram.leases): passes
        # go over those chats only, and stop at once when the lease is lost.
        self._holds = holds or (lambda chat_id: True)
        self._trackers: list[tuple[PassTracker, dict[int, datetime]]] = []
        self.lag = LagTracker()  # cursor vs newest message known, per channel (metrics)

    # --- passes -------------------------------------------------------------------------------

    async def reconcile_all(self) -> int:
        """One pass over every watched channel. Returns the messages handed to workers."""
        total = 0
        for chat in self._allow.chats:
            if self._stop.is_set():
                break
            if not self._holds(chat.chat_id):
                continue
            total += await self.reconcile(chat)
        self._counters["reconcile_passes"] += 1
        return total

    async def reconcile(self, chat: Chat) -> int:
        """Fetch everything after the channel's cursor and hand it on in order."""
        bound = log.bind(chat_id=chat.chat_id, title=chat.title)
        try:
            cursor = await self._store.get_cursor(chat.chat_id)
            self.lag.cursor(chat.chat_id, cursor)
            offset_date: datetime | None = None
            if cursor == 0:
                days = self._settings.initial_history_days
                if days <= 0:
                    await self._start_from_now(chat)
                    return 0
                offset_date = datetime.now(UTC) - timedelta(days=days)
            tracker = PassTracker(chat.chat_id, cursor)
            dates: dict[int, datetime] = {}
            self._trackers.append((tracker, dates))
            count = 0
            try:
                async for message in self._history(chat, min_id=cursor, offset_date=offset_date):
                    if self._stop.is_set() or not self._holds(chat.chat_id):
                        break
                    if offset_date is not None and tracker.last_started == cursor:
                        # A first pass starts at the first message of the initial window.
                        self.lag.cursor(chat.chat_id, message.id - 1)
                    tracker.started(message.id)
                    self.lag.seen(chat.chat_id, message.id, message.date)
                    if isinstance(message.date, datetime):
                        dates[message.id] = message.date
                    if isinstance(message, types.MessageService) or media_ref(message) is None:
                        tracker.finished(message.id, ok=True)
                        continue
                    await self._enqueue(WorkItem(message, chat, "reconcile", tracker))
                    count += 1
            finally:
                tracker.close()
            if not self._holds(chat.chat_id):
                bound.info("reconcile_stopped", reason="lease lost", messages=count)
                return count
            await self._store.mark_reconciled(chat.chat_id)
        except Exception as exc:
            if fatal_auth_reason(exc):
                raise
            outcome = access_outcome(exc)
            if outcome is not None:
                bound.warning("channel_lost", state=outcome[0].value, detail=outcome[1])
                self._allow.forget(chat.chat_id)
                await self._store.set_channel_state(chat.watched_id, outcome[0], detail=outcome[1])
                return 0
            if isinstance(exc, StoreError | errors.RPCError | OSError | ConnectionError):
                bound.warning("reconcile_failed", error=str(exc))
                self._counters["reconcile_errors"] += 1
                return 0
            raise
        if count:
            bound.info("reconciled", messages=count, cursor=cursor)
        return count

    async def backfill(self, chat: Chat, since: datetime, until: datetime | None = None) -> int:
        """Hand on every message posted from ``since`` (to ``until``), oldest first. The cursor
        is not moved: backfill reaches behind it, and writes are idempotent."""
        count = 0
        async for message in self._history(chat, min_id=0, offset_date=since):
            if self._stop.is_set():
                break
            if until is not None and message.date >= until:
                break
            if isinstance(message, types.MessageService) or media_ref(message) is None:
                continue
            await self._enqueue(WorkItem(message, chat, "backfill"))
            count += 1
        return count

    async def _start_from_now(self, chat: Chat) -> None:
        newest = await self._client.get_messages(chat.entity, limit=1)
        top = newest[0].id if newest else 0
        if top:
            await self._store.advance_cursor(chat.chat_id, top)
            self.lag.cursor(chat.chat_id, top)
        await self._store.mark_reconciled(chat.chat_id)
        log.info("channel_cursor_started", chat_id=chat.chat_id, cursor=top)

    async def _history(
        self, chat: Chat, *, min_id: int, offset_date: datetime | None
    ) -> AsyncIterator[Any]:
        """Messages after ``min_id`` (or posted after ``offset_date``), oldest first; a flood
        wait is waited out and the fetch resumes after the last message handed on."""
        resume = min_id
        while True:
            kwargs: dict[str, Any] = {
                "reverse": True,
                "wait_time": self._settings.history_page_wait,
            }
            if resume:
                kwargs["min_id"] = resume
            elif offset_date is not None:
                kwargs["offset_date"] = offset_date
            try:
                async for message in self._client.iter_messages(chat.entity, **kwargs):
                    if message.id <= resume:
                        continue
                    resume = message.id
                    yield message
                return
            except errors.FloodWaitError as exc:
                await self._flood.wait(exc, chat_id=chat.chat_id)
                if self._stop.is_set():
                    return

    # --- cursors ------------------------------------------------------------------------------

    async def commit_cursors(self) -> None:
        """Store every cursor that moved; forget passes that are complete."""
        keep = []
        for tracker, dates in self._trackers:
            value = tracker.take()
            if value is not None:
                try:
                    await self._store.advance_cursor(
                        tracker.chat_id, value, last_message_at=dates.get(value)
                    )
                    self.lag.cursor(tracker.chat_id, value, dates.get(value))
                except StoreError as exc:
                    tracker.give_back(value)
                    log.error("cursor_not_stored", chat_id=tracker.chat_id, error=str(exc))
                for key in [k for k in dates if k < value]:
                    del dates[key]
            if not tracker.done:
                keep.append((tracker, dates))
        self._trackers = keep

    async def idle(self) -> None:
        """Wait until no message of any pass is in flight."""
        for tracker, _ in list(self._trackers):
            await tracker.idle()
