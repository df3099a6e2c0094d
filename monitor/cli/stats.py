"""`monitor stats`: what was found, where, how the monitoring stands, how takedowns fare."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import typer
from rich.console import Console

from monitor.cli.channels import _when as when
from monitor.cli.filters import period
from monitor.cli.output import format_time, print_json_line, table
from monitor.cli.state import run, state_of
from monitor.config import Settings
from monitor.domain import Count, RemovalStats
from monitor.runtime import open_store
from monitor.store.stats import NO_CHANNEL, Stats

BAR_WIDTH = 40
HASH_SHOWN = 16  # hex digits of a SHA-256 in tables (all 64 in --json)
REMOVAL_COLUMNS = (
    "reported",
    "removed",
    "rate",
    "median to removal",
    "max",
    "inaccessible",
    "up",
    "unchecked",
)


def stats(
    ctx: typer.Context,
    since: str | None = typer.Option(
        None, "--since", help="Hits recorded at or after (date or ISO date-time; UTC if no zone)."
    ),
    until: str | None = typer.Option(
        None, "--until", help="Hits recorded before (a bare date includes that day)."
    ),
    top: int = typer.Option(
        10, "--top", min=1, help="Channels, media and days shown (the last N days)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Everything as one JSON object."),
) -> None:
    """Hits per status, tier, bank, day and channel; media seen in several channels; the
    allow-list's coverage and flood waits; takedown removal rates and times.

    The period applies to when hits were recorded, media seen, flood waits imposed and
    messages reported.
    """
    state = state_of(ctx)
    start, end = period(since, until)
    result = run(_stats(state.settings, start, end, top))
    if as_json:
        print_json_line(result)
        return
    render(state.out, result, state.settings.reports.timezone, top)


async def _stats(
    settings: Settings, since: datetime | None, until: datetime | None, top: int
) -> Stats:
    async with open_store(settings) as store:
        return await store.stats(since=since, until=until, top=top)


# --- rendering ------------------------------------------------------------------------------


def render(out: Console, s: Stats, tz: str, top: int) -> None:
    def say(text: str) -> None:
        out.print(text, markup=False, highlight=False)

    say(f"Period: {_period(s, tz)}")
    if s.total_hits == 0:
        say("No hits in this period." if s.since or s.until else "No hits yet.")
        out.print()
    else:
        say(f"Hits: {s.total_hits} in {_count_channels(s)}")
        out.print()
        _counts(out, "Hits per review status", "status", s.by_status)
        _counts(out, "Hits per tier", "tier", s.by_tier)
        _counts(out, "Hits per bank", "bank", s.by_bank)
        _days(out, s.by_day, top)
        _top_channels(out, s, tz)
    _shared_media(out, s, tz)
    _coverage(out, s, tz)
    _flood_waits(out, s)
    _takedowns(out, s)


def _period(s: Stats, tz: str) -> str:
    if s.since is None and s.until is None:
        return "everything recorded"
    start = format_time(s.since, tz) if s.since else "the beginning"
    end = format_time(s.until, tz) if s.until else "now"
    return f"{start} to {end} (end excluded)"


def _count_channels(s: Stats) -> str:
    channels = sum(1 for c in s.by_channel if c.key != NO_CHANNEL)
    files = sum(c.count for c in s.by_channel if c.key == NO_CHANNEL)
    text = f"{channels} channel{'' if channels == 1 else 's'}"
    return text + (f" (and {files} not in a channel)" if files else "")


def _counts(out: Console, title: str, column: str, counts: tuple[Count, ...]) -> None:
    if not counts:
        return
    total = sum(c.count for c in counts) or 1
    table(
        out,
        title,
        [column, "hits", "share"],
        [[c.key, c.count, f"{c.count / total:.0%}"] for c in counts],
    )
    out.print()


def _days(out: Console, by_day: tuple[Count, ...], days: int) -> None:
    """The last ``days`` days up to the last day with hits, days without hits included."""
    if not by_day:
        return
    counts = {c.key: c.count for c in by_day}
    last = date.fromisoformat(by_day[-1].key)
    first = max(date.fromisoformat(by_day[0].key), last - timedelta(days=days - 1))
    shown = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    peak = max(counts.get(d.isoformat(), 0) for d in shown) or 1
    rows = []
    for day in shown:
        n = counts.get(day.isoformat(), 0)
        bar = "█" * max(1 if n else 0, round(n / peak * BAR_WIDTH))
        rows.append([day.isoformat(), n, bar])
    earlier = sum(n for key, n in counts.items() if key < first.isoformat())
    title = f"Hits per day (UTC), last {len(shown)} day{'' if len(shown) == 1 else 's'}"
    if earlier:
        title += f"; {earlier} earlier"
    table(out, title, ["day", "hits", ""], rows)
    out.print()


def _top_channels(out: Console, s: Stats, tz: str) -> None:
    if not s.top_channels:
        return
    table(
        out,
        "Top channels by hits",
        ["channel", "hits", "confirmed", "last hit"],
        [[c.label, c.hits, c.confirmed, when(c.last_hit_at, tz)] for c in s.top_channels],
        wrap=("channel",),
    )
    out.print()


def _shared_media(out: Console, s: Stats, tz: str) -> None:
    if not s.shared_media:
        return
    table(
        out,
        "Media seen in several channels",
        ["sha256 (start)", "kind", "channels", "sightings", "hits", "first seen", "last seen"],
        [
            [
                m.sha256[:HASH_SHOWN] + "…",
                m.kind.value,
                m.channels,
                m.sightings,
                m.hits if m.has_hits else "none",
                when(m.first_seen_at, tz),
                when(m.last_seen_at, tz),
            ]
            for m in s.shared_media
        ],
    )
    out.print()


def _coverage(out: Console, s: Stats, tz: str) -> None:
    cov = s.coverage
    if not cov.channels:
        out.print("The allow-list is empty.", markup=False, highlight=False)
        out.print()
        return
    states = ", ".join(f"{c.key} {c.count}" for c in cov.by_state)
    table(
        out,
        f"Coverage: {cov.watched} allow-listed channel{'' if cov.watched == 1 else 's'} ({states})",
        ["channel", "state", "cursor", "last message", "last reconciled", "lag"],
        [
            [
                _watched_label(c.title, c.username, c.chat_id, c.ref),
                c.state.value,
                c.cursor or None,
                when(c.last_message_at, tz),
                when(c.last_reconciled_at, tz),
                "never" if c.reconcile_lag_seconds is None else duration(c.reconcile_lag_seconds),
            ]
            for c in cov.channels
        ],
        wrap=("channel",),
    )
    out.print()


def _watched_label(title: str | None, username: str | None, chat_id: int | None, ref: str) -> str:
    name = title or (f"@{username}" if username else ref)
    if username and title:
        name += f" (@{username})"
    return f"{name} [{chat_id}]" if chat_id is not None else name


def _flood_waits(out: Console, s: Stats) -> None:
    fw = s.flood_waits
    if not fw.count:
        out.print("No flood waits.", markup=False, highlight=False)
        out.print()
        return
    table(
        out,
        f"Flood waits: {fw.count}, {duration(fw.total_seconds)} in all, "
        f"longest {duration(fw.longest_seconds)}",
        ["method", "count", "total", "longest"],
        [
            [m.method, m.count, duration(m.total_seconds), duration(m.longest_seconds)]
            for m in fw.by_method
        ],
    )
    out.print()


def _takedowns(out: Console, s: Stats) -> None:
    total = s.removal_total
    if not total.reported:
        out.print("No takedowns reported.", markup=False, highlight=False)
        return
    line = (
        f"Takedowns: {total.reported} message{'' if total.reported == 1 else 's'} reported, "
        f"{total.removed} removed ({_rate(total)})"
    )
    if total.median_hours_to_removal is not None:
        line += f", median time to removal {_hours(total.median_hours_to_removal)}"
    out.print(line, markup=False, highlight=False)
    out.print()
    for title, groups, column in (
        ("Takedowns per channel", s.removal_by_channel, "channel"),
        ("Takedowns per recipient", s.removal_by_recipient, "recipient"),
    ):
        table(
            out,
            title,
            [column, *REMOVAL_COLUMNS],
            [_removal_row(r) for r in groups],
            wrap=(column,),
        )
        out.print()


def _removal_row(r: RemovalStats) -> list[Any]:
    return [
        r.key,
        r.reported,
        r.removed,
        _rate(r),
        _hours(r.median_hours_to_removal),
        _hours(r.max_hours_to_removal),
        r.inaccessible,
        r.up,
        r.unchecked,
    ]


def _rate(r: RemovalStats) -> str:
    rate = r.removal_rate
    return "" if rate is None else f"{rate:.0%}"


def _hours(hours: float | None) -> str:
    return "" if hours is None else duration(hours * 3600)


def duration(seconds: float) -> str:
    """``45 s``, ``3 min``, ``2 h 5 min``, ``3 d 4 h``: rounded to the unit shown last."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    minutes = round(s / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(round(s / 3600), 24)
    return f"{days} d {hours} h" if hours else f"{days} d"
