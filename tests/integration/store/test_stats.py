"""Aggregates for `monitor stats` and reports, against hand-computed expectations.

Every test runs on SQLite and PostgreSQL; per-day buckets are UTC days on both, also when the
PostgreSQL session runs in another time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import create_async_engine

from monitor.domain import (
    ChannelState,
    Count,
    Entry,
    Hit,
    HitFilter,
    MediaKind,
    RemovalStats,
    RemovalStatus,
    ReviewStatus,
    SightingSource,
    Tier,
)
from monitor.errors import InputError
from monitor.store import Store
from monitor.store.models import HitRow, TakedownRow
from monitor.store.stats import (
    NO_CHANNEL,
    ChannelHits,
    FloodWaitMethod,
    FloodWaitStats,
    channel_label,
)
from monitor.telegram.refs import parse_ref
from tests.integration.store.factories import (
    file_source,
    make_entries,
    match_for,
    signals,
    tg_source,
)

ALPHA = -1001000000001
BETA = -1001000000002
GAMMA = -1001000000003
ALPHA_LABEL = f"Alpha (@alpha_chan) [{ALPHA}]"
BETA_LABEL = f"Beta [{BETA}]"

MIDNIGHT = datetime(2024, 6, 2, 0, 0, tzinfo=UTC)
JUST_BEFORE = MIDNIGHT - timedelta(microseconds=1)  # 2024-06-01 23:59:59.999999 UTC


def alpha(message_id: int, media_id: int = 1) -> SightingSource:
    return tg_source(
        message_id, chat_id=ALPHA, media_id=media_id, title="Alpha", username="alpha_chan"
    )


def beta(message_id: int, media_id: int = 1) -> SightingSource:
    return tg_source(message_id, chat_id=BETA, media_id=media_id, title="Beta", username=None)


def gamma(message_id: int, media_id: int = 1) -> SightingSource:
    return tg_source(message_id, chat_id=GAMMA, media_id=media_id, title=None, username=None)


async def set_review(store: Store, hit: Hit, status: ReviewStatus) -> None:
    """Until ``review_hits`` lands: the review status written directly."""
    async with store.engine.begin() as conn:
        await conn.execute(
            update(HitRow).where(HitRow.id == hit.id).values(review_status=status.value)
        )


async def add_takedown(
    store: Store,
    hit: Hit,
    reported_to: str,
    reported_at: datetime,
    status: RemovalStatus = RemovalStatus.UNCHECKED,
    removed_at: datetime | None = None,
) -> None:
    """A takedown row written directly (``mark_reported``/``record_checks`` are not needed)."""
    async with store.engine.begin() as conn:
        await conn.execute(
            insert(TakedownRow).values(
                hit_id=hit.id,
                sighting_id=hit.sighting_id,
                reported_to=reported_to,
                reference=None,
                reported_by="tester",
                reported_at=reported_at,
                status=status.value,
                last_checked_at=removed_at,
                last_outcome="deleted" if status is RemovalStatus.REMOVED else None,
                removed_at=removed_at,
            )
        )


@dataclass
class World:
    """Hits in two channels and a file, around midnight UTC of 2024-06-01/02.

    h1  Alpha #1, media 1, bank b entry 0, near-exact, 2024-06-01 23:59:59.999999   new
    h2  Alpha #2, media 2, bank b entry 1, match,      2024-06-02 00:00:00          confirmed
    h3b Beta #1,  media 1, bank b entry 0, near-exact, 2024-06-02 12:00             new
    h3c Beta #1,  media 1, bank c entry 0, exact,      2024-06-02 12:00             false_positive
    h4  a file,   media 3, bank b entry 2, near-exact, 2024-06-03 05:00             new
    """

    b: list[Entry]
    c: list[Entry]
    h1: Hit
    h2: Hit
    h3b: Hit
    h3c: Hit
    h4: Hit


async def world(store: Store) -> World:
    b = await make_entries(store, "b", 3)
    c = await make_entries(store, "c", 1, start=10)

    async def one(source: SightingSource, seed: int, matches: list[Any], at: datetime) -> Any:
        return await store.record_sighting(source, signals(seed), matches, seen_at=at)

    [h1] = (await one(alpha(1), 1, [match_for(b[0])], JUST_BEFORE)).hits
    [h2] = (await one(alpha(2, 2), 2, [match_for(b[1], tier=Tier.MATCH)], MIDNIGHT)).hits
    r3 = await one(
        beta(1),
        1,
        [match_for(b[0]), match_for(c[0], tier=Tier.EXACT, distance=0)],
        MIDNIGHT + timedelta(hours=12),
    )
    h3b, h3c = sorted(r3.hits, key=lambda h: h.bank)
    [h4] = (
        await one(
            file_source("/x/a.jpg"), 3, [match_for(b[2])], datetime(2024, 6, 3, 5, tzinfo=UTC)
        )
    ).hits
    await set_review(store, h2, ReviewStatus.CONFIRMED)
    await set_review(store, h3c, ReviewStatus.FALSE_POSITIVE)
    return World(b, c, h1, h2, h3b, h3c, h4)


# --- hits -------------------------------------------------------------------------------------


async def test_hits_per_day_are_utc_days_around_midnight(store: Store) -> None:
    await world(store)
    assert await store.hits_by("day") == [
        Count("2024-06-01", 1),
        Count("2024-06-02", 3),
        Count("2024-06-03", 1),
    ]


async def test_hits_per_day_ignore_the_postgresql_session_time_zone(
    store: Store, backend: str
) -> None:
    await world(store)
    expected = await store.hits_by("day")
    if backend != "postgresql":
        pytest.skip("only PostgreSQL has a session time zone")
    url = store.engine.url.render_as_string(hide_password=False)
    for zone in ("Pacific/Kiritimati", "America/Los_Angeles"):  # UTC+14, UTC-7 in June
        engine = create_async_engine(url, connect_args={"server_settings": {"timezone": zone}})
        shifted = Store(engine, owns_engine=True)
        try:
            assert (
                await shifted.hits_by(
                    "day",
                )
                == expected
            )
            # The period bounds too are instants, not wall times of the session.
            assert await shifted.hits_by("day", since=MIDNIGHT, until=MIDNIGHT + timedelta(1)) == [
                Count("2024-06-02", 3)
            ]
        finally:
            await shifted.close()


async def test_hits_by_status_tier_bank_channel(store: Store) -> None:
    await world(store)
    assert await store.hits_by("status") == [
        Count("new", 3),
        Count("confirmed", 1),
        Count("false_positive", 1),
        Count("needs_info", 0),
    ]
    assert await store.hits_by("tier") == [
        Count("exact", 1),
        Count("near-exact", 3),
        Count("match", 1),
    ]
    assert await store.hits_by("bank") == [Count("b", 4), Count("c", 1)]
    assert await store.hits_by("channel") == [
        Count(ALPHA_LABEL, 2),
        Count(BETA_LABEL, 2),
        Count(NO_CHANNEL, 1),
    ]


async def test_the_period_is_since_inclusive_until_exclusive(store: Store) -> None:
    await world(store)
    period = {"since": MIDNIGHT, "until": datetime(2024, 6, 3, 5, tzinfo=UTC)}
    assert await store.hits_by("day", **period) == [Count("2024-06-02", 3)]
    assert await store.hits_by("status", **period) == [
        Count("new", 1),
        Count("confirmed", 1),
        Count("false_positive", 1),
        Count("needs_info", 0),
    ]
    assert await store.hits_by("bank", **period) == [Count("b", 2), Count("c", 1)]
    assert await store.hits_by("channel", **period) == [Count(BETA_LABEL, 2), Count(ALPHA_LABEL, 1)]
    # Just one microsecond earlier takes the hit before midnight in.
    assert await store.hits_by("day", since=JUST_BEFORE, until=MIDNIGHT) == [Count("2024-06-01", 1)]
    assert await store.hits_by("day", until=JUST_BEFORE) == []


async def test_hit_counts_take_the_hit_filter(store: Store) -> None:
    await world(store)
    assert await store.hits_by("day", HitFilter(statuses=(ReviewStatus.NEW,))) == [
        Count("2024-06-01", 1),
        Count("2024-06-02", 1),
        Count("2024-06-03", 1),
    ]
    assert await store.hits_by("channel", HitFilter(banks=("c",))) == [Count(BETA_LABEL, 1)]
    assert await store.hits_by("bank", HitFilter(channels=(ALPHA,))) == [Count("b", 2)]
    assert await store.hits_by("tier", HitFilter(channels=(BETA,), banks=("b",))) == [
        Count("exact", 0),
        Count("near-exact", 1),
        Count("match", 0),
    ]
    # since/until replace the filter's period.
    where = HitFilter(since=JUST_BEFORE, until=MIDNIGHT)
    assert await store.hits_by("status", where, until=MIDNIGHT + timedelta(1)) == [
        Count("new", 2),
        Count("confirmed", 1),
        Count("false_positive", 1),
        Count("needs_info", 0),
    ]
    assert await store.top_channels(HitFilter(statuses=(ReviewStatus.CONFIRMED,))) == [
        ChannelHits(ALPHA, "Alpha", "alpha_chan", ALPHA_LABEL, 1, 1, MIDNIGHT)
    ]


async def test_top_channels_with_confirmed_and_last_hit(store: Store) -> None:
    w = await world(store)
    top = await store.top_channels()
    # Two hits each: the channel with the later last hit first.
    assert top == [
        ChannelHits(BETA, "Beta", None, BETA_LABEL, 2, 0, w.h3b.created_at),
        ChannelHits(ALPHA, "Alpha", "alpha_chan", ALPHA_LABEL, 2, 1, MIDNIGHT),
    ]
    assert [c.chat_id for c in await store.top_channels(limit=1)] == [BETA]
    assert await store.top_channels(until=MIDNIGHT) == [
        ChannelHits(ALPHA, "Alpha", "alpha_chan", ALPHA_LABEL, 1, 0, JUST_BEFORE)
    ]


def test_channel_label() -> None:
    assert channel_label(None, "x", "y") == NO_CHANNEL
    assert channel_label(-100, "T", "u") == "T (@u) [-100]"
    assert channel_label(-100, None, "u") == "@u [-100]"
    assert channel_label(-100, "T", None) == "T [-100]"
    assert channel_label(-100, None, None) == "-100"


# --- media in several channels ------------------------------------------------------------------


async def test_media_in_several_channels(store: Store) -> None:
    await world(store)  # media 1: Alpha #1 and Beta #1, three hits
    t = datetime(2024, 6, 5, tzinfo=UTC)
    # Media 7 in three channels (twice in Gamma), no hits; and as a file (not a channel).
    await store.record_sighting(gamma(5, 7), signals(7), [], seen_at=t)
    await store.record_sighting(gamma(6, 7), signals(7), [], seen_at=t + timedelta(hours=1))
    await store.record_sighting(alpha(9, 7), signals(7), [], seen_at=t + timedelta(hours=2))
    await store.record_sighting(beta(9, 7), signals(7), [], seen_at=t + timedelta(hours=3))
    await store.record_sighting(file_source("/y/7.jpg"), signals(7), [], seen_at=t)
    # Media 2 twice, but in one channel only: left out.
    await store.record_sighting(alpha(10, 2), signals(2), [], seen_at=t)

    seven, one = await store.media_in_several_channels()
    assert (seven.sha256, seven.kind, seven.channels, seven.sightings) == (
        signals(7).sha256,
        MediaKind.PHOTO,
        3,
        4,
    )
    assert (seven.hits, seven.has_hits) == (0, False)
    assert (seven.first_seen_at, seven.last_seen_at) == (t, t + timedelta(hours=3))
    assert (one.sha256, one.channels, one.sightings, one.hits, one.has_hits) == (
        signals(1).sha256,
        2,
        2,
        3,
        True,
    )
    assert (one.first_seen_at, one.last_seen_at) == (JUST_BEFORE, MIDNIGHT + timedelta(hours=12))

    assert [m.sha256 for m in await store.media_in_several_channels(limit=1)] == [seven.sha256]
    # In the period from t + 1h: Gamma #6, Alpha #9, Beta #9.
    [late] = await store.media_in_several_channels(since=t + timedelta(hours=1))
    assert (late.channels, late.sightings, late.first_seen_at) == (3, 3, t + timedelta(hours=1))
    assert await store.media_in_several_channels(since=t + timedelta(hours=3)) == []
    assert [m.channels for m in await store.media_in_several_channels(min_channels=3)] == [3]


# --- coverage and flood waits -------------------------------------------------------------------


async def test_coverage_of_the_allow_list(store: Store) -> None:
    now = datetime(2024, 6, 10, 12, 0, tzinfo=UTC)
    a, _ = await store.add_watched_channel(parse_ref("@alpha_chan"), origin="cli", actor="t")
    await store.set_channel_state(
        a.id, ChannelState.ACTIVE, telegram_id=ALPHA, username="alpha_chan", title="Alpha"
    )
    await store.advance_cursor(ALPHA, 812, last_message_at=now - timedelta(hours=1))
    await store.mark_reconciled(ALPHA, at=now - timedelta(minutes=3))
    b, _ = await store.add_watched_channel(parse_ref(str(BETA)), origin="config", actor="t")
    await store.set_channel_state(b.id, ChannelState.ACTIVE, telegram_id=BETA, title="Beta")
    await store.add_watched_channel(
        parse_ref("https://t.me/+AbCdEfGh1234"), origin="cli", actor="t"
    )
    gone, _ = await store.add_watched_channel(parse_ref("@gone_chan"), origin="cli", actor="t")
    await store.set_channel_state(gone.id, ChannelState.GONE)
    await store.remove_watched_channel("@gone_chan", actor="t")  # disabled: not counted

    coverage = await store.coverage(now=now)
    assert coverage.by_state == (Count("pending", 1), Count("active", 2))
    assert coverage.watched == 3
    first, second, third = coverage.channels
    assert (first.ref, first.chat_id, first.title, first.username, first.state) == (
        "@alpha_chan",
        ALPHA,
        "Alpha",
        "alpha_chan",
        ChannelState.ACTIVE,
    )
    assert (first.cursor, first.last_message_at, first.last_reconciled_at) == (
        812,
        now - timedelta(hours=1),
        now - timedelta(minutes=3),
    )
    assert first.reconcile_lag_seconds == 180.0
    assert (second.chat_id, second.state, second.cursor) == (BETA, ChannelState.ACTIVE, 0)
    assert (second.last_reconciled_at, second.reconcile_lag_seconds) == (None, None)
    assert (third.ref, third.chat_id, third.state) == (
        "https://t.me/+AbCdEfGh1234",
        None,
        ChannelState.PENDING,
    )


async def test_flood_waits_in_the_period_per_method(store: Store) -> None:
    t = datetime(2024, 6, 1, tzinfo=UTC)
    await store.record_flood_wait("main", "GetHistoryRequest", 30, chat_id=ALPHA, at=t)
    await store.record_flood_wait("main", "GetHistoryRequest", 10, at=t + timedelta(hours=1))
    await store.record_flood_wait("main", "ResolveUsernameRequest", 100, at=t + timedelta(hours=2))
    await store.record_flood_wait("main", "GetHistoryRequest", 999, at=t + timedelta(days=1))
    assert await store.flood_wait_stats(until=t + timedelta(days=1)) == FloodWaitStats(
        count=3,
        total_seconds=140,
        longest_seconds=100,
        by_method=(
            FloodWaitMethod("ResolveUsernameRequest", 1, 100, 100),
            FloodWaitMethod("GetHistoryRequest", 2, 40, 30),
        ),
    )
    assert await store.flood_wait_stats(since=t + timedelta(days=2)) == FloodWaitStats(0, 0, 0, ())


# --- takedowns ----------------------------------------------------------------------------------

R0 = datetime(2024, 6, 10, tzinfo=UTC)


async def takedowns(store: Store) -> World:
    """Four reported messages.

    Alpha #1 (h1): telegram at R0, removed at R0+2h; ncmec at R0+1h, unchecked.
    Alpha #2 (h2): telegram at R0, still up.
    Beta #1 (h3c, bank c): telegram at R0+1d, removed 6 h later.
    Beta #1 (h3b, bank b): ncmec at R0+1d, removed 10 h later (its own check).
    Beta #3: telegram at R0+2d, inaccessible.
    """
    w = await world(store)
    removed, up = RemovalStatus.REMOVED, RemovalStatus.UP
    await add_takedown(store, w.h1, "telegram", R0, removed, R0 + timedelta(hours=2))
    await add_takedown(store, w.h1, "ncmec", R0 + timedelta(hours=1))
    await add_takedown(store, w.h2, "telegram", R0, up)
    day = R0 + timedelta(days=1)
    await add_takedown(store, w.h3c, "telegram", day, removed, day + timedelta(hours=6))
    await add_takedown(store, w.h3b, "ncmec", day, removed, day + timedelta(hours=10))
    [h5] = (
        await store.record_sighting(
            beta(3, 5), signals(5), [match_for(w.b[1])], seen_at=MIDNIGHT + timedelta(days=3)
        )
    ).hits
    await add_takedown(store, h5, "telegram", R0 + timedelta(days=2), RemovalStatus.INACCESSIBLE)
    return w


def removal(
    key: str,
    reported: int,
    removed: int,
    inacc: int,
    up: int,
    unchecked: int,
    median: float | None,
    longest: float | None,
) -> RemovalStats:
    return RemovalStats(key, reported, removed, inacc, up, unchecked, median, longest)


async def test_removal_total_counts_each_message_once(store: Store) -> None:
    await takedowns(store)
    # Alpha #1 went to two recipients: one message, removed (its earliest removal, 2 h).
    # Beta #1 likewise: removed 6 h after its first report (the earlier of 6 h and 10 h).
    total = await store.removal_total()
    assert total == removal("total", 4, 2, 1, 1, 0, 4.0, 6.0)
    assert total.removal_rate == 0.5


async def test_removal_stats_per_channel_and_per_recipient(store: Store) -> None:
    await takedowns(store)
    assert await store.removal_stats(group_by="channel") == [
        removal(ALPHA_LABEL, 2, 1, 0, 1, 0, 2.0, 2.0),
        removal(BETA_LABEL, 2, 1, 1, 0, 0, 6.0, 6.0),
    ]
    # Per recipient, every takedown is its own: telegram removed 2 of 4 (2 h and 6 h).
    assert await store.removal_stats(group_by="recipient") == [
        removal("telegram", 4, 2, 1, 1, 0, 4.0, 6.0),
        removal("ncmec", 2, 1, 0, 0, 1, 10.0, 10.0),
    ]
    with pytest.raises(InputError, match="group"):
        await store.removal_stats(group_by="bank")  # type: ignore[arg-type]


async def test_removal_stats_filters(store: Store) -> None:
    await takedowns(store)
    # The period is on reported_at: from R0 + 1 day, Beta #1 and Beta #3.
    since = R0 + timedelta(days=1)
    assert await store.removal_total(since=since) == removal("total", 2, 1, 1, 0, 0, 6.0, 6.0)
    # Until R0 + 1h (exclusive): Alpha #1 (telegram only) and Alpha #2.
    assert await store.removal_stats(group_by="recipient", until=R0 + timedelta(hours=1)) == [
        removal("telegram", 2, 1, 0, 1, 0, 2.0, 2.0)
    ]
    assert await store.removal_total(channel=ALPHA) == removal("total", 2, 1, 0, 1, 0, 2.0, 2.0)
    assert await store.removal_stats(group_by="channel", channel=BETA) == [
        removal(BETA_LABEL, 2, 1, 1, 0, 0, 6.0, 6.0)
    ]
    # Bank c: only the takedown made for hit h3c (to telegram).
    assert await store.removal_total(bank="c") == removal("total", 1, 1, 0, 0, 0, 6.0, 6.0)
    # Bank b: Beta #1 through ncmec only (10 h), and the rest.
    assert await store.removal_stats(group_by="channel", bank="b") == [
        removal(ALPHA_LABEL, 2, 1, 0, 1, 0, 2.0, 2.0),
        removal(BETA_LABEL, 2, 1, 1, 0, 0, 10.0, 10.0),
    ]
    assert await store.removal_total(bank="nope") == removal("total", 0, 0, 0, 0, 0, None, None)


async def test_median_of_an_odd_number_of_removals(store: Store) -> None:
    w = await world(store)
    for hit, hours in ((w.h1, 1), (w.h2, 5), (w.h3b, 30)):
        await add_takedown(
            store, hit, "telegram", R0, RemovalStatus.REMOVED, R0 + timedelta(hours=hours)
        )
    assert await store.removal_total() == removal("total", 3, 3, 0, 0, 0, 5.0, 30.0)


# --- everything at once -----------------------------------------------------------------------


async def test_stats_puts_everything_together(store: Store) -> None:
    await takedowns(store)
    await store.record_flood_wait("main", "GetHistoryRequest", 30, at=MIDNIGHT)
    now = datetime(2024, 6, 20, tzinfo=UTC)
    stats = await store.stats(top=1, now=now)
    assert (stats.generated_at, stats.since, stats.until) == (now, None, None)
    assert stats.total_hits == 6
    assert stats.by_status == tuple(await store.hits_by("status"))
    assert stats.by_tier == tuple(await store.hits_by("tier"))
    assert stats.by_bank == tuple(await store.hits_by("bank"))
    assert stats.by_day == tuple(await store.hits_by("day"))
    assert stats.by_channel == tuple(await store.hits_by("channel"))
    assert stats.top_channels == tuple(await store.top_channels(limit=1))
    assert stats.shared_media == tuple(await store.media_in_several_channels(limit=1))
    assert stats.coverage == await store.coverage(now=now)
    assert stats.flood_waits.count == 1
    assert stats.removal_total == await store.removal_total()
    assert stats.removal_by_channel == tuple(await store.removal_stats(group_by="channel"))
    assert stats.removal_by_recipient == tuple(await store.removal_stats(group_by="recipient"))

    period = await store.stats(since=MIDNIGHT, until=MIDNIGHT + timedelta(days=1))
    assert period.total_hits == 3
    assert period.by_day == (Count("2024-06-02", 3),)
    assert period.removal_total.reported == 0  # every report came later
    with pytest.raises(InputError):
        await store.stats(top=0)


async def test_stats_of_an_empty_database(store: Store) -> None:
    stats = await store.stats()
    assert stats.total_hits == 0
    assert [c.count for c in stats.by_status] == [0, 0, 0, 0]
    assert [c.count for c in stats.by_tier] == [0, 0, 0]
    assert stats.by_bank == stats.by_day == stats.by_channel == ()
    assert stats.top_channels == stats.shared_media == ()
    assert stats.coverage.by_state == stats.coverage.channels == ()
    assert stats.flood_waits == FloodWaitStats(0, 0, 0, ())
    assert stats.removal_total == removal("total", 0, 0, 0, 0, 0, None, None)
    assert stats.removal_total.removal_rate is None
    assert stats.removal_by_channel == stats.removal_by_recipient == ()
