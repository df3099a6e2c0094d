"""Options shared by the commands that select hits (hits list, report, stats, takedown list)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

import typer

from monitor.domain import HitFilter, MatchKind, ReviewStatus, Tier
from monitor.errors import InputError
from monitor.runtime import current_actor
from monitor.store import Store

# Who is acting, when --by is not given (shared terminals: set it per person).
USER_ENV = "MONITOR_USER"


def parse_when(value: str | None, option: str, *, end: bool = False) -> datetime | None:
    """ISO 8601 date or date-time; a bare date means the start (or, with ``end``, the end) of it.

    A time without a zone is UTC, so that the same command gives the same rows everywhere.
    """
    if value is None:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day, time.max if end else time.min, tzinfo=UTC)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            "expected a date (2024-08-26) or date-time (2024-08-26T09:30+09:00)", param_hint=option
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def period(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    """``--since``/``--until`` as [since, until): a bare ``--until`` date includes that day."""
    start = parse_when(since, "--since")
    end = parse_when(until, "--until")
    if end is not None and until is not None and len(until) == 10:
        end += timedelta(days=1)  # the whole day
    if start is not None and end is not None and end <= start:
        raise InputError("--until must be after --since")
    return start, end


def actor(by: str | None) -> str:
    """The person acting: ``--by``, else $MONITOR_USER, else the login name."""
    name = (by or os.environ.get(USER_ENV) or current_actor()).strip()
    if not name:
        raise InputError(f"say who is acting with --by NAME (or set ${USER_ENV})")
    return name


async def chat_ids(store: Store, refs: Sequence[str]) -> tuple[int, ...]:
    """The chat ids the ``--channel`` values name (ids, @names, links, titles)."""
    found: list[int] = []
    for ref in refs:
        found += await store.chat_ids_for(ref)
    return tuple(dict.fromkeys(found))


async def hit_filter(
    store: Store,
    *,
    statuses: Sequence[ReviewStatus] = (),
    banks: Sequence[str] = (),
    channels: Sequence[str] = (),
    tiers: Sequence[Tier] = (),
    kinds: Sequence[MatchKind] = (),
    case_id: str | None = None,
    since: str | None = None,
    until: str | None = None,
    min_distance: int | None = None,
    max_distance: int | None = None,
    reported: bool | None = None,
) -> HitFilter:
    start, end = period(since, until)
    if min_distance is not None and max_distance is not None and max_distance < min_distance:
        raise InputError("--max-distance is below --min-distance")
    return HitFilter(
        statuses=tuple(dict.fromkeys(statuses)),
        banks=tuple(dict.fromkeys(banks)),
        channels=await chat_ids(store, channels),
        tiers=tuple(dict.fromkeys(tiers)),
        kinds=tuple(dict.fromkeys(kinds)),
        case_id=case_id,
        since=start,
        until=end,
        min_distance=min_distance,
        max_distance=max_distance,
        reported=reported,
    )
