"""How far each channel's cursor trails the newest message known in it (the reconciler's lag).

The newest message id comes from whatever the daemon sees of a channel: live updates (with or
without media) and the reconciler's history pages. The cursor is the committed one (see
:mod:`monitor.telegram.cursors`). A channel is *behind* while a known message lies above its
cursor; it is *caught up* once the cursor reaches the newest message known.

The lag in seconds is measured from when the oldest message not yet under the cursor was posted.
Only the oldest such message's date is kept (not one per message): when the cursor moves part
of the way, the lag is measured from the date of the message at the new cursor, or from the
oldest date known if that is later. Both are at or before the date of the first message still
above the cursor, so the lag reported is never less than the real one.

Plain data, updated from the event loop; read when ``/metrics`` is scraped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True, slots=True)
class ChannelLag:
    chat_id: int
    cursor: int
    newest: int
    messages: int  # message ids between the cursor and the newest message known
    seconds: float  # since the oldest message above the cursor was posted; 0 when caught up


@dataclass(slots=True)
class _Channel:
    newest: int = 0
    cursor: int | None = None  # None until the reconciler has read it from the store
    behind_since: datetime | None = None  # set while a known message is above the cursor


class LagTracker:
    def __init__(self) -> None:
        self._channels: dict[int, _Channel] = {}

    def seen(self, chat_id: int, message_id: int, posted: datetime | None = None) -> None:
        """A message of the channel was seen (live or in history)."""
        channel = self._channels.setdefault(chat_id, _Channel())
        if message_id > channel.newest:
            channel.newest = message_id
        above = channel.cursor is None or message_id > channel.cursor
        if above and channel.behind_since is None:
            channel.behind_since = _utc(posted) or datetime.now(UTC)

    def cursor(self, chat_id: int, value: int, at: datetime | None = None) -> None:
        """The channel's cursor is ``value`` (read from or just stored in the store); ``at`` is
        when the message at the cursor was posted, if known."""
        channel = self._channels.setdefault(chat_id, _Channel())
        channel.cursor = max(value, channel.cursor or 0)
        channel.newest = max(channel.newest, channel.cursor)
        if channel.newest <= channel.cursor:
            channel.behind_since = None
            return
        posted = _utc(at)
        if channel.behind_since is None:
            channel.behind_since = posted or datetime.now(UTC)
        elif posted is not None and posted > channel.behind_since:
            channel.behind_since = posted

    def forget(self, chat_id: int) -> None:
        self._channels.pop(chat_id, None)

    def lags(self, now: datetime | None = None) -> list[ChannelLag]:
        """Every channel whose cursor is known, by chat id."""
        now = now or datetime.now(UTC)
        out = []
        for chat_id, channel in sorted(self._channels.items()):
            if channel.cursor is None:
                continue
            behind = channel.newest - channel.cursor
            seconds = 0.0
            if behind > 0 and channel.behind_since is not None:
                seconds = max(0.0, (now - channel.behind_since).total_seconds())
            out.append(ChannelLag(chat_id, channel.cursor, channel.newest, behind, seconds))
        return out


def _utc(value: datetime | None) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
