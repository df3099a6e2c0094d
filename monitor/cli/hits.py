"""`monitor hits ...`: list, show and review the hits recorded so far."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from monitor.cli.filters import actor, hit_filter
from monitor.cli.output import format_time, print_json_line, short_time, table, write_csv
from monitor.cli.state import run, state_of
from monitor.config import Settings
from monitor.domain import (
    FrameMatch,
    Hit,
    HitEvidence,
    MatchKind,
    ReviewResult,
    ReviewStatus,
    SightingSource,
    Tier,
    jsonable,
)
from monitor.errors import InputError
from monitor.runtime import open_store

app = typer.Typer(no_args_is_help=True)

# A table is for reading: this many rows unless --limit says otherwise (CSV and JSON: all).
TABLE_LIMIT = 100

CSV_COLUMNS = [
    "id",
    "created_at",
    "review_status",
    "tier",
    "bank",
    "case_id",
    "label",
    "hash_type",
    "kind",
    "distance",
    "variant",
    "coverage",
    "span_start",
    "span_end",
    "matched_frames",
    "entry_value",
    "query_value",
    "sha256",
    "source_kind",
    "path",
    "chat_id",
    "chat_title",
    "chat_username",
    "message_id",
    "link",
    "posted_at",
    "reviewed_by",
    "reviewed_at",
    "review_note",
]

STATUS_OPTION = typer.Option(
    None, "--status", help="new, confirmed, false_positive or needs_info (repeatable)."
)
BANK_OPTION = typer.Option(None, "--bank", help="Only hits on this bank (repeatable).")
CHANNEL_OPTION = typer.Option(
    None, "--channel", help="Only hits seen in this channel: @name, link, id or title (repeatable)."
)
SINCE_OPTION = typer.Option(
    None, "--since", help="Recorded at or after: a date (UTC) or ISO date-time with offset."
)
UNTIL_OPTION = typer.Option(
    None, "--until", help="Recorded before this date-time; a bare date includes that day."
)


@app.command("list")
def list_hits(
    ctx: typer.Context,
    fmt: str = typer.Option("table", "--format", help="table, json (one object per line) or csv."),
    status: list[ReviewStatus] | None = STATUS_OPTION,
    bank: list[str] | None = BANK_OPTION,
    channel: list[str] | None = CHANNEL_OPTION,
    tier: list[Tier] | None = typer.Option(
        None, "--tier", help="exact, near-exact or match (repeatable)."
    ),
    kind: list[MatchKind] | None = typer.Option(
        None,
        "--kind",
        help="file, image, frame, clip or video: what matched what (repeatable).",
    ),
    case_id: str | None = typer.Option(None, "--case", help="Only hits on this case id."),
    since: str | None = SINCE_OPTION,
    until: str | None = UNTIL_OPTION,
    min_distance: int | None = typer.Option(None, "--min-distance", min=0),
    max_distance: int | None = typer.Option(None, "--max-distance", min=0),
    reported: bool | None = typer.Option(
        None, "--reported/--not-reported", help="Only hits whose message was (not) reported."
    ),
    limit: int | None = typer.Option(
        None, "--limit", min=1, help=f"At most this many (a table: {TABLE_LIMIT} by default)."
    ),
    oldest_first: bool = typer.Option(False, "--oldest-first", help="Oldest first."),
) -> None:
    """Hits, newest first, filtered; a table, JSON lines or CSV."""
    state = state_of(ctx)
    if fmt not in ("table", "json", "csv"):
        raise typer.BadParameter("must be table, json or csv", param_hint="--format")
    if fmt == "table" and limit is None:
        limit = TABLE_LIMIT

    async def go() -> tuple[list[Hit], int]:
        async with open_store(state.settings) as store:
            where = await hit_filter(
                store,
                statuses=status or (),
                banks=bank or (),
                channels=channel or (),
                tiers=tier or (),
                kinds=kind or (),
                case_id=case_id,
                since=since,
                until=until,
                min_distance=min_distance,
                max_distance=max_distance,
                reported=reported,
            )
            hits = await store.list_hits(where, limit=limit, oldest_first=oldest_first)
            full = limit is None or len(hits) < limit
            return hits, len(hits) if full else await store.count_hits(where)

    hits, total = run(go())
    if fmt == "json":
        for hit in hits:
            print_json_line(hit)
    elif fmt == "csv":
        write_csv((_flat(h) for h in hits), CSV_COLUMNS, sys.stdout)
    else:
        render_hits(state.out, hits, state.settings.reports.timezone)
        if total > len(hits):
            state.err.print(
                f"{len(hits)} of {total} hits shown; use --limit, filters, or --format csv.",
                highlight=False,
            )


def render_hits(console: Console, hits: list[Hit], tz: str) -> None:
    if not hits:
        console.print("No hits.")
        return
    table(
        console,
        None,
        ["id", "recorded", "status", "tier", "bank", "case", "match", "dist", "variant", "where"],
        [
            [
                h.id,
                short_time(h.created_at, tz),
                h.review_status.value,
                h.tier.value,
                h.bank,
                h.case_id,
                match_label(h),
                h.distance,
                h.variant.value,
                where_seen(h.source),
            ]
            for h in hits
        ],
        wrap=("bank", "case", "where"),
    )


def where_seen(src: SightingSource | None) -> str:
    """A short place for tables: the message link, else the chat and message, else the file."""
    if src is None:
        return ""
    if src.link:
        return src.link
    if src.chat_title and src.message_id is not None:
        return f"{src.chat_title} #{src.message_id}"
    if src.path:
        return Path(src.path).name  # the whole path is in the JSON and CSV output
    return src.key


def match_label(hit: Hit) -> str:
    """The hash type, and the kind where it is not the obvious one: "pdq", "vpdq clip"."""
    obvious = MatchKind.FILE if hit.tier is Tier.EXACT else MatchKind.IMAGE
    if hit.kind is obvious:
        return hit.hash_type.value
    return f"{hit.hash_type.value} {hit.kind.value}"


def clock(seconds: float | None) -> str:
    """Seconds into a video as m:ss.s (h:mm:ss.s past an hour)."""
    if seconds is None:
        return "-"
    minutes, secs = divmod(max(seconds, 0.0), 60.0)
    hours, minutes = divmod(int(minutes), 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:04.1f}"
    return f"{minutes}:{secs:04.1f}"


def frames_text(frames: tuple[FrameMatch, ...], limit: int | None = None) -> str:
    """Matched frame pairs for people: "posted 0:05.0 = listed 1:23.0 (4)"."""
    shown = frames if limit is None else frames[:limit]
    parts = []
    for pair in shown:
        sides = []
        if pair.query_ts is not None:
            sides.append(f"posted {clock(pair.query_ts)}")
        if pair.entry_ts is not None:
            sides.append(f"listed {clock(pair.entry_ts)}")
        parts.append(f"{' = '.join(sides)} ({pair.distance})")
    more = len(frames) - len(shown)
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def _flat(hit: Hit) -> dict[str, Any]:
    row: dict[str, Any] = {
        k: v for k, v in jsonable(hit).items() if k not in ("source", "frames", "span")
    }
    # machine-readable: [[posted seconds or null, listed seconds or null, distance], ...]
    row["matched_frames"] = (
        json.dumps([[p.query_ts, p.entry_ts, p.distance] for p in hit.frames])
        if hit.frames
        else None
    )
    row["span_start"], row["span_end"] = hit.span or (None, None)
    src = hit.source
    if src is not None:
        row.update(
            source_kind=src.kind.value,
            path=src.path,
            chat_id=src.chat_id,
            chat_title=src.chat_title,
            chat_username=src.chat_username,
            message_id=src.message_id,
            link=src.link,
            posted_at=src.posted_at,
        )
    return row


@app.command("show")
def show_hit(
    ctx: typer.Context,
    hit_id: int = typer.Argument(..., help="The hit id (from `monitor hits list` or an alert)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object."),
) -> None:
    """One hit with all its evidence: where it was seen, what it matched, the same media
    elsewhere, its review history and takedowns."""
    state = state_of(ctx)
    evidence = run(_evidence(state.settings, hit_id))
    if as_json:
        print_json_line(evidence)
        return
    render_evidence(state.out, evidence, state.settings.reports.timezone)


async def _evidence(settings: Settings, hit_id: int) -> HitEvidence:
    async with open_store(settings) as store:
        return await store.hit_evidence(hit_id)


def render_evidence(out: Console, ev: HitEvidence, tz: str) -> None:
    hit, media, src = ev.hit, ev.media, ev.hit.source
    rows: list[tuple[str, Any]] = [
        ("hit", hit.id),
        ("status", hit.review_status.value),
        ("recorded", format_time(hit.created_at, tz)),
        ("tier", hit.tier.value),
        (
            "match",
            f"{match_label(hit)} distance {hit.distance} of {ev.threshold} ({hit.variant.value})",
        ),
        ("what matched", _kind_text(hit)),
        ("matched span", _span_text(hit)),
        ("matched frames", frames_text(hit.frames, limit=12) if hit.frames else None),
        ("bank", hit.bank),
        ("entry", f"{hit.entry_id} ({ev.entry_status.value})"),
        ("case", hit.case_id),
        ("label", hit.label),
        ("listed hash", hit.entry_value),
        ("query hash", hit.query_value),
        ("suppressed", "yes: this media no longer hits this entry" if ev.suppressed else None),
    ]
    if src is not None:
        rows += [
            ("seen in", chat_label(src) or src.path or src.key),
            ("message", src.link or src.message_id),
            ("posted", format_time(src.posted_at, tz) if src.posted_at else None),
            ("captured", format_time(ev.seen_at, tz)),
            ("media", src.media_kind.value),
            ("album", src.grouped_id),
            ("forwarded from", _forward(src)),
        ]
    rows += [
        ("sha256", media.sha256),
        ("md5", media.md5),
        ("pdq", f"{media.pdq} (quality {media.pdq_quality})" if media.pdq else None),
        ("phash", media.phash),
        ("file", _file_facts(ev)),
        ("first seen", format_time(media.first_seen_at, tz)),
    ]
    if hit.reviewed_by:
        rows += [
            ("reviewed by", hit.reviewed_by),
            ("reviewed", format_time(hit.reviewed_at, tz) if hit.reviewed_at else None),
            ("note", hit.review_note),
        ]
    _pairs(out, rows)

    out.print()
    if ev.other_sightings:
        table(
            out,
            f"Same media seen elsewhere ({len(ev.other_sightings)})",
            ["captured", "where", "message", "hits"],
            [
                [
                    short_time(o.seen_at, tz),
                    chat_label(o.source) or o.source.path or o.source.key,
                    o.source.link or o.source.message_id,
                    ", ".join(map(str, o.hit_ids)),
                ]
                for o in ev.other_sightings
            ],
            wrap=("where", "message"),
        )
    else:
        out.print("Same media seen elsewhere: nowhere else.")
    if ev.takedowns:
        table(
            out,
            "Takedowns",
            ["reported", "to", "reference", "by", "status", "last check", "removed"],
            [
                [
                    short_time(t.reported_at, tz),
                    t.reported_to,
                    t.reference,
                    t.reported_by,
                    t.status.value,
                    short_time(t.last_checked_at, tz),
                    short_time(t.removed_at, tz),
                ]
                for t in ev.takedowns
            ],
            wrap=("to", "reference"),
        )
    if ev.checks:
        table(
            out,
            "Re-checks",
            ["checked", "outcome", "detail", "by"],
            [
                [short_time(c.checked_at, tz), c.outcome.value, c.detail, c.checked_by]
                for c in ev.checks
            ],
            wrap=("detail",),
        )
    if ev.history:
        table(
            out,
            "History",
            ["at", "who", "action", "details"],
            [[short_time(a.at, tz), a.actor, a.action, _details(a.details)] for a in ev.history],
            wrap=("details",),
        )


def _pairs(out: Console, rows: list[tuple[str, Any]]) -> None:
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        if value not in (None, ""):
            out.print(f"{key:<{width}}  {value}", highlight=False, markup=False)


def _details(details: dict[str, Any]) -> str:
    return "; ".join(f"{k}={v}" for k, v in details.items() if v not in (None, ""))


def _file_facts(ev: HitEvidence) -> str:
    m = ev.media
    parts = [m.mime or "unknown type", f"{m.size_bytes:,} bytes"]
    if m.width and m.height:
        parts.append(f"{m.width}x{m.height}")
    if m.duration is not None:
        parts.append(f"{clock(m.duration)} long")
    if m.codec:
        parts.append(m.codec)
    if m.frames is not None:
        parts.append(f"{m.frames} frame hashes")
    return ", ".join(parts)


_KIND_TEXT = {
    MatchKind.FILE: "the very same file (cryptographic hash)",
    MatchKind.IMAGE: "the image as a whole (perceptual hash)",
    MatchKind.CLIP: "consecutive seconds of the posted video match part of the listed video",
    MatchKind.VIDEO: "the posted video matches the listed video as a whole",
}


def _kind_text(hit: Hit) -> str:
    if hit.kind is MatchKind.FRAME:
        if hit.frames and hit.frames[0].entry_ts is not None:
            return "the posted image matches a frame of the listed video"
        return "a frame of the posted video matches the listed image"
    text = _KIND_TEXT[hit.kind]
    if hit.coverage is not None:
        text += f"; {hit.coverage:.0%} of the listed video's distinct frames matched"
    return text


def _span_text(hit: Hit) -> str | None:
    if hit.span is None:
        return None
    start, end = hit.span
    return f"posted video {clock(start)} to {clock(end)}"


def chat_label(src: SightingSource) -> str | None:
    if src.chat_id is None:
        return None
    name = src.chat_title or str(src.chat_id)
    if src.chat_username:
        name += f" (@{src.chat_username})"
    return f"{name} [{src.chat_id}]"


def _forward(src: SightingSource) -> str | None:
    if src.forward_chat_id is None and not src.forward_from_name:
        return None
    parts = [str(src.forward_chat_id)] if src.forward_chat_id is not None else []
    if src.forward_message_id is not None:
        parts.append(f"message {src.forward_message_id}")
    if src.forward_from_name:
        parts.append(src.forward_from_name)
    return ", ".join(parts)


@app.command("review")
def review_hits(
    ctx: typer.Context,
    hit_ids: list[int] = typer.Argument(..., help="One or more hit ids."),
    confirm: bool = typer.Option(False, "--confirm", help="The hit is the listed content."),
    reject: bool = typer.Option(False, "--reject", help="A false positive."),
    needs_info: bool = typer.Option(False, "--needs-info", help="Cannot decide yet."),
    note: str | None = typer.Option(None, "--note", help="Why (kept in the audit log)."),
    by: str | None = typer.Option(
        None, "--by", help="Reviewer's name (default: $MONITOR_USER, else the login name)."
    ),
    withdraw_entry: str | None = typer.Option(
        None,
        "--withdraw-entry",
        metavar="REASON",
        help="With --reject: withdraw the list entry too (it matches nothing any more).",
    ),
    suppress_media: str | None = typer.Option(
        None,
        "--suppress-media",
        metavar="REASON",
        help="With --reject: this media never hits this entry again (other media still do).",
    ),
) -> None:
    """Record a review decision on hits: --confirm, --reject or --needs-info."""
    state = state_of(ctx)
    chosen = [
        s
        for s, flag in (
            (ReviewStatus.CONFIRMED, confirm),
            (ReviewStatus.FALSE_POSITIVE, reject),
            (ReviewStatus.NEEDS_INFO, needs_info),
        )
        if flag
    ]
    if len(chosen) != 1:
        raise typer.BadParameter("give exactly one of --confirm, --reject, --needs-info")
    if (withdraw_entry or suppress_media) and chosen[0] is not ReviewStatus.FALSE_POSITIVE:
        raise InputError("--withdraw-entry and --suppress-media go with --reject")
    reviewer = actor(by)

    async def go() -> ReviewResult:
        async with open_store(state.settings) as store:
            return await store.review_hits(
                hit_ids,
                chosen[0],
                actor=reviewer,
                note=note,
                withdraw_reason=withdraw_entry,
                suppress_reason=suppress_media,
            )

    result = run(go())
    status = result.status.value
    for hit_id in result.changed:
        state.out.print(f"hit {hit_id}: {status}", highlight=False)
    for hit_id in result.updated:
        state.out.print(
            f"hit {hit_id}: already {status}; reviewer and note updated", highlight=False
        )
    if result.withdrawn_entries:
        ids = ", ".join(map(str, result.withdrawn_entries))
        state.out.print(f"list entry {ids} withdrawn", highlight=False)
    if suppress_media:
        line = f"{result.suppressed} media suppressed on its entry"
        if result.also_rejected:
            others = ", ".join(map(str, result.also_rejected))
            line += f"; the same media's other new hit(s) {others} rejected too"
        state.out.print(line, highlight=False)
