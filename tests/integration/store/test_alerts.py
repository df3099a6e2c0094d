"""Alert deliveries: queued with new hits in the same transaction, then sent, retried, given up."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from monitor.domain import Tier
from monitor.errors import InputError, NotFound
from monitor.logs import register_secret
from monitor.store import Store
from tests.integration.store.factories import make_entries, match_for, signals, tg_source
from tests.integration.store.test_sightings import count

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
TARGETS = ("chat", "webhook")


async def test_alerts_are_queued_once_per_new_hit_and_target(store: Store) -> None:
    e1, e2, e3 = await make_entries(store, n=3)
    matches = [
        match_for(e1, tier=Tier.EXACT, distance=0),
        match_for(e2, tier=Tier.NEAR_EXACT),
        match_for(e3, tier=Tier.MATCH, distance=25),
    ]
    first = await store.record_sighting(
        tg_source(1),
        signals(1),
        matches,
        seen_at=T0,
        alert_targets=TARGETS,
        alert_min_tier=Tier.NEAR_EXACT,
    )
    assert len(first.new_hits) == 3
    due = await store.due_alerts(now=T0)
    # The weak match is recorded but not alerted; the other two, once per target.
    assert sorted((d.hit.entry_id, d.target) for d in due) == sorted(
        (e.id, t) for e in (e1, e2) for t in TARGETS
    )
    assert all(d.status == "pending" and d.attempts == 0 for d in due)
    assert all(d.next_attempt_at == T0 and d.created_at == T0 for d in due)
    delivery = next(d for d in due if d.hit.entry_id == e1.id)
    assert delivery.hit == await store.get_hit(delivery.hit.id)  # the full hit, with its source
    assert delivery.hit.source == tg_source(1)

    # The same sighting again: no new hits, no new alerts.
    again = await store.record_sighting(
        tg_source(1), signals(1), matches, alert_targets=TARGETS, alert_min_tier=Tier.MATCH
    )
    assert again.new_hits == ()
    assert await count(store, "alert_deliveries") == 4
    assert await store.alert_counts() == {"pending": 4, "sent": 0, "failed": 0}


async def test_no_targets_no_alerts_and_default_min_tier_is_match(store: Store) -> None:
    [e1] = await make_entries(store, n=1)
    await store.record_sighting(tg_source(1), signals(1), [match_for(e1, tier=Tier.MATCH)])
    assert await count(store, "alert_deliveries") == 0
    await store.record_sighting(
        tg_source(2), signals(2), [match_for(e1, tier=Tier.MATCH)], alert_targets=["bot"]
    )
    [delivery] = await store.due_alerts()
    assert delivery.target == "bot"
    assert delivery.hit.tier == Tier.MATCH


async def test_unknown_target_is_refused_before_anything_is_written(store: Store) -> None:
    [e1] = await make_entries(store, n=1)
    with pytest.raises(InputError, match="'email'"):
        await store.record_sighting(
            tg_source(1), signals(1), [match_for(e1)], alert_targets=["chat", "email"]
        )
    assert await count(store, "sightings") == 0


async def test_concurrent_records_queue_each_alert_once(store_url: str) -> None:
    stores = [await Store.open(store_url, auto_upgrade=False) for _ in range(2)]
    try:
        entries = await make_entries(stores[0], n=3)
        matches = [match_for(e) for e in entries]
        await asyncio.gather(
            *(
                s.record_sighting(tg_source(5), signals(5), matches, alert_targets=TARGETS)
                for s in stores * 3
            )
        )
        assert await count(stores[0], "alert_deliveries") == 6
        due = await stores[0].due_alerts()
        assert len({(d.hit.id, d.target) for d in due}) == 6
    finally:
        for s in stores:
            await s.close()


async def test_due_sent_failed_transitions(store: Store) -> None:
    e1, e2 = await make_entries(store, n=2)
    await store.record_sighting(
        tg_source(1), signals(1), [match_for(e1)], seen_at=T0, alert_targets=["chat"]
    )
    await store.record_sighting(
        tg_source(2),
        signals(2),
        [match_for(e2)],
        seen_at=T0 + timedelta(minutes=1),
        alert_targets=["chat"],
    )
    assert await store.due_alerts(now=T0 - timedelta(seconds=1)) == []
    first, second = await store.due_alerts(now=T0 + timedelta(hours=1))  # oldest first
    assert first.hit.entry_id == e1.id
    assert [d.id for d in await store.due_alerts(now=T0 + timedelta(hours=1), limit=1)] == [
        first.id
    ]

    sent_at = T0 + timedelta(minutes=2)
    await store.mark_alert_sent(first.id, at=sent_at)
    retry_at = T0 + timedelta(minutes=10)
    await store.mark_alert_failed(second.id, "HTTP 502", next_attempt_at=retry_at)
    assert await store.due_alerts(now=T0 + timedelta(minutes=9)) == []
    [retry] = await store.due_alerts(now=retry_at)
    assert (retry.id, retry.attempts, retry.last_error, retry.next_attempt_at) == (
        second.id,
        1,
        "HTTP 502",
        retry_at,
    )
    await store.mark_alert_failed(second.id, "HTTP 403: forbidden", next_attempt_at=None)
    assert await store.due_alerts(now=T0 + timedelta(days=365)) == []
    assert await store.alert_counts() == {"pending": 0, "sent": 1, "failed": 1}
    async with store.engine.connect() as conn:
        rows = {
            r.id: r
            for r in await conn.execute(
                text("SELECT id, status, attempts, last_error, sent_at FROM alert_deliveries")
            )
        }
    assert (rows[first.id].status, rows[first.id].attempts) == ("sent", 1)
    assert (rows[second.id].status, rows[second.id].attempts) == ("failed", 2)
    assert rows[second.id].last_error == "HTTP 403: forbidden"

    # Settled deliveries stay settled; unknown ids are NotFound.
    await store.mark_alert_failed(first.id, "late error", next_attempt_at=None)
    await store.mark_alert_sent(second.id)
    assert await store.alert_counts() == {"pending": 0, "sent": 1, "failed": 1}
    with pytest.raises(NotFound, match="no alert delivery with id 999999"):
        await store.mark_alert_sent(999_999)
    with pytest.raises(NotFound):
        await store.mark_alert_failed(999_999, "x", next_attempt_at=None)


async def test_failure_messages_are_redacted_and_shortened(store: Store) -> None:
    [e1] = await make_entries(store, n=1)
    await store.record_sighting(tg_source(1), signals(1), [match_for(e1)], alert_targets=["bot"])
    [delivery] = await store.due_alerts()
    register_secret("123456:SECRET-BOT-TOKEN")
    await store.mark_alert_failed(
        delivery.id,
        "POST https://api.telegram.org/bot123456:SECRET-BOT-TOKEN/sendMessage: " + "x" * 5000,
        next_attempt_at=T0,
    )
    [delivery] = await store.due_alerts()
    assert delivery.last_error is not None
    assert "SECRET-BOT-TOKEN" not in delivery.last_error
    assert len(delivery.last_error) <= 2000


async def test_deleting_a_hit_deletes_its_deliveries(store: Store) -> None:
    [e1] = await make_entries(store, n=1)
    result = await store.record_sighting(
        tg_source(1), signals(1), [match_for(e1)], alert_targets=["chat"]
    )
    async with store.engine.begin() as conn:
        await conn.execute(text("DELETE FROM hits WHERE id = :id"), {"id": result.hits[0].id})
    assert await count(store, "alert_deliveries") == 0
