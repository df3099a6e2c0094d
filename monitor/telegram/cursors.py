"""Per-channel cursors: how far, in message id order, a channel is known to be processed.

The cursor is the source of truth for "nothing missed": every message with an id at or below it
has been recorded (or deliberately skipped). Only the reconciler moves it, because only history
requests see messages in order and without gaps; live events are a fast path whose messages the
reconciler meets again (and finds already recorded, since writes are idempotent).

Messages of one pass are processed concurrently and finish out of order, so a ``PassTracker``
lets the cursor advance to message N only once every message of the pass up to N has finished
successfully. A message that failed holds the cursor below it for the rest of the pass; the next
pass fetches it again.
"""

from __future__ import annotations

import asyncio
from collections import deque


class PassTracker:
    """Cursor bookkeeping of one reconciler pass over one channel."""

    def __init__(self, chat_id: int, start: int) -> None:
        self.chat_id = chat_id
        self._safe = start  # every message of this pass up to here finished ok
        self._committed = start  # what the store has
        self._order: deque[int] = deque()  # ids handed out, ascending, not yet folded in
        self._done: dict[int, bool] = {}
        self._blocked = False
        self._running = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.last_started = start
        self.closed = False  # the pass has handed out its last message

    def started(self, message_id: int) -> None:
        if message_id <= self.last_started:
            raise ValueError(f"message {message_id} handed out after {self.last_started}")
        self.last_started = message_id
        self._order.append(message_id)
        self._running += 1
        self._idle.clear()

    def finished(self, message_id: int, *, ok: bool) -> None:
        self._done[message_id] = ok
        self._running -= 1
        while self._order and self._order[0] in self._done and not self._blocked:
            head = self._order.popleft()
            if self._done.pop(head):
                self._safe = head
            else:
                self._blocked = True
        if self._running == 0:
            self._idle.set()

    @property
    def safe(self) -> int:
        """The highest message id the cursor may move to now."""
        return self._safe

    @property
    def blocked(self) -> bool:
        """A message of this pass failed: the cursor stays below it until the next pass."""
        return self._blocked

    @property
    def running(self) -> int:
        return self._running

    def close(self) -> None:
        self.closed = True

    @property
    def done(self) -> bool:
        """Closed, nothing in flight, and the last cursor value taken."""
        return self.closed and self._running == 0 and self._safe <= self._committed

    def take(self) -> int | None:
        """A new cursor value to store, if it moved since the last ``take``."""
        if self._safe > self._committed:
            self._committed = self._safe
            return self._safe
        return None

    def give_back(self, value: int) -> None:
        """Storing ``value`` failed: offer it again at the next ``take``."""
        if value == self._committed:
            self._committed = min(self._committed, value - 1)

    async def idle(self) -> None:
        """Wait until no message of this pass is in flight."""
        await self._idle.wait()
