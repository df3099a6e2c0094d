"""The cursor only moves over messages that all finished successfully, in order."""

from __future__ import annotations

import pytest

from monitor.telegram.cursors import PassTracker


def test_cursor_waits_for_the_slowest_earlier_message() -> None:
    t = PassTracker(-100, 10)
    for mid in (11, 13, 20):
        t.started(mid)
    t.finished(20, ok=True)
    t.finished(13, ok=True)
    assert t.safe == 10
    assert t.take() is None
    t.finished(11, ok=True)
    assert t.safe == 20
    assert t.take() == 20
    assert t.take() is None


def test_a_failure_holds_the_cursor_below_it_for_the_rest_of_the_pass() -> None:
    t = PassTracker(-100, 0)
    for mid in (1, 2, 3):
        t.started(mid)
    t.finished(1, ok=True)
    t.finished(2, ok=False)
    t.finished(3, ok=True)
    assert t.safe == 1
    assert t.blocked
    t.started(4)
    t.finished(4, ok=True)
    assert t.safe == 1


def test_messages_are_handed_out_in_ascending_order() -> None:
    t = PassTracker(-100, 5)
    with pytest.raises(ValueError, match="handed out after"):
        t.started(5)
    t.started(6)
    with pytest.raises(ValueError, match="handed out after"):
        t.started(6)


def test_give_back_offers_a_value_again_after_a_failed_store() -> None:
    t = PassTracker(-100, 0)
    t.started(1)
    t.finished(1, ok=True)
    assert t.take() == 1
    t.give_back(1)
    assert t.take() == 1


async def test_done_and_idle() -> None:
    t = PassTracker(-100, 0)
    t.started(1)
    t.close()
    assert not t.done
    t.finished(1, ok=True)
    await t.idle()
    assert not t.done  # the new cursor is not taken yet
    assert t.take() == 1
    assert t.done
