"""Review decisions, their audit trail, withdrawal and suppression, a hit's evidence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from monitor.domain import EntryStatus, HitFilter, ReviewStatus
from monitor.errors import InputError, NotFound
from monitor.store import Store
from tests.integration.store.factories import (
    file_source,
    make_entries,
    match_for,
    signals,
    tg_source,
)

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


async def test_confirm_sets_status_and_audits_each_hit(store: Store) -> None:
    e1, e2 = await make_entries(store, n=2)
    r1 = await store.record_sighting(tg_source(1), signals(1), [match_for(e1)])
    r2 = await store.record_sighting(tg_source(2), signals(2), [match_for(e2)])
    h1, h2 = r1.hits[0].id, r2.hits[0].id

    result = await store.review_hits(
        [h1, h2], ReviewStatus.CONFIRMED, actor="kim", note="same face, same room", at=T0
    )
    assert result.changed == (h1, h2)
    assert result.updated == ()
    hit = await store.get_hit(h1)
    assert hit.review_status is ReviewStatus.CONFIRMED
    assert hit.reviewed_by == "kim"
    assert hit.reviewed_at == T0
    assert hit.review_note == "same face, same room"

    # Reviewed again: a new note, audited too; the history keeps both.
    later = T0 + timedelta(hours=1)
    again = await store.review_hits(
        [h1], ReviewStatus.NEEDS_INFO, actor="lee", note="ask the hotline", at=later
    )
    assert again.changed == (h1,)
    history = await store.hit_history(h1)
    assert [(a.action, a.actor, a.details["from"], a.details["to"]) for a in history] == [
        ("hit.review", "kim", "new", "confirmed"),
        ("hit.review", "lee", "confirmed", "needs_info"),
    ]
    assert history[1].details["note"] == "ask the hotline"
    assert history[1].at == later
    same = await store.review_hits([h1], ReviewStatus.NEEDS_INFO, actor="lee", note="still")
    assert same.updated == (h1,)
    assert same.changed == ()
    assert [
        h.id for h in await store.list_hits(HitFilter(statuses=(ReviewStatus.NEEDS_INFO,)))
    ] == [h1]


async def test_review_of_an_unknown_hit_changes_nothing(store: Store) -> None:
    [e1] = await make_entries(store, n=1)
    r1 = await store.record_sighting(tg_source(1), signals(1), [match_for(e1)])
    with pytest.raises(NotFound, match="no hit with id 999; nothing was changed"):
        await store.review_hits([r1.hits[0].id, 999], ReviewStatus.CONFIRMED, actor="kim")
    assert (await store.get_hit(r1.hits[0].id)).review_status is ReviewStatus.NEW
    assert await store.hit_history(r1.hits[0].id) == []


@pytest.mark.parametrize(
    ("status", "kwargs", "message"),
    [
        (ReviewStatus.CONFIRMED, {"actor": " "}, "reviewer"),
        (ReviewStatus.NEW, {"actor": "kim"}, "confirmed, false_positive or needs_info"),
        (ReviewStatus.CONFIRMED, {"actor": "kim", "withdraw_reason": "x"}, "rejection"),
        (ReviewStatus.NEEDS_INFO, {"actor": "kim", "suppress_reason": "x"}, "rejection"),
    ],
)
async def test_review_refuses_inconsistent_requests(
    store: Store, status: ReviewStatus, kwargs: dict[str, str], message: str
) -> None:
    [e1] = await make_entries(store, n=1)
    r1 = await store.record_sighting(tg_source(1), signals(1), [match_for(e1)])
    with pytest.raises(InputError, match=message):
        await store.review_hits([r1.hits[0].id], status, **kwargs)  # type: ignore[arg-type]


async def test_reject_and_withdraw_the_entry(store: Store) -> None:
    [e1, e2] = await make_entries(store, n=2)
    r1 = await store.record_sighting(tg_source(1), signals(1), [match_for(e1)])
    result = await store.review_hits(
        [r1.hits[0].id],
        ReviewStatus.FALSE_POSITIVE,
        actor="kim",
        note="a stock photo",
        withdraw_reason="entry is a stock photo, not the reported image",
    )
    assert result.withdrawn_entries == (e1.id,)
    entries = {e.id: e for e in [e async for e in store.iter_entries("b")]}
    assert entries[e1.id].status is EntryStatus.WITHDRAWN
    assert entries[e2.id].status is EntryStatus.ACTIVE
    [event] = [ev for ev in await store.entry_history(e1.id) if ev.event.value == "withdrawn"]
    assert event.reason == "entry is a stock photo, not the reported image"
    assert event.actor == "kim"
    actions = [a.action for a in await store.audit_entries()]
    assert "entries.withdraw" in actions


async def test_reject_and_suppress_the_media_stops_new_hits_on_that_entry(store: Store) -> None:
    [e1, e2] = await make_entries(store, n=2)
    first = await store.record_sighting(
        tg_source(1, chat_id=-1001), signals(1), [match_for(e1), match_for(e2)]
    )
    # The same file already seen elsewhere, not reviewed yet.
    second = await store.record_sighting(tg_source(2, chat_id=-1002), signals(1), [match_for(e1)])
    on_e1 = next(h for h in first.hits if h.entry_id == e1.id)

    result = await store.review_hits(
        [on_e1.id],
        ReviewStatus.FALSE_POSITIVE,
        actor="kim",
        note="meme",
        suppress_reason="a popular meme, not abuse",
    )
    assert result.suppressed == 1
    assert result.also_rejected == (second.hits[0].id,)
    other = await store.get_hit(second.hits[0].id)
    assert other.review_status is ReviewStatus.FALSE_POSITIVE
    assert [a.details.get("same_media_as") for a in await store.hit_history(other.id)] == [on_e1.id]

    # Seen again in a third channel: no hit on e1 any more, still one on e2.
    third = await store.record_sighting(
        tg_source(3, chat_id=-1003), signals(1), [match_for(e1), match_for(e2)]
    )
    assert [h.entry_id for h in third.new_hits] == [e2.id]
    # Other media still hit e1: the entry is not withdrawn.
    fourth = await store.record_sighting(tg_source(4), signals(4), [match_for(e1)])
    assert [h.entry_id for h in fourth.new_hits] == [e1.id]
    evidence = await store.hit_evidence(on_e1.id)
    assert evidence.suppressed
    assert not (await store.hit_evidence(fourth.hits[0].id)).suppressed
    # Suppressing twice is harmless.
    again = await store.review_hits(
        [on_e1.id], ReviewStatus.FALSE_POSITIVE, actor="kim", suppress_reason="again"
    )
    assert again.suppressed == 0


async def test_hit_evidence_has_everything(store: Store) -> None:
    [e1] = await make_entries(store, n=1)
    seen = T0 + timedelta(minutes=5)
    hit = (
        await store.record_sighting(
            tg_source(10, chat_id=-1001, title="Class 3-2", username="class32"),
            signals(1),
            [match_for(e1, distance=7)],
            seen_at=seen,
        )
    ).hits[0]
    # The same media elsewhere: a channel (with a hit) and a local file (no entry matched).
    elsewhere = await store.record_sighting(
        tg_source(20, chat_id=-1002, title="Uni board", username=None),
        signals(1),
        [match_for(e1)],
        seen_at=seen + timedelta(hours=1),
    )
    await store.record_sighting(file_source("/evidence/x.jpg"), signals(1), [], seen_at=T0)
    await store.record_sighting(tg_source(30, chat_id=-1003), signals(2), [])  # other media
    await store.review_hits([hit.id], ReviewStatus.CONFIRMED, actor="kim", note="ok")
    await store.mark_reported([hit.id], reported_to="Telegram", reference="T-1", actor="park")

    ev = await store.hit_evidence(hit.id)
    assert ev.hit.id == hit.id
    assert ev.hit.distance == 7
    assert ev.threshold == 31
    assert ev.seen_at == seen
    assert ev.media.sha256 == signals(1).sha256
    assert ev.media.md5 == signals(1).md5
    assert ev.media.pdq == signals(1).pdq
    assert ev.media.first_seen_at == seen
    assert ev.entry_status is EntryStatus.ACTIVE
    assert ev.hit.source is not None
    assert ev.hit.source.forward_from_name == "Origin"
    assert [(o.source.chat_id, o.source.path, o.hit_ids) for o in ev.other_sightings] == [
        (-1002, None, (elsewhere.hits[0].id,)),
        (None, "/evidence/x.jpg", ()),
    ]
    assert ev.other_sightings[0].source.chat_title == "Uni board"
    assert [a.action for a in ev.history] == ["hit.review", "takedown.mark"]
    assert [t.reported_to for t in ev.takedowns] == ["Telegram"]
    assert ev.checks == ()
    with pytest.raises(NotFound):
        await store.hit_evidence(12345)


async def test_audit_rows_of_reviews_cannot_be_changed(store: Store) -> None:
    [e1] = await make_entries(store, n=1)
    r1 = await store.record_sighting(tg_source(1), signals(1), [match_for(e1)])
    await store.review_hits([r1.hits[0].id], ReviewStatus.CONFIRMED, actor="kim")
    with pytest.raises(Exception):  # noqa: B017, PT011 - the driver's error type differs
        async with store.engine.begin() as conn:
            await conn.execute(text("UPDATE audit_log SET actor = 'mallory'"))
