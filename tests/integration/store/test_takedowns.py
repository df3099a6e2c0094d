"""Takedown requests, re-check results, removal status and its audit trail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.domain import (
    CheckOutcome,
    HitFilter,
    RecheckResult,
    RemovalStatus,
    ReviewStatus,
)
from monitor.errors import InputError, NotFound
from monitor.store import Store
from monitor.store.takedowns import next_state
from tests.integration.store.factories import (
    file_source,
    make_entries,
    match_for,
    signals,
    tg_source,
)

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


async def two_hits_one_message(store: Store) -> tuple[int, int, int]:
    """Two hits (two entries) on one message; returns (hit 1, hit 2, sighting id)."""
    e1, e2 = await make_entries(store, n=2)
    result = await store.record_sighting(
        tg_source(7, chat_id=-1001), signals(1), [match_for(e1), match_for(e2)]
    )
    h1, h2 = sorted(h.id for h in result.hits)
    return h1, h2, result.sighting_id


async def test_mark_reported_once_per_message_and_recipient(store: Store) -> None:
    h1, h2, sighting = await two_hits_one_message(store)
    [t1, t2] = await store.mark_reported(
        [h1, h2], reported_to="  Telegram   abuse ", reference="TG-1", actor="park", at=T0
    )
    assert t1 == t2  # one message, one takedown
    assert t1.reported_to == "Telegram abuse"
    assert t1.sighting_id == sighting
    assert t1.hit_id == h1
    assert t1.status is RemovalStatus.UNCHECKED
    assert t1.chat_id == -1001
    assert t1.message_id == 7
    assert t1.link == "https://t.me/somechannel/7"

    # Again to the same recipient: the first report stands.
    [again] = await store.mark_reported(
        [h2], reported_to="Telegram abuse", reference="other", actor="park", at=T0 + HOUR
    )
    assert again.id == t1.id
    assert again.reported_at == T0
    assert again.reference == "TG-1"
    # To another recipient: a second takedown of the same message.
    [police] = await store.mark_reported(
        [h1], reported_to="KNPA cyber", reference=None, actor="park", at=T0 + HOUR
    )
    assert police.id != t1.id
    assert len(await store.list_takedowns()) == 2
    assert [t.reported_to for t in await store.list_takedowns(reported_to="KNPA cyber")] == [
        "KNPA cyber"
    ]
    marks = [a for a in await store.hit_history(h1) if a.action == "takedown.mark"]
    assert [a.details["reported_to"] for a in marks] == ["Telegram abuse", "KNPA cyber"]
    assert await store.count_hits(HitFilter(reported=True)) == 2
    assert await store.count_hits(HitFilter(reported=False)) == 0


async def test_mark_refuses_rejected_and_unknown_hits(store: Store) -> None:
    h1, h2, _ = await two_hits_one_message(store)
    await store.review_hits([h2], ReviewStatus.FALSE_POSITIVE, actor="kim")
    with pytest.raises(InputError, match=f"hit {h2} was rejected"):
        await store.mark_reported([h1, h2], reported_to="T", reference=None, actor="park")
    with pytest.raises(NotFound, match="no hit with id 999"):
        await store.mark_reported([h1, 999], reported_to="T", reference=None, actor="park")
    with pytest.raises(InputError, match="--reported-to"):
        await store.mark_reported([h1], reported_to="  ", reference=None, actor="park")
    assert await store.list_takedowns() == []


async def test_checks_move_status_and_date_the_removal(store: Store) -> None:
    h1, _, sighting = await two_hits_one_message(store)
    await store.mark_reported([h1], reported_to="Telegram", reference=None, actor="p", at=T0)

    def result(outcome: CheckOutcome, at: datetime) -> RecheckResult:
        return RecheckResult(sighting_id=sighting, outcome=outcome, checked_at=at, detail="d")

    assert await store.record_checks([result(CheckOutcome.UP, T0 + HOUR)], checked_by="daemon") == 1
    [t] = await store.list_takedowns()
    assert (t.status, t.last_outcome, t.removed_at) == (RemovalStatus.UP, CheckOutcome.UP, None)
    # A failed check changes no status.
    assert (
        await store.record_checks([result(CheckOutcome.ERROR, T0 + 2 * HOUR)], checked_by="d") == 0
    )
    [t] = await store.list_takedowns()
    assert t.status is RemovalStatus.UP
    assert t.last_outcome is CheckOutcome.ERROR
    # Deleted: removed at the first check that saw it; a later check keeps that time.
    await store.record_checks([result(CheckOutcome.DELETED, T0 + 5 * HOUR)], checked_by="d")
    await store.record_checks([result(CheckOutcome.PRIVATE, T0 + 6 * HOUR)], checked_by="d")
    [t] = await store.list_takedowns()
    assert t.status is RemovalStatus.REMOVED
    assert t.removed_at == T0 + 5 * HOUR
    assert t.time_to_removal == 5 * HOUR
    checks = await store.takedown_checks(sighting)
    assert [c.outcome for c in checks] == [
        CheckOutcome.UP,
        CheckOutcome.ERROR,
        CheckOutcome.DELETED,
        CheckOutcome.PRIVATE,
    ]
    assert {c.checked_by for c in checks} == {"daemon", "d"}
    status_changes = [a for a in await store.hit_history(h1) if a.action == "takedown.status"]
    assert [(a.details["from"], a.details["to"]) for a in status_changes] == [
        ("unchecked", "up"),
        ("up", "removed"),
    ]
    assert status_changes[1].details["hours_to_removal"] == 5.0
    assert "takedown.verify" in [a.action for a in await store.audit_entries()]


async def test_a_check_older_than_the_report_does_not_move_it(store: Store) -> None:
    h1, _, sighting = await two_hits_one_message(store)
    await store.mark_reported([h1], reported_to="T", reference=None, actor="p", at=T0)
    await store.record_checks(
        [RecheckResult(sighting, CheckOutcome.DELETED, T0 - HOUR)], checked_by="d"
    )
    [t] = await store.list_takedowns()
    assert t.status is RemovalStatus.UNCHECKED


async def test_due_rechecks(store: Store) -> None:
    e1, e2, e3 = await make_entries(store, n=3)
    up = await store.record_sighting(
        tg_source(1, chat_id=-1001, media_id=11), signals(1), [match_for(e1)]
    )
    gone = await store.record_sighting(tg_source(2, chat_id=-1001), signals(2), [match_for(e2)])
    local = await store.record_sighting(file_source("/x.jpg"), signals(3), [match_for(e3)])
    old = await store.record_sighting(tg_source(3, chat_id=-1002), signals(4), [match_for(e1)])
    unreported = await store.record_sighting(tg_source(4), signals(5), [match_for(e1)])
    now = T0 + 10 * 24 * HOUR
    for r, at in ((up, T0 + 9 * 24 * HOUR), (gone, T0 + 9 * 24 * HOUR), (local, T0), (old, T0)):
        await store.mark_reported([r.hits[0].id], reported_to="T", reference=None, actor="p", at=at)
    await store.record_checks(
        [RecheckResult(gone.sighting_id, CheckOutcome.DELETED, now - HOUR)], checked_by="d"
    )
    due = await store.due_rechecks(interval=HOUR, max_age=5 * 24 * HOUR, now=now)
    assert [(t.sighting_id, t.chat_id, t.message_id, t.telegram_media_id) for t in due] == [
        (up.sighting_id, -1001, 1, 11)
    ]
    # Checked just now: not due until the interval has passed.
    await store.record_checks([RecheckResult(up.sighting_id, CheckOutcome.UP, now)], checked_by="d")
    assert await store.due_rechecks(interval=HOUR, max_age=5 * 24 * HOUR, now=now) == []
    assert (
        len(await store.due_rechecks(interval=HOUR, max_age=5 * 24 * HOUR, now=now + 2 * HOUR)) == 1
    )
    # On demand, by hit: whatever the state and age, Telegram messages only.
    wanted = [r.hits[0].id for r in (up, gone, local, old, unreported)]
    on_demand = await store.due_rechecks(interval=HOUR, max_age=HOUR, now=now, hit_ids=wanted)
    assert {t.sighting_id for t in on_demand} == {up.sighting_id, gone.sighting_id, old.sighting_id}


@pytest.mark.parametrize(
    ("before", "outcome", "after"),
    [
        (RemovalStatus.UNCHECKED, CheckOutcome.UP, RemovalStatus.UP),
        (RemovalStatus.UP, CheckOutcome.MEDIA_REMOVED, RemovalStatus.REMOVED),
        (RemovalStatus.UP, CheckOutcome.GONE, RemovalStatus.REMOVED),
        (RemovalStatus.UP, CheckOutcome.PRIVATE, RemovalStatus.INACCESSIBLE),
        (RemovalStatus.REMOVED, CheckOutcome.PRIVATE, RemovalStatus.REMOVED),
        (RemovalStatus.REMOVED, CheckOutcome.UP, RemovalStatus.UP),
        (RemovalStatus.INACCESSIBLE, CheckOutcome.ERROR, RemovalStatus.INACCESSIBLE),
    ],
)
def test_next_state(before: RemovalStatus, outcome: CheckOutcome, after: RemovalStatus) -> None:
    removed_at = T0 if before is RemovalStatus.REMOVED else None
    status, when = next_state(before, removed_at, RecheckResult(1, outcome, T0 + HOUR))
    assert status is after
    if after is RemovalStatus.REMOVED:
        assert when == (removed_at or T0 + HOUR)
    else:
        assert when is None or before is after
