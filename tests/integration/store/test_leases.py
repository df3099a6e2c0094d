"""Channel leases and daemon heartbeats in the store, on SQLite and PostgreSQL: exclusive takes,
renewal, takeover after expiry with a new epoch, release, and the fence on cursors."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from monitor.errors import InputError
from monitor.store import LeaseLost, LeaseToken, Store

A = "a@host-1:100/aaaaaa"
B = "b@host-2:200/bbbbbb"
CHATS = [-1001000000001, -1001000000002, -1001000000003, -1001000000004]
CHAT = CHATS[0]


def past(store: Store) -> object:
    """A time long gone, as the driver takes it (SQLite: the stored text)."""
    if store.dialect == "sqlite":
        return "2000-01-01 00:00:00.000000"
    return datetime(2000, 1, 1, tzinfo=UTC)


async def expire(store: Store, chat_id: int | None = None) -> None:
    """Make leases expired, as if their holder had stopped renewing long ago."""
    where = "" if chat_id is None else f" WHERE chat_id = {int(chat_id)}"
    async with store.engine.begin() as conn:
        await conn.execute(
            text(f"UPDATE channel_leases SET expires_at = :past{where}"),  # noqa: S608
            {"past": past(store)},
        )


async def expire_daemons(store: Store) -> None:
    async with store.engine.begin() as conn:
        await conn.execute(text("UPDATE daemons SET expires_at = :past"), {"past": past(store)})


async def owners(store: Store) -> dict[int, str | None]:
    return {lease.chat_id: lease.owner for lease in await store.list_leases() if lease.held}


async def test_a_lease_is_exclusive_until_released(store: Store) -> None:
    taken = await store.acquire_leases(A, CHATS[:2], 60)
    assert taken == {CHATS[0]: 1, CHATS[1]: 1}
    assert await store.acquire_leases(B, CHATS[:2], 60) == {}
    assert await store.acquire_leases(B, CHATS, 60) == {CHATS[2]: 1, CHATS[3]: 1}
    assert await owners(store) == {CHATS[0]: A, CHATS[1]: A, CHATS[2]: B, CHATS[3]: B}
    # Taking again what one holds: nothing new (the epoch stays).
    assert await store.acquire_leases(A, CHATS[:1], 60) == {}

    assert await store.release_leases(B, [CHATS[0], CHATS[2]]) == [CHATS[2]]  # not B's: kept
    assert await owners(store) == {CHATS[0]: A, CHATS[1]: A, CHATS[3]: B}
    # Released: free at once, and a new holder is a new epoch.
    assert await store.acquire_leases(A, [CHATS[2]], 60) == {CHATS[2]: 2}
    leases = {lease.chat_id: lease for lease in await store.list_leases()}
    assert leases[CHATS[2]].acquired_at <= leases[CHATS[2]].renewed_at
    assert leases[CHATS[2]].expires_at > leases[CHATS[2]].renewed_at


async def test_limit_takes_in_the_order_given(store: Store) -> None:
    assert await store.acquire_leases(A, CHATS[::-1], 60, limit=2) == {CHATS[3]: 1, CHATS[2]: 1}
    assert await store.acquire_leases(B, CHATS, 60, limit=0) == {}
    # Held ones are skipped, the limit is met from the rest.
    assert await store.acquire_leases(B, CHATS[::-1], 60, limit=1) == {CHATS[1]: 1}


async def test_heartbeat_renews_the_leases_still_held_and_counts_daemons(store: Store) -> None:
    beat = await store.heartbeat(A, session="a", hostname="host-1", pid=100, seconds=60)
    assert beat.leases == {}
    assert beat.live_daemons == 1
    await store.acquire_leases(A, CHATS[:2], 60)
    beat = await store.heartbeat(B, session="b", hostname="host-2", pid=200, seconds=60)
    assert beat.live_daemons == 2
    before = {lease.chat_id: lease.expires_at for lease in await store.list_leases()}
    await asyncio.sleep(0.01)
    beat = await store.heartbeat(A, session="a", hostname="host-1", pid=100, seconds=60)
    assert beat.leases == {CHATS[0]: 1, CHATS[1]: 1}
    after = {lease.chat_id: lease.expires_at for lease in await store.list_leases()}
    assert all(after[c] > before[c] for c in CHATS[:2])
    daemons = {d.owner: d for d in await store.list_daemons()}
    assert set(daemons) == {A, B}
    assert (daemons[A].session, daemons[A].hostname, daemons[A].pid) == ("a", "host-1", 100)
    assert daemons[A].alive
    assert daemons[A].expires_at > daemons[A].renewed_at >= daemons[A].started_at

    # A daemon whose heartbeat expired is not counted, and its row goes.
    await expire_daemons(store)
    beat = await store.heartbeat(B, session="b", hostname="host-2", pid=200, seconds=60)
    assert beat.live_daemons == 1
    assert [d.owner for d in await store.list_daemons()] == [B]


async def test_an_expired_lease_is_taken_over_with_a_new_epoch(store: Store) -> None:
    await store.acquire_leases(A, [CHAT], 60)
    await expire(store, CHAT)
    assert await owners(store) == {}
    assert await store.acquire_leases(B, [CHAT], 60) == {CHAT: 2}
    assert await owners(store) == {CHAT: B}
    # The old holder renews nothing: its lease is gone.
    stale = LeaseToken(CHAT, A, 1)
    assert await store.renew_leases(A, [stale], 60) == {}
    beat = await store.heartbeat(A, session="a", hostname="host-1", pid=100, seconds=60)
    assert beat.leases == {}
    # It can take the channel back only once B's lease has run out too: epoch 3.
    assert await store.acquire_leases(A, [CHAT], 60) == {}
    await expire(store, CHAT)
    assert await store.acquire_leases(A, [CHAT], 60) == {CHAT: 3}


async def test_renew_keeps_the_epoch_also_after_expiry_if_nobody_took_it(store: Store) -> None:
    await store.acquire_leases(A, [CHAT], 60)
    token = LeaseToken(CHAT, A, 1)
    assert await store.renew_leases(A, [token], 60) == {CHAT: 1}
    await expire(store, CHAT)
    assert await store.renew_leases(A, [token], 60) == {CHAT: 1}
    assert await owners(store) == {CHAT: A}
    # Another daemon's token, or an old epoch of one's own, renews nothing.
    assert await store.renew_leases(B, [LeaseToken(CHAT, B, 1)], 60) == {}
    assert await store.renew_leases(A, [LeaseToken(CHAT, A, 0)], 60) == {}


async def test_free_for_takes_only_leases_free_that_long(store: Store) -> None:
    await store.acquire_leases(A, CHATS[:2], 60)
    await store.release_leases(A, CHATS[:2])
    # Released just now, never held just now: not free for an hour.
    assert await store.acquire_leases(B, CHATS, 60, free_for=3600) == {}
    await expire(store, CHATS[1])
    assert await store.acquire_leases(B, CHATS, 60, free_for=3600) == {CHATS[1]: 2}


async def test_retire_daemon_releases_everything_and_forgets_it(store: Store) -> None:
    await store.heartbeat(A, session="a", hostname="host-1", pid=100, seconds=60)
    await store.acquire_leases(A, CHATS[:3], 60)
    await store.acquire_leases(B, CHATS, 60)
    assert await store.retire_daemon(A) == sorted(CHATS[:3])
    assert await owners(store) == {CHATS[3]: B}
    assert await store.list_daemons() == []
    assert await store.acquire_leases(B, CHATS, 60) == {c: 2 for c in CHATS[:3]}


async def test_a_stale_owner_cannot_move_the_cursor(store: Store) -> None:
    await store.acquire_leases(A, [CHAT], 60)
    token_a = LeaseToken(CHAT, A, 1)
    assert await store.advance_cursor(CHAT, 10, lease=token_a) == 10
    await expire(store, CHAT)
    # Expired but not taken: A is still the holder of epoch 1.
    assert await store.advance_cursor(CHAT, 12, lease=token_a) == 12
    (epoch,) = (await store.acquire_leases(B, [CHAT], 60)).values()
    token_b = LeaseToken(CHAT, B, epoch)
    with pytest.raises(LeaseLost, match=r"no longer held by a@host-1"):
        await store.advance_cursor(CHAT, 20, lease=token_a)
    assert await store.get_cursor(CHAT) == 12
    assert await store.advance_cursor(CHAT, 15, lease=token_b) == 15
    # A's old epoch is refused also once B released the channel and A took it again.
    await store.release_leases(B, [CHAT])
    (epoch,) = (await store.acquire_leases(A, [CHAT], 60)).values()
    with pytest.raises(LeaseLost):
        await store.advance_cursor(CHAT, 30, lease=token_a)
    assert await store.advance_cursor(CHAT, 30, lease=LeaseToken(CHAT, A, epoch)) == 30
    with pytest.raises(InputError, match="given for chat"):
        await store.advance_cursor(CHATS[1], 40, lease=LeaseToken(CHAT, A, epoch))


async def test_concurrent_takes_from_two_stores_have_one_winner(store_url: str) -> None:
    first = await Store.open(store_url, auto_upgrade=False)
    second = await Store.open(store_url, auto_upgrade=False)
    try:
        for round_ in range(5):
            chats = [CHAT - 10 * round_ - i for i in range(4)]
            a, b = await asyncio.gather(
                first.acquire_leases(A, chats, 60), second.acquire_leases(B, chats[::-1], 60)
            )
            assert not set(a) & set(b)
            assert set(a) | set(b) == set(chats)
            held = await owners(first)
            assert {c: held[c] for c in chats} == {**dict.fromkeys(a, A), **dict.fromkeys(b, B)}
        # Expired leases: every one taken over by exactly one of two racing daemons.
        await expire(first)
        everything = [lease.chat_id for lease in await first.list_leases()]
        c, d = await asyncio.gather(
            first.acquire_leases("c@h:1/cc", everything, 60),
            second.acquire_leases("d@h:2/dd", everything, 60),
        )
        assert not set(c) & set(d)
        assert set(c) | set(d) == set(everything)
        assert all(epoch == 2 for epoch in [*c.values(), *d.values()])
    finally:
        await first.close()
        await second.close()
