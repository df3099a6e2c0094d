"""The reconciler's lag per channel: newest message known vs the committed cursor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.telegram.lag import ChannelLag, LagTracker

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
CHAT = -1001234


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_a_channel_is_reported_once_its_cursor_is_known() -> None:
    lag = LagTracker()
    lag.seen(CHAT, 10, _at(0))
    assert lag.lags(_at(5)) == []  # newest known, cursor not yet read
    lag.cursor(CHAT, 10)
    assert lag.lags(_at(5)) == [ChannelLag(CHAT, 10, 10, 0, 0.0)]


def test_lag_grows_with_messages_above_the_cursor_and_ends_when_caught_up() -> None:
    lag = LagTracker()
    lag.cursor(CHAT, 100, _at(0))
    lag.seen(CHAT, 101, _at(10))
    lag.seen(CHAT, 105, _at(20))
    (behind,) = lag.lags(_at(70))
    assert (behind.messages, behind.seconds) == (5, 60.0)  # since message 101 was posted
    # The cursor moves part of the way: measured from the message at the new cursor.
    lag.cursor(CHAT, 103, _at(15))
    (behind,) = lag.lags(_at(70))
    assert (behind.cursor, behind.messages, behind.seconds) == (103, 2, 55.0)
    lag.cursor(CHAT, 105, _at(20))
    assert lag.lags(_at(70)) == [ChannelLag(CHAT, 105, 105, 0, 0.0)]
    # Caught up, then a new post: measured from that post, not from the last catch-up.
    lag.seen(CHAT, 106, _at(100))
    (behind,) = lag.lags(_at(130))
    assert (behind.messages, behind.seconds) == (1, 30.0)


def test_old_messages_and_old_cursors_do_not_move_anything_back() -> None:
    lag = LagTracker()
    lag.cursor(CHAT, 50, _at(0))
    lag.seen(CHAT, 40, _at(-100))  # an edit of an old message
    assert lag.lags(_at(10)) == [ChannelLag(CHAT, 50, 50, 0, 0.0)]
    lag.cursor(CHAT, 30)  # a stale read never lowers the cursor
    assert lag.lags(_at(10))[0].cursor == 50


def test_the_lag_is_never_less_than_the_real_one() -> None:
    """Only the oldest pending message's date is kept: after a partial advance the lag is
    measured from a date at or before the next pending message's."""
    lag = LagTracker()
    lag.cursor(CHAT, 0)
    posted = {i: _at(i * 10) for i in range(1, 11)}
    for message_id, when in posted.items():
        lag.seen(CHAT, message_id, when)
    for cursor in range(1, 11):
        lag.cursor(CHAT, cursor, posted[cursor])
        (behind,) = lag.lags(_at(200))
        if cursor < 10:
            real = (_at(200) - posted[cursor + 1]).total_seconds()
            assert behind.seconds >= real
            assert behind.messages == 10 - cursor
        else:
            assert (behind.messages, behind.seconds) == (0, 0.0)


def test_naive_dates_are_utc_and_missing_dates_use_now() -> None:
    lag = LagTracker()
    lag.cursor(CHAT, 1)
    lag.seen(CHAT, 2, datetime(2025, 3, 1, 12, 0))  # naive: Telethon's are aware, be safe
    assert lag.lags(_at(30))[0].seconds == 30.0
    other = LagTracker()
    other.cursor(CHAT, 1)
    other.seen(CHAT, 2, None)
    (behind,) = other.lags()
    assert behind.messages == 1
    assert 0 <= behind.seconds < 60


def test_forgotten_channels_are_not_reported() -> None:
    lag = LagTracker()
    lag.cursor(CHAT, 5)
    lag.cursor(-1009, 7)
    lag.forget(CHAT)
    assert [c.chat_id for c in lag.lags()] == [-1009]
