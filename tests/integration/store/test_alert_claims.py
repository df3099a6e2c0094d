"""Alert claims: several dispatchers on one store never take (or send) one delivery twice."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

from monitor.alerts import AlertDispatcher
from monitor.config import AlertSettings
from monitor.domain import Hit
from monitor.store import Store
from tests.integration.store.factories import make_entries, match_for, signals, tg_source

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
HOLD = 60.0


async def queue(store: Store, n: int, targets: tuple[str, ...] = ("chat", "webhook")) -> None:
    """``n`` hits, each alerted to ``targets``, all due from T0."""
    entries = await make_entries(store, n=n)
    for i, entry in enumerate(entries):
        await store.record_sighting(
            tg_source(i + 1), signals(i + 1), [match_for(entry)], seen_at=T0, alert_targets=targets
        )


async def open_stores(url: str, n: int) -> list[Store]:
    return [await Store.open(url, auto_upgrade=False) for _ in range(n)]


async def test_concurrent_claims_never_take_a_delivery_twice(store_url: str) -> None:
    stores = await open_stores(store_url, 2)
    try:
        await queue(stores[0], 12)  # 24 deliveries
        taken: Counter[int] = Counter()
        while True:
            rounds = await asyncio.gather(
                *(s.claim_alerts(now=T0, limit=5, hold_seconds=HOLD) for s in stores * 2)
            )
            claimed = [d for batch in rounds for d in batch]
            if not claimed:
                break
            taken.update(d.id for d in claimed)
        assert len(taken) == 24
        assert set(taken.values()) == {1}
    finally:
        for s in stores:
            await s.close()


async def test_a_claim_holds_its_deliveries_until_the_hold_ends(store: Store) -> None:
    await queue(store, 2, targets=("chat",))
    first, second = await store.claim_alerts(now=T0, limit=10, hold_seconds=HOLD)
    until = T0 + timedelta(seconds=HOLD)
    assert first.next_attempt_at == second.next_attempt_at == until
    assert first.id < second.id  # oldest first
    assert first.hit == await store.get_hit(first.hit.id)
    assert (first.status, first.attempts) == ("pending", 0)  # a claim is not an attempt
    almost = until - timedelta(seconds=1)
    assert await store.claim_alerts(now=almost, limit=10, hold_seconds=HOLD) == []
    assert await store.due_alerts(now=almost) == []
    # The claimer died without marking them: due again when the hold ends.
    again = await store.claim_alerts(now=until, limit=10, hold_seconds=HOLD)
    assert [d.id for d in again] == [first.id, second.id]
    assert await store.alert_counts() == {"pending": 2, "sent": 0, "failed": 0}


async def test_marking_a_claimed_delivery_ends_the_claim(store: Store) -> None:
    await queue(store, 2, targets=("chat",))
    first, second = await store.claim_alerts(now=T0, limit=10, hold_seconds=HOLD)
    await store.mark_alert_sent(first.id, at=T0)
    retry_at = T0 + timedelta(seconds=5)  # sooner than the hold: the backoff wins
    await store.mark_alert_failed(second.id, "HTTP 502", next_attempt_at=retry_at)
    assert await store.alert_counts() == {"pending": 1, "sent": 1, "failed": 0}
    [retry] = await store.claim_alerts(now=retry_at, limit=10, hold_seconds=HOLD)
    assert (retry.id, retry.attempts, retry.last_error) == (second.id, 1, "HTTP 502")


async def test_released_deliveries_are_due_again_at_once(store: Store) -> None:
    await queue(store, 2, targets=("chat",))
    first, second = await store.claim_alerts(now=T0, limit=10, hold_seconds=HOLD)
    await store.mark_alert_sent(first.id, at=T0)
    later = T0 + timedelta(seconds=3)
    assert await store.release_alerts([first, second], at=later) == 1  # the sent one stays sent
    [back] = await store.due_alerts(now=later)
    assert (back.id, back.next_attempt_at) == (second.id, later)

    # A claim that ended and was taken anew by another is not released by its first holder.
    old = await store.claim_alerts(now=later, limit=10, hold_seconds=HOLD)
    expired = later + timedelta(seconds=HOLD)
    new = await store.claim_alerts(now=expired, limit=10, hold_seconds=HOLD)
    assert [d.id for d in old] == [d.id for d in new] == [second.id]
    assert await store.release_alerts(old, at=expired) == 0
    assert await store.due_alerts(now=expired) == []


async def test_claims_skip_targets_and_respect_the_limit(store: Store) -> None:
    await queue(store, 3)
    assert await store.claim_alerts(now=T0, limit=0, hold_seconds=HOLD) == []
    webhook = await store.claim_alerts(now=T0, limit=10, hold_seconds=HOLD, skip_targets={"chat"})
    assert [d.target for d in webhook] == ["webhook"] * 3
    chat = await store.claim_alerts(now=T0, limit=2, hold_seconds=HOLD)
    assert [d.target for d in chat] == ["chat"] * 2


class Recorder:
    """A sender that records the hits it was given, shared by every dispatcher."""

    def __init__(self, sent: Counter[int]) -> None:
        self.sent = sent

    async def send_hit(self, hit: Hit) -> None:
        await asyncio.sleep(0)  # let the other dispatchers run in between
        self.sent[hit.id] += 1

    async def send_system(self, event: str, detail: str) -> None:
        pass


async def test_dispatchers_on_one_store_send_each_alert_once(store_url: str) -> None:
    stores = await open_stores(store_url, 3)
    try:
        await queue(stores[0], 10, targets=("webhook",))
        sent: Counter[int] = Counter()
        settings = AlertSettings(webhook_url="https://hooks.example/x")
        dispatchers = [
            AlertDispatcher(s, {"webhook": Recorder(sent)}, settings, jitter=lambda: 0.0)
            for s in stores
        ]
        total = 0
        for _ in range(5):
            total += sum(await asyncio.gather(*(d.run_once(limit=3) for d in dispatchers)))
        assert total == 10
        assert len(sent) == 10
        assert set(sent.values()) == {1}
        assert await stores[0].alert_counts() == {"pending": 0, "sent": 10, "failed": 0}
    finally:
        for s in stores:
            await s.close()
